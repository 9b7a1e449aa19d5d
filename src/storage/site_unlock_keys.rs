//! The `site_unlock_key` table: a site's unlock keys. The share page loads them per tenant into
//! memory ([`super::reader_cache`]); the other queries serve the admin Web API.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};

use crate::confluence::ids::AccountId;
use crate::data_key::DataKey;
use crate::share::ShareId;
use crate::share::site_key::{SiteKey, SiteKeys, Verifier, open_secret};
use crate::share::unlock_key::{KeyAlg, StoredKey, UnlockKey};
use crate::tenant::ClientKey;

/// Keys one site may hold.
pub const MAX_KEYS_PER_SITE: i64 = 20;

/// A key as site admins see it: never its secret.
#[derive(Debug, sqlx::FromRow)]
pub struct SiteKeyListing {
    pub kid: String,
    pub alg: String,
    pub space_keys: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: AccountId,
}

/// A key as stored, to verify with: a public JWK, or the sealed HS256 secret.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredSiteKey {
    pub kid: String,
    pub alg: String,
    pub jwk: Option<sqlx::types::Json<Map<String, Value>>>,
    pub sealed_secret: Option<Vec<u8>>,
    pub space_keys: Vec<String>,
}

/// The key material of a new key.
pub enum Material {
    /// A public key: its algorithm and RFC 7638's required members.
    Public(StoredKey),
    /// An HS256 secret sealed with the data key.
    SealedSecret(Vec<u8>),
}

/// What adding a key came to.
pub enum Added {
    Key(SiteKeyListing),
    /// The site already has a key of this `kid`, or one of its shares does.
    Duplicate,
    /// The site holds [`MAX_KEYS_PER_SITE`] keys already.
    Full,
}

pub async fn list(
    pool: &PgPool,
    client_key: &ClientKey,
) -> Result<Vec<SiteKeyListing>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kid, alg, space_keys, created_at, created_by FROM site_unlock_key
         WHERE client_key = $1 ORDER BY created_at, kid",
    )
    .bind(client_key)
    .fetch_all(pool)
    .await
}

/// Every key of the site, to verify with.
pub async fn for_reader(
    pool: &PgPool,
    client_key: &str,
) -> Result<Vec<StoredSiteKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kid, alg, jwk, sealed_secret, space_keys FROM site_unlock_key
         WHERE client_key = $1 ORDER BY created_at, kid",
    )
    .bind(client_key)
    .fetch_all(pool)
    .await
}

/// The first key of the advisory locks on kids (`kids` in ASCII); their two-key space does not
/// overlap the jobs' one-key locks (`super::jobs`).
const KID_LOCKS: i32 = 0x6b69_6473;

/// Hold the name `kid` on the site until the transaction ends. Adding a site key and adding a
/// share key both take it before they look for the kid, so two adds of one kid, one of each kind,
/// cannot both find it free (each holds a different row otherwise). Another kid's lock may share
/// its hash: such adds only wait for each other.
pub async fn lock_kid(
    transaction: &mut PgConnection,
    client_key: &str,
    kid: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2 || E'\\n' || $3))")
        .bind(KID_LOCKS)
        .bind(client_key)
        .bind(kid)
        .execute(&mut *transaction)
        .await?;
    Ok(())
}

/// Add a key to the site, unless its `kid` is taken (by a site key or a key of one of the site's
/// shares) or the site is full. Call it in a transaction: it holds the site's row, so concurrent
/// adds cannot pass the limit together, and the kid's lock ([`lock_kid`]).
pub async fn add(
    transaction: &mut PgConnection,
    client_key: &ClientKey,
    kid: &str,
    material: &Material,
    space_keys: &[String],
    created_by: &AccountId,
) -> Result<Added, sqlx::Error> {
    // The kid first: a share key's add holds it before its audit entry waits for the site's row.
    lock_kid(transaction, client_key.as_str(), kid).await?;
    sqlx::query("SELECT 1 FROM installation WHERE client_key = $1 FOR UPDATE")
        .bind(client_key)
        .execute(&mut *transaction)
        .await?;
    let (count, taken): (i64, bool) = sqlx::query_as(
        "SELECT count(*),
                coalesce(bool_or(kid = $2), false)
                OR EXISTS (SELECT 1 FROM share_unlock_key k JOIN shared_page s ON s.uuid = k.share_uuid
                           WHERE s.client_key = $1 AND k.kid = $2)
         FROM site_unlock_key WHERE client_key = $1",
    )
    .bind(client_key)
    .bind(kid)
    .fetch_one(&mut *transaction)
    .await?;
    if taken {
        return Ok(Added::Duplicate);
    }
    if count >= MAX_KEYS_PER_SITE {
        return Ok(Added::Full);
    }
    let (alg, jwk, sealed) = match material {
        Material::Public(key) => (key.alg.as_str(), Some(sqlx::types::Json(&key.jwk)), None),
        Material::SealedSecret(sealed) => ("HS256", None, Some(sealed)),
    };
    let added: SiteKeyListing = sqlx::query_as(
        "INSERT INTO site_unlock_key (client_key, kid, alg, jwk, sealed_secret, space_keys, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING kid, alg, space_keys, created_at, created_by",
    )
    .bind(client_key)
    .bind(kid)
    .bind(alg)
    .bind(jwk)
    .bind(sealed)
    .bind(space_keys)
    .bind(created_by)
    .fetch_one(&mut *transaction)
    .await?;
    Ok(Added::Key(added))
}

/// A removed key, and the shares whose sessions ended with it.
pub struct Removed {
    pub alg: String,
    pub space_keys: Vec<String>,
    pub shares: Vec<ShareId>,
}

/// Remove the key `kid` of the site and end the sessions of every share it could unlock (those of
/// its spaces, or all the site's): a key is removed because it may have leaked, and a session
/// does not record what opened it. `None` when there is no such key.
pub async fn remove(
    db: &mut PgConnection,
    client_key: &ClientKey,
    kid: &str,
) -> Result<Option<Removed>, sqlx::Error> {
    let removed: Option<(String, Vec<String>)> = sqlx::query_as(
        "DELETE FROM site_unlock_key WHERE client_key = $1 AND kid = $2
         RETURNING alg, space_keys",
    )
    .bind(client_key)
    .bind(kid)
    .fetch_optional(&mut *db)
    .await?;
    let Some((alg, space_keys)) = removed else {
        return Ok(None);
    };
    let shares = sqlx::query_scalar(
        "UPDATE shared_page SET password_version = password_version + 1
         WHERE client_key = $1 AND (cardinality($2::text[]) = 0 OR space_key = ANY($2))
         RETURNING uuid",
    )
    .bind(client_key)
    .bind(&space_keys)
    .fetch_all(&mut *db)
    .await?;
    Ok(Some(Removed {
        alg,
        space_keys,
        shares,
    }))
}

/// The site's keys ready to verify: public JWKs parsed, secrets opened with the data key. A row
/// that does not parse or open is left out, and logged (only a hand-edited row, or one sealed
/// with a data key no longer configured, gets there).
pub fn ready(rows: Vec<StoredSiteKey>, data_key: &DataKey, client_key: &str) -> SiteKeys {
    let keys = rows.into_iter().filter_map(|row| {
        let verifier = match (&row.jwk, &row.sealed_secret) {
            (Some(jwk), None) => KeyAlg::parse(&row.alg)
                .and_then(|alg| {
                    UnlockKey::from_stored(&StoredKey {
                        kid: row.kid.clone(),
                        alg,
                        jwk: jwk.0.clone(),
                    })
                })
                .map(Verifier::Public),
            (None, Some(sealed)) => open_secret(data_key, client_key, &row.kid, sealed)
                .map(|(secret, _)| Verifier::secret(&secret)),
            _ => None,
        };
        if verifier.is_none() {
            tracing::warn!(%client_key, kid = %row.kid, "a stored site unlock key does not parse or open; ignored");
        }
        Some(SiteKey {
            kid: row.kid,
            space_keys: row.space_keys,
            verifier: verifier?,
        })
    });
    SiteKeys(keys.collect())
}

/// A generated key's sealed secret, as `pageshare keys reencrypt` reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct SealedSecret {
    pub client_key: String,
    pub kid: String,
    pub sealed: Vec<u8>,
}

/// Every generated key's sealed secret.
pub async fn sealed_secrets(pool: &PgPool) -> Result<Vec<SealedSecret>, sqlx::Error> {
    sqlx::query_as(
        "SELECT client_key, kid, sealed_secret AS sealed FROM site_unlock_key
         WHERE sealed_secret IS NOT NULL ORDER BY client_key, kid",
    )
    .fetch_all(pool)
    .await
}

/// Put `resealed` in place of `secret`, unless the key was removed meanwhile.
pub async fn reseal_secret(
    pool: &PgPool,
    secret: &SealedSecret,
    resealed: &[u8],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE site_unlock_key SET sealed_secret = $4
         WHERE client_key = $1 AND kid = $2 AND sealed_secret = $3",
    )
    .bind(&secret.client_key)
    .bind(&secret.kid)
    .bind(&secret.sealed)
    .bind(resealed)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
