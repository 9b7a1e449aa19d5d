//! The site's own API, for its site administrators only: `GET /api/admin/shares` (every share
//! of the site) and `GET`/`PUT /api/admin/settings` (the site's default embedding origins).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::api::{json_config, parse_origins};
use super::auth::ContextUser;
use super::error::{ApiError, database_error};
use super::permissions::require_site_admin;
use super::state::AppState;
use crate::share::ShareStatus;
use crate::storage::installations;
use crate::storage::share_overview::{self, ShareSummary};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/admin")
            .app_data(json_config())
            .route("/shares", web::get().to(list))
            .route("/settings", web::get().to(settings))
            .route("/settings", web::put().to(update_settings)),
    );
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

/// The site's settings, as `GET` answers and `PUT` takes them (all of them: `PUT` replaces).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsJson {
    /// Origins that may embed the site's shares that have none of their own; empty: any site.
    default_frame_ancestors: Vec<String>,
}

fn no_tenant() -> ApiError {
    ApiError::not_found("This site is not installed.")
}

async fn settings(user: ContextUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    require_site_admin(connect, &state).await?;
    let origins =
        installations::default_frame_ancestors(&state.pool, &connect.installation.client_key)
            .await
            .map_err(database_error)?
            .ok_or_else(no_tenant)?;
    Ok(HttpResponse::Ok().json(SettingsJson {
        default_frame_ancestors: origins,
    }))
}

async fn update_settings(
    user: ContextUser,
    body: web::Json<SettingsJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    // The rules first, like the share API: a bad list costs no call to Confluence.
    let origins = parse_origins("defaultFrameAncestors", &body.default_frame_ancestors)?;
    require_site_admin(connect, &state).await?;
    let client_key = &connect.installation.client_key;
    let stored = installations::set_default_frame_ancestors(&state.pool, client_key, &origins)
        .await
        .map_err(database_error)?
        .ok_or_else(no_tenant)?;
    // This instance serves the new default at once; the others hear of it through Postgres.
    state.readers.invalidate_all();
    tracing::info!(
        client_key,
        origins = stored.len(),
        "default embedding origins changed"
    );
    Ok(HttpResponse::Ok().json(SettingsJson {
        default_frame_ancestors: stored,
    }))
}
