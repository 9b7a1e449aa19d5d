//! Personal data reporting (`docs/OPERATIONS.md#personal-data-reporting`): once a day, one
//! instance reports every stored accountId that was not reported within the cycle (7 days, or
//! what the API's `Cycle-Period` says) to Atlassian, 90 at a time, through the credentials of an
//! installed tenant that stores it, and erases the accounts reported closed. A `429` ends the
//! run; the next one starts after its `Retry-After`, with what is still due.

pub mod api;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::storage::installations::{self, Installation};
use crate::storage::jobs::{self, Job};
use crate::storage::personal_data::{self, DueAccount};
use crate::tenant::{connect_host, host};
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

/// Where the job's lock is taken, and the API it reports to.
pub struct Reporting {
    /// A direct connection (`PAGESHARE_LISTEN_DATABASE_URL`, else `DATABASE_URL`): a
    /// session-level lock cannot go through a transaction-mode pooler.
    pub lock_database: PgConnectOptions,
    pub api: ReportingApi,
}

/// One run, on the instance that gets the job's lock (`None` elsewhere).
pub async fn report_due(
    state: &AppState,
    reporting: &Reporting,
) -> Result<Option<Run>, sqlx::Error> {
    jobs::exclusively_in_session(
        &reporting.lock_database,
        Job::ReportPersonalData,
        async || report_locked(state, &reporting.api).await,
    )
    .await?
    .transpose()
}

async fn report_locked(state: &AppState, api: &ReportingApi) -> Result<Run, sqlx::Error> {
    let db = &state.pool;
    let now = Utc::now();
    let asked = personal_data::api_state(db).await?;
    let mut run = Run::default();
    if let Some(wait) = asked.retry_at.and_then(|at| (at - now).to_std().ok()) {
        // Another instance (or this one) was told to wait: so is every instance.
        run.retry_after = Some(wait.max(Duration::from_secs(1)));
        return Ok(run);
    }
    personal_data::forget_gone(db).await?;
    let cycle =
        chrono::Duration::from_std(asked.cycle.unwrap_or(DEFAULT_CYCLE)).expect("a cycle of days");
    let due = personal_data::due(db, now - cycle).await?;
    let mut reporters = Reporters::default();
    let mut by_reporter: BTreeMap<String, Vec<&DueAccount>> = BTreeMap::new();
    for account in &due {
        match reporters.pick(state, &account.tenants).await? {
            Some(reporter) => by_reporter.entry(reporter).or_default().push(account),
            None => run.left += 1,
        }
    }
    if run.left > 0 {
        tracing::warn!(
            accounts = run.left,
            "personal data: no installed tenant with usable credentials to report with"
        );
    }
    for (reporter, accounts) in by_reporter {
        for batch in accounts.chunks(api::BATCH) {
            if run.retry_after.is_some() {
                run.left += batch.len();
                continue;
            }
            // Per batch: a Connect JWT lives 180 s, and a long run outlives it.
            let authorization = reporters.authorization(state, &reporter);
            report_batch(db, api, &authorization, batch, &reporter, &mut run).await?;
        }
    }
    let retry_at = run.retry_after.and_then(|wait| {
        chrono::Duration::from_std(wait)
            .ok()
            .map(|wait| Utc::now() + wait)
    });
    if run.cycle.is_some() || retry_at.is_some() || asked.retry_at.is_some() {
        personal_data::set_api_state(db, run.cycle, retry_at).await?;
    }
    Ok(run)
}

/// Report one batch and act on the answer: erase the closed accounts, then mark the batch
/// reported (so an erasure that fails leaves its account due).
async fn report_batch(
    db: &PgPool,
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
            for closed in &answer.closed {
                personal_data::erase(db, closed).await?;
            }
            run.reported += accounts.len();
            // An erased account is no longer stored: it has no report time to keep.
            let open: Vec<String> = accounts
                .into_iter()
                .map(|a| a.account_id)
                .filter(|id| !answer.closed.contains(id))
                .collect();
            personal_data::mark_reported(db, &open, Utc::now()).await?;
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

/// The tenants a run reports through, each loaded once.
#[derive(Default)]
struct Reporters {
    /// Client key → the tenant, when it is installed and has usable credentials.
    usable: HashMap<String, Option<Installation>>,
    /// The first usable installed tenant, for accounts no usable tenant of theirs stores.
    fallback: Option<Option<String>>,
}

impl Reporters {
    /// The first of `tenants` (installed tenants storing the account) with usable credentials,
    /// else any installed tenant that has some: Atlassian takes reports of any account from any
    /// installation of the app. `None` when no installed tenant has credentials.
    async fn pick(
        &mut self,
        state: &AppState,
        tenants: &[String],
    ) -> Result<Option<String>, sqlx::Error> {
        for client_key in tenants {
            if self.usable(state, client_key).await? {
                return Ok(Some(client_key.clone()));
            }
        }
        if self.fallback.is_none() {
            let installed: Vec<String> = sqlx::query_scalar(
                "SELECT client_key FROM installation WHERE installed ORDER BY client_key",
            )
            .fetch_all(&state.pool)
            .await?;
            let mut found = None;
            for client_key in installed {
                if self.usable(state, &client_key).await? {
                    found = Some(client_key);
                    break;
                }
            }
            self.fallback = Some(found);
        }
        Ok(self.fallback.clone().flatten())
    }

    async fn usable(&mut self, state: &AppState, client_key: &str) -> Result<bool, sqlx::Error> {
        if !self.usable.contains_key(client_key) {
            let tenant = installations::find(&state.pool, client_key)
                .await?
                .filter(|tenant| tenant.installed)
                .filter(|tenant| credentials(state, tenant, Utc::now()).is_some());
            self.usable.insert(client_key.to_owned(), tenant);
        }
        Ok(self.usable[client_key].is_some())
    }

    /// The `Authorization` header for a batch reported through `client_key` (a tenant
    /// [`Reporters::pick`] returned); empty when its credentials ran out meanwhile (the API then
    /// refuses the batch, which stays due).
    fn authorization(&self, state: &AppState, client_key: &str) -> String {
        self.usable
            .get(client_key)
            .and_then(Option::as_ref)
            .and_then(|tenant| credentials(state, tenant, Utc::now()))
            .unwrap_or_default()
    }
}

/// The `Authorization` header a report through `tenant` carries, as for calls to its
/// Confluence: the Forge app token while one is valid, else a Connect JWT for the request (`iss`
/// the app key, `qsh` of `POST /app/report-accounts/`). The app token goes only to the origin of
/// Forge's API (`PAGESHARE_FORGE_API_BASE`), where Atlassian's reporting API lives; elsewhere only
/// a Connect JWT is sent.
fn credentials(state: &AppState, tenant: &Installation, now: DateTime<Utc>) -> Option<String> {
    let settings = &state.settings;
    let token_may_go = settings
        .forge
        .as_ref()
        .is_some_and(|forge| same_origin(&forge.api_base, &settings.personal_data_url));
    let host = if token_may_go {
        host(settings, &state.data_key, tenant, None, now)
    } else {
        connect_host(settings, tenant, None)
    };
    Some(
        state
            .host
            .authorization(&host.ok()?, "POST", api::PATH, "", now.timestamp()),
    )
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// Run the job at start and then daily (sooner after a `429`: after its `Retry-After`, and at
/// least twice as long as the previous wait when the API keeps limiting), for as long as the pool
/// lives.
pub async fn keep_reporting(state: std::sync::Arc<AppState>, lock_database: PgConnectOptions) {
    let reporting = Reporting {
        lock_database,
        api: ReportingApi::new(&state.settings.personal_data_url),
    };
    let every = state.settings.personal_data_every;
    let mut limited_wait = Duration::ZERO;
    loop {
        let wait = match report_due(&state, &reporting).await {
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
                limited_wait = match run.retry_after {
                    Some(asked) => asked.max(limited_wait * 2).min(every),
                    None => Duration::ZERO,
                };
                if limited_wait.is_zero() {
                    every
                } else {
                    limited_wait
                }
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
