//! `/api/shares/{uuid}/unlock-keys`: a share's public unlock keys, managed by those who manage
//! the share (as its unlock secret is). Only public JWKs are taken; the answer never holds more
//! than a key's name, algorithm and origin. An API key lists them with `shares:read`, but adds or
//! removes one only with `unlock-secrets:rotate`: registering a public key is being able to mint
//! unlock tokens.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::shares::managed_share;
use crate::share::ShareId;
use crate::share::unlock_key::UnlockKey;
use crate::storage::api_keys::Scope;
use crate::storage::audit::{self, Action, Actor};
use crate::storage::shares::Share;
use crate::storage::unlock_keys::{self, Added, KeyListing, MAX_KEYS_PER_SHARE};
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, AppError, Missing};
use crate::web::json::Json;
use crate::web::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/shares/{uuid}/unlock-keys")
            .route("", web::get().to(list))
            .route("", web::post().to(add))
            .route("/{kid}", web::delete().to(remove)),
    );
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyJson {
    kid: String,
    alg: String,
    created_at: DateTime<Utc>,
    created_by: String,
}

impl From<KeyListing> for KeyJson {
    fn from(key: KeyListing) -> Self {
        Self {
            kid: key.kid,
            alg: key.alg,
            created_at: key.created_at,
            created_by: key.created_by.into(),
        }
    }
}

/// Record a change of the share's keys in the audit log, in the change's transaction, commit it,
/// and drop the share from this instance's cache (the others hear of it through Postgres).
async fn finish(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    state: &AppState,
    share: &Share,
    actor: &Actor,
    action: Action,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let id = Some(share.id);
    audit::record(&mut *tx, &share.client_key, actor, action, id, detail).await?;
    tx.commit().await?;
    state.readers.invalidate(share.id);
    Ok(())
}

async fn list(
    user: ApiUser,
    id: web::Path<ShareId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.0.require_scope(Scope::SharesRead)?;
    let share = managed_share(&user.0, &state, *id).await?;
    let keys = unlock_keys::list(&state.pool, share.id).await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(KeyJson::from).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddKey {
    jwk: serde_json::Value,
}

async fn add(
    user: ApiUser,
    id: web::Path<ShareId>,
    body: Json<AddKey>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    connect.require_scope(Scope::UnlockSecretsRotate)?;
    let created_by = connect.user()?;
    let (stored, _) = UnlockKey::from_jwk(&body.into_inner().jwk).map_err(|problem| {
        let field = match problem.member() {
            "" => "jwk".to_owned(),
            member => format!("jwk.{member}"),
        };
        AppError::invalid(field, problem.to_string())
    })?;
    let share = managed_share(connect, &state, *id).await?;
    let actor = connect.actor()?;
    let mut tx = state.pool.begin().await?;
    let key = match unlock_keys::add(&mut tx, share.id, &stored, created_by).await? {
        Added::Key(key) => key,
        Added::Duplicate => return Err(AppError::UnlockKeyExists.into()),
        Added::Full => {
            return Err(AppError::invalid(
                "jwk",
                format!(
                    "A share holds at most {MAX_KEYS_PER_SHARE} unlock keys; remove one first."
                ),
            )
            .into());
        }
    };
    let detail = format!("{} key {}", key.alg, key.kid);
    finish(tx, &state, &share, &actor, Action::UnlockKeyAdded, &detail).await?;
    tracing::info!(share = %share.id, kid = %key.kid, alg = %key.alg, "unlock key added");
    Ok(HttpResponse::Created().json(KeyJson::from(key)))
}

async fn remove(
    user: ApiUser,
    path: web::Path<(ShareId, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    connect.require_scope(Scope::UnlockSecretsRotate)?;
    let (id, kid) = path.into_inner();
    let share = managed_share(connect, &state, id).await?;
    let actor = connect.actor()?;
    let mut tx = state.pool.begin().await?;
    if !unlock_keys::remove(&mut tx, share.id, &kid).await? {
        return Err(AppError::NotFound(Missing::UnlockKey).into());
    }
    let detail = format!("key {kid}; sessions ended");
    finish(
        tx,
        &state,
        &share,
        &actor,
        Action::UnlockKeyRemoved,
        &detail,
    )
    .await?;
    tracing::info!(share = %share.id, %kid, "unlock key removed");
    Ok(HttpResponse::NoContent().finish())
}
