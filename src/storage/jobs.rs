//! Periodic jobs: every instance runs each on its own timer, and a Postgres advisory lock per
//! job makes one instance at a time do the work, so N instances do each job once per period
//! (`docs/OPERATIONS.md`). Most jobs take a transaction's lock (`pg_try_advisory_xact_lock`,
//! [`exclusively`]): it is released at commit or rollback, or when the connection dies. A job
//! that calls out and commits as it goes takes a session's lock on a connection of its own
//! ([`exclusively_in_session`]), closed when the work ends. Neither outlives the work.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// A periodic job, by the advisory lock it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Deleting password attempt counts whose window has ended.
    PrunePasswordFailures,
    /// Deleting the data of tenants uninstalled longer than `PAGESHARE_RETENTION_DAYS`.
    Retention,
    /// Erasing previous unlock secrets whose overlap window has closed.
    ForgetPreviousSecrets,
    /// Reporting stored accountIds to Atlassian and erasing closed accounts.
    ReportPersonalData,
    /// Deleting the reader hashes of past days.
    ForgetReaders,
}

impl Job {
    /// The advisory lock's key: `pagesh` in ASCII, then the job's number, so that it is unlikely
    /// to meet a lock of another application on the same database.
    pub fn lock_key(self) -> i64 {
        const BASE: i64 = 0x7061_6765_7368_0000;
        BASE + match self {
            Self::PrunePasswordFailures => 1,
            Self::Retention => 2,
            Self::ForgetPreviousSecrets => 3,
            Self::ReportPersonalData => 6,
            Self::ForgetReaders => 10,
        }
    }
}

/// Run `work` in a transaction holding the job's lock, unless another instance holds it (then
/// `None`: that instance is doing the job now). `work` commits with the transaction; an error
/// rolls it back.
pub async fn exclusively<T>(
    pool: &PgPool,
    job: Job,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
) -> Result<Option<T>, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(job.lock_key())
        .fetch_one(&mut *transaction)
        .await?;
    if !locked {
        return Ok(None);
    }
    let done = work(&mut transaction).await?;
    transaction.commit().await?;
    Ok(Some(done))
}

/// Run `work` while a connection of its own, opened with `database` (a direct connection, not
/// through a transaction-mode pooler, which would not end the session), holds the job's lock
/// for its session; unless another instance holds it (then `None`). For a job that calls out and
/// commits as it goes, through the pool: its writes are not held back in one long transaction.
/// The connection is closed afterwards, and dropped if `work` is cancelled: either way the
/// session, and with it the lock, ends.
pub async fn exclusively_in_session<T>(
    database: &PgConnectOptions,
    job: Job,
    work: impl AsyncFnOnce() -> T,
) -> Result<Option<T>, sqlx::Error> {
    let mut connection = PgConnection::connect_with(database).await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(job.lock_key())
        .fetch_one(&mut connection)
        .await?;
    let done = if locked { Some(work().await) } else { None };
    // Closing the session releases the lock; a failed goodbye ends the session all the same.
    let _ = connection.close().await;
    Ok(done)
}

/// Run `run` (a job that counts what it did) at start and then every `period`, for as long as
/// the pool lives; log the count as `done` when there was anything, and failures as warnings.
pub async fn repeat(
    pool: PgPool,
    period: Duration,
    done: &'static str,
    run: impl AsyncFn(&PgPool) -> Result<Option<u64>, sqlx::Error>,
) {
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        match run(&pool).await {
            Ok(None | Some(0)) => {}
            Ok(Some(count)) => tracing::info!(count, "{done}"),
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => tracing::warn!(%error, "periodic job failed: {done}"),
        }
    }
}
