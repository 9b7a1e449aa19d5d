//! What Forge itself calls: the install and upgrade events, `preUninstall` and the hourly token
//! sync. Each answers 204, and the same call repeated changes nothing more.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::auth::{Principal, verify};
use crate::storage::{forge_tenants, installations};
use crate::web::error::{ApiError, AppError};
use crate::web::state::AppState;

/// Largest event body accepted; Forge's are about 1 KB.
pub const MAX_BODY: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::post().to(events))
        .route("/pre-uninstall", web::post().to(pre_uninstall))
        .route("/token-sync", web::post().to(token_sync));
}

/// The event's type: its fields may come at the top level or under `payload`.
fn event_type(body: &[u8]) -> Result<Option<String>, AppError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| AppError::MalformedJson(error.to_string()))?;
    let event = value.get("payload").unwrap_or(&value);
    if !event.is_object() {
        return Err(AppError::MalformedBody(
            "the event is not a JSON object".into(),
        ));
    }
    Ok(event
        .get("eventType")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

fn body_bytes(body: Result<web::Bytes, actix_web::Error>) -> Result<web::Bytes, AppError> {
    body.map_err(|error| {
        if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::BodyTooLarge(MAX_BODY)
        } else {
            AppError::UnreadableBody
        }
    })
}

/// `avi:forge:installed:app` and `avi:forge:upgraded:app`: the tenant is found, linked or
/// created (by verifying the token) and counts as installed.
async fn events(
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body_bytes(body)?;
    let caller = verify(&req, Principal::Forge).await?;
    let tenant = &caller.installation;
    match event_type(&body)?.as_deref() {
        Some("avi:forge:installed:app" | "avi:forge:upgraded:app") => {
            forge_tenants::mark_installed(&state.pool, &tenant.client_key)
                .await
                .map_err(AppError::from)?;
            state.readers.invalidate_tenant(tenant.client_key.as_str());
            tracing::info!(client_key = %tenant.client_key, "Forge installation event");
        }
        other => {
            tracing::info!(event = ?other, "Forge event ignored");
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `preUninstall`: the tenant is uninstalled and keeps its data; its share pages answer 410
/// until an install event brings them back.
async fn pre_uninstall(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = verify(&req, Principal::Forge).await?;
    let client_key = &caller.installation.client_key;
    installations::mark_uninstalled(&state.pool, client_key)
        .await
        .map_err(AppError::from)?;
    state.readers.invalidate_tenant(client_key.as_str());
    tracing::info!(%client_key, "Forge pre-uninstall");
    Ok(HttpResponse::NoContent().finish())
}

/// The hourly scheduled trigger: verifying the token keeps the app token it carries.
async fn token_sync(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let caller = verify(&req, Principal::Forge).await?;
    if !matches!(
        &caller.via,
        crate::web::auth::Via::Forge {
            app_token: Some(_),
            ..
        }
    ) {
        tracing::warn!(client_key = %caller.installation.client_key, "Forge token sync without an app token (is appSystemToken enabled on its endpoint?)");
    }
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_fields_at_the_top_or_under_payload() {
        type Expected = Result<Option<&'static str>, &'static str>;
        let cases: [(&[u8], Expected); 6] = [
            (
                br#"{"eventType":"avi:forge:installed:app","id":"x"}"#,
                Ok(Some("avi:forge:installed:app")),
            ),
            (
                br#"{"payload":{"eventType":"avi:forge:upgraded:app"}}"#,
                Ok(Some("avi:forge:upgraded:app")),
            ),
            (br#"{"id":"x"}"#, Ok(None)),
            (br#"{"payload":[1]}"#, Err("malformed_body")),
            (b"[1]", Err("malformed_body")),
            (b"not json", Err("malformed_json")),
        ];
        for (body, expected) in cases {
            let got = event_type(body);
            match expected {
                Ok(kind) => assert_eq!(got.unwrap().as_deref(), kind),
                Err(code) => assert_eq!(got.unwrap_err().code(), code),
            }
        }
    }
}
