//! Checks of single values (`docs/CONFIGURATION.md`). Each takes the name to blame, so a value
//! from the environment and one from the command line (`unlock-url --base-url`) are checked
//! alike. No message repeats the value: a URL may carry a password.

use super::{ConfigError, invalid};
use crate::connect::allowlist::is_host_name;

/// The longest Connect app key Atlassian accepts.
const MAX_APP_KEY_LEN: usize = 64;

/// A public base URL: `http` or `https`, without user info, query or fragment, its path made
/// of plain segments; normalised, without a trailing `/`.
pub fn base_url(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(value)
        .map_err(|e| invalid(name, format!("not an absolute http(s) URL ({e})")))?;
    let problem = if !matches!(url.scheme(), "http" | "https") {
        Some("must be an http or https URL")
    } else if !url.username().is_empty() || url.password().is_some() {
        Some("must not carry a user name or password")
    } else if url.query().is_some() {
        Some("must not have a query (?…)")
    } else if url.fragment().is_some() {
        Some("must not have a fragment (#…)")
    } else if !plain_path(url.path()) {
        Some("its path may hold only letters, digits, '-', '.', '_' and '~' between slashes")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(invalid(name, problem)),
        None => Ok(url.as_str().trim_end_matches('/').to_owned()),
    }
}

/// `/`, or `/segment/segment` of unreserved characters (a trailing `/` allowed): a path that
/// routes and cookie paths take as written.
fn plain_path(path: &str) -> bool {
    let trimmed = path.trim_end_matches('/');
    trimmed.is_empty()
        || trimmed.strip_prefix('/').is_some_and(|rest| {
            rest.split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            })
        })
}

/// A URL keys or tokens travel over: `https`, or plain `http` to this machine only (the
/// sandbox).
pub fn secure_url(name: &'static str, value: &str) -> Result<String, ConfigError> {
    url::Url::parse(value)
        .ok()
        .filter(|url| match url.scheme() {
            "https" => url.has_host(),
            "http" => matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
            _ => false,
        })
        .map(|_| value.to_owned())
        .ok_or_else(|| {
            invalid(
                name,
                "must be an https URL (http only to 127.0.0.1, ::1 or localhost)",
            )
        })
}

/// `host:port` to listen on: an IP address (IPv6 in brackets) or a host name, and a port; errors
/// name the setting `name`.
pub fn bind(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let valid = value.parse::<std::net::SocketAddr>().is_ok()
        || value
            .rsplit_once(':')
            .is_some_and(|(host, port)| port.parse::<u16>().is_ok() && is_host_name(host));
    if !valid {
        return Err(invalid(
            name,
            "must be host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080",
        ));
    }
    Ok(value.to_owned())
}

/// A Connect app key as Atlassian accepts it: 1 to 64 ASCII letters, digits, `.`, `-`, `_`.
pub fn app_key(value: &str) -> Result<String, ConfigError> {
    let valid = (1..=MAX_APP_KEY_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !valid {
        return Err(invalid(
            "PAGESHARE_APP_KEY",
            format!(
                "must be 1 to {MAX_APP_KEY_LEN} ASCII letters, digits, '.', '-' or '_' (Atlassian's rule for app keys)"
            ),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let name = "PAGESHARE_BASE_URL";
        let good = [
            ("http://localhost:8080", "http://localhost:8080"),
            (
                "https://Apps.Example.com:443/pageshare/",
                "https://apps.example.com/pageshare",
            ),
            (
                "https://apps.example.com/a/b-c.d_e~f",
                "https://apps.example.com/a/b-c.d_e~f",
            ),
        ];
        for (value, normalised) in good {
            assert_eq!(base_url(name, value).unwrap(), normalised, "{value}");
        }
        let bad = [
            "localhost:8080",
            "ftp://example.com",
            "https://user:hunter2@example.com",
            "https://user@example.com",
            "https://example.com/?a=1",
            "https://example.com/#top",
            "https://example.com/a//b",
            "https://example.com/{x}",
            "https://example.com/%41",
        ];
        for value in bad {
            let error = base_url(name, value).unwrap_err();
            assert_eq!(error.name, name);
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn bind_addresses() {
        for good in ["127.0.0.1:8080", "0.0.0.0:0", "[::]:8080", "localhost:8080"] {
            assert_eq!(bind("PAGESHARE_BIND", good).unwrap(), good);
        }
        for bad in [
            "8080",
            "localhost",
            "127.0.0.1:99999",
            ":8080",
            "::1:8080",
            "a b:80",
        ] {
            assert_eq!(
                bind("PAGESHARE_BIND", bad).unwrap_err().name,
                "PAGESHARE_BIND",
                "{bad}"
            );
        }
    }

    #[test]
    fn app_keys() {
        for good in ["pageshare", "com.example.page-share_2", &"k".repeat(64)] {
            assert!(app_key(good).is_ok(), "{good}");
        }
        for bad in ["", "page share", "pageshäre", "a/b", &"k".repeat(65)] {
            assert_eq!(app_key(bad).unwrap_err().name, "PAGESHARE_APP_KEY", "{bad}");
        }
    }

    #[test]
    fn secure_urls() {
        let name = "PAGESHARE_INSTALL_KEYS_URL";
        for good in [
            "https://connect-install-keys.atlassian.com",
            "http://127.0.0.1:9000/keys",
            "http://localhost/keys",
        ] {
            assert_eq!(secure_url(name, good).unwrap(), good);
        }
        for bad in [
            "connect-install-keys.atlassian.com",
            "ftp://example.com",
            "http://example.com/keys",
        ] {
            assert_eq!(secure_url(name, bad).unwrap_err().name, name, "{bad}");
        }
    }
}
