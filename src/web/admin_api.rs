//! `GET /api/admin/shares`: every share of the site, for its site administrators only.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::auth::ContextUser;
use super::error::{ApiError, database_error};
use super::permissions::require_site_admin;
use super::state::AppState;
use crate::share::ShareStatus;
use crate::storage::share_overview::{self, ShareSummary};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/admin/shares", web::get().to(list));
}

/// A share as the admin page lists it: no unlock secret, no embedding origins.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryJson {
    uuid: String,
    content_id: String,
    space_key: String,
    title: String,
    url: String,
    status: ShareStatus,
    password_protected: bool,
    expires_at: Option<DateTime<Utc>>,
    created_by: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl SummaryJson {
    fn new(share: ShareSummary, base_url: &str, now: DateTime<Utc>) -> Self {
        Self {
            url: format!("{base_url}/content/{}", share.id),
            uuid: share.id.to_string(),
            status: ShareStatus::of(share.revoked_at, share.expires_at, now),
            content_id: share.content_id,
            space_key: share.space_key,
            title: share.title,
            password_protected: share.password_protected,
            expires_at: share.expires_at,
            created_by: share.created_by,
            created_at: share.created_at,
            revoked_at: share.revoked_at,
        }
    }
}

async fn list(user: ContextUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    require_site_admin(connect, &state).await?;
    let found = share_overview::list_for_tenant(&state.pool, &connect.installation.client_key)
        .await
        .map_err(database_error)?;
    let now = Utc::now();
    let body: Vec<SummaryJson> = found
        .into_iter()
        .map(|share| SummaryJson::new(share, &state.settings.base_url, now))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
