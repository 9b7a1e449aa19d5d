//! The Postgres pool. `serve`, `migrate` and `dev` create the database when missing and migrate
//! it; the other commands only open one that exists and is migrated (`docs/CONFIGURATION.md`).

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::config::database_url::database_name;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Connect to `database_url`, creating the database if it does not exist, and migrate it.
pub async fn connect_and_migrate(database_url: &str) -> anyhow::Result<PgPool> {
    // Never echo the URL: it may carry a password.
    if !exists(database_url).await? {
        match Postgres::create_database(database_url).await {
            Ok(()) => tracing::info!(
                database = database_name(database_url),
                "created the database"
            ),
            // Another instance may have created it in the meantime.
            Err(_) if exists(database_url).await.unwrap_or(false) => {}
            Err(error) => return Err(error).context("cannot create the database"),
        }
    }
    let pool = connect(database_url).await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Connect to the database of `database_url`, which must exist and be migrated: a command that
/// only reads or tidies never creates a database nor changes its schema.
pub async fn open_existing(database_url: &str) -> anyhow::Result<PgPool> {
    let name = database_name(database_url);
    if !exists(database_url).await? {
        bail!(
            "the database {name:?} (DATABASE_URL) does not exist; check DATABASE_URL, or create it with `pageshare migrate`"
        );
    }
    let pool = connect(database_url).await?;
    let pending = pending_migrations(&pool).await?;
    if pending > 0 {
        bail!(
            "the database {name:?} (DATABASE_URL) lacks {pending} migration(s) of this version; run `pageshare migrate` first"
        );
    }
    Ok(pool)
}

async fn exists(database_url: &str) -> anyhow::Result<bool> {
    Postgres::database_exists(database_url)
        .await
        .context("cannot reach Postgres at DATABASE_URL")
}

async fn connect(database_url: &str) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(database_url)
        .context("DATABASE_URL is not a Postgres URL")?
        // No NOTICE messages (such as the migrator's "already exists, skipping" at every
        // start): sqlx would log them at info.
        .options([("client_min_messages", "warning")]);
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .context("cannot connect to the database")
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("cannot run the database migrations")
}

/// How many of this version's migrations the database has not applied.
async fn pending_migrations(pool: &PgPool) -> anyhow::Result<usize> {
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let applied: Vec<i64> = if has_table {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .count())
}

/// Drop the database of `database_url` if it exists, closing its connections first.
pub async fn drop_if_exists(database_url: &str) -> anyhow::Result<()> {
    if exists(database_url).await? {
        Postgres::force_drop_database(database_url)
            .await
            .context("cannot drop the database")?;
    }
    Ok(())
}
