//! Personal data reporting (`docs/OPERATIONS.md#personal-data-reporting`): the stored accountIds
//! go to the sandbox's reporting API in batches of at most 90, once per cycle whatever the number
//! of instances, after a `429` only once its `Retry-After` has passed, and an account reported
//! closed is replaced by a placeholder in every table.

use std::collections::HashMap;
use std::time::Duration;

use pageshare::sandbox::{CLOSED_TEST_ACCOUNT, HostileReportAnswer};
use pageshare::storage::jobs::Job;
use pageshare::storage::personal_data::{ERASED, PAGESHARE_ACTOR};
use reqwest::Method;
use serde_json::json;
use sqlx::Connection;

use crate::api_keys::{ADMIN, new_key, site_with_admin, text, with_key};
use crate::helpers::{EDITOR, PAGE_ID, TestApp, page_shares_path, spawn_app_with};
use crate::test_keys::TestKey;

/// An account only the audit log names.
const ADMIN_IN_THE_LOG_ONLY: &str = "557058:former-admin";

/// How often the job runs in these tests (daily in production).
const EVERY: Duration = Duration::from_millis(200);

async fn reporting_app() -> TestApp {
    spawn_app_with(|settings| settings.personal_data_every = EVERY).await
}

/// How many times each account was reported so far.
fn report_counts(app: &TestApp) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for (_, accounts) in app.sandbox.personal_data_reports() {
        for account in accounts {
            *counts.entry(account).or_default() += 1;
        }
    }
    counts
}

/// Wait (up to 15 s) until every one of `accounts` was reported.
async fn until_reported(app: &TestApp, accounts: &[&str]) {
    for _ in 0..150 {
        let counts = report_counts(app);
        if accounts.iter().all(|a| counts.contains_key(*a)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{accounts:?} not all reported: {:?}",
        app.sandbox.personal_data_reports()
    );
}

/// A session holding the job's lock, as a running instance would: no run starts until it is
/// closed.
async fn hold_the_jobs_lock(app: &TestApp) -> sqlx::PgConnection {
    let mut holder = sqlx::PgConnection::connect(&app.settings.database_url)
        .await
        .unwrap();
    // Waits for a run in progress (the instance's start-up run) to end.
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(Job::ReportPersonalData.lock_key())
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

/// Wait (up to 10 s) until `account`'s report is recorded (its batch answered and acted on).
async fn until_marked(app: &TestApp, account: &str) {
    for _ in 0..100 {
        let marked: i64 =
            sqlx::query_scalar("SELECT count(*) FROM personal_data_report WHERE account_id = $1")
                .bind(account)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if marked == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{account}'s report was not recorded");
}

/// A share of the sample page created by `user` (who must edit it).
async fn share_by(app: &TestApp, site: &pageshare::sandbox::Site, user: &str) -> String {
    let response = app
        .post_share(site, user, json!({"contentId": PAGE_ID}))
        .await;
    assert_eq!(response.status(), 201);
    let share: serde_json::Value = response.json().await.unwrap();
    share["uuid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_closed_account_is_erased_from_every_table_and_others_are_kept() {
    let app = reporting_app().await;
    // No run until everything is in place (a run in between would report ADMIN still open).
    let holder = hold_the_jobs_lock(&app).await;
    let site = site_with_admin(&app, "acme").await;
    // ADMIN creates a share (share creator and audit actor) and an API key (its creator).
    let admins_share = share_by(&app, &site, ADMIN).await;
    let key = new_key(&app, &site, &["shares:read"]).await;
    let site_key = app
        .api(
            &site,
            ADMIN,
            Method::POST,
            "/api/admin/unlock-keys",
            Some(json!({"generate": "HS256"})),
        )
        .await;
    assert_eq!(site_key.status(), 201);
    let editors_share = share_by(&app, &site, EDITOR).await;
    // ADMIN registers a public unlock key (its creator); another account is only in the log.
    let added = app
        .api(
            &site,
            ADMIN,
            Method::POST,
            &format!("/api/shares/{admins_share}/unlock-keys"),
            Some(json!({"jwk": TestKey::ed25519().public_jwk()})),
        )
        .await;
    assert_eq!(added.status(), 201);
    sqlx::query(
        "INSERT INTO audit_entry (client_key, actor, action, detail)
         SELECT client_key, $1, 'share.changed', '' FROM installation",
    )
    .bind(ADMIN_IN_THE_LOG_ONLY)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        with_key(&app, &text(&key), Method::GET, &page_shares_path(), None)
            .await
            .status(),
        200
    );
    app.sandbox.close_account(ADMIN);
    app.sandbox.close_account(ADMIN_IN_THE_LOG_ONLY);
    // Before: the account is in each of the four places accountIds are kept.
    let mut before = app.columns_holding(ADMIN).await;
    before.sort();
    assert_eq!(
        before,
        [
            "api_key.created_by",
            "audit_entry.actor",
            "share_unlock_key.created_by",
            "shared_page.created_by",
            "site_unlock_key.created_by",
        ]
    );
    holder.close().await.unwrap();

    until_reported(&app, &[ADMIN, EDITOR, ADMIN_IN_THE_LOG_ONLY]).await;
    // Erased before the batch is marked reported: once marked, it is gone.
    until_marked(&app, EDITOR).await;
    for closed in [ADMIN, ADMIN_IN_THE_LOG_ONLY] {
        assert_eq!(app.columns_holding(closed).await, Vec::<String>::new());
    }

    let creators: Vec<(String, String)> =
        sqlx::query_as("SELECT uuid::text, created_by FROM shared_page ORDER BY created_at")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        creators,
        [
            (admins_share.clone(), ERASED.to_owned()),
            (editors_share, EDITOR.to_owned())
        ]
    );
    let actors: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, action FROM audit_entry ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let expected = [
        (ERASED, "share.created"),
        (ERASED, "api_key.created"),
        (ERASED, "site_unlock_key.added"),
        (EDITOR, "share.created"),
    ];
    for (actor, action) in expected {
        assert!(
            actors.contains(&(actor.to_owned(), action.to_owned())),
            "{actor} {action}: {actors:?}"
        );
    }
    let site_keys: Vec<String> = sqlx::query_scalar("SELECT created_by FROM site_unlock_key")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        site_keys,
        [ERASED],
        "the site key stays, its creator erased"
    );
    // The key acted for the closed account: it is revoked, and the log says Pageshare did it.
    assert!(actors.contains(&(PAGESHARE_ACTOR.to_owned(), "api_key.revoked".to_owned())));
    assert_eq!(
        with_key(&app, &text(&key), Method::GET, &page_shares_path(), None)
            .await
            .status(),
        401
    );
    // The share itself is still served, its creator shown as the placeholder.
    let listed = app
        .api_get_json(&site, ADMIN, "/api/admin/shares?limit=50")
        .await;
    let shown: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|share| share["createdBy"].as_str().unwrap())
        .collect();
    assert!(shown.contains(&ERASED), "{listed}");
}

#[tokio::test]
async fn each_account_is_reported_once_per_cycle_by_one_of_two_instances() {
    let app = reporting_app().await;
    let site = site_with_admin(&app, "acme").await;
    // While another session holds the job's lock, no instance reports.
    let holder = hold_the_jobs_lock(&app).await;
    app.second_instance_with(|settings| settings.personal_data_every = EVERY)
        .await;
    share_by(&app, &site, EDITOR).await;
    // ADMIN's key creates a share: the log's actor is the key (`apikey:…`), never reported.
    let key = new_key(&app, &site, &["shares:write"]).await;
    let created = with_key(
        &app,
        &text(&key),
        Method::POST,
        "/api/shares",
        Some(json!({"contentId": PAGE_ID})),
    )
    .await;
    assert_eq!(created.status(), 201);
    tokio::time::sleep(EVERY * 5).await;
    assert_eq!(app.sandbox.personal_data_reports(), []);
    holder.close().await.unwrap();

    until_reported(&app, &[EDITOR, ADMIN]).await;
    // Many more runs of both instances: the cycle (7 days) has not passed for anyone.
    tokio::time::sleep(EVERY * 10).await;
    let counts = report_counts(&app);
    assert_eq!(counts.get(EDITOR), Some(&1), "{counts:?}");
    assert_eq!(counts.get(ADMIN), Some(&1), "{counts:?}");
    for (reporter, accounts) in app.sandbox.personal_data_reports() {
        assert_eq!(reporter, "acme");
        assert!(!accounts.contains(&ERASED.to_owned()));
        assert!(accounts.iter().all(|a| !a.starts_with("apikey:")));
    }

    // Once the cycle has passed for an account (its last report dated 8 days back), it is
    // reported again, alone.
    sqlx::query(
        "UPDATE personal_data_report SET reported_at = now() - interval '8 days'
         WHERE account_id = $1",
    )
    .bind(EDITOR)
    .execute(&app.pool)
    .await
    .unwrap();
    for _ in 0..100 {
        if report_counts(&app).get(EDITOR) == Some(&2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(EVERY * 5).await;
    let counts = report_counts(&app);
    assert_eq!(
        (counts.get(EDITOR), counts.get(ADMIN)),
        (Some(&2), Some(&1)),
        "{counts:?}"
    );
}

#[tokio::test]
async fn a_rate_limited_report_is_retried_after_its_retry_after() {
    // The job runs daily here: only the 429's Retry-After can bring the next try.
    let app = spawn_app_with(|_| {}).await;
    let site = app.site_with_page("acme").await;
    share_by(&app, &site, EDITOR).await;
    app.sandbox.rate_limit_reports(1, 1);
    // A run now that the data exists: an instance starting (the first one may be running its own
    // start-up run too; either way one run meets the 429).
    app.second_instance().await;

    until_reported(&app, &[EDITOR]).await;
    let (limited, reported) = app.sandbox.personal_data_report_times();
    assert_eq!(limited.len(), 1);
    assert_eq!(reported.len(), 1);
    let waited = reported[0] - limited[0];
    assert!(
        waited >= Duration::from_secs(1),
        "retried {waited:?} after the 429"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(report_counts(&app).get(EDITOR), Some(&1));
}

#[tokio::test]
async fn accounts_go_in_batches_of_at_most_90_each_once() {
    let app = reporting_app().await;
    let site = app.site_with_page("acme").await;
    let uuid = share_by(&app, &site, EDITOR).await;
    // 200 more accounts, as creators of copies of the share (plus Atlassian's closed test id).
    let inserted = sqlx::query(
        "INSERT INTO shared_page (uuid, client_key, content_id, created_by, unlock_secret)
         SELECT gen_random_uuid(), client_key, content_id, '557058:bulk-' || n,
                gen_random_bytes(32)
           FROM shared_page, generate_series(1, 200) AS n WHERE uuid = $1::uuid
         UNION ALL
         SELECT gen_random_uuid(), client_key, content_id, $2, gen_random_bytes(32)
           FROM shared_page WHERE uuid = $1::uuid",
    )
    .bind(&uuid)
    .bind(CLOSED_TEST_ACCOUNT)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(inserted.rows_affected(), 201);

    until_reported(&app, &["557058:bulk-1", "557058:bulk-200", EDITOR]).await;
    tokio::time::sleep(EVERY * 3).await;
    let reports = app.sandbox.personal_data_reports();
    assert!(reports.iter().all(|(_, accounts)| accounts.len() <= 90));
    let counts = report_counts(&app);
    assert_eq!(
        counts.len(),
        202,
        "every account, {} reports",
        reports.len()
    );
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    // Atlassian's closed test account is gone; the others are still there.
    assert!(app.columns_holding(CLOSED_TEST_ACCOUNT).await.is_empty());
    assert_eq!(app.share_count().await, 202);
}

#[tokio::test]
async fn forge_sites_report_with_their_app_token_and_uninstalled_sites_through_another() {
    let app = reporting_app().await;
    let forge = app.forge_site_with_page("forge-site").await;
    let response = app
        .forge_api(
            &forge,
            EDITOR,
            Method::POST,
            "/api/shares",
            Some(json!({"contentId": PAGE_ID})),
        )
        .await;
    assert_eq!(response.status(), 201);
    until_reported(&app, &[EDITOR]).await;
    assert_eq!(
        app.sandbox.personal_data_reports()[0].0,
        "forge-site",
        "reported with the Forge site's app token"
    );

    // An account only an uninstalled tenant stores is reported through an installed one. Its
    // share is written once the tenant is uninstalled, so no run sees it installed.
    let gone = app.site_with_page("gone").await;
    app.uninstall(&gone).await;
    let only_there = "557058:left-with-the-site";
    insert_share(&app, &gone.client_key, only_there).await;
    until_reported(&app, &[only_there]).await;
    assert_eq!(reporter_of(&app, only_there), "forge-site");

    // A tenant whose credentials ran out (the Forge site's app token expired) is passed over
    // for the next installed tenant that stores the account.
    let acme = app.site_with_page("acme").await;
    let both = "557058:on-both-sites";
    let forge_key: String = sqlx::query_scalar(
        "SELECT client_key FROM installation WHERE forge_installation_id IS NOT NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE installation SET forge_token_expires_at = now() - interval '1 minute'
         WHERE client_key = $1",
    )
    .bind(&forge_key)
    .execute(&app.pool)
    .await
    .unwrap();
    insert_share(&app, &forge_key, both).await;
    insert_share(&app, &acme.client_key, both).await;
    until_reported(&app, &[both]).await;
    assert_eq!(reporter_of(&app, both), "acme");
}

/// A share of the sample page by `created_by`, written straight into the database.
async fn insert_share(app: &TestApp, client_key: &str, created_by: &str) {
    sqlx::query(
        "INSERT INTO shared_page (uuid, client_key, content_id, created_by, unlock_secret)
         VALUES (gen_random_uuid(), $1, $2, $3, gen_random_bytes(32))",
    )
    .bind(client_key)
    .bind(PAGE_ID)
    .bind(created_by)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// The site whose credentials reported `account` (first report).
fn reporter_of(app: &TestApp, account: &str) -> String {
    let reports = app.sandbox.personal_data_reports();
    let (reporter, _) = reports
        .iter()
        .find(|(_, accounts)| accounts.iter().any(|a| a == account))
        .unwrap();
    reporter.clone()
}

#[tokio::test]
async fn hostile_or_broken_answers_erase_nothing_and_leave_the_accounts_due() {
    let app = reporting_app().await;
    let site = app.site_with_page("acme").await;
    app.sandbox.close_account(EDITOR);
    for hostile in [
        HostileReportAnswer::Redirect,
        HostileReportAnswer::Huge,
        HostileReportAnswer::Broken,
    ] {
        app.sandbox.answer_reports(Some(hostile));
        if app.share_count().await == 0 {
            share_by(&app, &site, EDITOR).await;
        }
        // Several runs meet the hostile answer.
        let served = app.sandbox.hostile_report_answers();
        tokio::time::sleep(EVERY * 5).await;
        assert!(
            app.sandbox.hostile_report_answers() > served,
            "{hostile:?} was answered"
        );
        let reported: i64 = sqlx::query_scalar("SELECT count(*) FROM personal_data_report")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(reported, 0, "{hostile:?}: nothing counts as reported");
        assert!(
            !app.columns_holding(EDITOR).await.is_empty(),
            "{hostile:?}: nothing erased"
        );
    }
    assert_eq!(app.sandbox.evil_hits(), 0, "the redirect was not followed");
    // A healthy answer again: the account is reported and, being closed, erased.
    app.sandbox.answer_reports(None);
    until_reported(&app, &[EDITOR]).await;
    for _ in 0..50 {
        if app.columns_holding(EDITOR).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not erased: {:?}", app.columns_holding(EDITOR).await);
}

#[tokio::test]
async fn the_app_token_goes_only_to_the_origin_of_forges_api() {
    // The same sandbox under another name: another origin than PAGESHARE_FORGE_API_BASE's.
    let app = crate::helpers::spawn_app_configured(|settings, sandbox| {
        settings.personal_data_every = EVERY;
        settings.personal_data_url = sandbox
            .personal_data_url()
            .replace("127.0.0.1", "localhost");
    })
    .await;
    app.forge_site_with_page("forge-site").await;
    let forge_only = "557058:forge-only";
    let forge_key: String = sqlx::query_scalar(
        "SELECT client_key FROM installation WHERE forge_installation_id IS NOT NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    insert_share(&app, &forge_key, forge_only).await;
    // A Connect site reports its own accounts there with a Connect JWT, and the Forge-only
    // site's account through itself, the one installed tenant with credentials for that origin.
    let acme = app.site_with_page("acme").await;
    insert_share(&app, &acme.client_key, EDITOR).await;
    until_reported(&app, &[EDITOR, forge_only]).await;
    assert_eq!(reporter_of(&app, forge_only), "acme");
    assert_eq!(reporter_of(&app, EDITOR), "acme");
}
