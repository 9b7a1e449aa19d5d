//! `DATABASE_URL` (and `PAGESHARE_LISTEN_DATABASE_URL`): checked before any connection, and the
//! database it names. Never echoed: it may carry a password.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use super::{ConfigError, invalid};

/// The query parameters sqlx reads from a Postgres URL. It would only log any other, value and
/// all (a mistyped `password`), so those are refused here.
const KNOWN_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// `value` when it is a Postgres URL that names a database; errors name the setting `name`.
pub fn check(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(value).map_err(|e| {
        invalid(
            name,
            format!("not a URL ({e}); expected postgres://user@host:port/database"),
        )
    })?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(invalid(
            name,
            "must be a postgres:// (or postgresql://) URL",
        ));
    }
    if let Some((key, _)) = url.query_pairs().find(|(key, _)| !known_parameter(key)) {
        return Err(invalid(
            name,
            format!(
                "unknown parameter {key:?} (known: {})",
                KNOWN_PARAMETERS.join(", ")
            ),
        ));
    }
    let options =
        PgConnectOptions::from_str(value).map_err(|e| invalid(name, innermost_message(&e)))?;
    if options.get_database().is_none_or(str::is_empty) {
        return Err(invalid(
            name,
            "names no database; put its name in the path, e.g. postgres://postgres@127.0.0.1:5432/pageshare",
        ));
    }
    Ok(value.to_owned())
}

fn known_parameter(key: &str) -> bool {
    KNOWN_PARAMETERS.contains(&key) || (key.starts_with("options[") && key.ends_with(']'))
}

/// The message of the error at the bottom of `error`'s chain: sqlx wraps the same cause in
/// layers that each repeat it.
fn innermost_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    innermost.to_string()
}

/// The name of the database a checked URL names.
pub fn database_name(url: &str) -> String {
    PgConnectOptions::from_str(url)
        .ok()
        .and_then(|options| options.get_database().map(str::to_owned))
        .unwrap_or_default()
}

/// A checked URL naming the database `name` instead, on the same server with the same
/// credentials and parameters.
pub fn with_database_name(url: &str, name: &str) -> String {
    let mut url = url::Url::parse(url).expect("a checked DATABASE_URL");
    let others: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "dbname")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.set_path(name);
    url.set_query(None);
    if !others.is_empty() {
        url.query_pairs_mut().extend_pairs(others);
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_must_name_a_database() {
        for good in [
            "postgres://postgres@127.0.0.1:5432/pageshare",
            "postgresql://app:pw@db.internal/pageshare?sslmode=require",
            "postgres://app@db/?dbname=pageshare",
            "postgres:///pageshare?host=/var/run/postgresql",
        ] {
            assert_eq!(check("DATABASE_URL", good).unwrap(), good);
        }
        let cases = [
            ("postgres://postgres@127.0.0.1:5432/", "names no database"),
            ("postgres://postgres@127.0.0.1:5432", "names no database"),
            ("not a url", "relative URL without a base"),
            ("mysql://root@db/pageshare", "postgres://"),
            ("postgres://db/p?sslmode=bogus", "unknown value \"bogus\""),
            (
                "postgres://db/p?passwrd=hunter2",
                "unknown parameter \"passwrd\"",
            ),
        ];
        for (url, problem) in cases {
            let error = check("DATABASE_URL", url).unwrap_err().to_string();
            assert!(error.starts_with("DATABASE_URL: "), "{error}");
            assert_eq!(error.matches(problem).count(), 1, "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn another_database_on_the_same_server() {
        let cases = [
            (
                "postgres://app:pw@db:5433/pageshare?sslmode=require",
                "postgres://app:pw@db:5433/pageshare_dev?sslmode=require",
            ),
            (
                "postgres://app@db/?dbname=pageshare&application_name=x",
                "postgres://app@db/pageshare_dev?application_name=x",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(database_name(url), "pageshare");
            assert_eq!(with_database_name(url, "pageshare_dev"), expected);
        }
    }
}
