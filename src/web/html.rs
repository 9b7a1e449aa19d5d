//! HTML answers: a template rendered, or the friendly error page when it cannot be.

use actix_web::HttpResponse;
use actix_web::HttpResponseBuilder;
use askama::Template;

use super::error::{AppError, PageError};

/// `template` rendered into `response` (whose headers the caller set) as `text/html`.
pub fn render(
    mut response: HttpResponseBuilder,
    template: &impl Template,
) -> Result<HttpResponse, PageError> {
    let html = template.render().map_err(|error| {
        tracing::error!(%error, "template failed");
        AppError::Internal
    })?;
    Ok(response.content_type("text/html; charset=utf-8").body(html))
}
