//! Secret modes and the move from per-install to app-wide secrets.

use pageshare::cli::secrets::status;
use pageshare::connect::secrets::{SecretMode, SharedSecret};
use pageshare::storage::installations::forget_per_install_secrets;

use pageshare::sandbox::random_secret;
use serde_json::json;

use crate::helpers::{EDITOR, PAGE_ID, TestApp, spawn_app_with};

const APP_SECRET: &str = "app-wide-secret-0123456789abcdef0123456789abcdef";
const ADMIN: &str = "/connect/admin";

async fn open_admin(app: &TestApp, site_name: &str, secret: &SharedSecret) -> u16 {
    let site = app.sandbox.site(site_name);
    let token = app
        .sandbox
        .hs256_token(&site, secret, "GET", ADMIN, Some("boss"));
    app.get(&format!("{ADMIN}?jwt={token}"))
        .await
        .status()
        .as_u16()
}

/// The migrating-mode status report, once `ready` holds (verifications are written down in the
/// background), or after two seconds.
async fn status_when(
    app: &TestApp,
    ready: impl Fn(&pageshare::cli::secrets::StatusReport) -> bool,
) -> pageshare::cli::secrets::StatusReport {
    for _ in 0..40 {
        let report = status(&app.pool, SecretMode::Migrating).await.unwrap();
        if ready(&report) {
            return report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    status(&app.pool, SecretMode::Migrating).await.unwrap()
}

fn configure(mode: SecretMode) -> impl FnOnce(&mut pageshare::config::Settings) {
    move |s| {
        s.secret_mode = mode;
        s.app_secret = Some(SharedSecret::new(APP_SECRET));
    }
}

#[tokio::test]
async fn migrating_mode_tracks_which_secret_each_tenant_uses() {
    let app = spawn_app_with(configure(SecretMode::Migrating)).await;
    let app_secret = SharedSecret::new(APP_SECRET);
    for name in ["early", "late"] {
        let site = app.installed_site(name).await;
        app.sandbox.update_site(name, |s| {
            s.admins.insert("boss".into());
        });
        // The host still holds the per-install secret: tokens and the app's calls use it.
        assert_eq!(open_admin(&app, name, &site.secret).await, 200, "{name}");
    }
    // Verifications are written down in the background.
    let report = status_when(&app, |r| r.last_verified_per_install == 2).await;
    assert_eq!(
        (
            report.installations,
            report.last_verified_per_install,
            report.last_verified_app_wide
        ),
        (2, 2, 0)
    );
    assert!(
        forget_per_install_secrets(&app.pool)
            .await
            .unwrap()
            .is_none(),
        "refused while tenants have not moved"
    );

    // "early" moves to the app-wide secret (the 2018 callback), "late" does not yet.
    app.sandbox
        .update_site("early", |s| s.secret = app_secret.clone());
    assert_eq!(
        open_admin(&app, "early", &app_secret).await,
        200,
        "app's call signed with app-wide secret"
    );
    let report = status_when(&app, |r| r.last_verified_app_wide == 1).await;
    assert_eq!(
        (
            report.last_verified_per_install,
            report.last_verified_app_wide
        ),
        (1, 1)
    );
    let late = app.sandbox.site("late");
    assert_eq!(
        report
            .not_moved
            .iter()
            .map(|r| r.client_key.as_str())
            .collect::<Vec<_>>(),
        [late.client_key.as_str()]
    );
    assert!(report.table().contains(&late.client_key));

    app.sandbox
        .update_site("late", |s| s.secret = app_secret.clone());
    assert_eq!(open_admin(&app, "late", &app_secret).await, 200);
    let report = status_when(&app, |r| r.not_moved.is_empty()).await;
    assert!(report.not_moved.is_empty());
    assert_eq!(
        forget_per_install_secrets(&app.pool).await.unwrap(),
        Some(2)
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM installation WHERE shared_secret IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);
    assert_eq!(
        open_admin(&app, "late", &app_secret).await,
        200,
        "still works on the app-wide secret alone"
    );
}

#[tokio::test]
async fn app_wide_mode_refuses_a_tenants_old_secret() {
    let app = spawn_app_with(configure(SecretMode::AppWide)).await;
    let site = app.installed_site("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert("boss".into());
        s.secret = SharedSecret::new(APP_SECRET);
    });
    assert_eq!(open_admin(&app, "acme", &site.secret).await, 401);
    assert_eq!(
        open_admin(&app, "acme", &SharedSecret::new(APP_SECRET)).await,
        200
    );
}

#[tokio::test]
async fn per_install_mode_ignores_the_app_wide_secret() {
    let app = spawn_app_with(configure(SecretMode::PerInstall)).await;
    app.installed_site("acme").await;
    assert_eq!(
        open_admin(&app, "acme", &SharedSecret::new(APP_SECRET)).await,
        401
    );
}

#[tokio::test]
async fn secrets_status_command_prints_json_and_a_table() {
    let app = spawn_app_with(configure(SecretMode::Migrating)).await;
    let site = app.installed_site("acme").await;
    let database_url = app.settings.database_url.clone();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pageshare"))
            .args(args)
            .env("DATABASE_URL", &database_url)
            .env("PAGESHARE_SECRET_MODE", "migrating")
            .env("PAGESHARE_APP_SECRET", APP_SECRET)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let json = run(&["secrets", "status", "--json"]);
    assert!(json.status.success());
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["mode"], "migrating");
    assert_eq!(report["installations"], 1);
    assert_eq!(report["neverVerified"], 1);
    assert_eq!(report["notMoved"][0]["clientKey"], site.client_key.as_str());
    let table = run(&["secrets", "status"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("not moved yet (1)") && text.contains(&site.client_key),
        "{text}"
    );
    assert!(!text.contains(site.secret.expose()) && !text.contains(APP_SECRET));

    let forget = run(&["secrets", "forget-per-install"]);
    assert_eq!(forget.status.code(), Some(2));
    assert!(
        String::from_utf8(forget.stderr)
            .unwrap()
            .contains("have not verified with the app-wide secret")
    );
}

#[tokio::test]
async fn command_output_is_on_stdout_and_logs_on_stderr() {
    let app = spawn_app_with(configure(SecretMode::Migrating)).await;
    app.installed_site("acme").await;
    // (`migrate` creating a database, which logs at info: `cli::database`.)
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pageshare"))
        .args(["secrets", "status", "--json"])
        .env("DATABASE_URL", &app.settings.database_url)
        .env("PAGESHARE_SECRET_MODE", "migrating")
        .env("PAGESHARE_APP_SECRET", APP_SECRET)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON only ({e}): {output:?}"));
    assert_eq!(report["mode"], "migrating");
    assert!(
        !output.stderr.is_empty(),
        "debug logs reach stderr: {output:?}"
    );
}

#[tokio::test]
async fn a_reinstall_in_migrating_mode_signs_calls_with_the_new_per_install_secret() {
    let app = spawn_app_with(configure(SecretMode::Migrating)).await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    // The tenant moves to the app-wide secret: its tokens verify with it, and are recorded.
    app.sandbox
        .update_site("acme", |s| s.secret = SharedSecret::new(APP_SECRET));
    let site = app.sandbox.site("acme");
    assert_eq!(app.list_shares(&site, EDITOR).await.status(), 200);
    wait_for_kind(&app, &site.client_key, Some("app-wide")).await;
    // Then the host re-installs with a fresh per-install secret (signed install).
    app.sandbox
        .update_site("acme", |s| s.secret = random_secret());
    let site = app.sandbox.site("acme");
    app.install(&site).await;
    // The share page's call to Confluence, made outside any request of the tenant, is signed
    // with the secret the host now holds.
    let page = app.read_share(share["url"].as_str().unwrap(), None).await;
    assert_eq!(page.status(), 200);
}

/// Wait (up to two seconds) until the tenant's recorded secret kind is `kind`.
async fn wait_for_kind(app: &TestApp, client_key: &str, kind: Option<&str>) {
    let mut seen = None;
    for _ in 0..40 {
        seen = sqlx::query_scalar::<_, Option<String>>(
            "SELECT last_secret_kind FROM installation WHERE client_key = $1",
        )
        .bind(client_key)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if seen.as_deref() == kind {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("last_secret_kind stayed {seen:?}, expected {kind:?}");
}

#[tokio::test]
async fn a_secret_written_while_forgetting_is_never_lost() {
    let app = spawn_app_with(configure(SecretMode::Migrating)).await;
    let site = app.installed_site("acme").await;
    sqlx::query("UPDATE installation SET last_secret_kind = 'app-wide'")
        .execute(&app.pool)
        .await
        .unwrap();
    // A re-install writes a new secret in a transaction that has not committed yet.
    let mut install = app.pool.begin().await.unwrap();
    sqlx::query(
        "UPDATE installation SET shared_secret = 'written-meanwhile', last_secret_kind = NULL
         WHERE client_key = $1",
    )
    .bind(&site.client_key)
    .execute(&mut *install)
    .await
    .unwrap();
    let pool = app.pool.clone();
    let forget = tokio::spawn(async move { forget_per_install_secrets(&pool).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    install.commit().await.unwrap();
    assert_eq!(
        forget.await.unwrap().unwrap(),
        None,
        "the tenant has not moved once the install committed"
    );
    assert_eq!(
        app.stored_secret(&site.client_key).await.as_deref(),
        Some("written-meanwhile")
    );
}

#[tokio::test]
async fn verifications_written_out_of_order_keep_the_latest_kind() {
    use pageshare::connect::secrets::SecretKind;
    use pageshare::storage::installations::record_verification;
    let app = spawn_app_with(configure(SecretMode::Migrating)).await;
    let site = app.installed_site("acme").await;
    let kind = || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT last_secret_kind FROM installation WHERE client_key = $1",
        )
        .bind(&site.client_key)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let key = pageshare::tenant::ClientKey::parse(&site.client_key).unwrap();
    let stored_at = || async {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
            "SELECT secret_stored_at FROM installation WHERE client_key = $1",
        )
        .bind(&site.client_key)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let first_secret = stored_at().await;
    let now = chrono::Utc::now();
    let later = now + chrono::Duration::seconds(2);
    record_verification(&app.pool, &key, SecretKind::AppWide, first_secret, later)
        .await
        .unwrap();
    record_verification(&app.pool, &key, SecretKind::PerInstall, first_secret, now)
        .await
        .unwrap();
    assert_eq!(
        kind().await.as_deref(),
        Some("app-wide"),
        "the later one wins"
    );
    // A re-install stores a new secret: a verification of the old one does not count, even one
    // whose instance's clock runs ahead of the database's.
    app.install(&site).await;
    assert_eq!(kind().await, None);
    let ahead = chrono::Utc::now() + chrono::Duration::seconds(30);
    record_verification(&app.pool, &key, SecretKind::AppWide, first_secret, ahead)
        .await
        .unwrap();
    assert_eq!(kind().await, None);
    // A verification of the new secret counts.
    record_verification(
        &app.pool,
        &key,
        SecretKind::PerInstall,
        stored_at().await,
        ahead,
    )
    .await
    .unwrap();
    assert_eq!(kind().await.as_deref(), Some("per-install"));
}
