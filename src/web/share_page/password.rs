//! `POST /content/{uuid}/password`: a reader's password attempt, counted before it is checked.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::{access, render, servable_share};
use crate::confluence::ids::ContentId;
use crate::share::ShareId;
use crate::share::cookie::form_token_is_valid;
use crate::storage::shares::ReaderShare;
use crate::storage::{password_failures, shares};
use crate::web::client_ip::client_ip;
use crate::web::error::{AppError, PageError};
use crate::web::state::AppState;

/// The page of a tree share the form was shown on (`?page=` of its action): the post leads back
/// there. Only a content id of a tree share; the page itself answers 404 if it left the tree.
fn return_page(req: &HttpRequest, share: &ReaderShare) -> Option<ContentId> {
    if !share.include_children {
        return None;
    }
    let raw = req
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))?;
    ContentId::parse(raw)
}

#[derive(Deserialize)]
pub struct PasswordFields {
    password: String,
    #[serde(default)]
    form_token: String,
}

pub async fn post(
    req: HttpRequest,
    id: web::Path<ShareId>,
    form: web::Form<PasswordFields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if !access::is_same_site_post(&req, &state.settings.base_origin()) {
        return Err(AppError::CrossSitePost.into());
    }
    let served = servable_share(&state, *id).await?;
    let share = &served.share;
    let page = return_page(&req, share);
    let page = page.as_ref();
    let see_page = |cookies: Option<[String; 2]>| {
        let share_url = share.id.page_url(state.settings.base_path());
        let location = match page {
            Some(page) => render::page_path(&share_url, &share.content_id, page.as_str()),
            None => share_url,
        };
        let mut response = HttpResponse::SeeOther();
        response.insert_header((header::LOCATION, location));
        for cookie in cookies.into_iter().flatten() {
            response.append_header((header::SET_COOKIE, cookie));
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
    let now = Utc::now().timestamp();
    let client = client_ip(&req, &state.settings.trusted_proxies);
    if !form_token_is_valid(&state.signing_key, share.id, &client, &form_token, now) {
        return Err(AppError::FormExpired.into());
    }
    if let Some(retry_after) = password_failures::count_attempt(&state.pool, share.id, &client)
        .await
        .map_err(AppError::from)?
    {
        if let Some(metrics) = &state.metrics {
            metrics.rate_limited();
        }
        let mut response = render::password_form(
            &state,
            &served,
            &client,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many wrong passwords. Wait a few minutes, then try again."),
            page,
        )?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return Ok(response);
    }
    let Some((hash, password_version)) = shares::password_hash(&state.pool, share.id)
        .await
        .map_err(AppError::from)?
    else {
        return Ok(see_page(None));
    };
    // Argon2id takes 19 MiB and tens of milliseconds: a few at a time, off the async threads.
    let _permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|_| AppError::Busy)?;
    let matches = web::block(move || hash.verify(&attempt))
        .await
        .map_err(|_| AppError::Busy)?;
    if !matches {
        if let Some(metrics) = &state.metrics {
            metrics.password_failure();
        }
        return render::password_form(
            &state,
            &served,
            &client,
            StatusCode::UNAUTHORIZED,
            Some("That password is not right."),
            page,
        );
    }
    password_failures::clear(&state.pool, share.id, &client)
        .await
        .map_err(AppError::from)?;
    let base_path = state.settings.base_path();
    Ok(see_page(Some([
        access::session_cookie(
            &state.signing_key,
            base_path,
            share.id,
            password_version,
            share.expires_at.map(|at| at.timestamp()),
            now,
        ),
        access::came_by_password_cookie(base_path, share.id),
    ])))
}
