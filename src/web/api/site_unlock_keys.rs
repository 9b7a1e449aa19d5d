//! `/api/admin/unlock-keys`: a site's unlock keys, for its site administrators only. A key is a
//! public JWK (checked as a share's public unlock key is) or a generated HS256 secret, which is
//! answered once, by the call that generates it, and stored sealed with the data key.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::share::UnlockSecret;
use crate::share::site_key::{self, generated_kid, seal_secret};
use crate::share::unlock_key::{StoredKey, UnlockKey};
use crate::storage::audit::{self, Action};
use crate::storage::site_unlock_keys::{self, Added, MAX_KEYS_PER_SITE, Material, SiteKeyListing};
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, AppError, Missing};
use crate::web::json::Json;
use crate::web::permissions::{refuse_api_keys, require_site_admin};
use crate::web::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/unlock-keys")
            .route("", web::get().to(list))
            .route("", web::post().to(add))
            .route("/{kid}", web::delete().to(remove)),
    );
}

/// A key as the admin API shows it; `secret` only in the answer that generates it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyJson {
    kid: String,
    alg: String,
    space_keys: Vec<String>,
    created_at: DateTime<Utc>,
    created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl KeyJson {
    fn new(key: SiteKeyListing, secret: Option<&UnlockSecret>) -> Self {
        Self {
            kid: key.kid,
            alg: key.alg,
            space_keys: key.space_keys,
            created_at: key.created_at,
            created_by: key.created_by.into(),
            secret: secret.map(UnlockSecret::to_hex),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddKey {
    jwk: Option<serde_json::Value>,
    generate: Option<String>,
    #[serde(default)]
    space_keys: Vec<String>,
}

/// What the request asks to add, checked: a public key, or a secret to generate.
enum Asked {
    Public(StoredKey),
    Generated,
}

fn asked(body: &AddKey) -> Result<Asked, AppError> {
    match (&body.jwk, body.generate.as_deref()) {
        (Some(jwk), None) => {
            let (stored, _) = UnlockKey::from_jwk(jwk).map_err(|problem| {
                let field = match problem.member() {
                    "" => "jwk".to_owned(),
                    member => format!("jwk.{member}"),
                };
                AppError::invalid(field, problem.to_string())
            })?;
            Ok(Asked::Public(stored))
        }
        (None, Some("HS256")) => Ok(Asked::Generated),
        (None, Some(_)) => Err(AppError::invalid(
            "generate",
            "generate may only be \"HS256\".",
        )),
        _ => Err(AppError::invalid(
            "jwk",
            "Send either a public key as jwk, or {\"generate\": \"HS256\"}.",
        )),
    }
}

/// What the audit log says of a key: its algorithm, kid and spaces (never a key or secret).
fn describe(alg: &str, kid: &str, space_keys: &[String]) -> String {
    let spaces = if space_keys.is_empty() {
        "all".to_owned()
    } else {
        space_keys.join(" ")
    };
    format!("{alg} key {kid}; spaces: {spaces}")
}

async fn list(user: ApiUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    require_site_admin(connect, &state).await?;
    let keys = site_unlock_keys::list(&state.pool, &connect.installation.client_key).await?;
    let body: Vec<KeyJson> = keys
        .into_iter()
        .map(|key| KeyJson::new(key, None))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

async fn add(
    user: ApiUser,
    body: Json<AddKey>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    refuse_api_keys(connect)?;
    // The rules first: a bad body costs no call to Confluence.
    let body = body.into_inner();
    let asked = asked(&body)?;
    let space_keys = site_key::space_keys(&body.space_keys)
        .map_err(|message| AppError::invalid("spaceKeys", message))?;
    require_site_admin(connect, &state).await?;
    let created_by = connect.user()?;
    let actor = connect.actor()?;
    let client_key = &connect.installation.client_key;
    let (kid, material, secret) = match asked {
        Asked::Public(stored) => (stored.kid.clone(), Material::Public(stored), None),
        Asked::Generated => {
            let kid = generated_kid();
            let secret = UnlockSecret::generate();
            let sealed = seal_secret(&state.data_key, client_key.as_str(), &kid, &secret);
            (kid, Material::SealedSecret(sealed), Some(secret))
        }
    };
    let mut tx = state.pool.begin().await?;
    let added = site_unlock_keys::add(
        &mut tx,
        client_key,
        &kid,
        &material,
        &space_keys,
        created_by,
    )
    .await?;
    let key = match added {
        Added::Key(key) => key,
        Added::Duplicate => return Err(AppError::SiteUnlockKeyExists.into()),
        Added::Full => {
            let field = match material {
                Material::Public(_) => "jwk",
                Material::SealedSecret(_) => "generate",
            };
            return Err(AppError::invalid(
                field,
                format!("A site holds at most {MAX_KEYS_PER_SITE} unlock keys; remove one first."),
            )
            .into());
        }
    };
    let detail = describe(&key.alg, &key.kid, &key.space_keys);
    let action = Action::SiteUnlockKeyAdded;
    audit::record(&mut *tx, client_key, &actor, action, None, &detail).await?;
    tx.commit().await?;
    // This instance uses the key at once; the others hear of it through Postgres.
    state.readers.invalidate_site_keys(client_key.as_str());
    tracing::info!(%client_key, kid = %key.kid, alg = %key.alg, "site unlock key added");
    Ok(HttpResponse::Created().json(KeyJson::new(key, secret.as_ref())))
}

async fn remove(
    user: ApiUser,
    kid: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    require_site_admin(connect, &state).await?;
    let client_key = &connect.installation.client_key;
    let actor = connect.actor()?;
    let mut tx = state.pool.begin().await?;
    let removed = site_unlock_keys::remove(&mut tx, client_key, &kid)
        .await?
        .ok_or(AppError::NotFound(Missing::SiteUnlockKey))?;
    let detail = format!(
        "{}; sessions of {} share(s) ended",
        describe(&removed.alg, &kid, &removed.space_keys),
        removed.shares.len()
    );
    let action = Action::SiteUnlockKeyRemoved;
    audit::record(&mut *tx, client_key, &actor, action, None, &detail).await?;
    tx.commit().await?;
    // This instance refuses the key, and the sessions it opened, at once; the others hear of it
    // through Postgres.
    state.readers.invalidate_site_keys(client_key.as_str());
    for share in &removed.shares {
        state.readers.invalidate(*share);
    }
    tracing::info!(%client_key, kid = %kid.as_str(), "site unlock key removed");
    Ok(HttpResponse::NoContent().finish())
}
