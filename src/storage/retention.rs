//! Deleting what Pageshare holds of tenants uninstalled longer than `PAGESHARE_RETENTION_DAYS`
//! (`docs/OPERATIONS.md`): their password attempt counts, shares (their public unlock keys go with
//! them) and installation row (their API keys, site unlock keys and audit log go with the
//! installation row, by `ON DELETE CASCADE`). A tenant that is installed (through Connect or
//! Forge) is never touched, however long ago it was once uninstalled: a reinstall clears
//! `uninstalled_at`, and the job asks for `NOT installed` too.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};

use super::jobs::{self, Job};

/// How often the job runs (and once at start).
const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// What one run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    pub tenants: u64,
    pub shares: u64,
    pub password_failures: u64,
}

/// Delete every row of the tenants uninstalled more than `days` days ago, in one transaction
/// under the job's lock; `None` when another instance is running the job.
pub async fn delete_expired(pool: &PgPool, days: u32) -> Result<Option<Deleted>, sqlx::Error> {
    jobs::exclusively(pool, Job::Retention, async |db| expired(db, days).await).await
}

async fn expired(db: &mut PgConnection, days: u32) -> Result<Deleted, sqlx::Error> {
    // Locked for the run: a tenant reinstalled meanwhile waits, and is then kept or (had its
    // delete committed first) installed afresh.
    let tenants: Vec<String> = sqlx::query_scalar(
        "SELECT client_key FROM installation
         WHERE NOT installed AND uninstalled_at < now() - make_interval(days => $1)
         FOR UPDATE",
    )
    .bind(days as i32)
    .fetch_all(&mut *db)
    .await?;
    if tenants.is_empty() {
        return Ok(Deleted::default());
    }
    let password_failures = sqlx::query(
        "DELETE FROM password_failure WHERE share_uuid IN
             (SELECT uuid FROM shared_page WHERE client_key = ANY($1))",
    )
    .bind(&tenants)
    .execute(&mut *db)
    .await?
    .rows_affected();
    let shares = sqlx::query("DELETE FROM shared_page WHERE client_key = ANY($1)")
        .bind(&tenants)
        .execute(&mut *db)
        .await?
        .rows_affected();
    let tenants = sqlx::query("DELETE FROM installation WHERE client_key = ANY($1)")
        .bind(&tenants)
        .execute(&mut *db)
        .await?
        .rows_affected();
    Ok(Deleted {
        tenants,
        shares,
        password_failures,
    })
}

/// Run the job at start and then daily, for as long as the pool lives.
pub async fn keep_retained(pool: PgPool, days: u32) {
    let mut every = tokio::time::interval(EVERY);
    loop {
        every.tick().await;
        match delete_expired(&pool, days).await {
            Ok(Some(deleted)) => tracing::info!(
                tenants = deleted.tenants,
                shares = deleted.shares,
                password_failures = deleted.password_failures,
                retention_days = days,
                "retention: deleted the data of tenants uninstalled longer than the retention period"
            ),
            Ok(None) => tracing::debug!("retention: another instance is running the job"),
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(%error, "retention: the job failed; it runs again tomorrow")
            }
        }
    }
}
