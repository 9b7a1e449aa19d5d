//! The HTTP layer: routes and extractors by surface (Connect callbacks and iframe pages, the Web
//! API, the share pages), and the one place errors become answers.

pub mod api;
pub mod assets;
pub mod auth;
pub mod client_ip;
pub mod csp;
pub mod error;
pub mod forge;
pub mod health;
pub mod html;
pub mod iframe;
pub mod json;
pub mod lifecycle;
pub mod logging;
pub mod permissions;
pub mod share_page;
pub mod state;
pub mod ui;

use actix_web::web;

use error::{ApiError, AppError, Missing, api_extractors};

/// Every route of the app, mounted under the base URL's path (the Forge ones only with
/// `forge`); any other path answers [`not_found`]. Each surface sets the extractor
/// configuration that turns its bad input into a 4xx of its kind (JSON or a page); what is left
/// answers JSON.
pub fn app_routes(
    base_path: &str,
    forge: bool,
) -> impl Fn(&mut web::ServiceConfig) + Clone + use<> {
    let base_path = base_path.to_owned();
    move |cfg| {
        cfg.service(web::scope(&base_path).configure(configure(forge)))
            .default_service(web::to(not_found));
    }
}

/// A JSON 404 for a path no route serves.
async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError(AppError::NotFound(Missing::Route)))
}

fn configure(forge: bool) -> impl Fn(&mut web::ServiceConfig) {
    move |cfg| {
        let (query, path) = api_extractors();
        cfg.app_data(query)
            .app_data(path)
            .configure(health::routes)
            .configure(lifecycle::routes)
            .configure(iframe::routes)
            .configure(api::routes)
            .configure(assets::routes)
            .configure(share_page::routes);
        if forge {
            cfg.configure(forge::routes);
        }
    }
}
