//! The migrations, run the way production runs them: one after another on existing data.

use pageshare::db::MIGRATOR;
use sqlx::migrate::MigrateDatabase;

/// The migration that brings `unlock_secret`.
const UNLOCK_SECRET_VERSION: i64 = 20261124000002;

#[tokio::test]
async fn existing_shares_get_distinct_32_byte_unlock_secrets() {
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/pageshare".into());
    let (prefix, _) = server.rsplit_once('/').unwrap();
    let url = format!(
        "{prefix}/pageshare_migration_{}",
        uuid::Uuid::new_v4().simple()
    );
    sqlx::Postgres::create_database(&url).await.unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();

    MIGRATOR
        .run_to(UNLOCK_SECRET_VERSION - 1, &pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO installation (client_key, app_key, shared_secret, base_url)
         VALUES ('tenant', 'pageshare', 's', 'https://acme.atlassian.net/wiki')",
    )
    .execute(&pool)
    .await
    .unwrap();
    for _ in 0..3 {
        sqlx::query(
            "INSERT INTO shared_page (uuid, client_key, content_id, created_by)
             VALUES (gen_random_uuid(), 'tenant', '1', 'someone')",
        )
        .execute(&pool)
        .await
        .unwrap();
    }

    MIGRATOR.run(&pool).await.unwrap();
    let secrets: Vec<Vec<u8>> = sqlx::query_scalar("SELECT unlock_secret FROM shared_page")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(secrets.len(), 3);
    assert!(secrets.iter().all(|s| s.len() == 32));
    assert!(secrets[0] != secrets[1] && secrets[1] != secrets[2] && secrets[0] != secrets[2]);
    let not_null: bool = sqlx::query_scalar(
        "SELECT attnotnull FROM pg_attribute
         WHERE attrelid = 'shared_page'::regclass AND attname = 'unlock_secret'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        not_null,
        "the column is NOT NULL once every share has a secret"
    );

    pool.close().await;
    sqlx::Postgres::force_drop_database(&url).await.unwrap();
}
