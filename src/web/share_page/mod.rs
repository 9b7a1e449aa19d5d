//! What external readers see (`docs/HTTP.md`, `docs/SECURITY.md`): `/content/{uuid}` (and, for a
//! tree share, `/content/{uuid}/pages/{pageId}`), its password form, and the attachments of its
//! pages.

mod access;
mod attachments;
mod navigation;
mod password;
mod render;

use crate::metrics::Cache;
use std::sync::Arc;

use actix_web::error::UrlencodedError;
use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

use super::client_ip::{client_addr, client_ip};
use super::error::{AppError, Gone, Missing, PageError};
use super::state::AppState;
use crate::confluence::ids::ContentId;
use crate::share::ShareId;
use crate::share::readership::Access;
use crate::share::unlock::{UnlockError, UnlockToken};
use crate::storage::installations::Installation;
use crate::storage::shares::{self, ReaderShare};

/// Largest password form accepted.
const MAX_FORM_BODY: usize = 4 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let (query, _) = super::error::page_extractors();
    let form = web::FormConfig::default()
        .limit(MAX_FORM_BODY)
        .error_handler(|error, _| {
            let problem = match error {
                UrlencodedError::Overflow { .. } => AppError::BodyTooLarge(MAX_FORM_BODY),
                _ => AppError::BadPasswordForm,
            };
            PageError(problem).into()
        });
    // A share id that does not parse leads nowhere, like an unknown one.
    let path = web::PathConfig::default()
        .error_handler(|_, _| PageError(AppError::NotFound(Missing::SharedPage)).into());
    cfg.service(
        web::scope("/content")
            .app_data(query)
            .app_data(path)
            .app_data(form)
            .route("/{uuid}", web::get().to(page))
            .route("/{uuid}", web::head().to(page))
            .route("/{uuid}/pages/{page}", web::get().to(tree_page))
            .route("/{uuid}/pages/{page}", web::head().to(tree_page))
            .route("/{uuid}/password", web::post().to(password::post))
            .route(
                "/{uuid}/attachments/{attachment}",
                web::get().to(attachments::get),
            )
            .route(
                "/{uuid}/pages/{page}/attachments/{attachment}",
                web::get().to(attachments::get_of_tree_page),
            ),
    );
}

/// A share being served, and its tenant.
pub struct Served {
    pub share: Arc<ReaderShare>,
    pub tenant: Arc<Installation>,
}

/// The share behind `/content/{uuid}` and its tenant, if it may be served now; from memory when
/// the change listener vouches for them.
async fn servable_share(state: &AppState, id: ShareId) -> Result<Served, AppError> {
    let cached = state.readers.get(id);
    state.count_lookup(Cache::Shares, cached.is_some());
    let share = match cached {
        Some(share) => share,
        None => {
            let read_at = state.readers.generation();
            let row = shares::find_for_reader(&state.pool, id)
                .await?
                .ok_or(AppError::NotFound(Missing::SharedPage))?;
            state.readers.insert(row, read_at)
        }
    };
    if share.revoked {
        return Err(AppError::NotFound(Missing::SharedPage));
    }
    if share.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(AppError::Gone(Gone::ShareExpired));
    }
    let tenant = state
        .installation(share.client_key.as_str())
        .await?
        .ok_or(AppError::NotFound(Missing::SharedPage))?;
    if !tenant.live() {
        return Err(AppError::Gone(Gone::SharingOff));
    }
    Ok(Served { share, tenant })
}

/// A redirect to the canonical (lower-case) URL when the reader wrote the uuid otherwise:
/// cookies are scoped to that form. Not with an unlock token: that is never put in a URL the app
/// builds, so such a request is served where it is (its cookie still goes to the canonical path).
fn canonical_redirect(req: &HttpRequest, id: ShareId) -> Option<HttpResponse> {
    let written = req.match_info().get("uuid")?;
    if !written.bytes().any(|b| b.is_ascii_uppercase())
        || access::unlock_token(req.query_string()).is_some()
    {
        return None;
    }
    // The same page (of the tree, too), its uuid written the canonical way.
    let mut location = req.path().replacen(written, &id.to_string(), 1);
    if !req.query_string().is_empty() {
        location.push('?');
        location.push_str(req.query_string());
    }
    Some(
        HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, location))
            .finish(),
    )
}

async fn page(
    req: HttpRequest,
    id: web::Path<ShareId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    serve(req, *id, None, state).await
}

/// A page below a tree share's own: 404 unless the share is a tree share and the page is in its
/// tree now (checked once the reader has access, so the tree is never shown to others).
async fn tree_page(
    req: HttpRequest,
    path: web::Path<(ShareId, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (id, raw_page) = path.into_inner();
    let page = ContentId::parse(&raw_page).ok_or(AppError::NotFound(Missing::SharedPage))?;
    serve(req, id, Some(page), state).await
}

/// Count a view of a page of the share (`docs/SECURITY.md#readership`), once it is served: a GET
/// (a HEAD shows nothing to anyone). No database work: the counts are written in the background.
fn count_view(
    req: &HttpRequest,
    state: &AppState,
    share: ShareId,
    access: Access,
    now: DateTime<Utc>,
) {
    if req.method() != Method::GET {
        return;
    }
    let day = now.date_naive();
    let client = client_addr(req, &state.settings.trusted_proxies);
    let agent = req.headers().get(header::USER_AGENT);
    let agent = agent.map_or(&b""[..], HeaderValue::as_bytes);
    let reader = state.readership.reader(day, client, agent);
    state.readership.record(share, day, access, reader);
}

/// A share's page for a reader with access; otherwise its password form.
async fn serve(
    req: HttpRequest,
    id: ShareId,
    requested: Option<ContentId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if let Some(redirect) = canonical_redirect(&req, id) {
        return Ok(redirect);
    }
    let served = servable_share(&state, id).await?;
    let share = &served.share;
    if requested.is_some() && !share.include_children {
        return Err(AppError::NotFound(Missing::SharedPage).into());
    }
    let requested = requested.as_ref();
    let clock = Utc::now();
    let now = clock.timestamp();
    let key = &state.signing_key;
    if !share.password_protected {
        let page = render::page(&state, &served, requested, None, None).await?;
        count_view(&req, &state, share.id, Access::Open, clock);
        return Ok(page);
    }
    if access::has_valid_cookie(&req, key, share.id, share.password_version, now) {
        let base_path = state.settings.base_path();
        let (how, spent) = match access::came_by_password(&req) {
            true => (
                Access::Password,
                Some(access::came_by_password_spent(base_path, share.id)),
            ),
            false => (Access::Cookie, None),
        };
        let page = render::page(&state, &served, requested, spent, None).await?;
        count_view(&req, &state, share.id, how, clock);
        return Ok(page);
    }
    let client = client_ip(&req, &state.settings.trusted_proxies);
    let Some(token) = access::unlock_token(req.query_string()) else {
        let ok = StatusCode::OK;
        return render::password_form(&state, &served, &client, ok, None, requested);
    };
    // A site key may be named: the site's keys come from memory when warm.
    let site_keys = state.site_keys(share.client_key.as_str()).await?;
    let credentials = share.unlock_credentials(clock, &site_keys.0);
    let leeway = state.settings.unlock_leeway_secs;
    let verified = UnlockToken::parse(&token)
        .and_then(|parsed| parsed.verify_but_the_space(share.id, credentials, now, leeway));
    // A key limited to spaces is held to the space the page is in now (it may have moved).
    let verified = match verified {
        Ok(Some(site_key)) => {
            let own_page = render::live_space(&state, &served).await?;
            match site_key.covers(&own_page.space_key) {
                true => Ok(Some(own_page)),
                false => Err(UnlockError::KeyNotForThisSpace),
            }
        }
        Ok(None) => Ok(None),
        Err(error) => Err(error),
    };
    match verified {
        // The page comes in this very response: a browser that drops the cookie still shows it.
        Ok(own_page) => {
            let cookie = access::session_cookie(
                key,
                state.settings.base_path(),
                share.id,
                share.password_version,
                share.expires_at.map(|at| at.timestamp()),
                now,
            );
            let page = render::page(&state, &served, requested, Some(cookie), own_page).await?;
            count_view(&req, &state, share.id, Access::Unlock, clock);
            Ok(page)
        }
        Err(error) => {
            tracing::info!(share = %share.id, %error, "unlock token refused");
            render::password_form(
                &state,
                &served,
                &client,
                StatusCode::UNAUTHORIZED,
                Some(error.reader_message()),
                requested,
            )
        }
    }
}
