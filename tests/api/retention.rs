//! Retention (`PAGESHARE_RETENTION_DAYS`) and the periodic jobs' advisory locks
//! (`docs/OPERATIONS.md`): the data of a tenant uninstalled longer than the period is deleted,
//! nothing of an installed tenant is touched, and of several instances one at a time does a job.

use pageshare::share::ShareId;
use pageshare::storage::jobs::{self, Job};
use pageshare::storage::password_failures::{self, count_attempt};
use pageshare::storage::retention::{self, Deleted};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{PAGE_ID, TestApp, spawn_app};

/// A tenant with the sample page, one share and one password attempt counted on it; the share.
async fn tenant_with_data(app: &TestApp, name: &str) -> ShareId {
    let site = app.site_with_page(name).await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let share = ShareId::parse(share["uuid"].as_str().unwrap()).unwrap();
    count_attempt(&app.pool, share, "203.0.113.9")
        .await
        .unwrap();
    share
}

/// Uninstall `name` (signed, as Confluence does) and date the uninstall `days` days back.
async fn uninstalled_days_ago(app: &TestApp, name: &str, days: i32) {
    app.uninstall(&app.sandbox.site(name)).await;
    set_uninstalled_at(&app.pool, name, days).await;
}

async fn set_uninstalled_at(pool: &PgPool, name: &str, days: i32) {
    let changed = sqlx::query(
        "UPDATE installation SET uninstalled_at = now() - make_interval(days => $2)
         WHERE base_url LIKE '%/' || $1 || '/wiki'",
    )
    .bind(name)
    .bind(days)
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(changed.rows_affected(), 1, "{name}");
}

/// (installation rows, shares, password attempt counts) of the tenant `name`.
async fn rows_of(pool: &PgPool, name: &str) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM installation i WHERE i.base_url LIKE '%/' || $1 || '/wiki'),
                (SELECT count(*) FROM shared_page s JOIN installation i USING (client_key)
                  WHERE i.base_url LIKE '%/' || $1 || '/wiki'),
                (SELECT count(*) FROM password_failure f
                  JOIN shared_page s ON s.uuid = f.share_uuid
                  JOIN installation i USING (client_key)
                  WHERE i.base_url LIKE '%/' || $1 || '/wiki')",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_tenant_uninstalled_longer_than_the_retention_is_deleted_and_no_other() {
    let app = spawn_app().await;
    for name in ["gone", "recent", "installed", "back"] {
        tenant_with_data(&app, name).await;
    }
    uninstalled_days_ago(&app, "gone", 91).await;
    uninstalled_days_ago(&app, "recent", 89).await;
    // Uninstalled 100 days ago and installed again since: installed, so never touched.
    let back = app.sandbox.site("back");
    app.uninstall(&back).await;
    app.install(&back).await;
    sqlx::query(
        "UPDATE installation SET uninstalled_at = now() - interval '100 days'
         WHERE base_url LIKE '%/back/wiki'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let before: Vec<_> = [
        rows_of(&app.pool, "recent").await,
        rows_of(&app.pool, "installed").await,
        rows_of(&app.pool, "back").await,
    ]
    .into();
    assert!(before.iter().all(|rows| *rows == (1, 1, 1)), "{before:?}");

    // Each tenant has an API key and a site unlock key; the deleted tenant's go with it.
    for insert in [
        "INSERT INTO api_key (id, client_key, name, key_hash, scopes, created_by)
         SELECT gen_random_uuid(), client_key, 'ci', sha256(convert_to(client_key, 'UTF8')),
                '{shares:read}', 'someone' FROM installation",
        "INSERT INTO site_unlock_key (client_key, kid, alg, sealed_secret, created_by)
         SELECT client_key, 'hs256-1', 'HS256', '\\x00', 'someone' FROM installation",
    ] {
        sqlx::query(insert).execute(&app.pool).await.unwrap();
    }
    let deleted = retention::delete_expired(&app.pool, 90).await.unwrap();
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_key")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys, 3, "the deleted tenant's API key went with it");
    let site_keys: Vec<String> = sqlx::query_scalar(
        "SELECT i.base_url FROM site_unlock_key JOIN installation i USING (client_key) ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        site_keys.len(),
        3,
        "the deleted tenant's site key went with it"
    );
    assert!(
        site_keys.iter().all(|url| !url.contains("/gone/")),
        "{site_keys:?}"
    );
    // Each tenant's log holds the creation of its share; the deleted tenant's log went with it.
    let logged: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT i.base_url FROM audit_entry a JOIN installation i USING (client_key)
         ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entry")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((logged.len(), entries), (3, 3), "{logged:?}");
    assert_eq!(
        deleted,
        Some(Deleted {
            tenants: 1,
            shares: 1,
            password_failures: 1
        })
    );
    assert_eq!(rows_of(&app.pool, "gone").await, (0, 0, 0));
    for (name, rows) in ["recent", "installed", "back"].into_iter().zip(before) {
        assert_eq!(rows_of(&app.pool, name).await, rows, "{name} is intact");
    }
    assert_eq!(
        retention::delete_expired(&app.pool, 90).await.unwrap(),
        Some(Deleted::default()),
        "a second run finds nothing more"
    );
    // The installed tenant still works.
    let site = app.sandbox.site("installed");
    app.create_share(&site, json!({"contentId": PAGE_ID})).await;
}

/// A pool of its own on the test database: another instance.
async fn other_instance_pool(app: &TestApp) -> PgPool {
    PgPool::connect_with(app.pool.connect_options().as_ref().clone())
        .await
        .unwrap()
}

#[tokio::test]
async fn while_one_instance_runs_a_job_another_skips_it() {
    let app = spawn_app().await;
    let other = other_instance_pool(&app).await;
    tenant_with_data(&app, "gone").await;
    uninstalled_days_ago(&app, "gone", 91).await;

    // The other instance is in the middle of each job: this one skips it.
    let inside = jobs::exclusively(&other, Job::Retention, async |_| {
        Ok(retention::delete_expired(&app.pool, 90).await.unwrap())
    })
    .await
    .unwrap();
    assert_eq!(inside, Some(None), "retention skipped");
    assert_eq!(rows_of(&app.pool, "gone").await, (1, 1, 1));
    sqlx::query("UPDATE password_failure SET window_start = now() - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    let inside = jobs::exclusively(&other, Job::PrunePasswordFailures, async |_| {
        Ok(password_failures::prune(&app.pool).await.unwrap())
    })
    .await
    .unwrap();
    assert_eq!(inside, Some(None), "pruning skipped");
    assert_eq!(rows_of(&app.pool, "gone").await, (1, 1, 1));
    // One job's lock does not hold up another job.
    let inside = jobs::exclusively(&other, Job::Retention, async |_| {
        Ok(password_failures::prune(&app.pool).await.unwrap())
    })
    .await
    .unwrap();
    assert_eq!(inside, Some(Some(1)), "pruned under the other job's lock");

    // Both instances run retention at once: the tenant is deleted, and counted, once.
    let (here, there) = tokio::join!(
        retention::delete_expired(&app.pool, 90),
        retention::delete_expired(&other, 90)
    );
    let tenants: u64 = [here.unwrap(), there.unwrap()]
        .into_iter()
        .flatten()
        .map(|deleted| deleted.tenants)
        .sum();
    assert_eq!(tenants, 1);
    assert_eq!(rows_of(&app.pool, "gone").await, (0, 0, 0));
}
