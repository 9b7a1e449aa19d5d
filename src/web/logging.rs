//! Request logging that records the path, never the query string (it may hold `jwt` or
//! `unlock` tokens).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::metrics::method_label;
use crate::web::state::AppState;

pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let response = next.call(req).await?;
    let status = response.status().as_u16();
    let took = started.elapsed();
    let micros = took.as_micros() as u64;
    if let Some(metrics) = response
        .request()
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.metrics.as_ref())
    {
        // The template the request matched (`/content/{uuid}`), never the path itself.
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics.request(route, method_label(&method), status, took);
    }
    if status >= 500 {
        tracing::error!(%method, path, status, micros, "request");
    } else {
        tracing::info!(%method, path, status, micros, "request");
    }
    Ok(response)
}
