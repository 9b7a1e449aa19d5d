//! Readership in the database (`docs/OPERATIONS.md#readership`): the counts of each instance
//! added to `share_daily_views`, the day's reader hashes in `share_daily_reader` (deleted once
//! their day is over), and the counts as the stats API reads them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::jobs::{self, Job};
use crate::share::ShareId;
use crate::share::readership::{Pending, Readership};
use crate::tenant::ClientKey;

/// How often each instance writes its counts when nothing else is set.
pub const DEFAULT_FLUSH_PERIOD: Duration = Duration::from_secs(10);

/// Add `pending` to the stored counts, in one transaction: reader hashes first (a hash already
/// stored, by this instance or another, adds no unique reader), then the views. Rows go in
/// share and day order, so instances writing at once wait for each other rather than deadlock.
/// Counts of a share deleted meanwhile are dropped. Returns the number of views written.
pub async fn write(pool: &PgPool, pending: &Pending) -> Result<i64, sqlx::Error> {
    let mut rows: Vec<_> = pending.iter().collect();
    rows.sort_unstable_by_key(|((share, day), _)| (share.uuid(), *day));
    let (mut reader_shares, mut reader_days, mut readers) = (Vec::new(), Vec::new(), Vec::new());
    for ((share, day), tally) in &rows {
        let mut hashes: Vec<_> = tally.readers.iter().collect();
        hashes.sort_unstable();
        for hash in hashes {
            reader_shares.push(share.uuid());
            reader_days.push(*day);
            readers.push(hash.to_vec());
        }
    }
    let mut tx = pool.begin().await?;
    let new_readers: HashMap<(Uuid, NaiveDate), i64> = sqlx::query_as::<_, (Uuid, NaiveDate, i64)>(
        "WITH added AS (
             INSERT INTO share_daily_reader (share_uuid, day, reader)
             SELECT r.share_uuid, r.day, r.reader
             FROM UNNEST($1::uuid[], $2::date[], $3::bytea[]) AS r (share_uuid, day, reader)
             WHERE EXISTS (SELECT 1 FROM shared_page s WHERE s.uuid = r.share_uuid)
             ORDER BY 1, 2, 3
             ON CONFLICT DO NOTHING
             RETURNING share_uuid, day)
         SELECT share_uuid, day, count(*) FROM added GROUP BY share_uuid, day",
    )
    .bind(&reader_shares)
    .bind(&reader_days)
    .bind(&readers)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(share, day, count)| ((share, day), count))
    .collect();
    let mut columns: [Vec<i64>; 5] = Default::default();
    let (mut shares, mut days) = (Vec::new(), Vec::new());
    for ((share, day), tally) in &rows {
        shares.push(share.uuid());
        days.push(*day);
        for (column, views) in columns.iter_mut().zip(tally.views) {
            column.push(views);
        }
        let new = new_readers.get(&(share.uuid(), *day));
        columns[4].push(new.copied().unwrap_or(0));
    }
    let [open, password, unlock, cookie, unique] = &columns;
    sqlx::query(
        "INSERT INTO share_daily_views
             (share_uuid, day, open_views, password_views, unlock_views, cookie_views, unique_readers)
         SELECT v.*
         FROM UNNEST($1::uuid[], $2::date[], $3::bigint[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[])
              AS v (share_uuid, day, open_views, password_views, unlock_views, cookie_views,
                    unique_readers)
         WHERE EXISTS (SELECT 1 FROM shared_page s WHERE s.uuid = v.share_uuid)
         ORDER BY 1, 2
         ON CONFLICT (share_uuid, day) DO UPDATE SET
             open_views = share_daily_views.open_views + EXCLUDED.open_views,
             password_views = share_daily_views.password_views + EXCLUDED.password_views,
             unlock_views = share_daily_views.unlock_views + EXCLUDED.unlock_views,
             cookie_views = share_daily_views.cookie_views + EXCLUDED.cookie_views,
             unique_readers = share_daily_views.unique_readers + EXCLUDED.unique_readers",
    )
    .bind(&shares)
    .bind(&days)
    .bind(open)
    .bind(password)
    .bind(unlock)
    .bind(cookie)
    .bind(unique)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.iter().flat_map(|(_, tally)| tally.views).sum())
}

/// Writes one instance's counts, one write at a time (the periodic one, the one at shutdown).
pub struct CountWriter {
    pool: PgPool,
    counts: Arc<Readership>,
    writing: tokio::sync::Mutex<()>,
}

impl CountWriter {
    pub fn new(pool: PgPool, counts: Arc<Readership>) -> Self {
        Self {
            pool,
            counts,
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// Write what was counted since the last write; on failure the counts are put back for the
    /// next one. Views are counted meanwhile: the counting lock is held for a swap, not the I/O.
    pub async fn flush(&self) -> Result<i64, sqlx::Error> {
        let _one_at_a_time = self.writing.lock().await;
        let pending = self.counts.take();
        if pending.is_empty() {
            return Ok(0);
        }
        match write(&self.pool, &pending).await {
            Ok(views) => Ok(views),
            Err(error) => {
                self.counts.restore(pending);
                Err(error)
            }
        }
    }

    /// Flush every `period` for as long as the pool lives.
    pub async fn keep_flushing(self: Arc<Self>, period: Duration) {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if self.pool.is_closed() {
                return;
            }
            match self.flush().await {
                Ok(views) => tracing::debug!(views, "readership counts written"),
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::warn!(%error, "writing readership counts failed; kept for the next try")
                }
            }
        }
    }
}

/// Delete reader hashes of days before yesterday (yesterday's stay for views counted just
/// before midnight and written after it), under the job's lock; how many, or `None` when
/// another instance is doing it.
pub async fn forget_readers(pool: &PgPool) -> Result<Option<u64>, sqlx::Error> {
    let yesterday = Utc::now().date_naive() - Days::new(1);
    jobs::exclusively(pool, Job::ForgetReaders, async |db| {
        let done = sqlx::query("DELETE FROM share_daily_reader WHERE day < $1")
            .bind(yesterday)
            .execute(db)
            .await?;
        Ok(done.rows_affected())
    })
    .await
}

/// Forget past days' readers every hour, for as long as the pool lives. Not at start: nothing
/// here is urgent, and an instance's first moments are the other jobs'.
pub async fn keep_forgetting_readers(pool: PgPool) {
    let period = Duration::from_secs(60 * 60);
    tokio::time::sleep(period).await;
    let done = "reader hashes of past days deleted";
    jobs::repeat(pool, period, done, forget_readers).await;
}

/// One share's day as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct DayCounts {
    pub day: NaiveDate,
    pub open_views: i64,
    pub password_views: i64,
    pub unlock_views: i64,
    pub cookie_views: i64,
    pub unique_readers: i64,
}

impl DayCounts {
    /// Views in the order of [`crate::share::readership::Access::ALL`].
    pub fn by_access(&self) -> [i64; 4] {
        [
            self.open_views,
            self.password_views,
            self.unlock_views,
            self.cookie_views,
        ]
    }
}

/// The share's counted days from `from` to `to` (both included), oldest first.
pub async fn share_days(
    pool: &PgPool,
    share: ShareId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayCounts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT day, open_views, password_views, unlock_views, cookie_views, unique_readers
         FROM share_daily_views
         WHERE share_uuid = $1 AND day BETWEEN $2 AND $3
         ORDER BY day",
    )
    .bind(share)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// A counted day of one of the site's shares, for the CSV export.
#[derive(Debug, sqlx::FromRow)]
pub struct SiteDay {
    #[sqlx(rename = "share_uuid")]
    pub share: ShareId,
    pub title: String,
    pub space_key: String,
    #[sqlx(flatten)]
    pub counts: DayCounts,
}

/// The counted days of the tenant's shares from `from` to `to`, by day, then share.
pub async fn site_days(
    pool: &PgPool,
    client_key: &ClientKey,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SiteDay>, sqlx::Error> {
    sqlx::query_as(
        "SELECT v.share_uuid, s.title, s.space_key, v.day, v.open_views, v.password_views,
                v.unlock_views, v.cookie_views, v.unique_readers
         FROM share_daily_views v JOIN shared_page s ON s.uuid = v.share_uuid
         WHERE s.client_key = $1 AND v.day BETWEEN $2 AND $3
         ORDER BY v.day, s.title, v.share_uuid",
    )
    .bind(client_key)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}
