//! The HTTP layer: routes, extractors, errors.

pub mod admin_api;
pub mod api;
pub mod assets;
pub mod auth;
pub mod client_ip;
pub mod error;
pub mod health;
pub mod iframe;
pub mod lifecycle;
pub mod logging;
pub mod permissions;
pub mod share_page;
pub mod state;

use actix_web::http::StatusCode;
use actix_web::web;

use error::ApiError;

/// Every route of the app, with the extractor configuration that turns bad input into 4xx.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(lifecycle::MAX_BODY))
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            ApiError::bad_request("invalid_query", format!("Invalid query string: {error}")).into()
        }))
        .app_data(
            web::PathConfig::default()
                .error_handler(|_, _| ApiError::not_found("No such resource.").into()),
        )
        .configure(health::routes)
        .configure(lifecycle::routes)
        .configure(iframe::routes)
        .configure(api::routes)
        .configure(admin_api::routes)
        .configure(assets::routes)
        .configure(share_page::routes)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such route.",
            ))
        }));
}
