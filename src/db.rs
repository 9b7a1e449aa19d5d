//! The Postgres pool: the database is created when missing and migrations run at start.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Connect to `database_url`, creating the database if it does not exist, and migrate it.
pub async fn connect_and_migrate(database_url: &str) -> anyhow::Result<PgPool> {
    // Never echo the URL: it may carry a password.
    if !Postgres::database_exists(database_url)
        .await
        .context("cannot reach Postgres at DATABASE_URL")?
    {
        match Postgres::create_database(database_url).await {
            Ok(()) => tracing::info!("created the database"),
            // Another instance may have created it in the meantime.
            Err(_)
                if Postgres::database_exists(database_url)
                    .await
                    .unwrap_or(false) => {}
            Err(error) => return Err(error).context("cannot create the database"),
        }
    }
    let options =
        PgConnectOptions::from_str(database_url).context("DATABASE_URL is not a Postgres URL")?;
    let pool = pool_options()
        .connect_with(options)
        .await
        .context("cannot connect to the database")?;
    migrate(&pool).await?;
    Ok(pool)
}

pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(3))
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("cannot run the database migrations")
}
