//! Key material every instance shares, kept in the database when it is not configured.

use rand::Rng;
use sqlx::PgPool;

/// The key called `name` (`cookie`, `data`): generated once by whichever instance comes first,
/// then read by all.
pub async fn shared_key(pool: &PgPool, name: &str) -> Result<Vec<u8>, sqlx::Error> {
    let fresh: [u8; 32] = rand::rng().random();
    sqlx::query("INSERT INTO app_key (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(fresh.as_slice())
        .execute(pool)
        .await?;
    sqlx::query_scalar("SELECT key FROM app_key WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
}

/// The key kept in the database under `name`, if one was ever made (never makes one).
pub async fn stored_key(pool: &PgPool, name: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT key FROM app_key WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
}
