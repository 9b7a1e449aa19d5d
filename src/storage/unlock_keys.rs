//! The `share_unlock_key` table: a share's public unlock keys. The share page reads them with the
//! share (`super::shares::find_for_reader`); these queries serve the Web API.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::site_unlock_keys;
use crate::confluence::ids::AccountId;
use crate::share::ShareId;
use crate::share::unlock_key::StoredKey;

/// Keys one share may hold.
pub const MAX_KEYS_PER_SHARE: i64 = 20;

/// A key as its managers see it: never more than its name, algorithm and origin.
#[derive(Debug, sqlx::FromRow)]
pub struct KeyListing {
    pub kid: String,
    pub alg: String,
    pub created_at: DateTime<Utc>,
    pub created_by: AccountId,
}

/// What adding a key came to.
pub enum Added {
    Key(KeyListing),
    /// The share already has a key of this `kid`, or its site does.
    Duplicate,
    /// The share holds [`MAX_KEYS_PER_SHARE`] keys already.
    Full,
}

pub async fn list(pool: &PgPool, share: ShareId) -> Result<Vec<KeyListing>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kid, alg, created_at, created_by FROM share_unlock_key
         WHERE share_uuid = $1 ORDER BY created_at, kid",
    )
    .bind(share)
    .fetch_all(pool)
    .await
}

/// Add `key` to `share`, unless its `kid` is taken (by a key of the share or of its site) or the
/// share is full. Call it in a transaction: it holds the share's row, so concurrent adds cannot
/// pass the limit together, and the kid's lock on the site ([`site_unlock_keys::lock_kid`]).
pub async fn add(
    transaction: &mut PgConnection,
    share: ShareId,
    key: &StoredKey,
    created_by: &AccountId,
) -> Result<Added, sqlx::Error> {
    let client_key: Option<String> =
        sqlx::query_scalar("SELECT client_key FROM shared_page WHERE uuid = $1 FOR UPDATE")
            .bind(share)
            .fetch_optional(&mut *transaction)
            .await?;
    if let Some(client_key) = client_key {
        site_unlock_keys::lock_kid(transaction, &client_key, &key.kid).await?;
    }
    let (count, taken): (i64, bool) = sqlx::query_as(
        "SELECT count(*),
                coalesce(bool_or(kid = $2), false)
                OR EXISTS (SELECT 1 FROM site_unlock_key k JOIN shared_page s ON s.client_key = k.client_key
                           WHERE s.uuid = $1 AND k.kid = $2)
         FROM share_unlock_key WHERE share_uuid = $1",
    )
    .bind(share)
    .bind(&key.kid)
    .fetch_one(&mut *transaction)
    .await?;
    if taken {
        return Ok(Added::Duplicate);
    }
    if count >= MAX_KEYS_PER_SHARE {
        return Ok(Added::Full);
    }
    let added: KeyListing = sqlx::query_as(
        "INSERT INTO share_unlock_key (share_uuid, kid, alg, jwk, created_by)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING kid, alg, created_at, created_by",
    )
    .bind(share)
    .bind(&key.kid)
    .bind(key.alg.as_str())
    .bind(sqlx::types::Json(&key.jwk))
    .bind(created_by)
    .fetch_one(&mut *transaction)
    .await?;
    Ok(Added::Key(added))
}

/// Remove the key `kid` of `share` and end the share's sessions (a key is removed because its
/// private half may have leaked: what it opened must not stay open); false when there is none.
pub async fn remove(db: &mut PgConnection, share: ShareId, kid: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM share_unlock_key WHERE share_uuid = $1 AND kid = $2")
        .bind(share)
        .bind(kid)
        .execute(&mut *db)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE shared_page SET password_version = password_version + 1 WHERE uuid = $1")
        .bind(share)
        .execute(&mut *db)
        .await?;
    Ok(true)
}
