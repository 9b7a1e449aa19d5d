//! `/installed`, `/uninstalled` (signed install) and `/enabled`, `/disabled` (Connect JWT).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use super::auth::{LifecycleCall, request_token};
use super::error::{ApiError, AppError, Missing};
use super::state::AppState;
use crate::connect::canonical::{RequestParts, qsh};
use crate::connect::payload::InstallPayload;
use crate::connect::secrets::{SecretMode, verification_candidates};
use crate::connect::signed_install::{
    InstallAuthError, InstallExpectation, install_token_kid, verify_install_token,
};
use crate::connect::token::{MAX_TOKEN_LEN, QshRule, unverified_issuer, verify};
use crate::jws::{Alg, Jws};
use crate::storage::installations;

/// Largest lifecycle body accepted; Atlassian's are about 1 KB.
pub const MAX_BODY: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let callback = |path| {
        web::resource(path)
            .wrap(super::api::no_store())
            .app_data(web::PayloadConfig::new(MAX_BODY))
    };
    cfg.service(callback("/installed").route(web::post().to(installed)))
        .service(callback("/uninstalled").route(web::post().to(uninstalled)))
        .service(callback("/enabled").route(web::post().to(enabled)))
        .service(callback("/disabled").route(web::post().to(disabled)));
}

fn payload(
    body: Result<web::Bytes, actix_web::Error>,
    app_key: &str,
) -> Result<InstallPayload, AppError> {
    let body = body.map_err(|error| {
        if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::BodyTooLarge(MAX_BODY)
        } else {
            AppError::UnreadableBody
        }
    })?;
    let payload =
        InstallPayload::parse(&body).map_err(|e| AppError::MalformedBody(e.to_string()))?;
    if payload.key != app_key {
        return Err(AppError::WrongAppKey);
    }
    Ok(payload)
}

#[tracing::instrument(skip_all, fields(client_key))]
async fn installed(
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let payload = payload(body, &state.settings.app_key)?;
    tracing::Span::current().record("client_key", payload.client_key.as_str());
    if !state.settings.host_allowlist.allows_url(&payload.base_url) {
        return Err(AppError::HostNotAllowed.into());
    }
    let mut payload = payload;
    if authenticate_install(&req, &state, &payload, true).await? == Signed::Legacy {
        // Atlassian vouches for the body only through a signed install: an HS256 or unsigned
        // one must not name another site's cloud id or Forge installation, which would link
        // that site's Forge tenant to this one (`docs/SECURITY.md`).
        payload.cloud_id = None;
        payload.installation_id = None;
    }
    installations::upsert(&state.pool, &payload)
        .await
        .map_err(AppError::from)?;
    state.readers.invalidate_all();
    tracing::info!("installed");
    Ok(HttpResponse::NoContent().finish())
}

#[tracing::instrument(skip_all, fields(client_key))]
async fn uninstalled(
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let payload = payload(body, &state.settings.app_key)?;
    tracing::Span::current().record("client_key", payload.client_key.as_str());
    authenticate_install(&req, &state, &payload, false).await?;
    if !installations::mark_uninstalled(&state.pool, &payload.client_key)
        .await
        .map_err(AppError::from)?
    {
        return Err(AppError::NotFound(Missing::Site).into());
    }
    state.readers.invalidate_all();
    tracing::info!("uninstalled");
    Ok(HttpResponse::NoContent().finish())
}

async fn enabled(
    call: LifecycleCall,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_enabled(call, state, true).await
}

async fn disabled(
    call: LifecycleCall,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_enabled(call, state, false).await
}

async fn set_enabled(
    call: LifecycleCall,
    state: web::Data<AppState>,
    enabled: bool,
) -> Result<HttpResponse, ApiError> {
    let client_key = &call.0.installation.client_key;
    installations::set_enabled(&state.pool, client_key, enabled)
        .await
        .map_err(AppError::from)?;
    state.readers.invalidate_all();
    tracing::info!(%client_key, enabled, "enabled flag set");
    Ok(HttpResponse::NoContent().finish())
}

/// How a lifecycle callback was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signed {
    /// RS256, by Atlassian's install key.
    Atlassian,
    /// HS256 or unsigned (`PAGESHARE_ALLOW_LEGACY_INSTALL`).
    Legacy,
}

/// Authenticate an `installed`/`uninstalled` callback (`docs/SECURITY.md`).
async fn authenticate_install(
    req: &HttpRequest,
    state: &AppState,
    payload: &InstallPayload,
    is_install: bool,
) -> Result<Signed, AppError> {
    let settings = &state.settings;
    let expected_qsh = qsh(
        RequestParts {
            method: req.method().as_str(),
            path: req.path(),
            query: req.query_string(),
        },
        settings.base_path(),
    );
    let Some(token) = request_token(req, false) else {
        return unsigned_install(state, payload, is_install)
            .await
            .map(|()| Signed::Legacy);
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err(AppError::unauthorized(format!(
            "Invalid install token: longer than {MAX_TOKEN_LEN} bytes."
        )));
    }
    let jws = Jws::parse(&token).map_err(|e| install_error(e.into()))?;
    match jws.alg {
        Alg::RS256 => {
            let kid = install_token_kid(&token).map_err(install_error)?;
            let key = state.install_keys.key(&kid).await.map_err(install_error)?;
            let expect = InstallExpectation {
                app_base_url: &settings.base_url,
                client_key: payload.client_key.as_str(),
                qsh: &expected_qsh,
                now: Utc::now().timestamp(),
                leeway_secs: settings.clock_skew_secs,
            };
            verify_install_token(&token, &key, expect)
                .map(|()| Signed::Atlassian)
                .map_err(install_error)
        }
        Alg::HS256 if settings.allow_legacy_install => {
            legacy_install(state, payload, &token, &expected_qsh)
                .await
                .map(|()| Signed::Legacy)
        }
        Alg::HS256 => Err(AppError::unauthorized(
            "Lifecycle callbacks must be signed with RS256 (signed install); HS256 is accepted only with PAGESHARE_ALLOW_LEGACY_INSTALL.",
        )),
        Alg::ES256 | Alg::EdDSA | Alg::Other => {
            Err(install_error(InstallAuthError::AlgorithmNotAllowed))
        }
    }
}

/// An HS256 callback signed with the tenant's stored secret or the app-wide one.
async fn legacy_install(
    state: &AppState,
    payload: &InstallPayload,
    token: &str,
    expected_qsh: &str,
) -> Result<(), AppError> {
    let settings = &state.settings;
    let issuer = unverified_issuer(token)
        .map_err(|e| AppError::unauthorized(format!("Invalid install token: {e}.")))?;
    if issuer != payload.client_key.as_str() {
        return Err(install_error(InstallAuthError::IssuerMismatch));
    }
    let stored = installations::find(&state.pool, payload.client_key.as_str())
        .await?
        .and_then(|i| i.shared_secret);
    // Whatever the mode: the 2018 secret change came signed with the old per-install secret.
    let candidates = verification_candidates(
        SecretMode::Migrating,
        stored.as_ref(),
        settings.app_secret.as_ref(),
    );
    verify(
        token,
        &candidates,
        QshRule::Computed(expected_qsh),
        Utc::now().timestamp(),
        settings.clock_skew_secs,
    )
    .map(|_| ())
    .map_err(|e| AppError::unauthorized(format!("Invalid install token: {e}.")))
}

/// No token at all: only a first install, only with the legacy flag.
async fn unsigned_install(
    state: &AppState,
    payload: &InstallPayload,
    is_install: bool,
) -> Result<(), AppError> {
    let refuse = || {
        AppError::unauthorized(
            "Lifecycle callbacks must carry a signed JWT (Authorization: JWT <token>).",
        )
    };
    if !(is_install && state.settings.allow_legacy_install) {
        return Err(refuse());
    }
    let known = installations::find(&state.pool, payload.client_key.as_str())
        .await?
        .is_some();
    if known { Err(refuse()) } else { Ok(()) }
}

fn install_error(error: InstallAuthError) -> AppError {
    match error {
        InstallAuthError::KeyServerUnavailable => AppError::InstallKeysUnavailable,
        other => AppError::unauthorized(format!("Invalid install token: {other}.")),
    }
}
