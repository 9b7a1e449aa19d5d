//! Key material every instance shares, kept in the database.

use rand::Rng;
use sqlx::PgPool;

/// The cookie key: generated once by whichever instance comes first, then read by all.
pub async fn cookie_key(pool: &PgPool) -> Result<Vec<u8>, sqlx::Error> {
    let fresh: [u8; 32] = rand::rng().random();
    sqlx::query(
        "INSERT INTO app_key (name, key) VALUES ('cookie', $1) ON CONFLICT (name) DO NOTHING",
    )
    .bind(fresh.as_slice())
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT key FROM app_key WHERE name = 'cookie'")
        .fetch_one(pool)
        .await
}
