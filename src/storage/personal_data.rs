//! The Atlassian accountIds Pageshare stores, for the personal data job
//! (`docs/OPERATIONS.md#personal-data-reporting`): which are due to be reported, which tenant
//! reports each, and erasing an account reported closed. AccountIds live in share creators,
//! audit log actors, API key creators and the creators of share and site unlock keys; [`ERASED`]
//! replaces them.
//! Neither it nor [`PAGESHARE_ACTOR`] (Pageshare acting on its own, in the audit log) is an
//! accountId: no caller can have them, and they are never reported.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

pub use crate::confluence::ids::{ERASED_ACCOUNT as ERASED, PAGESHARE_ACTOR};

/// Every accountId stored anywhere, with when it was last stored (`at`) and its tenant. API keys
/// act as `apikey:<uuid>`, not an accountId.
const STORED_ACCOUNTS: &str = "
    SELECT created_by AS account_id, created_at AS at, client_key FROM shared_page
    UNION ALL
    SELECT actor, at, client_key FROM audit_entry
     WHERE actor NOT LIKE 'apikey:%' AND actor <> 'pageshare'
    UNION ALL
    SELECT created_by, created_at, client_key FROM api_key
    UNION ALL
    SELECT k.created_by, k.created_at, s.client_key
      FROM share_unlock_key k JOIN shared_page s ON s.uuid = k.share_uuid
    UNION ALL
    SELECT created_by, created_at, client_key FROM site_unlock_key";

/// An account due to be reported.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueAccount {
    pub account_id: String,
    /// When Pageshare last stored something about the account.
    pub updated_at: DateTime<Utc>,
    /// The installed tenants that store the account, by client key: the first whose
    /// credentials work reports it. Empty when only uninstalled tenants store it.
    pub tenants: Vec<String>,
}

/// Forget the report times of accounts no longer stored anywhere (their tenant was deleted).
pub async fn forget_gone(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM personal_data_report r
         WHERE NOT EXISTS (SELECT 1 FROM ({STORED_ACCOUNTS}) stored
                           WHERE stored.account_id = r.account_id)"
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(db)
        .await?
        .rows_affected())
}

/// The accounts not reported since `reported_before`, oldest report first.
pub async fn due(
    db: impl PgExecutor<'_>,
    reported_before: DateTime<Utc>,
) -> Result<Vec<DueAccount>, sqlx::Error> {
    let sql = format!(
        "SELECT stored.account_id, max(stored.at) AS updated_at,
                coalesce(array_agg(DISTINCT i.client_key ORDER BY i.client_key)
                         FILTER (WHERE i.installed), '{{}}') AS tenants
           FROM ({STORED_ACCOUNTS}) stored
           JOIN installation i USING (client_key)
           LEFT JOIN personal_data_report r USING (account_id)
          WHERE stored.account_id <> $2
            AND (r.reported_at IS NULL OR r.reported_at < $1)
          GROUP BY stored.account_id, r.reported_at
          ORDER BY r.reported_at NULLS FIRST, stored.account_id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(reported_before)
        .bind(ERASED)
        .fetch_all(db)
        .await
}

/// Record that `accounts` were reported now.
pub async fn mark_reported(
    db: impl PgExecutor<'_>,
    accounts: &[String],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO personal_data_report (account_id, reported_at)
         SELECT unnest($1::text[]), $2
         ON CONFLICT (account_id) DO UPDATE SET reported_at = EXCLUDED.reported_at",
    )
    .bind(accounts)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Rows changed by erasing one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub shares: u64,
    pub audit_entries: u64,
    pub api_keys: u64,
    pub unlock_keys: u64,
}

impl Erased {
    pub fn rows(&self) -> u64 {
        self.shares + self.audit_entries + self.api_keys + self.unlock_keys
    }
}

/// Replace `account_id` by [`ERASED`] everywhere, in one transaction. The account's live API
/// keys act for it, so they are revoked, each with an audit entry by Pageshare saying why.
pub async fn erase(pool: &PgPool, account_id: &str) -> Result<Erased, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let mut replace = async |sql: &'static str| {
        sqlx::query(sql)
            .bind(account_id)
            .bind(ERASED)
            .execute(&mut *transaction)
            .await
            .map(|done| done.rows_affected())
    };
    let shares = replace("UPDATE shared_page SET created_by = $2 WHERE created_by = $1").await?;
    let audit_entries = replace("UPDATE audit_entry SET actor = $2 WHERE actor = $1").await?;
    let unlock_keys = replace("UPDATE share_unlock_key SET created_by = $2 WHERE created_by = $1")
        .await?
        + replace("UPDATE site_unlock_key SET created_by = $2 WHERE created_by = $1").await?;
    sqlx::query(
        "INSERT INTO audit_entry (client_key, actor, action, detail)
         SELECT client_key, $2, 'api_key.revoked',
                'API key ' || id || ' \"' || name || '\"; its creator''s Atlassian account was closed'
           FROM api_key WHERE created_by = $1 AND revoked_at IS NULL",
    )
    .bind(account_id)
    .bind(PAGESHARE_ACTOR)
    .execute(&mut *transaction)
    .await?;
    let api_keys = sqlx::query(
        "UPDATE api_key SET created_by = $2, revoked_at = COALESCE(revoked_at, now())
         WHERE created_by = $1",
    )
    .bind(account_id)
    .bind(ERASED)
    .execute(&mut *transaction)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM personal_data_report WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(Erased {
        shares,
        audit_entries,
        api_keys,
        unlock_keys,
    })
}

/// What the API last asked of the app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiState {
    /// The cycle (`Cycle-Period`), if it ever said.
    pub cycle: Option<Duration>,
    /// After a `429`: no report before then.
    pub retry_at: Option<DateTime<Utc>>,
}

pub async fn api_state(db: impl PgExecutor<'_>) -> Result<ApiState, sqlx::Error> {
    let row: Option<(Option<i32>, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT cycle_days, retry_at FROM personal_data_state")
            .fetch_optional(db)
            .await?;
    let (days, retry_at) = row.unwrap_or_default();
    Ok(ApiState {
        cycle: days.map(|days| Duration::from_secs(days.max(1) as u64 * 24 * 60 * 60)),
        retry_at,
    })
}

/// Keep what a run learned: the cycle the API asked for, if it said (whole days; else the one
/// kept stays), and when to try again after a `429` (`None`: at once).
pub async fn set_api_state(
    db: impl PgExecutor<'_>,
    cycle: Option<Duration>,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    let days = cycle.map(|cycle| (cycle.as_secs() / (24 * 60 * 60)).clamp(1, 90) as i32);
    sqlx::query(
        "INSERT INTO personal_data_state (cycle_days, retry_at) VALUES ($1, $2)
         ON CONFLICT (single) DO UPDATE
         SET cycle_days = COALESCE(EXCLUDED.cycle_days, personal_data_state.cycle_days),
             retry_at = EXCLUDED.retry_at",
    )
    .bind(days)
    .bind(retry_at)
    .execute(db)
    .await?;
    Ok(())
}
