//! Load balancer probes and the Connect descriptor.

use actix_web::{HttpResponse, web};

use super::error::{ApiError, AppError};
use super::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/atlassian-connect.json", web::get().to(descriptor));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready while the database answers and the share change listener has proven itself within
/// the last few seconds: without it the instance's caches are off, so every request asks the
/// database, and a silent listener is the first sign of a connection to it going bad
/// (`docs/HTTP.md`, `docs/OPERATIONS.md`).
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    sqlx::query("SELECT 1")
        .execute(&state.pool)
        .await
        .map_err(AppError::from)?;
    if !state.readers.is_trusted() {
        return Err(AppError::ChangeListenerUnavailable.into());
    }
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready"))
}

async fn descriptor(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.descriptor.clone())
}
