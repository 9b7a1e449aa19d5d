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

/// Every route of the app (the Forge ones only with `forge`). Each surface sets the extractor
/// configuration that turns its bad input into a 4xx of its kind (JSON or a page); what is left
/// answers JSON.
pub fn configure(forge: bool) -> impl Fn(&mut web::ServiceConfig) + Clone {
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
        cfg.default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError(AppError::NotFound(Missing::Route)))
        }));
    }
}
