//! Settings from the environment (`docs/CONFIGURATION.md`); every one has a local default.

use std::net::IpAddr;

mod checks;
pub mod database_url;

use crate::confluence::redirects::{DEFAULT_MEDIA_HOSTS, MediaHosts};
use crate::connect::allowlist::HostAllowlist;
use crate::connect::secrets::{SecretMode, SharedSecret};
use crate::forge::ids::AppId;
use crate::forge::token::Environment;

#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    /// Where the change listener connects (`PAGESHARE_LISTEN_DATABASE_URL`): a direct
    /// connection when the pool goes through a transaction-mode pooler. Unset: as the pool.
    pub listen_database_url: Option<String>,
    /// Where `GET /metrics` listens (`PAGESHARE_METRICS_BIND`); unset: no metrics are kept.
    pub metrics_bind: Option<String>,
    pub bind: String,
    /// Public base URL, without a trailing `/`.
    pub base_url: String,
    pub app_key: String,
    pub install_keys_url: String,
    pub host_allowlist: HostAllowlist,
    pub secret_mode: SecretMode,
    pub app_secret: Option<SharedSecret>,
    pub allow_legacy_install: bool,
    pub clock_skew_secs: u64,
    pub unlock_leeway_secs: u64,
    /// `PAGESHARE_COOKIE_KEY`, decoded; unset: one kept in the database.
    pub cookie_key: Option<CookieKeys>,
    pub trusted_proxies: Vec<IpAddr>,
    /// Hosts an attachment download may be redirected to (besides the tenant's own origin).
    pub media_hosts: MediaHosts,
    /// Largest attachment passed on to a reader (`PAGESHARE_MAX_ATTACHMENT_MB`).
    pub max_attachment_bytes: u64,
    /// Bytes of sanitised pages kept in memory (`PAGESHARE_CONTENT_CACHE_MB`).
    pub content_cache_bytes: u64,
    /// How long a fetched page, and a tree share's list of pages, is kept: 30 s, not configurable
    /// (`docs/PERFORMANCE.md`); tests shorten it.
    pub content_ttl: std::time::Duration,
    /// How often each instance writes its readership counts: 10 s, not configurable
    /// (`docs/OPERATIONS.md#readership`); tests shorten it.
    pub readership_flush: std::time::Duration,
    /// Forge Remote, when `PAGESHARE_FORGE_APP_ID` is set.
    pub forge: Option<ForgeSettings>,
    /// `PAGESHARE_DATA_KEY`, decoded; unset: one kept in the database.
    pub data_key: Option<DataKeys>,
    /// Days the data of an uninstalled tenant is kept (`PAGESHARE_RETENTION_DAYS`).
    pub retention_days: u32,
    /// Atlassian's API that accountIds are reported to (`PAGESHARE_PERSONAL_DATA_URL`), without
    /// a trailing `/`.
    pub personal_data_url: String,
    /// How often the personal data job runs: daily, not configurable; tests shorten it.
    pub personal_data_every: std::time::Duration,
    /// Where the iframe pages load Atlassian's `all.js` from. Not an environment variable:
    /// only the tests and `pageshare dev` point it at the sandbox's stand-in.
    pub all_js_url: String,
}

/// What the Forge Remote side checks of every invocation (`docs/CONFIGURATION.md`).
#[derive(Debug, Clone)]
pub struct ForgeSettings {
    pub app_id: AppId,
    pub jwks_url: String,
    /// `app.apiBaseUrl` of every invocation is this followed by the site's cloud id.
    pub api_base: String,
    pub environments: Vec<Environment>,
}

pub const FORGE_JWKS_URL: &str = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json";
pub const FORGE_API_BASE: &str = "https://api.atlassian.com/ex/confluence/";

/// Shortest `PAGESHARE_APP_SECRET` accepted: HS256 keys shorter than the hash are weak.
pub const MIN_APP_SECRET_BYTES: usize = 32;

/// Atlassian's Connect JavaScript API, which Confluence expects its iframes to load.
pub const ATLASSIAN_ALL_JS: &str = "https://connect-cdn.atl-paas.net/all.js";

/// Leaves out `database_url`, which may carry a password (the secrets redact themselves).
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("base_url", &self.base_url)
            .field("app_key", &self.app_key)
            .field("secret_mode", &self.secret_mode)
            .field("allow_legacy_install", &self.allow_legacy_install)
            .finish_non_exhaustive()
    }
}

/// `PAGESHARE_COOKIE_KEY`, decoded: the first key signs, every one verifies. Never printed.
#[derive(Clone)]
pub struct CookieKeys(pub Vec<Vec<u8>>);

impl std::fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CookieKeys(<{} redacted>)", self.0.len())
    }
}

/// `PAGESHARE_DATA_KEY`, decoded: the first key seals, every one opens. Never printed.
#[derive(Clone)]
pub struct DataKeys(pub Vec<[u8; 32]>);

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKeys(<{} redacted>)", self.0.len())
    }
}

/// A comma-separated list of hex keys (the rotation form of a key setting), each decoded by
/// `decode`; an error names the setting and the key's place, never the key.
fn key_list<T>(
    name: &'static str,
    value: &str,
    rule: &str,
    decode: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ConfigError> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    let count = items.len();
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            decode(item).ok_or_else(|| {
                let which = if count == 1 {
                    "must be".to_owned()
                } else {
                    format!("key {} of {count} must be", i + 1)
                };
                invalid(name, format!("{which} {rule}"))
            })
        })
        .collect()
}

/// `PAGESHARE_COOKIE_KEY`: one or more comma-separated keys of at least 32 bytes of hex.
pub fn cookie_keys(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<CookieKeys>, ConfigError> {
    get("PAGESHARE_COOKIE_KEY")
        .map(|value| {
            key_list(
                "PAGESHARE_COOKIE_KEY",
                &value,
                "at least 32 bytes of hex",
                |item| hex::decode(item).ok().filter(|k| k.len() >= 32),
            )
            .map(CookieKeys)
        })
        .transpose()
}

/// `PAGESHARE_DATA_KEY`: one or more comma-separated keys of 32 bytes as 64 hex digits.
pub fn data_keys(get: &impl Fn(&str) -> Option<String>) -> Result<Option<DataKeys>, ConfigError> {
    get("PAGESHARE_DATA_KEY")
        .map(|value| {
            key_list(
                "PAGESHARE_DATA_KEY",
                &value,
                "32 bytes as 64 hex digits",
                |item| {
                    let mut key = [0u8; 32];
                    hex::decode_to_slice(item, &mut key).ok().map(|()| key)
                },
            )
            .map(DataKeys)
        })
        .transpose()
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

pub(crate) fn invalid(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        problem: problem.into(),
    }
}

/// A variable of the environment; one set to the empty string counts as unset.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `DATABASE_URL`, checked (it must name a database).
pub fn database_url(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    database_url::check(
        "DATABASE_URL",
        &get("DATABASE_URL")
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/pageshare".to_owned()),
    )
}

/// `PAGESHARE_LISTEN_DATABASE_URL`, checked like `DATABASE_URL`, and naming the same database
/// (another host or port is the point: a direct connection beside a pooler); unset: the change
/// listener connects as the pool does.
pub fn listen_database_url(
    get: &impl Fn(&str) -> Option<String>,
    database_url: &str,
) -> Result<Option<String>, ConfigError> {
    const NAME: &str = "PAGESHARE_LISTEN_DATABASE_URL";
    let Some(url) = get(NAME) else {
        return Ok(None);
    };
    let url = database_url::check(NAME, &url)?;
    let (listen, pool) = (
        database_url::database_name(&url),
        database_url::database_name(database_url),
    );
    if listen != pool {
        return Err(invalid(
            NAME,
            format!("names the database {listen:?}, DATABASE_URL {pool:?}: they must be the same"),
        ));
    }
    Ok(Some(url))
}

/// `PAGESHARE_SECRET_MODE`.
pub fn secret_mode(get: &impl Fn(&str) -> Option<String>) -> Result<SecretMode, ConfigError> {
    get("PAGESHARE_SECRET_MODE")
        .as_deref()
        .unwrap_or("per-install")
        .parse()
        .map_err(|e| invalid("PAGESHARE_SECRET_MODE", e))
}

/// `PAGESHARE_BASE_URL`, normalised, without a trailing `/`.
pub fn base_url(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    checks::base_url(
        "PAGESHARE_BASE_URL",
        get("PAGESHARE_BASE_URL")
            .as_deref()
            .unwrap_or("http://localhost:8080"),
    )
}

/// A base URL given on the command line (`--base-url`), checked like `PAGESHARE_BASE_URL`.
pub fn base_url_argument(value: &str) -> Result<String, ConfigError> {
    checks::base_url("--base-url", value)
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_var)
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let or = |name: &str, default: &str| get(name).unwrap_or_else(|| default.to_owned());
        let database_url = database_url(&get)?;
        let listen_database_url = listen_database_url(&get, &database_url)?;
        let bind = checks::bind("PAGESHARE_BIND", &or("PAGESHARE_BIND", "127.0.0.1:8080"))?;
        let metrics_bind = get("PAGESHARE_METRICS_BIND")
            .map(|value| checks::bind("PAGESHARE_METRICS_BIND", &value))
            .transpose()?;
        let base_url = base_url(&get)?;
        let app_key = checks::app_key(&or("PAGESHARE_APP_KEY", "pageshare"))?;
        let install_keys_url = checks::secure_url(
            "PAGESHARE_INSTALL_KEYS_URL",
            &or(
                "PAGESHARE_INSTALL_KEYS_URL",
                "https://connect-install-keys.atlassian.com",
            ),
        )?;
        let host_allowlist =
            HostAllowlist::parse_setting(&or("PAGESHARE_HOST_ALLOWLIST", "*.atlassian.net"))
                .map_err(|problem| invalid("PAGESHARE_HOST_ALLOWLIST", problem))?;
        let secret_mode = secret_mode(&get)?;
        let app_secret = get("PAGESHARE_APP_SECRET").map(SharedSecret::new);
        if app_secret
            .as_ref()
            .is_some_and(|secret| secret.as_bytes().len() < MIN_APP_SECRET_BYTES)
        {
            return Err(invalid(
                "PAGESHARE_APP_SECRET",
                format!(
                    "must be at least {MIN_APP_SECRET_BYTES} bytes (HS256 with a shorter key is guessable); \
                     e.g. 64 hex digits from `openssl rand -hex 32`"
                ),
            ));
        }
        if secret_mode.needs_app_secret() && app_secret.is_none() {
            return Err(invalid(
                "PAGESHARE_APP_SECRET",
                format!(
                    "must be set when PAGESHARE_SECRET_MODE is {}",
                    secret_mode.as_str()
                ),
            ));
        }
        let cookie_key = cookie_keys(&get)?;
        let trusted_proxies = or("PAGESHARE_TRUSTED_PROXIES", "")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpAddr>()
                    .map(|ip| ip.to_canonical())
                    .map_err(|_| {
                        invalid(
                            "PAGESHARE_TRUSTED_PROXIES",
                            format!("{s:?} is not an IP address"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            database_url,
            listen_database_url,
            metrics_bind,
            bind,
            base_url,
            app_key,
            install_keys_url,
            host_allowlist,
            secret_mode,
            app_secret,
            allow_legacy_install: parse_bool(&get, "PAGESHARE_ALLOW_LEGACY_INSTALL")?,
            clock_skew_secs: parse_secs(&get, "PAGESHARE_CLOCK_SKEW_SECS", 30)?,
            unlock_leeway_secs: parse_secs(&get, "PAGESHARE_UNLOCK_LEEWAY_SECS", 0)?,
            cookie_key,
            trusted_proxies,
            media_hosts: MediaHosts::parse(&or("PAGESHARE_MEDIA_HOSTS", DEFAULT_MEDIA_HOSTS))
                .map_err(|problem| invalid("PAGESHARE_MEDIA_HOSTS", problem))?,
            max_attachment_bytes: parse_megabytes(&get, "PAGESHARE_MAX_ATTACHMENT_MB", 50)?,
            content_cache_bytes: parse_megabytes(&get, "PAGESHARE_CONTENT_CACHE_MB", 256)?,
            content_ttl: std::time::Duration::from_secs(30),
            readership_flush: crate::storage::readership::DEFAULT_FLUSH_PERIOD,
            forge: forge_settings(&get)?,
            data_key: data_keys(&get)?,
            retention_days: parse_retention_days(&get)?,
            personal_data_url: checks::secure_url(
                "PAGESHARE_PERSONAL_DATA_URL",
                &or("PAGESHARE_PERSONAL_DATA_URL", "https://api.atlassian.com"),
            )?
            .trim_end_matches('/')
            .to_owned(),
            personal_data_every: std::time::Duration::from_secs(24 * 60 * 60),
            all_js_url: ATLASSIAN_ALL_JS.to_owned(),
        })
    }

    /// `scheme://host[:port]` of the base URL, as browsers send it in `Origin`.
    pub fn base_origin(&self) -> String {
        url::Url::parse(&self.base_url)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// `scheme://host[:port]` of `all_js_url`, for the iframe pages' CSP.
    pub fn all_js_origin(&self) -> String {
        url::Url::parse(&self.all_js_url)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// The path part of the base URL (`""` when the app sits at the root).
    pub fn base_path(&self) -> &str {
        let after_scheme = self.base_url.split_once("://").map_or("", |(_, rest)| rest);
        after_scheme.find('/').map_or("", |i| &after_scheme[i..])
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<bool, ConfigError> {
    match get(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(_) => Err(invalid(name, "must be true or false")),
    }
}

fn parse_secs(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    get(name).map_or(Ok(default), |v| {
        v.parse::<u64>()
            .ok()
            .filter(|secs| *secs <= 600)
            .ok_or_else(|| invalid(name, "must be a whole number of seconds, at most 600"))
    })
}

/// The Forge settings, when `PAGESHARE_FORGE_APP_ID` is set.
fn forge_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ForgeSettings>, ConfigError> {
    let Some(raw_id) = get("PAGESHARE_FORGE_APP_ID") else {
        return Ok(None);
    };
    let app_id = AppId::parse(&raw_id).ok_or_else(|| {
        invalid(
            "PAGESHARE_FORGE_APP_ID",
            "must be the Forge app id, ari:cloud:ecosystem::app/<uuid> (or the uuid)",
        )
    })?;
    let url = |name: &'static str, default: &str| {
        checks::secure_url(name, &get(name).unwrap_or_else(|| default.to_owned()))
    };
    let jwks_url = url("PAGESHARE_FORGE_JWKS_URL", FORGE_JWKS_URL)?;
    let mut api_base = url("PAGESHARE_FORGE_API_BASE", FORGE_API_BASE)?;
    if !api_base.ends_with('/') {
        api_base.push('/');
    }
    let environments = Environment::parse_list(
        &get("PAGESHARE_FORGE_ENVIRONMENTS").unwrap_or_else(|| "PRODUCTION".into()),
    )
    .map_err(|problem| invalid("PAGESHARE_FORGE_ENVIRONMENTS", problem))?;
    Ok(Some(ForgeSettings {
        app_id,
        jwks_url,
        api_base,
        environments,
    }))
}

/// Days the data of an uninstalled tenant is kept when `PAGESHARE_RETENTION_DAYS` is unset.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// `PAGESHARE_RETENTION_DAYS`: whole days, 1 to 3650.
fn parse_retention_days(get: &impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    get("PAGESHARE_RETENTION_DAYS").map_or(Ok(DEFAULT_RETENTION_DAYS), |v| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|days| (1..=3650).contains(days))
            .ok_or_else(|| {
                invalid(
                    "PAGESHARE_RETENTION_DAYS",
                    "must be a whole number of days, 1 to 3650",
                )
            })
    })
}

/// A size in whole megabytes (MiB), 1 to 65536; in bytes.
fn parse_megabytes(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    get(name)
        .map_or(Ok(default), |v| {
            v.parse::<u64>()
                .ok()
                .filter(|mb| (1..=65536).contains(mb))
                .ok_or_else(|| invalid(name, "must be a whole number of megabytes, 1 to 65536"))
        })
        .map(|mb| mb * 1024 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_design() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.database_url,
            "postgres://postgres@127.0.0.1:5432/pageshare"
        );
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.base_url, "http://localhost:8080");
        assert_eq!(s.app_key, "pageshare");
        assert_eq!(s.secret_mode, SecretMode::PerInstall);
        assert!(!s.allow_legacy_install);
        assert_eq!((s.clock_skew_secs, s.unlock_leeway_secs), (30, 0));
        assert!(s.host_allowlist.allows_host("acme.atlassian.net"));
        assert_eq!(s.base_path(), "");
        assert_eq!(s.all_js_origin(), "https://connect-cdn.atl-paas.net");
        assert_eq!(
            s.media_hosts,
            MediaHosts::parse("api.media.atlassian.com").unwrap()
        );
        assert_eq!(s.max_attachment_bytes, 50 * 1024 * 1024);
        assert_eq!(s.content_cache_bytes, 256 * 1024 * 1024);
        assert!(s.forge.is_none(), "Forge is off until an app id is set");
        assert!(s.data_key.is_none());
        assert_eq!(s.retention_days, 90);
        assert_eq!(s.personal_data_url, "https://api.atlassian.com");
        assert_eq!(s.personal_data_every.as_secs(), 24 * 60 * 60);
    }

    #[test]
    fn the_personal_data_url_is_https_or_this_machine() {
        let cases = [
            ("https://api.example.com/", Some("https://api.example.com")),
            ("http://127.0.0.1:9000", Some("http://127.0.0.1:9000")),
            ("http://api.atlassian.com", None),
            ("ftp://api.atlassian.com", None),
            ("api.atlassian.com", None),
        ];
        for (value, expected) in cases {
            let result = settings(&[("PAGESHARE_PERSONAL_DATA_URL", value)]);
            match expected {
                Some(url) => assert_eq!(result.unwrap().personal_data_url, url, "{value}"),
                None => assert!(
                    result
                        .unwrap_err()
                        .to_string()
                        .contains("PAGESHARE_PERSONAL_DATA_URL"),
                    "{value}"
                ),
            }
        }
    }

    #[test]
    fn app_wide_and_migrating_need_the_app_secret() {
        for mode in ["app-wide", "migrating"] {
            let err = settings(&[("PAGESHARE_SECRET_MODE", mode)]).unwrap_err();
            assert_eq!(err.name, "PAGESHARE_APP_SECRET");
            assert!(
                settings(&[
                    ("PAGESHARE_SECRET_MODE", mode),
                    ("PAGESHARE_APP_SECRET", &"s".repeat(32))
                ])
                .is_ok()
            );
            let short = settings(&[
                ("PAGESHARE_SECRET_MODE", mode),
                ("PAGESHARE_APP_SECRET", &"s".repeat(31)),
            ])
            .unwrap_err();
            assert_eq!(short.name, "PAGESHARE_APP_SECRET");
            assert!(short.to_string().contains("at least 32 bytes"), "{short}");
            assert!(!short.to_string().contains(&"s".repeat(31)));
        }
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let cases = [
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/"),
            ("PAGESHARE_BIND", "8080"),
            ("PAGESHARE_METRICS_BIND", "9090"),
            ("PAGESHARE_APP_KEY", "my app"),
            ("PAGESHARE_INSTALL_KEYS_URL", "keys.example.com"),
            ("PAGESHARE_HOST_ALLOWLIST", "https://acme.atlassian.net/"),
            ("PAGESHARE_SECRET_MODE", "sometimes"),
            ("PAGESHARE_BASE_URL", "localhost"),
            ("PAGESHARE_BASE_URL", "https://pageshare.example.com/#top"),
            ("PAGESHARE_ALLOW_LEGACY_INSTALL", "maybe"),
            ("PAGESHARE_CLOCK_SKEW_SECS", "-1"),
            ("PAGESHARE_COOKIE_KEY", "abcd"),
            ("PAGESHARE_TRUSTED_PROXIES", "10.0.0.1, nope"),
            ("PAGESHARE_MEDIA_HOSTS", "https://api.media.atlassian.com"),
            ("PAGESHARE_MAX_ATTACHMENT_MB", "0"),
            ("PAGESHARE_CONTENT_CACHE_MB", "lots"),
            ("PAGESHARE_FORGE_APP_ID", "my-app"),
            ("PAGESHARE_DATA_KEY", "abcd"),
            ("PAGESHARE_RETENTION_DAYS", "0"),
            ("PAGESHARE_RETENTION_DAYS", "3651"),
            ("PAGESHARE_RETENTION_DAYS", "90d"),
        ];
        for (name, value) in cases {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name);
            assert!(
                !err.to_string().contains("abcd"),
                "a rejected key is not echoed"
            );
        }
    }

    #[test]
    fn retention_is_whole_days_from_1_to_3650() {
        for (value, days) in [("1", 1), (" 90 ", 90), ("3650", 3650)] {
            let s = settings(&[("PAGESHARE_RETENTION_DAYS", value)]).unwrap();
            assert_eq!(s.retention_days, days, "{value:?}");
        }
    }

    #[test]
    fn forge_urls_may_be_plain_http_only_to_this_machine() {
        let uuid = "8db33809-1f32-48bb-8c52-5877dab48107";
        for local in [
            "http://127.0.0.1:9000/forge/jwks.json",
            "http://localhost/jwks.json",
            "http://[::1]:9000/jwks.json",
        ] {
            let s = settings(&[
                ("PAGESHARE_FORGE_APP_ID", uuid),
                ("PAGESHARE_FORGE_JWKS_URL", local),
            ])
            .unwrap();
            assert_eq!(s.forge.unwrap().jwks_url, local);
        }
    }

    #[test]
    fn forge_settings_with_their_defaults() {
        let uuid = "8db33809-1f32-48bb-8c52-5877dab48107";
        let s = settings(&[("PAGESHARE_FORGE_APP_ID", uuid)]).unwrap();
        let forge = s.forge.unwrap();
        assert_eq!(
            forge.app_id.as_str(),
            format!("ari:cloud:ecosystem::app/{uuid}")
        );
        assert_eq!(forge.jwks_url, FORGE_JWKS_URL);
        assert_eq!(forge.api_base, FORGE_API_BASE);
        assert_eq!(
            forge.environments,
            Environment::parse_list("PRODUCTION").unwrap()
        );
        let cases = [
            ("PAGESHARE_FORGE_JWKS_URL", "forge.example.com/jwks.json"),
            (
                "PAGESHARE_FORGE_API_BASE",
                "ftp://api.atlassian.com/ex/confluence/",
            ),
            ("PAGESHARE_FORGE_ENVIRONMENTS", " , "),
            (
                "PAGESHARE_FORGE_JWKS_URL",
                "http://forge.example.com/jwks.json",
            ),
            (
                "PAGESHARE_FORGE_API_BASE",
                "http://api.atlassian.com/ex/confluence/",
            ),
        ];
        for (name, value) in cases {
            let err = settings(&[("PAGESHARE_FORGE_APP_ID", uuid), (name, value)]).unwrap_err();
            assert_eq!(err.name, name);
        }
        let key = "ab".repeat(32);
        let s = settings(&[("PAGESHARE_DATA_KEY", &key)]).unwrap();
        assert_eq!(s.data_key.unwrap().0, vec![[0xab; 32]]);
    }

    #[test]
    fn key_settings_take_a_list_whose_first_key_is_current() {
        let (a, b) = ("ab".repeat(32), "cd".repeat(40));
        let cases: [(&str, String, Result<usize, &str>); 8] = [
            ("PAGESHARE_COOKIE_KEY", a.clone(), Ok(1)),
            ("PAGESHARE_COOKIE_KEY", format!("{b}, {a}"), Ok(2)),
            (
                "PAGESHARE_COOKIE_KEY",
                format!("{a},"),
                Err("key 2 of 2 must be"),
            ),
            (
                "PAGESHARE_COOKIE_KEY",
                format!("{a},{}", "ab".repeat(31)),
                Err("key 2 of 2"),
            ),
            (
                "PAGESHARE_COOKIE_KEY",
                "zz".repeat(32),
                Err("must be at least 32 bytes"),
            ),
            (
                "PAGESHARE_DATA_KEY",
                format!("{a},{}", "ef".repeat(32)),
                Ok(2),
            ),
            (
                "PAGESHARE_DATA_KEY",
                format!("{a},{b}"),
                Err("key 2 of 2 must be 32 bytes"),
            ),
            (
                "PAGESHARE_DATA_KEY",
                "ab".repeat(31),
                Err("must be 32 bytes as 64 hex"),
            ),
        ];
        for (name, value, expected) in cases {
            let result = settings(&[(name, &value)]);
            match (result, expected) {
                (Ok(s), Ok(count)) => {
                    let got = match name {
                        "PAGESHARE_COOKIE_KEY" => s.cookie_key.unwrap().0.len(),
                        _ => s.data_key.unwrap().0.len(),
                    };
                    assert_eq!(got, count, "{name}={value}");
                }
                (Err(err), Err(text)) => {
                    assert_eq!(err.name, name);
                    assert!(err.to_string().contains(text), "{err}");
                    assert!(
                        !err.to_string().contains(&"ab".repeat(8)),
                        "no key in {err}"
                    );
                }
                (got, expected) => panic!("{name}={value}: {got:?}, expected {expected:?}"),
            }
        }
        let s = settings(&[("PAGESHARE_COOKIE_KEY", &format!("{b},{a}"))]).unwrap();
        assert_eq!(
            s.cookie_key.unwrap().0[0],
            hex::decode(&b).unwrap(),
            "first is current"
        );
    }

    #[test]
    fn the_listener_may_connect_elsewhere_to_the_same_database() {
        let pool = ("DATABASE_URL", "postgres://app@pgbouncer:6432/pageshare");
        let cases = [
            ("postgres://app:pw@db:5432/pageshare", Ok(())),
            (
                "postgres://app:s3cret@db/other",
                Err("names the database \"other\", DATABASE_URL \"pageshare\""),
            ),
            ("postgres://app:s3cret@db/", Err("names no database")),
            (
                "mysql://app:s3cret@db/pageshare",
                Err("must be a postgres://"),
            ),
            (
                "postgres://app:s3cret@db/pageshare?sslmod=require",
                Err("unknown parameter"),
            ),
        ];
        for (url, expected) in cases {
            match (
                settings(&[pool, ("PAGESHARE_LISTEN_DATABASE_URL", url)]),
                expected,
            ) {
                (Ok(s), Ok(())) => assert_eq!(s.listen_database_url.as_deref(), Some(url)),
                (Err(err), Err(text)) => {
                    assert_eq!(err.name, "PAGESHARE_LISTEN_DATABASE_URL");
                    assert!(err.to_string().contains(text), "{url}: {err}");
                    assert!(!err.to_string().contains("s3cret"), "{err}");
                }
                (got, _) => panic!("{url}: {got:?}"),
            }
        }
        assert_eq!(settings(&[pool]).unwrap().listen_database_url, None);
    }

    #[test]
    fn debug_output_leaves_out_the_database_password() {
        let s = settings(&[("DATABASE_URL", "postgres://app:hunter2@db/pageshare")]).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn base_path_and_trailing_slash() {
        let s = settings(&[("PAGESHARE_BASE_URL", "https://apps.example.com/pageshare/")]).unwrap();
        assert_eq!(s.base_url, "https://apps.example.com/pageshare");
        assert_eq!(s.base_path(), "/pageshare");
        assert_eq!(s.base_origin(), "https://apps.example.com");
        let local = settings(&[("PAGESHARE_BASE_URL", "http://127.0.0.1:8080")]).unwrap();
        assert_eq!(local.base_origin(), "http://127.0.0.1:8080");
    }
}
