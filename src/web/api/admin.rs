//! The site's own API, for its site administrators only: `GET /api/admin/shares` (every share
//! of the site) and `GET`/`PUT /api/admin/settings` (the site's default embedding origins).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

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

async fn list(user: ApiUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    require_site_admin(connect, &state).await?;
    let found =
        share_overview::list_for_tenant(&state.pool, &connect.installation.client_key).await?;
    let now = Utc::now();
    let body: Vec<SummaryJson> = found
        .into_iter()
        .map(|share| SummaryJson::new(share, &state.settings.base_url, now))
        .collect();
    Ok(HttpResponse::Ok().json(body))
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
