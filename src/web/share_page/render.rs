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
use super::navigation::navigation;
use crate::confluence::client::{ContentId, HostError};
use crate::share::content::{PageLink, sanitize};
use crate::share::content_cache::CachedPage;
use crate::share::cookie::{
    AttachmentGrant, FORM_TOKEN_TTL_SECS, attachment_signature, attachment_url_expiry, form_token,
};
use crate::share::tree::{MAX_PAGES, PageTree};
use crate::storage::shares;
use crate::web::csp;
use crate::web::error::{AppError, Gone, Missing, PageError};
use crate::web::html::render;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "share/page.html")]
struct SharedPage<'a> {
    title: &'a str,
    body: &'a str,
    /// The tree's navigation (HTML), for a tree share.
    navigation: Option<&'a str>,
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

/// The password form; `page`: the page of a tree share the reader asked for, where the form's
/// post leads back to.
pub fn password_form(
    state: &AppState,
    served: &Served,
    client: &str,
    status: StatusCode,
    problem: Option<&str>,
    page: Option<&ContentId>,
) -> Result<HttpResponse, PageError> {
    let share = &served.share;
    let mut action = format!("{}/password", share.id.page_url(state.settings.base_path()));
    if let Some(page) = page {
        action.push_str("?page=");
        action.push_str(page.as_str());
    }
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

/// The content of `page` (the share's own, or one of its tree): from the cache, or fetched from
/// Confluence and sanitised (once, however many readers miss it at the same moment).
pub async fn content(
    state: &AppState,
    served: &Served,
    page: &ContentId,
) -> Result<Arc<CachedPage>, AppError> {
    let tenant = &served.tenant;
    // Credentials are made only when the page is fetched (a Forge token is sealed at rest).
    let missed = std::sync::atomic::AtomicBool::new(false);
    let fetch = async {
        missed.store(true, std::sync::atomic::Ordering::Relaxed);
        let host = state.tenant_host(tenant)?;
        let page = state
            .host
            .content(&host, page)
            .await
            .map_err(content_failed)?;
        let base_url = tenant.base_url.clone();
        web::block(move || CachedPage {
            version: page.version,
            title: page.title,
            space_key: page.space_key,
            page: sanitize(&page.export_view, &base_url),
        })
        .await
        .map_err(|_| content_failed(HostError::BadAnswer))
    };
    let page = state
        .content
        .get_or_fetch(tenant.client_key.as_str(), page.as_str(), fetch)
        .await
        .map_err(|error| (*error).clone());
    // A reader who waited for another's fetch of the same page counts as a hit.
    let hit = !missed.load(std::sync::atomic::Ordering::Relaxed);
    state.count_lookup(Cache::Content, hit);
    page
}

/// The share's own page, to learn the space it is in now (from the cache, like its content): the
/// stored space is brought up to date when the page has moved, which announces the share's change.
pub async fn live_space(state: &AppState, served: &Served) -> Result<Arc<CachedPage>, AppError> {
    let share = &served.share;
    let page = content(state, served, &share.content_id).await?;
    if page.space_key != share.space_key {
        shares::set_space_key(&state.pool, share.id, &page.space_key).await?;
    }
    Ok(page)
}

/// The pages of a tree share: from the cache, or listed by Confluence (once, however many readers
/// miss it at the same moment).
pub async fn tree(state: &AppState, served: &Served) -> Result<Arc<PageTree>, AppError> {
    let Served { share, tenant } = served;
    let missed = std::sync::atomic::AtomicBool::new(false);
    let fetch = async {
        missed.store(true, std::sync::atomic::Ordering::Relaxed);
        let host = state.tenant_host(tenant)?;
        let (descendants, more) = state
            .host
            .descendants(&host, &share.content_id, MAX_PAGES)
            .await
            .map_err(content_failed)?;
        Ok::<_, AppError>(PageTree::build(
            &share.content_id,
            &share.title,
            descendants,
            more,
        ))
    };
    let tree = state
        .trees
        .get_or_fetch(tenant.client_key.as_str(), share.content_id.as_str(), fetch)
        .await
        .map_err(|error| (*error).clone());
    state.count_lookup(
        Cache::Trees,
        !missed.load(std::sync::atomic::Ordering::Relaxed),
    );
    tree
}

/// The page of the share a request asks for: its own (`None`), or one of its tree, which must
/// be a tree share's and in the tree now; the tree, for a tree share.
pub async fn requested_page<'a>(
    state: &AppState,
    served: &'a Served,
    requested: Option<&'a ContentId>,
) -> Result<(&'a ContentId, Option<Arc<PageTree>>), AppError> {
    let share = &served.share;
    let tree = match share.include_children {
        true => Some(tree(state, served).await?),
        false => None,
    };
    match requested {
        None => Ok((&share.content_id, tree)),
        Some(page) if tree.as_ref().is_some_and(|t| t.contains(page.as_str())) => Ok((page, tree)),
        Some(_) => Err(AppError::NotFound(Missing::SharedPage)),
    }
}

/// `{share}` or `{share}/pages/{id}`: where a page of the share is read, under `base`.
pub fn page_path(share_url: &str, root: &ContentId, page: &str) -> String {
    if page == root.as_str() {
        share_url.to_owned()
    } else {
        format!("{share_url}/pages/{page}")
    }
}

/// The page itself (`requested`: one of a tree share's pages, else the share's own), with
/// signed attachment URLs, links inside the tree pointing into it, and the tree's navigation;
/// `set_cookie` when access was just proven; `own_page`: the share's own page, when the request
/// has read it already (not looked up again).
pub async fn page(
    state: &AppState,
    served: &Served,
    requested: Option<&ContentId>,
    set_cookie: Option<String>,
    own_page: Option<Arc<CachedPage>>,
) -> Result<HttpResponse, PageError> {
    let share = &served.share;
    let (page_id, tree) = requested_page(state, served, requested).await?;
    let content = match own_page {
        Some(page) if page_id == &share.content_id => page,
        _ => content(state, served, page_id).await?,
    };
    let expires = attachment_url_expiry(Utc::now().timestamp());
    let share_url = share.id.page_url(state.settings.base_path());
    let prefix = format!(
        "{}/attachments/",
        page_path(&share_url, &share.content_id, page_id.as_str())
    );
    let mut body = String::with_capacity(64 * 1024);
    let attachment_url = |attachment_id: &str, out: &mut String| {
        let grant = AttachmentGrant {
            share: share.id,
            password_version: share.password_version,
            page_id: page_id.as_str(),
            attachment_id,
            expires,
        };
        let sig = attachment_signature(&state.signing_key, grant);
        // Plain URL: `render` escapes it for the attribute.
        let _ = write!(out, "{prefix}{attachment_id}?exp={expires}&sig={sig}");
    };
    // A tree's pages link to each other's share URLs and not at all elsewhere in Confluence; a
    // one-page share keeps Confluence's links as they were.
    let page_link = |linked: &str| match &tree {
        Some(tree) if tree.contains(linked) => {
            PageLink::To(page_path(&share_url, &share.content_id, linked))
        }
        Some(_) => PageLink::Text,
        None => PageLink::Unchanged,
    };
    content.page.render(&mut body, attachment_url, page_link);
    let navigation = tree
        .as_ref()
        .map(|tree| navigation(tree, &share_url, page_id.as_str()));
    let mut response = with_share_headers(HttpResponse::Ok(), served);
    if let Some(cookie) = set_cookie {
        response.insert_header((header::SET_COOKIE, cookie));
    }
    render(
        response,
        &SharedPage {
            title: &content.title,
            body: &body,
            navigation: navigation.as_deref(),
        },
    )
}
