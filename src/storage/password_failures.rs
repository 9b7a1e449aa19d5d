//! Password attempts per share and client, counted in Postgres so that every instance behind
//! the load balancer agrees. An attempt is counted *before* the password is checked, in one
//! statement, so concurrent guesses cannot slip past the limit.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::jobs::{self, Job};
use crate::share::ShareId;

/// Attempts allowed per share and client within one window; a right password clears the count.
pub const MAX_ATTEMPTS: i32 = 5;
pub const WINDOW_SECS: i64 = 15 * 60;

/// Count one attempt; `Some(seconds)` to wait when the client is over the limit.
pub async fn count_attempt(
    pool: &PgPool,
    share: ShareId,
    client: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let (attempts, window_start): (i32, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO password_failure (share_uuid, client_ip, window_start, failures)
         VALUES ($1, $2, now(), 1)
         ON CONFLICT (share_uuid, client_ip) DO UPDATE SET
             failures = CASE WHEN password_failure.window_start > now() - make_interval(secs => $3)
                             THEN password_failure.failures + 1 ELSE 1 END,
             window_start = CASE WHEN password_failure.window_start > now() - make_interval(secs => $3)
                                 THEN password_failure.window_start ELSE now() END
         RETURNING failures, window_start",
    )
    .bind(share)
    .bind(client)
    .bind(WINDOW_SECS as f64)
    .fetch_one(pool)
    .await?;
    if attempts <= MAX_ATTEMPTS {
        return Ok(None);
    }
    let ends = window_start + chrono::Duration::seconds(WINDOW_SECS);
    Ok(Some((ends - Utc::now()).num_seconds().max(1)))
}

/// Delete the counts whose window has ended, under the job's lock; what was deleted, or `None`
/// when another instance is pruning.
pub async fn prune(pool: &PgPool) -> Result<Option<u64>, sqlx::Error> {
    jobs::exclusively(pool, Job::PrunePasswordFailures, async |db| {
        let done = sqlx::query(
            "DELETE FROM password_failure WHERE window_start <= now() - make_interval(secs => $1)",
        )
        .bind(WINDOW_SECS as f64)
        .execute(db)
        .await?;
        Ok(done.rows_affected())
    })
    .await
}

/// Prune at start and then every ten minutes, for as long as the pool lives.
pub async fn keep_pruned(pool: PgPool) {
    let period = std::time::Duration::from_secs(10 * 60);
    jobs::repeat(pool, period, "old password attempt counts pruned", prune).await;
}

/// A right password clears the client's count.
pub async fn clear(pool: &PgPool, share: ShareId, client: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM password_failure WHERE share_uuid = $1 AND client_ip = $2")
        .bind(share)
        .bind(client)
        .execute(pool)
        .await?;
    Ok(())
}
