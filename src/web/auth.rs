//! Authentication extractors: a handler that takes one cannot run unauthenticated.
//!
//! - [`IframeUser`]: Connect iframe pages, token in `?jwt=` or `Authorization: JWT`, computed qsh.
//! - [`LifecycleCall`]: `/enabled`, `/disabled`; computed qsh, JSON errors.
//! - [`ApiUser`]: the Web API, on the platform its scope serves ([`Platform`]): a Connect context
//!   token (`qsh` = `context-qsh`) or an API key (`Authorization: Bearer psk_…`) under `/api`, a
//!   Forge invocation token under `/forge/api`.
//!
//! Each yields a [`Caller`]: the tenant and the user, whichever platform they came through. The
//! rules are in `docs/SECURITY.md`; the Connect token is checked by [`UnverifiedToken`], the
//! Forge one by [`crate::forge::token`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::Utc;

use super::error::{ApiError, AppError, AuthScheme, PageError};
use super::state::AppState;
use crate::confluence::client::Host;
use crate::confluence::ids::AccountId;
use crate::connect::canonical::{RequestParts, qsh};
use crate::connect::secrets::{SecretKind, verification_candidates};
use crate::connect::token::{QshRule, TokenError, UnverifiedToken};
use crate::storage::api_keys::{self, ApiKey, Scope};
use crate::storage::audit::Actor;
use crate::storage::installations::Installation;

/// An authenticated request: the tenant and the user, if any, and the platform it came through.
#[derive(Debug, Clone)]
pub struct Caller {
    pub installation: Arc<Installation>,
    pub account_id: Option<AccountId>,
    pub via: Via,
}

/// The platform of a request, and what it brought to call the tenant's Confluence with.
#[derive(Clone)]
pub enum Via {
    /// A Connect JWT that verified with this kind of secret; the host holds it.
    Connect(SecretKind),
    /// A Forge invocation, with the app token it carried (`x-forge-oauth-system`), if any.
    Forge {
        api_base_url: String,
        app_token: Option<String>,
    },
    /// A site's API key: it acts for the site admin who created it, with its scopes only, and
    /// calls Confluence with the tenant's own credentials (as share pages do).
    ApiKey(Arc<ApiKey>),
}

/// Never prints a token.
impl std::fmt::Debug for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(kind) => write!(f, "Connect({kind:?})"),
            Self::Forge { api_base_url, .. } => write!(f, "Forge({api_base_url})"),
            Self::ApiKey(key) => write!(f, "ApiKey({})", key.id),
        }
    }
}

/// Which platform a scope of the Web API serves: its [`ApiUser`]s authenticate that way only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Connect,
    Forge,
}

impl Caller {
    /// The tenant's Confluence, called the way this request's platform allows.
    pub fn host<'a>(&'a self, state: &'a AppState) -> Result<Host<'a>, AppError> {
        let tenant = &self.installation;
        match &self.via {
            Via::Connect(kind) => Ok(crate::tenant::host(
                &state.settings,
                &state.data_key,
                tenant,
                Some(*kind),
                Utc::now(),
            )?),
            Via::Forge {
                api_base_url,
                app_token,
            } => {
                let token = app_token
                    .clone()
                    .or_else(|| crate::tenant::forge_token(&state.data_key, tenant, Utc::now()))
                    .ok_or(AppError::NoTenantSecret)?;
                Ok(crate::tenant::forge_host(tenant, api_base_url, token))
            }
            Via::ApiKey(_) => state.tenant_host(tenant),
        }
    }

    /// The request may do what `scope` allows: always with a user's token, with an API key when
    /// the key has the scope.
    pub fn require_scope(&self, scope: Scope) -> Result<(), AppError> {
        match &self.via {
            Via::ApiKey(key) if !key.has(scope) => Err(AppError::MissingScope(scope.as_str())),
            _ => Ok(()),
        }
    }

    /// The API key the request came with, if any.
    pub fn api_key(&self) -> Option<&ApiKey> {
        match &self.via {
            Via::ApiKey(key) => Some(key),
            _ => None,
        }
    }

    /// Who the audit log names for what this caller does: the API key, else the user.
    pub fn actor(&self) -> Result<Actor, AppError> {
        match &self.via {
            Via::ApiKey(key) => Ok(Actor::ApiKey(key.id)),
            _ => Ok(Actor::User(self.user()?.clone())),
        }
    }

    /// Where this caller's Web API lives: `/api` (Connect) or `/forge/api` (Forge).
    pub fn api_path(&self) -> &'static str {
        match self.via {
            Via::Connect(_) | Via::ApiKey(_) => "/api",
            Via::Forge { .. } => "/forge/api",
        }
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

pub struct IframeUser(pub Caller);
pub struct LifecycleCall(pub Caller);
pub struct ApiUser(pub Caller);

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

async fn authenticate(req: &HttpRequest, kind: Kind) -> Result<Caller, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered");
    let token = request_token(req, kind == Kind::Iframe).ok_or_else(|| {
        AppError::unauthorized("A Connect JWT is required (Authorization: JWT <token>).")
    })?;
    // Parsed once: the unverified issuer names the secret to verify with.
    let unverified = UnverifiedToken::parse(&token).map_err(token_error)?;
    let issuer = unverified.issuer().map_err(token_error)?;
    // A site that came only through Forge has no Connect secret of its own: even the app-wide
    // secret does not make a Connect caller of it.
    let installation = state
        .installation(issuer)
        .await?
        .filter(|tenant| tenant.connect)
        .ok_or_else(|| {
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
        .note(&state.pool, &installation, verified.secret_kind);
    Ok(Caller {
        installation,
        account_id,
        via: Via::Connect(verified.secret_kind),
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
    wrap: fn(Caller) -> T,
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

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Boxed<Self, Self::Error>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        match req.app_data::<Platform>() {
            Some(Platform::Forge) => {
                let req = req.clone();
                Box::pin(async move {
                    super::forge::authenticate(&req, super::forge::Principal::User)
                        .await
                        .map(ApiUser)
                        .map_err(ApiError::from)
                })
            }
            _ => match bearer_credentials(req) {
                Some(credentials) => {
                    let req = req.clone();
                    Box::pin(async move {
                        authenticate_key(&req, &credentials)
                            .await
                            .map(ApiUser)
                            .map_err(ApiError::from)
                    })
                }
                None => extract(req, Kind::Context, ApiUser),
            },
        }
    }
}

/// What follows `Bearer` when the request's `Authorization` uses that scheme (any case): an API
/// key, or something that is not one (empty, or not text).
fn bearer_credentials(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .as_bytes();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || !(rest.is_empty() || rest[0] == b' ') {
        return None;
    }
    Some(
        std::str::from_utf8(rest)
            .map(|text| text.trim().to_owned())
            .unwrap_or_default(),
    )
}

fn key_refused(reason: &'static str) -> AppError {
    AppError::Unauthorized {
        scheme: AuthScheme::Bearer,
        reason: reason.into(),
    }
}

/// The caller an API key makes: found by its hash (in memory while the change listener vouches
/// for it, else in the database), usable, of an installed and enabled site. Its use is written
/// down in the background, at most once a minute.
async fn authenticate_key(req: &HttpRequest, credentials: &str) -> Result<Caller, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered");
    let hash = api_keys::parse(credentials).ok_or_else(|| {
        key_refused("An API key is required (Authorization: Bearer psk_…); this is not one.")
    })?;
    let key = state
        .api_key(&hash)
        .await?
        .ok_or_else(|| key_refused("Unknown API key."))?;
    if key.revoked_at.is_some() {
        return Err(key_refused("This API key has been revoked."));
    }
    if !key.usable(Utc::now()) {
        return Err(key_refused("This API key has expired."));
    }
    let installation = state
        .installation(key.client_key.as_str())
        .await?
        .ok_or_else(|| key_refused("Unknown API key."))?;
    if !installation.installed {
        return Err(key_refused(
            "Pageshare is uninstalled from this Confluence site.",
        ));
    }
    if !installation.enabled {
        return Err(key_refused(
            "Pageshare is disabled on this Confluence site.",
        ));
    }
    state.api_key_usage.note(&state.pool, &key);
    Ok(Caller {
        installation,
        account_id: Some(key.created_by.clone()),
        via: Via::ApiKey(key),
    })
}
