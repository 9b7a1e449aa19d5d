//! Forge invocation tokens on `/forge` routes: verified (`crate::forge::token`), their tenant
//! found, linked or created, and the app token they carry kept for calls made outside an
//! invocation. A warm request asks the database nothing and Forge's key server nothing.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::web;
use chrono::{DateTime, Duration, Utc};

use crate::forge::keys::KeyError;
use crate::forge::token::{Expectations, FitError, Invocation, UnverifiedFit, token_expiry};
use crate::storage::forge_tenants;
use crate::storage::installations::Installation;
use crate::web::auth::{Caller, Via};
use crate::web::error::{AppError, AuthScheme, Missing};
use crate::web::state::AppState;

/// Who may invoke the route: a user, from the app's pages (the Web API), or Forge itself
/// (triggers, `preUninstall`), which a user's page must never reach through `invokeRemote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    User,
    Forge,
}

/// A stored app token is replaced once it has less than this left (Forge's are good for 2 to 4
/// hours), so a steady stream of invocations does not write on every request.
const REFRESH_WITHIN: Duration = Duration::hours(1);
/// An app token that is not a JWT is kept this long.
const OPAQUE_TOKEN_LIFETIME: Duration = Duration::hours(1);
/// No app token is kept longer than this, whatever its `exp` says (read unverified), so one
/// odd token cannot hold the place of every later one.
const MAX_TOKEN_LIFETIME: Duration = Duration::hours(6);
/// Longest `x-forge-oauth-system` accepted.
const MAX_APP_TOKEN_LEN: usize = 16 * 1024;

fn unauthorized(reason: impl Into<std::borrow::Cow<'static, str>>) -> AppError {
    AppError::Unauthorized {
        scheme: AuthScheme::Bearer,
        reason: reason.into(),
    }
}

fn fit_error(error: FitError) -> AppError {
    unauthorized(format!("Invalid Forge invocation token: {error}."))
}

/// `Authorization: Bearer <FIT>`, the scheme in any case.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// The app token of the invocation (`x-forge-oauth-system`), if it sent a plausible one.
fn app_token(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get("x-forge-oauth-system")?
        .to_str()
        .ok()?
        .trim();
    let plausible = !value.is_empty()
        && value.len() <= MAX_APP_TOKEN_LEN
        && !value.bytes().any(|b| b.is_ascii_whitespace());
    plausible.then(|| value.to_owned())
}

/// Verify the request's invocation token and find its tenant. The caller checks, per route,
/// whether the tenant must be installed.
pub async fn authenticate(req: &HttpRequest, principal: Principal) -> Result<Caller, AppError> {
    let caller = verify(req, principal).await?;
    let tenant = &caller.installation;
    if !tenant.installed {
        return Err(unauthorized(
            "Pageshare is uninstalled from this Confluence site.",
        ));
    }
    if !tenant.enabled {
        return Err(unauthorized(
            "Pageshare is disabled on this Confluence site.",
        ));
    }
    Ok(caller)
}

/// The caller of the request's verified invocation, its tenant installed or not.
pub(super) async fn verify(req: &HttpRequest, principal: Principal) -> Result<Caller, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered");
    let (Some(settings), Some(runtime)) = (state.settings.forge.as_ref(), state.forge.as_ref())
    else {
        return Err(AppError::NotFound(Missing::Route));
    };
    let token = bearer(req).ok_or_else(|| {
        unauthorized("A Forge invocation token is required (Authorization: Bearer <token>).")
    })?;
    let fit = UnverifiedFit::parse(token).map_err(fit_error)?;
    let key = runtime
        .keys
        .key(fit.kid())
        .await
        .map_err(|error| match error {
            KeyError::UnknownKid => fit_error(FitError::UnknownKey),
            KeyError::Unavailable => AppError::ForgeKeysUnavailable,
        })?;
    let expect = Expectations {
        app_id: &settings.app_id,
        api_base: &settings.api_base,
        environments: &settings.environments,
        leeway_secs: state.settings.clock_skew_secs,
    };
    let invocation = fit
        .verify(&key, expect, Utc::now().timestamp())
        .map_err(fit_error)?;
    match principal {
        Principal::User if invocation.principal.is_none() => {
            return Err(unauthorized("The invocation names no user (`principal`)."));
        }
        Principal::Forge if invocation.from_ui => return Err(AppError::NotFromForge),
        _ => {}
    }
    let app_token = app_token(req);
    let tenant = tenant(state, &invocation).await?;
    // Only Forge's own invocations are trusted to bring the token kept for later: a header on
    // a user's invocation could be the user's own (invokeRemote passes custom headers on).
    let tenant = match (&app_token, principal) {
        (Some(token), Principal::Forge) => keep_app_token(state, tenant, token).await?,
        _ => tenant,
    };
    runtime.seen.note(&state.pool, &invocation.installation_id);
    Ok(Caller {
        installation: tenant,
        account_id: invocation.principal,
        via: Via::Forge {
            api_base_url: invocation.api_base_url,
            app_token,
        },
    })
}

/// The site URL of the invocation, when the host allowlist lets its site install.
fn site_url<'a>(state: &AppState, invocation: &'a Invocation) -> Option<&'a str> {
    invocation
        .site_url
        .as_deref()
        .filter(|url| state.settings.host_allowlist.allows_url(url))
}

/// The tenant of the invocation: from memory by its installation, else found, linked or
/// created in the database (see [`forge_tenants::tenant_for`]).
async fn tenant(state: &AppState, invocation: &Invocation) -> Result<Arc<Installation>, AppError> {
    let installation_id = &invocation.installation_id;
    if let Some(client_key) = state.readers.forge_tenant_key(installation_id.as_str())
        && let Some(tenant) = state.installation(&client_key).await?
        && tenant.forge_installation_id.as_ref() == Some(installation_id)
    {
        if tenant.base_url.is_empty()
            && let Some(url) = site_url(state, invocation)
        {
            forge_tenants::set_base_url_if_empty(&state.pool, &tenant.client_key, url).await?;
            state.readers.invalidate_tenant(tenant.client_key.as_str());
        }
        return Ok(tenant);
    }
    let app_id = state
        .settings
        .forge
        .as_ref()
        .map(|forge| forge.app_id.as_str())
        .unwrap_or_default();
    let read_at = state.readers.generation();
    let row =
        forge_tenants::tenant_for(&state.pool, invocation, app_id, site_url(state, invocation))
            .await?
            .ok_or(AppError::TenantConflict)?;
    state
        .readers
        .note_forge_tenant(installation_id.as_str(), &row.client_key);
    Ok(state.readers.insert_installation(row, read_at))
}

/// Keep the invocation's app token for calls made outside an invocation, when the stored one
/// is missing or has less than [`REFRESH_WITHIN`] left; the tenant as it is now.
async fn keep_app_token(
    state: &AppState,
    tenant: Arc<Installation>,
    token: &str,
) -> Result<Arc<Installation>, AppError> {
    let now = Utc::now();
    // A stored token that no longer opens (the data key changed) counts as none, and is
    // replaced whatever its expiry says.
    let unreadable = tenant.forge_app_token.is_some()
        && crate::tenant::forge_token(&state.data_key, &tenant, now).is_none();
    let fresh_enough = !unreadable
        && tenant
            .forge_token_expires_at
            .is_some_and(|at| at > now + REFRESH_WITHIN);
    let Some(installation_id) = tenant.forge_installation_id.as_ref() else {
        return Ok(tenant);
    };
    if fresh_enough {
        return Ok(tenant);
    }
    let expires_at = token_expiry(token)
        .and_then(|exp| DateTime::from_timestamp(exp, 0))
        .unwrap_or(now + OPAQUE_TOKEN_LIFETIME)
        .min(now + MAX_TOKEN_LIFETIME);
    if expires_at <= now {
        tracing::warn!(client_key = %tenant.client_key, "Forge sent an app token that has expired; not kept");
        return Ok(tenant);
    }
    let sealed = state
        .data_key
        .seal(token.as_bytes(), tenant.client_key.as_str().as_bytes());
    if forge_tenants::store_app_token(
        &state.pool,
        installation_id,
        &sealed,
        expires_at,
        unreadable,
    )
    .await?
    {
        tracing::info!(client_key = %tenant.client_key, %expires_at, "Forge app token kept");
        state.readers.invalidate_tenant(tenant.client_key.as_str());
        if let Some(updated) = state.installation(tenant.client_key.as_str()).await? {
            return Ok(updated);
        }
    }
    Ok(tenant)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_nothing_else_counts() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER  abc ", Some("abc")),
            ("JWT abc", None),
            ("Basic YTpi", None),
            ("Bearer", None),
            ("Bearer ", None),
        ];
        for (header, expected) in cases {
            let req = TestRequest::get()
                .insert_header(("Authorization", header))
                .to_http_request();
            assert_eq!(bearer(&req), expected, "{header:?}");
        }
        assert_eq!(bearer(&TestRequest::get().to_http_request()), None);
    }

    #[test]
    fn app_tokens_are_taken_only_when_plausible() {
        let with = |value: &str| {
            app_token(
                &TestRequest::get()
                    .insert_header(("x-forge-oauth-system", value))
                    .to_http_request(),
            )
        };
        assert_eq!(with("abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert_eq!(with(""), None);
        assert_eq!(with("two words"), None);
        assert_eq!(with(&"a".repeat(MAX_APP_TOKEN_LEN + 1)), None);
    }
}
