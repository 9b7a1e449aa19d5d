//! The Web API (`docs/HTTP.md`): JSON, camelCase, for the admin UI and automation. Every call is
//! scoped to the caller's tenant, and Confluence decides what the user may see and change.

mod admin;
mod api_keys;
mod audit;
mod csv;
mod cursor;
mod share_json;
mod shares;
mod site_unlock_keys;
mod stats;
mod unlock_keys;

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::web;

use super::auth::Platform;
use super::error::api_extractors;
use super::json::payload_config;

/// Authenticated answers, errors included, are never cached.
pub fn no_store() -> DefaultHeaders {
    DefaultHeaders::new().add((
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    ))
}

/// The Web API under `/api`, for Connect: context tokens only.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let (query, path) = api_extractors();
    cfg.service(
        web::scope("/api")
            .wrap(no_store())
            .app_data(Platform::Connect)
            .app_data(query)
            .app_data(path)
            .app_data(payload_config())
            .configure(configure),
    );
}

/// The Web API's routes, under whichever scope serves them (`/api`, `/forge/api`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Before `/shares`, whose scope would otherwise take every path under it.
    cfg.configure(unlock_keys::routes)
        .configure(stats::routes)
        .configure(shares::routes)
        .configure(api_keys::routes)
        // Before `/admin`, whose scope would answer 404 for paths it does not know.
        .configure(audit::routes)
        .configure(site_unlock_keys::routes)
        .configure(admin::routes);
}
