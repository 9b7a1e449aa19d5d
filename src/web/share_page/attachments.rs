//! `GET /content/{uuid}/attachments/{id}` (and `/content/{uuid}/pages/{pageId}/attachments/{id}`
//! for a page of a tree share): a file the shared page shows, streamed from Confluence to a
//! reader with access (a signed URL, an open share, or the cookie).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::{access, render, servable_share};
use crate::confluence::client::HostError;
use crate::confluence::ids::ContentId;
use crate::outgoing::capped_stream;
use crate::share::ShareId;
use crate::share::cookie::{AttachmentGrant, attachment_signature_is_valid};
use crate::web::csp;
use crate::web::error::{AppError, Missing, PageError};
use crate::web::state::AppState;

#[derive(Deserialize)]
struct SignedUrl {
    exp: i64,
    sig: String,
}

pub async fn get(
    req: HttpRequest,
    path: web::Path<(ShareId, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (id, raw_attachment) = path.into_inner();
    serve(req, id, None, &raw_attachment, state).await
}

pub async fn get_of_tree_page(
    req: HttpRequest,
    path: web::Path<(ShareId, String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let (id, raw_page, raw_attachment) = path.into_inner();
    let page = ContentId::parse(&raw_page).ok_or(AppError::NotFound(Missing::File))?;
    serve(req, id, Some(page), &raw_attachment, state).await
}

async fn serve(
    req: HttpRequest,
    id: ShareId,
    requested: Option<ContentId>,
    raw_attachment: &str,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let served = servable_share(&state, id).await?;
    let share = &served.share;
    if requested.is_some() && !share.include_children {
        return Err(AppError::NotFound(Missing::File).into());
    }
    let page_id = requested.as_ref().unwrap_or(&share.content_id);
    let attachment_id =
        ContentId::parse(raw_attachment).ok_or(AppError::NotFound(Missing::File))?;
    let now = Utc::now().timestamp();
    let signed = web::Query::<SignedUrl>::from_query(req.query_string()).is_ok_and(|url| {
        let grant = AttachmentGrant {
            share: share.id,
            password_version: share.password_version,
            page_id: page_id.as_str(),
            attachment_id: attachment_id.as_str(),
            expires: url.exp,
        };
        attachment_signature_is_valid(&state.signing_key, grant, &url.sig, now)
    });
    let allowed = signed
        || !share.password_protected
        || access::has_valid_cookie(
            &req,
            &state.signing_key,
            share.id,
            share.password_version,
            now,
        );
    if !allowed {
        return Err(AppError::FileLinkExpired.into());
    }
    // Only files a shared page shows (a page of the tree now), not every attachment of the page.
    let (page_id, _) = render::requested_page(&state, &served, requested.as_ref())
        .await
        .map_err(|error| match error {
            AppError::NotFound(_) => AppError::NotFound(Missing::File),
            other => other,
        })?;
    let content = render::content(&state, &served, page_id).await?;
    if !content
        .page
        .attachment_ids()
        .any(|id| id == attachment_id.as_str())
    {
        return Err(AppError::NotFound(Missing::File).into());
    }
    let host = state.tenant_host(&served.tenant)?;
    let upstream = state
        .host
        .attachment(&host, page_id, &attachment_id)
        .await
        .map_err(|error| match error {
            HostError::NotFound => AppError::NotFound(Missing::File),
            other => render::content_failed(other),
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
        .insert_header((header::CONTENT_SECURITY_POLICY, csp::ATTACHMENT));
    if !content_type.starts_with("image/") {
        response.insert_header((header::CONTENT_DISPOSITION, "attachment"));
    }
    if let Some(length) = upstream.content_length() {
        response.no_chunking(length);
    }
    Ok(response.streaming(capped_stream(upstream, state.settings.max_attachment_bytes)))
}
