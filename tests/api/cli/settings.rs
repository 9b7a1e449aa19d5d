//! Every setting a command uses is checked before the database is touched; an error names the
//! variable, says the problem once and never repeats a secret.

use super::{Database, pageshare};

#[tokio::test]
async fn a_bad_setting_stops_the_command_before_the_database_is_touched() {
    let db = Database::unused();
    let long_key = "k".repeat(65);
    // (command, variable, value, what the error says)
    let cases: Vec<(&[&str], &str, &str, &str)> = vec![
        (
            &["migrate"],
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/",
            "names no database",
        ),
        (
            &["migrate"],
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432",
            "names no database",
        ),
        (
            &["migrate"],
            "DATABASE_URL",
            "localhost/pageshare",
            "relative URL without a base",
        ),
        (
            &["migrate"],
            "DATABASE_URL",
            "mysql://root@127.0.0.1/pageshare",
            "postgres://",
        ),
        (
            &["migrate"],
            "DATABASE_URL",
            "postgres://127.0.0.1/p?sslmode=sometimes",
            "unknown value \"sometimes\"",
        ),
        (
            &["migrate"],
            "DATABASE_URL",
            "postgres://127.0.0.1/p?passwrd=hunter2",
            "unknown parameter \"passwrd\"",
        ),
        (
            &["serve"],
            "PAGESHARE_HOST_ALLOWLIST",
            "https://acme.atlassian.net/",
            "not a host pattern",
        ),
        (
            &["serve"],
            "PAGESHARE_HOST_ALLOWLIST",
            "*.atlassian.net, acme.atlassian.net:443",
            "not a host pattern",
        ),
        (
            &["serve"],
            "PAGESHARE_INSTALL_KEYS_URL",
            "connect-install-keys.atlassian.com",
            "https URL",
        ),
        (
            &["serve"],
            "PAGESHARE_INSTALL_KEYS_URL",
            "http://keys.example.com",
            "https URL",
        ),
        (
            &["serve"],
            "PAGESHARE_APP_KEY",
            "my app",
            "Atlassian's rule",
        ),
        (&["serve"], "PAGESHARE_APP_KEY", &long_key, "1 to 64"),
        (
            &["serve"],
            "PAGESHARE_BASE_URL",
            "https://pageshare.example.com/#top",
            "fragment",
        ),
        (
            &["serve"],
            "PAGESHARE_BASE_URL",
            "https://admin:hunter2@pageshare.example.com",
            "user name or password",
        ),
        (
            &["serve"],
            "PAGESHARE_BASE_URL",
            "https://pageshare.example.com/?x=1",
            "query",
        ),
        (&["serve"], "PAGESHARE_BIND", "8080", "host:port"),
        (&["serve"], "PAGESHARE_BIND", "127.0.0.1:80800", "host:port"),
        (&["dev"], "PAGESHARE_BIND", "localhost", "host:port"),
        (
            &["serve"],
            "PAGESHARE_SECRET_MODE",
            "sometimes",
            "unknown secret mode",
        ),
        (
            &["secrets", "status"],
            "PAGESHARE_SECRET_MODE",
            "sometimes",
            "unknown secret mode",
        ),
        (
            &["serve"],
            "PAGESHARE_CLOCK_SKEW_SECS",
            "601",
            "at most 600",
        ),
    ];
    for (args, name, value, problem) in cases {
        let env = [("DATABASE_URL", db.url.as_str()), (name, value)];
        let run = pageshare(args, &env, None);
        let case = format!("{name}={value:?} for {args:?}: {run:?}");
        assert_eq!(run.code, Some(1), "{case}");
        assert!(run.stdout.is_empty(), "{case}");
        assert!(
            run.stderr.starts_with(&format!("pageshare: {name}: ")),
            "{case}"
        );
        assert_eq!(run.stderr.lines().count(), 1, "{case}");
        assert_eq!(run.stderr.matches(problem).count(), 1, "{case}");
        assert!(!run.stderr.contains("hunter2"), "{case}");
        assert!(!db.exists().await, "{case}: the database was created");
    }
}
