//! What external readers see (DESIGN §5): `/content/{uuid}`, its password form, and the
//! attachments of the page.

use std::fmt::Write;
use std::sync::Arc;

use actix_web::error::UrlencodedError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::auth;
use super::client_ip::client_ip;
use super::error::{PageError, database_error, page_extractors};
use super::state::AppState;
use crate::connect::host_client::{ContentId, HostError, Tenant};
use crate::outgoing::capped_stream;
use crate::share::ShareId;
use crate::share::content::sanitize;
use crate::share::content_cache::CachedPage;
use crate::share::cookie::{
    AttachmentGrant, COOKIE_NAME, COOKIE_TTL_SECS, FORM_TOKEN_TTL_SECS, attachment_signature,
    attachment_signature_is_valid, attachment_url_expiry, cookie_is_valid, cookie_value,
    form_token, form_token_is_valid,
};
use crate::share::unlock::verify_unlock;
use crate::storage::password_failures;
use crate::storage::shares::{self, ReaderShare};

/// Largest password form accepted.
const MAX_FORM_BODY: usize = 4 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let (query, path) = page_extractors();
    cfg.service(
        web::scope("/content")
            .app_data(query)
            .app_data(path)
            .app_data(
                web::FormConfig::default()
                    .limit(MAX_FORM_BODY)
                    .error_handler(|error, _| {
                        let status = match error {
                            UrlencodedError::Overflow { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                            _ => StatusCode::BAD_REQUEST,
                        };
                        PageError::new(
                            status,
                            "Something is wrong with that form",
                            "Go back, enter the password and try again.",
                        )
                        .into()
                    }),
            )
            .route("/{uuid}", web::get().to(page))
            .route("/{uuid}", web::head().to(page))
            .route("/{uuid}/password", web::post().to(password))
            .route(
                "/{uuid}/attachments/{attachment}",
                web::get().to(attachment),
            ),
    );
}

fn not_found() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Page not found",
        "This link does not lead to a shared page. Check the address, or ask the person who shared it.",
    )
}

fn gone(message: &'static str) -> PageError {
    PageError::new(StatusCode::GONE, "No longer shared", message)
}

/// The share behind `/content/{uuid}`, if it may be served now.
async fn servable_share(state: &AppState, raw_id: &str) -> Result<Arc<ReaderShare>, PageError> {
    let id = ShareId::parse(raw_id).ok_or_else(not_found)?;
    let share = match state.readers.get(id) {
        Some(share) => share,
        None => {
            let read_at = state.readers.generation();
            let row = shares::find_for_reader(&state.pool, id)
                .await
                .map_err(database_error)?
                .ok_or_else(not_found)?;
            state.readers.insert(row, read_at)
        }
    };
    if share.revoked {
        return Err(not_found());
    }
    if share.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(gone("This share has expired."));
    }
    if !share.tenant.live {
        return Err(gone(
            "The Confluence site of this page has turned sharing off.",
        ));
    }
    Ok(share)
}

fn has_valid_cookie(req: &HttpRequest, state: &AppState, share: &ReaderShare, now: i64) -> bool {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
        .any(|value| {
            cookie_is_valid(
                &state.signing_key,
                share.id,
                share.password_version,
                value,
                now,
            )
        })
}

/// `Set-Cookie` for a reader who proved access. `Partitioned` keeps it working in a cross-site
/// iframe of a browser that blocks third-party cookies but allows partitioned ones.
fn session_cookie(
    state: &AppState,
    share: &ReaderShare,
    password_version: i32,
    now: i64,
) -> String {
    let mut expires = now + COOKIE_TTL_SECS;
    if let Some(share_expiry) = share.expires_at {
        expires = expires.min(share_expiry.timestamp());
    }
    let value = cookie_value(&state.signing_key, share.id, password_version, expires);
    format!(
        "{COOKIE_NAME}={value}; Path={}/content/{}; Max-Age={}; HttpOnly; Secure; SameSite=None; Partitioned",
        state.settings.base_path(),
        share.id,
        (expires - now).max(0)
    )
}

/// Headers of every page under `/content/{uuid}`.
fn share_headers(response: &mut HttpResponseBuilder, share: &ReaderShare) {
    let origins = share.embedding_origins();
    let ancestors = if origins.is_empty() {
        "*".to_owned()
    } else {
        origins.join(" ")
    };
    response.insert_header((
        header::CONTENT_SECURITY_POLICY,
        format!(
            "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; \
             form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        ),
    ));
    let cache = if share.password_protected {
        "no-cache, no-store"
    } else {
        "no-cache"
    };
    response.insert_header((header::CACHE_CONTROL, cache));
}

#[derive(Template)]
#[template(path = "share/page.html")]
struct SharedPage<'a> {
    title: &'a str,
    body: &'a str,
}

#[derive(Template)]
#[template(path = "share/password.html")]
struct PasswordForm<'a> {
    title: &'a str,
    action: &'a str,
    form_token: &'a str,
    problem: Option<&'a str>,
}

fn rendered(template: &impl Template) -> Result<String, PageError> {
    template.render().map_err(|error| {
        tracing::error!(%error, "template failed");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The page could not be shown.",
        )
    })
}

fn password_form(
    state: &AppState,
    share: &ReaderShare,
    status: StatusCode,
    problem: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let action = format!(
        "{}/content/{}/password",
        state.settings.base_path(),
        share.id
    );
    let token = form_token(
        &state.signing_key,
        share.id,
        Utc::now().timestamp() + FORM_TOKEN_TTL_SECS,
    );
    let html = rendered(&PasswordForm {
        title: "This page is protected",
        action: &action,
        form_token: &token,
        problem,
    })?;
    let mut response = HttpResponse::build(status);
    share_headers(&mut response, share);
    Ok(response.content_type("text/html; charset=utf-8").body(html))
}

/// How to call the Confluence of the share's tenant.
fn host_of<'a>(state: &'a AppState, share: &'a ReaderShare) -> Result<Tenant<'a>, PageError> {
    let tenant = &share.tenant;
    Ok(auth::tenant(
        &state.settings,
        &tenant.client_key,
        &tenant.base_url,
        tenant.shared_secret.as_ref(),
        tenant.last_secret_kind,
    )?)
}

/// The page's content: from the cache, or fetched from Confluence and sanitised (once, however
/// many readers miss it at the same moment).
async fn page_content(state: &AppState, share: &ReaderShare) -> Result<Arc<CachedPage>, PageError> {
    let tenant = &share.tenant;
    let fetch = async {
        let content_id = ContentId::parse(&share.content_id).ok_or(HostError::NotFound)?;
        let page = state
            .host
            .content(
                host_of(state, share).map_err(|_| HostError::Unreachable)?,
                &content_id,
            )
            .await?;
        let base_url = tenant.base_url.clone();
        web::block(move || CachedPage {
            version: page.version,
            title: page.title,
            page: sanitize(&page.export_view, &base_url),
        })
        .await
        .map_err(|_| HostError::BadAnswer)
    };
    state
        .content
        .get_or_fetch(&tenant.client_key, &share.content_id, fetch)
        .await
        .map_err(|error| confluence_failed(&error))
}

fn confluence_failed(error: &HostError) -> PageError {
    match error {
        HostError::NotFound => gone("The Confluence page of this share no longer exists."),
        HostError::TooLarge => PageError::new(
            StatusCode::BAD_GATEWAY,
            "Too large to share",
            "Confluence sent more than Pageshare passes on for one page or file.",
        ),
        _ => PageError::new(
            StatusCode::BAD_GATEWAY,
            "Confluence did not answer",
            "The page could not be loaded from Confluence just now. Try again in a moment.",
        ),
    }
}

/// The page itself, with signed attachment URLs; `set_cookie` when access was just proven.
async fn render_page(
    state: &AppState,
    share: &ReaderShare,
    set_cookie: Option<String>,
) -> Result<HttpResponse, PageError> {
    let content = page_content(state, share).await?;
    let expires = attachment_url_expiry(Utc::now().timestamp());
    let prefix = format!(
        "{}/content/{}/attachments/",
        state.settings.base_path(),
        share.id
    );
    let mut body = String::with_capacity(64 * 1024);
    content.page.render(&mut body, |attachment_id, out| {
        let grant = AttachmentGrant {
            share: share.id,
            password_version: share.password_version,
            attachment_id,
            expires,
        };
        let sig = attachment_signature(&state.signing_key, grant);
        // Plain URL: `render` escapes it for the attribute.
        let _ = write!(out, "{prefix}{attachment_id}?exp={expires}&sig={sig}");
    });
    let html = rendered(&SharedPage {
        title: &content.title,
        body: &body,
    })?;
    let mut response = HttpResponse::Ok();
    share_headers(&mut response, share);
    if let Some(cookie) = set_cookie {
        response.insert_header((header::SET_COOKIE, cookie));
    }
    Ok(response.content_type("text/html; charset=utf-8").body(html))
}

/// The `unlock` query parameter, if any.
fn unlock_token(query: &str) -> Option<std::borrow::Cow<'_, str>> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("unlock="))
        .map(|raw| percent_encoding::percent_decode_str(raw).decode_utf8_lossy())
}

async fn page(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let share = servable_share(&state, &id).await?;
    let now = Utc::now().timestamp();
    if !share.password_protected || has_valid_cookie(&req, &state, &share, now) {
        return render_page(&state, &share, None).await;
    }
    let Some(token) = unlock_token(req.query_string()) else {
        return password_form(&state, &share, StatusCode::OK, None);
    };
    match verify_unlock(
        &token,
        share.id,
        &share.unlock_secret,
        now,
        state.settings.unlock_leeway_secs,
    ) {
        // The page comes in this very response: a browser that drops the cookie still shows it.
        Ok(()) => {
            let cookie = session_cookie(&state, &share, share.password_version, now);
            render_page(&state, &share, Some(cookie)).await
        }
        Err(error) => {
            tracing::info!(share = %share.id, %error, "unlock token refused");
            password_form(
                &state,
                &share,
                StatusCode::UNAUTHORIZED,
                Some(error.reader_message()),
            )
        }
    }
}

/// Refuse password posts from other sites (login CSRF): `Sec-Fetch-Site` where the browser
/// sends it, else `Origin`. `Origin: null` is what a same-origin post carries under
/// `Referrer-Policy: no-referrer` in browsers without `Sec-Fetch-Site`; it passes here, and
/// the form token (which a cross-site page cannot read) decides.
fn refuse_cross_site(req: &HttpRequest, own_origin: &str) -> Result<(), PageError> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let allowed = match (header("sec-fetch-site"), header("origin")) {
        (Some(site), _) => site == "same-origin",
        (None, Some(origin)) => origin == "null" || origin == own_origin,
        (None, None) => true,
    };
    if allowed {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "The password can only be entered on the page itself.",
        ))
    }
}

#[derive(Deserialize)]
struct PasswordFields {
    password: String,
    #[serde(default)]
    form_token: String,
}

async fn password(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<PasswordFields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    refuse_cross_site(&req, &state.settings.base_origin())?;
    let share = servable_share(&state, &id).await?;
    let page_url = format!("{}/content/{}", state.settings.base_path(), share.id);
    let see_page = |cookie: Option<String>| {
        let mut response = HttpResponse::SeeOther();
        response.insert_header((header::LOCATION, page_url.clone()));
        if let Some(cookie) = cookie {
            response.insert_header((header::SET_COOKIE, cookie));
        }
        response.finish()
    };
    if !share.password_protected {
        return Ok(see_page(None));
    }
    let PasswordFields {
        password: attempt,
        form_token,
    } = form.into_inner();
    if !form_token_is_valid(
        &state.signing_key,
        share.id,
        &form_token,
        Utc::now().timestamp(),
    ) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Please try again",
            "This form has expired or did not come from the page itself. Open the page again and enter the password.",
        ));
    }
    let client = client_ip(&req, &state.settings.trusted_proxies);
    if let Some(retry_after) = password_failures::count_attempt(&state.pool, share.id, &client)
        .await
        .map_err(database_error)?
    {
        let mut response = password_form(
            &state,
            &share,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many wrong passwords. Wait a few minutes, then try again."),
        )?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return Ok(response);
    }
    let Some((hash, password_version)) = shares::password_hash(&state.pool, share.id)
        .await
        .map_err(database_error)?
    else {
        return Ok(see_page(None));
    };
    let busy = || {
        PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "The server is busy; try again.",
        )
    };
    // Argon2id takes 19 MiB and tens of milliseconds: a few at a time, off the async threads.
    let _permit = state.password_checks.acquire().await.map_err(|_| busy())?;
    let matches = web::block(move || hash.verify(&attempt))
        .await
        .map_err(|_| busy())?;
    if !matches {
        return password_form(
            &state,
            &share,
            StatusCode::UNAUTHORIZED,
            Some("That password is not right."),
        );
    }
    password_failures::clear(&state.pool, share.id, &client)
        .await
        .map_err(database_error)?;
    let now = Utc::now().timestamp();
    Ok(see_page(Some(session_cookie(
        &state,
        &share,
        password_version,
        now,
    ))))
}

#[derive(Deserialize)]
struct SignedUrl {
    exp: i64,
    sig: String,
}

async fn attachment(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (raw_id, raw_attachment) = path.into_inner();
    let share = servable_share(&state, &raw_id).await?;
    let attachment_id = ContentId::parse(&raw_attachment).ok_or_else(not_found)?;
    let now = Utc::now().timestamp();
    let signed = web::Query::<SignedUrl>::from_query(req.query_string()).is_ok_and(|url| {
        let grant = AttachmentGrant {
            share: share.id,
            password_version: share.password_version,
            attachment_id: attachment_id.as_str(),
            expires: url.exp,
        };
        attachment_signature_is_valid(&state.signing_key, grant, &url.sig, now)
    });
    if !(signed || !share.password_protected || has_valid_cookie(&req, &state, &share, now)) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Link expired",
            "This file link has expired. Open the shared page again.",
        ));
    }
    // Only files the shared page shows, not every attachment of the page.
    let content = page_content(&state, &share).await?;
    if !content
        .page
        .attachment_ids()
        .any(|id| id == attachment_id.as_str())
    {
        return Err(not_found());
    }
    let page_id = ContentId::parse(&share.content_id).ok_or_else(not_found)?;
    let upstream = state
        .host
        .attachment(host_of(&state, &share)?, &page_id, &attachment_id)
        .await
        .map_err(|error| match error {
            HostError::NotFound => not_found(),
            other => confluence_failed(&other),
        })?;
    let content_type = upstream
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    // A protected file must not outlive a password change in the browser's cache.
    let cache = if share.password_protected {
        "no-store"
    } else {
        "private, max-age=3600"
    };
    let mut response = HttpResponse::Ok();
    response
        .content_type(content_type.as_str())
        .insert_header((header::CACHE_CONTROL, cache))
        // Served from this origin: never let a file run script here.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ));
    if !content_type.starts_with("image/") {
        response.insert_header((header::CONTENT_DISPOSITION, "attachment"));
    }
    if let Some(length) = upstream.content_length() {
        response.no_chunking(length);
    }
    Ok(response.streaming(capped_stream(upstream, state.settings.max_attachment_bytes)))
}
