//! Failed password attempts per share and client IP, counted in Postgres so that every
//! instance behind the load balancer agrees.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::share::ShareId;

/// Failures allowed per share and client IP within one window.
pub const MAX_FAILURES: i32 = 5;
pub const WINDOW_SECS: i64 = 15 * 60;

/// Seconds until the client may try again, if it is locked out now.
pub async fn locked_out_for(
    pool: &PgPool,
    share: ShareId,
    client_ip: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let window_start: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT window_start FROM password_failure
         WHERE share_uuid = $1 AND client_ip = $2 AND failures >= $3
           AND window_start > now() - make_interval(secs => $4)",
    )
    .bind(share.uuid())
    .bind(client_ip)
    .bind(MAX_FAILURES)
    .bind(WINDOW_SECS as f64)
    .fetch_optional(pool)
    .await?;
    Ok(window_start.map(|start| {
        let ends = start + chrono::Duration::seconds(WINDOW_SECS);
        (ends - Utc::now()).num_seconds().max(1)
    }))
}

/// Count one failure (a new window starts when the last one is over).
pub async fn record_failure(
    pool: &PgPool,
    share: ShareId,
    client_ip: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO password_failure (share_uuid, client_ip, window_start, failures)
         VALUES ($1, $2, now(), 1)
         ON CONFLICT (share_uuid, client_ip) DO UPDATE SET
             failures = CASE WHEN password_failure.window_start > now() - make_interval(secs => $3)
                             THEN password_failure.failures + 1 ELSE 1 END,
             window_start = CASE WHEN password_failure.window_start > now() - make_interval(secs => $3)
                                 THEN password_failure.window_start ELSE now() END",
    )
    .bind(share.uuid())
    .bind(client_ip)
    .bind(WINDOW_SECS as f64)
    .execute(pool)
    .await?;
    Ok(())
}

/// A right password clears the client's failures.
pub async fn clear(pool: &PgPool, share: ShareId, client_ip: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM password_failure WHERE share_uuid = $1 AND client_ip = $2")
        .bind(share.uuid())
        .bind(client_ip)
        .execute(pool)
        .await?;
    Ok(())
}
