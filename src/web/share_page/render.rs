//! The share page and its password form: content from the cache (or Confluence, sanitised),
//! attachment URLs signed for the reader, and the headers every page of a share carries.

use crate::metrics::Cache;
use std::fmt::Write;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use chrono::Utc;

use super::Served;
use crate::confluence::client::HostError;
use crate::share::content::sanitize;
use crate::share::content_cache::CachedPage;
use crate::share::cookie::{
    AttachmentGrant, FORM_TOKEN_TTL_SECS, attachment_signature, attachment_url_expiry, form_token,
};
use crate::web::csp;
use crate::web::error::{AppError, Gone, PageError};
use crate::web::html::render;
use crate::web::state::AppState;

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

/// Headers of every page under `/content/{uuid}`: framed by the share's embedding origins,
/// protected pages never cached.
pub fn with_share_headers(
    mut response: HttpResponseBuilder,
    served: &Served,
) -> HttpResponseBuilder {
    response.insert_header((
        header::CONTENT_SECURITY_POLICY,
        csp::share_page(served.share.embedding_origins(&served.tenant)),
    ));
    let cache = if served.share.password_protected {
        "no-cache, no-store"
    } else {
        "no-cache"
    };
    response.insert_header((header::CACHE_CONTROL, cache));
    response
}

pub fn password_form(
    state: &AppState,
    served: &Served,
    client: &str,
    status: StatusCode,
    problem: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let share = &served.share;
    let action = format!("{}/password", share.id.page_url(state.settings.base_path()));
    let token = form_token(
        &state.signing_key,
        share.id,
        client,
        Utc::now().timestamp() + FORM_TOKEN_TTL_SECS,
    );
    let form = PasswordForm {
        title: "This page is protected",
        action: &action,
        form_token: &token,
        problem,
    };
    render(
        with_share_headers(HttpResponse::build(status), served),
        &form,
    )
}

/// A failed fetch of the share's page, as its reader sees it.
pub fn content_failed(error: HostError) -> AppError {
    match error {
        HostError::NotFound => AppError::Gone(Gone::PageDeleted),
        other => AppError::Confluence(other),
    }
}

/// The page's content: from the cache, or fetched from Confluence and sanitised (once, however
/// many readers miss it at the same moment).
pub async fn content(state: &AppState, served: &Served) -> Result<Arc<CachedPage>, AppError> {
    let Served { share, tenant } = served;
    // Credentials are made only when the page is fetched (a Forge token is sealed at rest).
    let missed = std::sync::atomic::AtomicBool::new(false);
    let fetch = async {
        missed.store(true, std::sync::atomic::Ordering::Relaxed);
        let host = state.tenant_host(tenant)?;
        let page = state
            .host
            .content(&host, &share.content_id)
            .await
            .map_err(content_failed)?;
        let base_url = tenant.base_url.clone();
        web::block(move || CachedPage {
            version: page.version,
            title: page.title,
            page: sanitize(&page.export_view, &base_url),
        })
        .await
        .map_err(|_| content_failed(HostError::BadAnswer))
    };
    let page = state
        .content
        .get_or_fetch(tenant.client_key.as_str(), share.content_id.as_str(), fetch)
        .await
        .map_err(|error| (*error).clone());
    // A reader who waited for another's fetch of the same page counts as a hit.
    let hit = !missed.load(std::sync::atomic::Ordering::Relaxed);
    state.count_lookup(Cache::Content, hit);
    page
}

/// The page itself, with signed attachment URLs; `set_cookie` when access was just proven.
pub async fn page(
    state: &AppState,
    served: &Served,
    set_cookie: Option<String>,
) -> Result<HttpResponse, PageError> {
    let share = &served.share;
    let content = content(state, served).await?;
    let expires = attachment_url_expiry(Utc::now().timestamp());
    let prefix = format!(
        "{}/attachments/",
        share.id.page_url(state.settings.base_path())
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
    let mut response = with_share_headers(HttpResponse::Ok(), served);
    if let Some(cookie) = set_cookie {
        response.insert_header((header::SET_COOKIE, cookie));
    }
    render(
        response,
        &SharedPage {
            title: &content.title,
            body: &body,
        },
    )
}
