//! `/api/admin/api-keys`: a site's API keys, for its site administrators only. A new key is
//! answered once, by the call that creates it; nothing answers it afterwards.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::storage::api_keys::{self, ApiKey, NewApiKey, NewKey, Revoked, Scope};
use crate::storage::audit::{self, Action};
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, AppError, Missing};
use crate::web::json::Json;
use crate::web::permissions::{refuse_api_keys, require_site_admin};
use crate::web::state::AppState;

/// Longest name, in characters.
const MAX_NAME_CHARS: usize = 80;
/// Keys a site may hold at once (not revoked).
const MAX_KEYS: usize = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/api-keys")
            .route("", web::get().to(list))
            .route("", web::post().to(create))
            .route("/{id}", web::delete().to(revoke)),
    );
}

/// A key as the admin API shows it; `key` only in the answer that creates it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyJson {
    id: Uuid,
    name: String,
    scopes: Vec<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    expired: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl KeyJson {
    fn new(key: ApiKey, text: Option<String>) -> Self {
        let expired = key.expires_at.is_some_and(|at| at <= Utc::now());
        Self {
            id: key.id,
            name: key.name,
            scopes: key.scopes,
            created_by: key.created_by.into(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            expired,
            key: text,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateKey {
    name: String,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
}

fn name(raw: &str) -> Result<&str, AppError> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AppError::invalid(
            "name",
            format!(
                "name must be 1 to {MAX_NAME_CHARS} characters, none of them control characters."
            ),
        ));
    }
    Ok(name)
}

/// The scopes asked for, each once, in a fixed order.
fn scopes(raw: &[String]) -> Result<Vec<Scope>, AppError> {
    let known = Scope::ALL.map(Scope::as_str).join(", ");
    let mut asked = Vec::new();
    for text in raw {
        let scope = Scope::parse(text)
            .ok_or_else(|| AppError::invalid("scopes", format!("scopes may only be: {known}.")))?;
        asked.push(scope);
    }
    let chosen: Vec<Scope> = Scope::ALL
        .into_iter()
        .filter(|scope| asked.contains(scope))
        .collect();
    if chosen.is_empty() {
        return Err(AppError::invalid(
            "scopes",
            format!("scopes needs at least one of: {known}."),
        ));
    }
    // It only adds the secret to what `shares:…` answer: alone it would open nothing.
    let answers_shares =
        chosen.contains(&Scope::SharesRead) || chosen.contains(&Scope::SharesWrite);
    if chosen.contains(&Scope::UnlockSecretsRead) && !answers_shares {
        return Err(AppError::invalid(
            "scopes",
            "unlock-secrets:read adds the unlock secret to the shares a key reads or changes: \
             give it shares:read or shares:write too.",
        ));
    }
    Ok(chosen)
}

async fn list(user: ApiUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    require_site_admin(connect, &state).await?;
    let keys = api_keys::list_for_tenant(&state.pool, &connect.installation.client_key).await?;
    let body: Vec<KeyJson> = keys
        .into_iter()
        .map(|key| KeyJson::new(key, None))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

async fn create(
    user: ApiUser,
    body: Json<CreateKey>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    refuse_api_keys(connect)?;
    let body = body.into_inner();
    // The rules first: a bad body costs no call to Confluence.
    let name = name(&body.name)?;
    let scopes = scopes(&body.scopes)?;
    if let Some(at) = body.expires_at
        && at <= Utc::now()
    {
        return Err(AppError::invalid("expiresAt", "expiresAt must be in the future.").into());
    }
    require_site_admin(connect, &state).await?;
    let created_by = connect.user()?;
    let client_key = &connect.installation.client_key;
    if api_keys::list_for_tenant(&state.pool, client_key)
        .await?
        .len()
        >= MAX_KEYS
    {
        return Err(AppError::invalid(
            "name",
            format!("This site already has {MAX_KEYS} API keys; revoke one first."),
        )
        .into());
    }
    let actor = connect.actor()?;
    let text = NewKey::generate();
    let mut tx = state.pool.begin().await?;
    let key = api_keys::insert(
        &mut *tx,
        NewApiKey {
            client_key,
            name,
            scopes: &scopes,
            created_by,
            expires_at: body.expires_at,
            hash: text.hash(),
        },
    )
    .await?;
    let detail = created_detail(&key);
    audit::record(
        &mut *tx,
        client_key,
        &actor,
        Action::ApiKeyCreated,
        None,
        &detail,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(key = %key.id, %client_key, "API key created");
    Ok(HttpResponse::Created().json(KeyJson::new(key, Some(text.expose()))))
}

async fn revoke(
    user: ApiUser,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    require_site_admin(connect, &state).await?;
    let client_key = &connect.installation.client_key;
    let actor = connect.actor()?;
    let mut tx = state.pool.begin().await?;
    match api_keys::revoke(&mut tx, client_key, *id).await? {
        Revoked::Missing => return Err(AppError::NotFound(Missing::ApiKey).into()),
        // Revoking again changes nothing, and records nothing.
        Revoked::Already => {}
        Revoked::Now(name) => {
            let detail = api_keys::describe(*id, &name);
            let action = Action::ApiKeyRevoked;
            audit::record(&mut *tx, client_key, &actor, action, None, &detail).await?;
        }
    }
    tx.commit().await?;
    // This instance refuses the key at once; the others hear of it through Postgres.
    state.readers.invalidate_api_keys();
    tracing::info!(key = %id, %client_key, "API key revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// What the audit log says of a new key: its id, name, scopes and expiry (never the key).
fn created_detail(key: &ApiKey) -> String {
    let expiry = key
        .expires_at
        .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
    format!(
        "{}; scopes: {}; expires: {expiry}",
        api_keys::describe(key.id, &key.name),
        key.scopes.join(" ")
    )
}
