//! Every setting a command uses is checked before the database is touched; an error names the
//! variable, says the problem once and never repeats a secret.

use pageshare::share::UnlockSecret;

use super::{Database, pageshare};

const SHARE: &str = "8db33809-1f32-48bb-8c52-5877dab48107";

#[tokio::test]
async fn a_bad_setting_stops_the_command_before_the_database_is_touched() {
    let db = Database::unused();
    let long_key = "k".repeat(65);
    let base_url_argument = [
        "unlock-url",
        "--share",
        SHARE,
        "--base-url",
        "pages.example.com",
    ];
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
        (
            &["serve"],
            "PAGESHARE_LOG_FORMAT",
            "yaml",
            "must be text or json",
        ),
        (
            &["migrate"],
            "PAGESHARE_LOG_FORMAT",
            "logfmt",
            "must be text or json",
        ),
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
        (
            &["unlock-url", "--share", SHARE],
            "PAGESHARE_BASE_URL",
            "ftp://pages.example.com",
            "http or https",
        ),
        (
            &base_url_argument,
            "--base-url",
            "",
            "not an absolute http(s) URL",
        ),
    ];
    let secret = UnlockSecret::generate().to_hex();
    for (args, name, value, problem) in cases {
        let env: Vec<(&str, &str)> = [
            ("DATABASE_URL", db.url.as_str()),
            ("PAGESHARE_UNLOCK_SECRET", &secret),
            (name, value),
        ]
        .into_iter()
        .filter(|(variable, _)| !variable.starts_with("--"))
        .collect();
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

/// A command, the settings it reads (set right), and how its output starts.
struct Reads<'a> {
    args: &'a [&'a str],
    settings: Vec<(&'a str, &'a str)>,
    prints: &'a str,
}

#[tokio::test]
async fn each_command_reads_only_the_settings_it_uses() {
    let db = Database::unused();
    let secret = UnlockSecret::generate().to_hex();
    let forge_ui =
        std::env::temp_dir().join(format!("pageshare-forge-ui-{}", uuid::Uuid::new_v4()));
    let forge_ui = forge_ui.to_str().unwrap();
    // Every one of these is wrong; a command that read one would stop.
    let wrong = [
        ("DATABASE_URL", "nope"),
        ("PAGESHARE_BIND", "nope"),
        ("PAGESHARE_BASE_URL", "nope"),
        ("PAGESHARE_APP_KEY", "no key"),
        ("PAGESHARE_SECRET_MODE", "sometimes"),
        ("PAGESHARE_COOKIE_KEY", "abcd"),
        ("PAGESHARE_HOST_ALLOWLIST", "https://acme.atlassian.net/"),
        ("PAGESHARE_UNLOCK_SECRET", "abcd"),
    ];
    let unlock_url = ["unlock-url", "--share", SHARE];
    let unlock_url_to = [
        "unlock-url",
        "--share",
        SHARE,
        "--base-url",
        "https://x.example.com",
    ];
    let write_forge_ui = ["forge-ui", forge_ui];
    let cases = [
        Reads {
            args: &["migrate"],
            settings: vec![("DATABASE_URL", &db.url)],
            prints: "database migrated",
        },
        Reads {
            args: &["tenants", "status"],
            settings: vec![("DATABASE_URL", &db.url)],
            prints: "tenants: 0",
        },
        Reads {
            args: &["secrets", "status", "--json"],
            // Migrating mode without PAGESHARE_APP_SECRET: the status does not use it.
            settings: vec![
                ("DATABASE_URL", &db.url),
                ("PAGESHARE_SECRET_MODE", "migrating"),
            ],
            prints: "{",
        },
        Reads {
            args: &unlock_url,
            settings: vec![
                ("PAGESHARE_BASE_URL", "https://pages.example.com/"),
                ("PAGESHARE_UNLOCK_SECRET", &secret),
            ],
            prints: "https://pages.example.com/content/",
        },
        Reads {
            args: &unlock_url_to,
            settings: vec![("PAGESHARE_UNLOCK_SECRET", &secret)],
            prints: "https://x.example.com/content/",
        },
        Reads {
            args: &write_forge_ui,
            settings: vec![],
            prints: forge_ui,
        },
    ];
    for case in cases {
        let env: Vec<(&str, &str)> = wrong
            .iter()
            .filter(|(name, _)| case.settings.iter().all(|(used, _)| used != name))
            .chain(&case.settings)
            .copied()
            .collect();
        let run = pageshare(case.args, &env, None);
        assert_eq!(run.code, Some(0), "{:?}: {run:?}", case.args);
        assert!(
            run.stdout.starts_with(case.prints),
            "{:?}: {run:?}",
            case.args
        );
    }
    let _ = std::fs::remove_dir_all(forge_ui);
}

#[test]
fn a_rust_log_that_does_not_parse_is_said_and_logging_stays_at_info() {
    let secret = UnlockSecret::generate().to_hex();
    let env = [
        ("RUST_LOG", "info,pageshare=loud"),
        ("PAGESHARE_UNLOCK_SECRET", &secret),
    ];
    let run = pageshare(&["unlock-url", "--share", SHARE], &env, None);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.starts_with("http://localhost:8080/content/"),
        "{run:?}"
    );
    assert!(
        run.stderr.starts_with("pageshare: warning: RUST_LOG: ")
            && run.stderr.contains("logging at info instead"),
        "{run:?}"
    );
}
