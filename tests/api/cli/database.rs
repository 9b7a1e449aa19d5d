//! Which commands create the database, and what the log says while they do.

use std::net::TcpListener;

use sqlx::migrate::MigrateDatabase;

use super::{Database, pageshare};

const APP_SECRET: &str = "an-app-wide-secret-of-32-bytes-at-least";

#[tokio::test]
async fn only_serve_migrate_and_dev_create_the_database() {
    let db = Database::unused();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("PAGESHARE_SECRET_MODE", "migrating"),
        ("PAGESHARE_APP_SECRET", APP_SECRET),
    ];
    let missing = format!(
        "pageshare: the database \"{}\" (DATABASE_URL) does not exist; check DATABASE_URL, or \
         create it with `pageshare migrate`\n",
        db.name()
    );
    let read_only: [&[&str]; 4] = [
        &["secrets", "status"],
        &["secrets", "status", "--json"],
        &["secrets", "forget-per-install"],
        &["tenants", "status", "--json"],
    ];
    for args in read_only {
        let run = pageshare(args, &env, None);
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (Some(1), "", missing.as_str()),
            "{args:?}"
        );
        assert!(!db.exists().await, "{args:?} created the database");
    }

    let created = pageshare(&["migrate"], &env, None);
    assert_eq!(created.code, Some(0), "{created:?}");
    assert_eq!(created.stdout, "database migrated\n");
    assert!(
        created.stderr.contains("created the database"),
        "{created:?}"
    );
    let tenants = pageshare(&["tenants", "status", "--json"], &env, None);
    assert_eq!(tenants.code, Some(0), "{tenants:?}");
}

#[tokio::test]
async fn the_log_has_no_colour_codes_off_a_terminal_and_no_migration_notice() {
    let db = Database::unused();
    let env = [("DATABASE_URL", db.url.as_str()), ("RUST_LOG", "info")];
    // The first run creates the database and its migrations table (and logs it), the second
    // finds them, which Postgres would answer with a NOTICE.
    let runs = [
        pageshare(&["migrate"], &env, None),
        pageshare(&["migrate"], &env, None),
    ];
    assert!(runs[0].stderr.contains("created the database"), "{runs:?}");
    for run in runs {
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(!run.stderr.contains('\u{1b}'), "ANSI codes: {run:?}");
        assert!(!run.stderr.contains("already exists"), "{run:?}");
    }
}

#[tokio::test]
async fn commands_that_read_refuse_a_database_that_is_not_migrated() {
    let db = Database::unused();
    sqlx::Postgres::create_database(&db.url).await.unwrap();
    let run = pageshare(&["tenants", "status"], &[("DATABASE_URL", &db.url)], None);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with(&format!(
            "pageshare: the database \"{}\" (DATABASE_URL) lacks ",
            db.name()
        )) && run.stderr.ends_with("run `pageshare migrate` first\n"),
        "{run:?}"
    );
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!migrated, "the schema is left alone");
    pool.close().await;
}

#[tokio::test]
async fn serve_binds_its_address_before_it_touches_the_database() {
    let db = Database::unused();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let env = [("DATABASE_URL", db.url.as_str()), ("PAGESHARE_BIND", &bind)];
    let run = pageshare(&["serve"], &env, None);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with(&format!(
            "pageshare: cannot listen on PAGESHARE_BIND={bind}: "
        )),
        "{run:?}"
    );
    assert!(!db.exists().await);
}
