//! The Forge Remote surface (`docs/HTTP.md`): lifecycle events, the hourly token sync and
//! `preUninstall` from Forge, and the Web API under `/forge/api` for the Custom UI. Mounted only
//! when `PAGESHARE_FORGE_APP_ID` is set. Every route takes a Forge invocation token and nothing
//! else, and answers JSON, never a redirect (Forge counts a 3xx as a failure).

mod auth;
mod lifecycle;

pub use auth::{Principal, authenticate};

use actix_web::web;

use super::auth::Platform;
use super::error::api_extractors;
use super::json::payload_config;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let (query, path) = api_extractors();
    cfg.service(
        web::scope("/forge")
            .wrap(super::api::no_store())
            .app_data(query)
            .app_data(path)
            .app_data(web::PayloadConfig::new(lifecycle::MAX_BODY))
            .configure(lifecycle::routes)
            .service(
                web::scope("/api")
                    .app_data(Platform::Forge)
                    .app_data(payload_config())
                    .configure(super::api::configure),
            ),
    );
}
