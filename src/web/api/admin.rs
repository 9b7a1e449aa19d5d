//! The site's own API, for its site administrators only: `GET /api/admin/shares` (the site's
//! shares, a page at a time, searched and filtered) and `GET`/`PUT /api/admin/settings` (the
//! site's default embedding origins).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::cursor;
use super::share_json::SummaryJson;
use super::shares::origins;
use crate::share::origins::FrameAncestor;
use crate::storage::installations;
use crate::storage::share_overview;
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, AppError, Missing};
use crate::web::json::Json;
use crate::web::permissions::{refuse_api_keys, require_site_admin};
use crate::web::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/shares", web::get().to(list))
            .route("/settings", web::get().to(settings))
            .route("/settings", web::put().to(update_settings)),
    );
}

/// `GET /api/admin/shares`'s query: all optional; an empty value counts as absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<i64>,
    q: Option<String>,
    status: Option<String>,
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/// Longest search text, in characters.
const MAX_SEARCH_CHARS: usize = 200;

fn bad(name: &'static str, message: &'static str) -> AppError {
    AppError::BadParameter { name, message }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListQuery {
    fn filter(&self) -> Result<(share_overview::Filter<'_>, i64), AppError> {
        let after = non_empty(&self.cursor)
            .map(|c| cursor::decode(c).ok_or(bad("cursor", "cursor is not one this list gave")))
            .transpose()?;
        let text = non_empty(&self.q);
        if let Some(text) = text
            && (text.chars().count() > MAX_SEARCH_CHARS || text.chars().any(char::is_control))
        {
            return Err(bad(
                "q",
                "q must be at most 200 characters without control characters",
            ));
        }
        let status = non_empty(&self.status)
            .map(|s| {
                serde_json::from_value(serde_json::Value::String(s.to_owned()))
                    .map_err(|_| bad("status", "status must be active, expired or revoked"))
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(bad("limit", "limit must be from 1 to 200"));
        }
        Ok((
            share_overview::Filter {
                after,
                text,
                status,
            },
            limit,
        ))
    }
}

/// A page of the site's shares, newest first; `nextCursor` is `null` on the last.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SharePage {
    items: Vec<SummaryJson>,
    next_cursor: Option<String>,
}

async fn list(
    user: ApiUser,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    // The query first: a bad one costs no call to Confluence.
    let (filter, limit) = query.filter()?;
    require_site_admin(connect, &state).await?;
    let now = Utc::now();
    let client_key = &connect.installation.client_key;
    // One more than asked for tells whether another page follows.
    let mut found =
        share_overview::page_for_tenant(&state.pool, client_key, &filter, limit + 1, now).await?;
    let next_cursor = (found.len() as i64 > limit).then(|| {
        found.truncate(limit as usize);
        cursor::encode(found[found.len() - 1].position())
    });
    let items = found
        .into_iter()
        .map(|share| SummaryJson::new(share, &state.settings.base_url, now))
        .collect();
    Ok(HttpResponse::Ok().json(SharePage { items, next_cursor }))
}

/// The site's settings as `GET` answers them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SettingsJson {
    /// Origins that may embed the site's shares that have none of their own; empty: any site.
    default_frame_ancestors: Vec<FrameAncestor>,
}

/// The site's settings as `PUT` takes them (all of them: `PUT` replaces).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsBody {
    default_frame_ancestors: Vec<String>,
}

async fn settings(user: ApiUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    require_site_admin(connect, &state).await?;
    let origins =
        installations::default_frame_ancestors(&state.pool, &connect.installation.client_key)
            .await?
            .ok_or(AppError::NotFound(Missing::Site))?;
    Ok(HttpResponse::Ok().json(SettingsJson {
        default_frame_ancestors: origins,
    }))
}

async fn update_settings(
    user: ApiUser,
    body: Json<SettingsBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    refuse_api_keys(connect)?;
    // The rules first, like the share API: a bad list costs no call to Confluence.
    let origins = origins("defaultFrameAncestors", &body.0.default_frame_ancestors)?;
    require_site_admin(connect, &state).await?;
    let client_key = &connect.installation.client_key;
    let stored = installations::set_default_frame_ancestors(&state.pool, client_key, &origins)
        .await?
        .ok_or(AppError::NotFound(Missing::Site))?;
    // This instance serves the new default at once; the others hear of it through Postgres.
    state.readers.invalidate_all();
    tracing::info!(%client_key, origins = stored.len(), "default embedding origins changed");
    Ok(HttpResponse::Ok().json(SettingsJson {
        default_frame_ancestors: stored,
    }))
}
