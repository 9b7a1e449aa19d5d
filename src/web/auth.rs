//! Connect JWT extractors: a handler that takes one cannot run unauthenticated.
//!
//! - [`IframeUser`]: iframe pages, token in `?jwt=` or `Authorization: JWT`, computed qsh.
//! - [`LifecycleCall`]: `/enabled`, `/disabled`; computed qsh, JSON errors.
//! - [`ContextUser`]: the app's own `/api`, `Authorization: JWT`, `qsh` = `context-qsh`.
//!
//! The rules are in `docs/SECURITY.md`; the token itself is checked by [`UnverifiedToken`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::Utc;

use super::error::{ApiError, AppError, PageError};
use super::state::AppState;
use crate::config::Settings;
use crate::confluence::client::Host;
use crate::confluence::ids::AccountId;
use crate::connect::canonical::{RequestParts, qsh};
use crate::connect::secrets::{SecretKind, verification_candidates};
use crate::connect::token::{QshRule, TokenError, UnverifiedToken};
use crate::storage::installations::{self, Installation};

/// An authenticated Connect request: the tenant and the user (`sub`), if any.
#[derive(Debug, Clone)]
pub struct Connect {
    pub installation: Arc<Installation>,
    pub account_id: Option<AccountId>,
    /// The kind of secret this request's token verified with; the host holds it.
    pub secret_kind: SecretKind,
}

impl Connect {
    /// The tenant's Confluence, called with the kind of secret that just verified.
    pub fn host<'a>(&'a self, settings: &'a Settings) -> Result<Host<'a>, AppError> {
        Ok(crate::tenant::host(
            settings,
            &self.installation,
            Some(self.secret_kind),
        )?)
    }

    /// The user the token names; a token without `sub` may not act for anyone.
    pub fn user(&self) -> Result<&AccountId, AppError> {
        self.account_id.as_ref().ok_or_else(|| {
            AppError::unauthorized("The token names no user (`sub`); sign in to Confluence.")
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Iframe,
    Lifecycle,
    Context,
}

pub struct IframeUser(pub Connect);
pub struct LifecycleCall(pub Connect);
pub struct ContextUser(pub Connect);

/// The token of the request: `Authorization: JWT …`, or `?jwt=` where the route allows it.
pub fn request_token(req: &HttpRequest, allow_query: bool) -> Option<String> {
    if let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        return value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("JWT "))
            .map(|t| t.trim().to_owned());
    }
    if !allow_query {
        return None;
    }
    req.query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("jwt="))
        .map(|t| {
            percent_encoding::percent_decode_str(t)
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// The installation of `client_key`, from memory when the change listener vouches for it.
async fn installation(
    state: &AppState,
    client_key: &str,
) -> Result<Option<Arc<Installation>>, AppError> {
    if let Some(known) = state.readers.installation(client_key) {
        return Ok(Some(known));
    }
    let read_at = state.readers.generation();
    let found = installations::find(&state.pool, client_key).await?;
    Ok(found.map(|row| state.readers.insert_installation(row, read_at)))
}

async fn authenticate(req: &HttpRequest, kind: Kind) -> Result<Connect, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered");
    let token = request_token(req, kind == Kind::Iframe).ok_or_else(|| {
        AppError::unauthorized("A Connect JWT is required (Authorization: JWT <token>).")
    })?;
    // Parsed once: the unverified issuer names the secret to verify with.
    let unverified = UnverifiedToken::parse(&token).map_err(token_error)?;
    let issuer = unverified.issuer().map_err(token_error)?;
    let installation = installation(state, issuer).await?.ok_or_else(|| {
        AppError::unauthorized("The token's issuer is not an installed Confluence site.")
    })?;

    let settings = &state.settings;
    let computed;
    let rule = match kind {
        Kind::Context => QshRule::Context,
        Kind::Iframe | Kind::Lifecycle => {
            let parts = RequestParts {
                method: req.method().as_str(),
                path: req.path(),
                query: req.query_string(),
            };
            computed = qsh(parts, settings.base_path());
            QshRule::Computed(&computed)
        }
    };
    let candidates = verification_candidates(
        settings.secret_mode,
        installation.shared_secret.as_ref(),
        settings.app_secret.as_ref(),
    );
    let verified = unverified
        .verify(
            &candidates,
            rule,
            Utc::now().timestamp(),
            settings.clock_skew_secs,
        )
        .map_err(token_error)?;
    let account_id = verified
        .account_id
        .map(|sub| {
            AccountId::parse(&sub)
                .ok_or_else(|| AppError::unauthorized("The token's `sub` is not an account id."))
        })
        .transpose()?;

    if !installation.installed {
        return Err(AppError::unauthorized(
            "Pageshare is uninstalled from this Confluence site.",
        ));
    }
    if !installation.enabled && kind != Kind::Lifecycle {
        return Err(AppError::unauthorized(
            "Pageshare is disabled on this Confluence site.",
        ));
    }
    state
        .verifications
        .note(&state.pool, &installation.client_key, verified.secret_kind);
    Ok(Connect {
        installation,
        account_id,
        secret_kind: verified.secret_kind,
    })
}

fn token_error(error: TokenError) -> AppError {
    AppError::unauthorized(format!("Invalid Connect JWT: {error}."))
}

type Boxed<T, E> = Pin<Box<dyn Future<Output = Result<T, E>>>>;

/// An extractor over [`authenticate`] whose errors answer as `E` (a page or JSON).
fn extract<T: 'static, E: From<AppError> + 'static>(
    req: &HttpRequest,
    kind: Kind,
    wrap: fn(Connect) -> T,
) -> Boxed<T, E> {
    let req = req.clone();
    Box::pin(async move { authenticate(&req, kind).await.map(wrap).map_err(E::from) })
}

impl FromRequest for IframeUser {
    type Error = PageError;
    type Future = Boxed<Self, Self::Error>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, Kind::Iframe, IframeUser)
    }
}

impl FromRequest for LifecycleCall {
    type Error = ApiError;
    type Future = Boxed<Self, Self::Error>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, Kind::Lifecycle, LifecycleCall)
    }
}

impl FromRequest for ContextUser {
    type Error = ApiError;
    type Future = Boxed<Self, Self::Error>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, Kind::Context, ContextUser)
    }
}
