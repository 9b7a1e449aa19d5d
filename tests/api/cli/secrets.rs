//! `pageshare secrets`: `forget-per-install` refuses per-install mode with the README's way
//! round, and `status` afterwards says whose stored secret is gone.

use super::{Database, pageshare};

const APP_SECRET: &str = "an-app-wide-secret-of-32-bytes-at-least";

#[tokio::test]
async fn secrets_status_says_which_tenants_lost_their_stored_secret() {
    let db = Database::unused();
    assert_eq!(
        pageshare(&["migrate"], &[("DATABASE_URL", &db.url)], None).code,
        Some(0)
    );
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    // Two tenants that have moved to the app-wide secret.
    sqlx::query(
        "INSERT INTO installation
             (client_key, app_key, shared_secret, base_url, last_secret_kind, app_wide_verified_at)
         VALUES ('tenant-a', 'pageshare', 'secret-a', 'https://a.atlassian.net/wiki', 'app-wide', now()),
                ('tenant-b', 'pageshare', 'secret-b', 'https://b.atlassian.net/wiki', 'app-wide', now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let per_install = [("DATABASE_URL", db.url.as_str())];
    let migrating = [
        ("DATABASE_URL", db.url.as_str()),
        ("PAGESHARE_SECRET_MODE", "migrating"),
        ("PAGESHARE_APP_SECRET", APP_SECRET),
    ];

    let refused = pageshare(&["secrets", "forget-per-install"], &per_install, None);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused
            .stderr
            .starts_with("refused: PAGESHARE_SECRET_MODE is per-install")
            && refused
                .stderr
                .contains("run this with PAGESHARE_SECRET_MODE=migrating"),
        "as the README's steps do: {refused:?}"
    );
    let forgot = pageshare(&["secrets", "forget-per-install"], &migrating, None);
    assert_eq!(
        (forgot.code, forgot.stdout.as_str()),
        (Some(0), "forgot 2 stored per-install secret(s)\n")
    );

    // Back in per-install mode, both are "not moved" and cannot verify: the table says why.
    let table = pageshare(&["secrets", "status"], &per_install, None);
    assert_eq!(table.code, Some(0), "{table:?}");
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains("tenant-a"))
        .unwrap();
    assert!(row.contains(" none "), "{table:?}");
    assert!(
        table.stdout.contains("not moved yet (2)")
            && table.stdout.contains(
                "2 of them hold no stored per-install secret (`secrets forget-per-install` deleted \
                 it): they cannot verify in per-install mode until they install the app again"
            ),
        "{table:?}"
    );
    let json = pageshare(&["secrets", "status", "--json"], &per_install, None);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["notMoved"][0]["hasStoredSecret"], false);
    // In migrating mode they have moved: nothing to say.
    let moved = pageshare(&["secrets", "status"], &migrating, None);
    assert!(
        moved
            .stdout
            .contains("every installed tenant verifies with the app-wide secret"),
        "{moved:?}"
    );
}
