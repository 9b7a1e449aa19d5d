//! Secret modes and the move from per-install to app-wide secrets.

use pageshare::cli::secrets::status;
use pageshare::connect::secrets::{SecretMode, SharedSecret};
use pageshare::storage::installations::forget_per_install_secrets;

use sqlx::migrate::MigrateDatabase;

use crate::helpers::{TestApp, spawn_app_with};

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
    let report = status(&app.pool, SecretMode::Migrating).await.unwrap();
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
    let report = status(&app.pool, SecretMode::Migrating).await.unwrap();
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
    let report = status(&app.pool, SecretMode::Migrating).await.unwrap();
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
    // A database that does not exist yet: creating it logs at info.
    let fresh = format!("{}_fresh", app.settings.database_url);
    for database_url in [app.settings.database_url.clone(), fresh.clone()] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pageshare"))
            .args(["secrets", "status", "--json"])
            .env("DATABASE_URL", &database_url)
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
    let _ = sqlx::Postgres::drop_database(&fresh).await;
}
