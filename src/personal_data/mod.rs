//! Personal data reporting (`docs/OPERATIONS.md#personal-data-reporting`): once a day, one
//! instance reports every stored accountId that was not reported within the cycle (7 days, or
//! what the API's `Cycle-Period` says) to Atlassian, 90 at a time, through the credentials of an
//! installed tenant that stores it, and erases the accounts reported closed. A `429` ends the
//! run; the next one starts after its `Retry-After`, with what is still due.

pub mod api;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use sqlx::PgConnection;

use crate::storage::installations;
use crate::storage::jobs::{self, Job};
use crate::storage::personal_data::{self, DueAccount};
use crate::tenant::host;
use crate::web::state::AppState;
use api::{Account, ReportError, ReportingApi};

/// How often an account is reported until the API asks for another cycle.
pub const DEFAULT_CYCLE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Run {
    /// Accounts reported (closed ones included).
    pub reported: usize,
    /// Accounts reported closed and erased.
    pub erased: usize,
    /// Accounts reported updated (Pageshare keeps no profile to refresh).
    pub updated: usize,
    /// Accounts that could not be reported this run: their tenant had no usable credentials, or
    /// the API refused or failed; they stay due.
    pub left: usize,
    /// Set when the API rate-limited the run: when to try again.
    pub retry_after: Option<Duration>,
    /// The cycle the API asked for, when it said.
    pub cycle: Option<Duration>,
}

/// One run, on the instance that gets the job's lock (`None` elsewhere).
pub async fn report_due(
    state: &AppState,
    api: &ReportingApi,
    cycle: Duration,
) -> Result<Option<Run>, sqlx::Error> {
    jobs::exclusively_in_session(&state.pool, Job::ReportPersonalData, async |db| {
        report_locked(state, api, cycle, db).await
    })
    .await?
    .transpose()
}

async fn report_locked(
    state: &AppState,
    api: &ReportingApi,
    cycle: Duration,
    db: &mut PgConnection,
) -> Result<Run, sqlx::Error> {
    personal_data::forget_gone(&mut *db).await?;
    let now = Utc::now();
    let cycle = chrono::Duration::from_std(cycle).expect("a cycle of days");
    let due = personal_data::due(&mut *db, now - cycle).await?;
    let mut run = Run::default();
    let Some(fallback) = fallback_reporter(db, &due).await? else {
        run.left = due.len();
        return Ok(run);
    };
    let mut by_reporter: BTreeMap<&str, Vec<&DueAccount>> = BTreeMap::new();
    for account in &due {
        let reporter = account.reporter.as_deref().unwrap_or(&fallback);
        by_reporter.entry(reporter).or_default().push(account);
    }
    for (reporter, accounts) in by_reporter {
        if run.retry_after.is_some() {
            run.left += accounts.len();
            continue;
        }
        let Some(authorization) = authorization(state, reporter).await? else {
            tracing::warn!(tenant = %reporter, "personal data: no credentials to report with");
            run.left += accounts.len();
            continue;
        };
        for batch in accounts.chunks(api::BATCH) {
            if run.retry_after.is_some() {
                run.left += batch.len();
                continue;
            }
            report_batch(db, api, &authorization, batch, reporter, &mut run).await?;
        }
    }
    Ok(run)
}

/// Report one batch and act on the answer: mark it reported, erase the closed accounts.
async fn report_batch(
    db: &mut PgConnection,
    api: &ReportingApi,
    authorization: &str,
    batch: &[&DueAccount],
    reporter: &str,
    run: &mut Run,
) -> Result<(), sqlx::Error> {
    let accounts: Vec<Account> = batch
        .iter()
        .map(|due| Account {
            account_id: due.account_id.clone(),
            updated_at: due.updated_at,
        })
        .collect();
    match api.report(authorization, &accounts).await {
        Ok(answer) => {
            let ids: Vec<String> = accounts.into_iter().map(|a| a.account_id).collect();
            personal_data::mark_reported(&mut *db, &ids, Utc::now()).await?;
            for closed in &answer.closed {
                personal_data::erase(db, closed).await?;
            }
            run.reported += ids.len();
            run.erased += answer.closed.len();
            run.updated += answer.updated;
            run.cycle = answer.cycle.or(run.cycle);
        }
        Err(ReportError::RateLimited(wait)) => {
            run.retry_after = Some(wait);
            run.left += batch.len();
        }
        Err(error) => {
            tracing::warn!(tenant = %reporter, %error, "personal data: a report failed");
            run.left += batch.len();
        }
    }
    Ok(())
}

/// The installed tenant that reports accounts only uninstalled tenants store: Atlassian takes
/// reports about any account from any installation of the app. `None` when no tenant is
/// installed (nothing can be reported).
async fn fallback_reporter(
    db: &mut PgConnection,
    due: &[DueAccount],
) -> Result<Option<String>, sqlx::Error> {
    if let Some(reporter) = due.iter().find_map(|d| d.reporter.clone()) {
        return Ok(Some(reporter));
    }
    if due.is_empty() {
        return Ok(None);
    }
    sqlx::query_scalar(
        "SELECT client_key FROM installation WHERE installed ORDER BY client_key LIMIT 1",
    )
    .fetch_optional(db)
    .await
}

/// The `Authorization` header a call as `client_key` carries: the Forge app token while one is
/// valid, else a Connect JWT for the request (`iss` the app key, `qsh` of
/// `POST /app/report-accounts/`), as for calls to the tenant's Confluence.
async fn authorization(state: &AppState, client_key: &str) -> Result<Option<String>, sqlx::Error> {
    let Some(tenant) = installations::find(&state.pool, client_key).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    Ok(host(&state.settings, &state.data_key, &tenant, None, now)
        .ok()
        .map(|host| {
            state
                .host
                .authorization(&host, "POST", api::PATH, "", now.timestamp())
        }))
}

/// Run the job at start and then daily (sooner after a `429`), for as long as the pool lives.
pub async fn keep_reporting(state: std::sync::Arc<AppState>) {
    let api = ReportingApi::new(&state.settings.personal_data_url);
    let every = state.settings.personal_data_every;
    let mut cycle = DEFAULT_CYCLE;
    loop {
        let wait = match report_due(&state, &api, cycle).await {
            Ok(Some(run)) => {
                if run != Run::default() {
                    tracing::info!(
                        reported = run.reported,
                        erased = run.erased,
                        updated = run.updated,
                        left = run.left,
                        "personal data reported"
                    );
                }
                cycle = run.cycle.unwrap_or(cycle);
                run.retry_after.map_or(every, |wait| wait.min(every))
            }
            Ok(None) => every,
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(%error, "periodic job failed: personal data reporting");
                every
            }
        };
        tokio::time::sleep(wait).await;
    }
}
