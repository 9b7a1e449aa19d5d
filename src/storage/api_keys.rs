//! The `api_key` table, and the keys themselves: `psk_` and 43 base64url characters (32 random
//! bytes). Only a key's SHA-256 is stored; a request's key is found by hashing it and looking
//! the hash up (in memory, else in the database), so no stored value is ever compared with the
//! key text.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::audit::{self, Action, Actor};
use crate::confluence::ids::AccountId;
use crate::tenant::ClientKey;

/// What every key starts with, so that secret scanners and people recognise one.
pub const PREFIX: &str = "psk_";
/// Random bytes in a key.
const RANDOM_LEN: usize = 32;
/// Base64url characters after the prefix.
const ENCODED_LEN: usize = 43;

/// What a key may do on `/api/shares…` (`docs/HTTP.md#api-keys`). The unlock secret has scopes
/// of its own: no other scope shows or rotates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `GET /api/shares?contentId=…`, `GET /api/shares/{uuid}`.
    SharesRead,
    /// `POST /api/shares`, `PATCH`/`DELETE /api/shares/{uuid}`.
    SharesWrite,
    /// `unlockSecret` in the share JSON the key's other scopes answer (where its creator would
    /// see it); opens no call by itself.
    UnlockSecretsRead,
    /// `POST /api/shares/{uuid}/unlock-secret`, whose answer is the new secret.
    UnlockSecretsRotate,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::SharesRead,
        Scope::SharesWrite,
        Scope::UnlockSecretsRead,
        Scope::UnlockSecretsRotate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SharesRead => "shares:read",
            Self::SharesWrite => "shares:write",
            Self::UnlockSecretsRead => "unlock-secrets:read",
            Self::UnlockSecretsRotate => "unlock-secrets:rotate",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's SHA-256: what is stored and looked up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

/// Never prints the hash either (it identifies the key).
impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// A new key's text, shown once.
pub struct NewKey(String);

impl NewKey {
    pub fn generate() -> Self {
        // ThreadRng is a CSPRNG (ChaCha12, seeded and reseeded from the OS).
        let bytes: [u8; RANDOM_LEN] = rand::rng().random();
        Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn hash(&self) -> KeyHash {
        hash_of(&self.0)
    }

    pub fn expose(self) -> String {
        self.0
    }
}

fn hash_of(text: &str) -> KeyHash {
    KeyHash(Sha256::digest(text.as_bytes()).into())
}

/// The hash of `text` when it has a key's shape; `None` (asking nothing of the database) when
/// it cannot be one.
pub fn parse(text: &str) -> Option<KeyHash> {
    let encoded = text.strip_prefix(PREFIX)?;
    let shaped = encoded.len() == ENCODED_LEN
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| hash_of(text))
}

/// A key as the admin API shows it (never the key, never its hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKey {
    pub id: Uuid,
    pub client_key: ClientKey,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_by: AccountId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub first_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.as_str())
    }

    /// Whether the key opens the API at `now`.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

macro_rules! key_columns {
    () => {
        "id, client_key, name, scopes, created_by, created_at, expires_at, last_used_at,
         first_used_at, revoked_at"
    };
}

pub struct NewApiKey<'a> {
    pub client_key: &'a ClientKey,
    pub name: &'a str,
    pub scopes: &'a [Scope],
    pub created_by: &'a AccountId,
    pub expires_at: Option<DateTime<Utc>>,
    pub hash: KeyHash,
}

pub async fn insert(db: impl PgExecutor<'_>, new: NewApiKey<'_>) -> Result<ApiKey, sqlx::Error> {
    let scopes: Vec<&str> = new.scopes.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(concat!(
        "INSERT INTO api_key (id, client_key, name, key_hash, scopes, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING ",
        key_columns!()
    ))
    .bind(Uuid::new_v4())
    .bind(new.client_key)
    .bind(new.name)
    .bind(&new.hash.0[..])
    .bind(&scopes)
    .bind(new.created_by)
    .bind(new.expires_at)
    .fetch_one(db)
    .await
}

/// The site's keys that are not revoked, newest first.
pub async fn list_for_tenant(
    pool: &PgPool,
    client_key: &ClientKey,
) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_key WHERE client_key = $1 AND revoked_at IS NULL
          ORDER BY created_at DESC, id"
    ))
    .bind(client_key)
    .fetch_all(pool)
    .await
}

/// The key with this hash, whichever site it belongs to, revoked or not.
pub async fn find_by_hash(pool: &PgPool, hash: &KeyHash) -> Result<Option<ApiKey>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_key WHERE key_hash = $1"
    ))
    .bind(&hash.0[..])
    .fetch_optional(pool)
    .await
}

/// What revoking a key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked by this call; the key's name.
    Now(String),
    /// Revoked before: nothing changed.
    Already,
    /// The site has no such key.
    Missing,
}

/// Revoke the site's key (with `db`: the transaction that audits it).
pub async fn revoke(
    db: &mut sqlx::PgConnection,
    client_key: &ClientKey,
    id: Uuid,
) -> Result<Revoked, sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar(
        "UPDATE api_key SET revoked_at = now()
         WHERE client_key = $1 AND id = $2 AND revoked_at IS NULL RETURNING name",
    )
    .bind(client_key)
    .bind(id)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(name) = name {
        return Ok(Revoked::Now(name));
    }
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM api_key WHERE client_key = $1 AND id = $2")
            .bind(client_key)
            .bind(id)
            .fetch_optional(&mut *db)
            .await?;
    Ok(match exists {
        Some(_) => Revoked::Already,
        None => Revoked::Missing,
    })
}

/// Record that the key was used at `at` (records may arrive out of order).
pub async fn record_use(pool: &PgPool, id: Uuid, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_key SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(pool)
        .await?;
    Ok(())
}

/// Audit the key's first use, once whichever instance tries: the row lock makes a second
/// attempt see `first_used_at` already set.
async fn record_first_use(pool: &PgPool, id: Uuid, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let first: Option<(ClientKey, String)> = sqlx::query_as(
        "UPDATE api_key SET first_used_at = $2 WHERE id = $1 AND first_used_at IS NULL
         RETURNING client_key, name",
    )
    .bind(id)
    .bind(at)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((client_key, name)) = first {
        let detail = describe(id, &name);
        audit::record(
            &mut *tx,
            &client_key,
            &Actor::ApiKey(id),
            Action::ApiKeyFirstUsed,
            None,
            &detail,
        )
        .await?;
    }
    tx.commit().await
}

/// A key as audit entries name it: its id and name (never the key).
pub fn describe(id: Uuid, name: &str) -> String {
    format!("API key {id} \"{name}\"")
}

/// When each key was last used, written down at most once a minute per key, in the background:
/// an API call never waits for a write. The first use is audited by the same background task.
#[derive(Default)]
pub struct UsageLog {
    recent: super::OncePerMinute<Uuid>,
}

impl UsageLog {
    /// The key opened a request just now.
    pub fn note(&self, pool: &PgPool, key: &ApiKey) {
        if !self.recent.first(&key.id) {
            return;
        }
        let pool = pool.clone();
        let id = key.id;
        // The cached key may be older than its first use: the update's condition decides.
        let maybe_first = key.first_used_at.is_none();
        let at = Utc::now();
        tokio::spawn(async move {
            if let Err(error) = record_use(&pool, id, at).await {
                tracing::warn!(%error, key = %id, "recording an API key's use failed");
            }
            if maybe_first && let Err(error) = record_first_use(&pool, id, at).await {
                tracing::warn!(%error, key = %id, "auditing an API key's first use failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_recognisable_and_parse_to_their_hash() {
        let key = NewKey::generate();
        let hash = key.hash();
        let text = key.expose();
        assert!(
            text.starts_with("psk_") && text.len() == 4 + 43,
            "{}",
            text.len()
        );
        assert!(parse(&text) == Some(hash));
        assert_ne!(parse(&NewKey::generate().expose()), Some(hash));
    }

    #[test]
    fn text_without_a_key_shape_is_no_key() {
        let text = NewKey::generate().expose();
        for bad in [
            String::new(),
            "psk_".into(),
            text[4..].to_owned(),
            format!("{text}A"),
            text[..text.len() - 1].to_owned(),
            format!("PSK_{}", &text[4..]),
            format!("{}+", &text[..text.len() - 1]),
            format!("{}é", &text[..text.len() - 2]),
        ] {
            assert!(parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("shares:admin"), None);
        assert_eq!(Scope::parse("SHARES:READ"), None);
        assert_eq!(Scope::parse("unlock-secrets:write"), None);
    }
}
