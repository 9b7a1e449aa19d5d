//! Signed install: `installed`/`uninstalled` callbacks signed by Atlassian with RS256, the
//! public key fetched by `kid` from the install-keys server and cached.

use crate::metrics::{KeySource, Metrics};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use tokio::sync::Semaphore;

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::jws::{Alg, Jws, JwsError};

/// Most keys kept; Atlassian rotates keys rarely, so this bounds memory against junk `kid`s.
/// Longest wait for a free key fetch before answering 503.
const QUEUE_WAIT: Duration = Duration::from_secs(2);
const MAX_CACHED_KEYS: u64 = 64;
const MAX_KEY_BYTES: usize = 16 * 1024;
/// A `kid` the key server does not know is not asked for again for this long, so a stream of
/// made-up `kid`s cannot make the app call out on every request.
const UNKNOWN_KID_TTL: Duration = Duration::from_secs(60);
const MAX_UNKNOWN_KIDS: u64 = 10_000;
/// Key fetches running at once.
const CONCURRENT_FETCHES: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallAuthError {
    #[error("the install token is not a well-formed JWT")]
    Malformed,
    #[error("the install token must be signed with RS256 (signed install)")]
    AlgorithmNotAllowed,
    #[error(
        "the install token's header has a `crit` parameter, which Pageshare does not understand"
    )]
    CriticalHeader,
    #[error("the install token has no `kid` header")]
    MissingKid,
    #[error("the install token's `kid` is not `/`-separated segments of [A-Za-z0-9_-]")]
    InvalidKid,
    #[error("the install key server does not know this token's `kid`")]
    UnknownKid,
    #[error("the install key server could not be reached; try again later")]
    KeyServerUnavailable,
    #[error("the install token's signature does not verify")]
    BadSignature,
    #[error("the install token has no `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the install token has expired")]
    Expired,
    #[error("the install token's `aud` is not this app's base URL")]
    WrongAudience,
    #[error("the install token's `iss` is not the body's clientKey")]
    IssuerMismatch,
    #[error("the install token's qsh does not match this request")]
    QshMismatch,
}

/// `kid` values are restricted before they become part of a URL: path segments of
/// `[A-Za-z0-9_-]`, none empty, so no `kid` names another path than its own.
pub fn is_valid_kid(kid: &str) -> bool {
    kid.len() <= 256
        && kid.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        })
}

impl From<JwsError> for InstallAuthError {
    fn from(error: JwsError) -> Self {
        match error {
            JwsError::Malformed => Self::Malformed,
            JwsError::CriticalHeader => Self::CriticalHeader,
        }
    }
}

/// An RS256 install token, its header read: `alg` RS256, no `crit`.
fn rs256(token: &str) -> Result<Jws<'_>, InstallAuthError> {
    let jws = Jws::parse(token)?;
    if jws.alg != Alg::RS256 {
        return Err(InstallAuthError::AlgorithmNotAllowed);
    }
    Ok(jws)
}

/// The `kid` of an RS256 install token, checked.
pub fn install_token_kid(token: &str) -> Result<String, InstallAuthError> {
    let kid = rs256(token)?.kid.ok_or(InstallAuthError::MissingKid)?;
    if !is_valid_kid(&kid) {
        return Err(InstallAuthError::InvalidKid);
    }
    Ok(kid)
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct InstallClaims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    qsh: Option<String>,
}

/// What the install token must say.
#[derive(Debug, Clone, Copy)]
pub struct InstallExpectation<'a> {
    pub app_base_url: &'a str,
    pub client_key: &'a str,
    pub qsh: &'a str,
    pub now: i64,
    pub leeway_secs: u64,
}

/// Verify an RS256 install token with the key of its `kid`.
pub fn verify_install_token(
    token: &str,
    key: &DecodingKey,
    expect: InstallExpectation<'_>,
) -> Result<(), InstallAuthError> {
    let jws = rs256(token)?;
    let claims: InstallClaims =
        serde_json::from_slice(&jws.payload()?).map_err(|_| InstallAuthError::Malformed)?;
    let signed = jsonwebtoken::crypto::verify(
        jws.signature_b64(),
        jws.signing_input.as_bytes(),
        key,
        Algorithm::RS256,
    )
    .map_err(|_| InstallAuthError::Malformed)?;
    if !signed {
        return Err(InstallAuthError::BadSignature);
    }

    let exp = claims.exp.ok_or(InstallAuthError::MissingClaim("exp"))?;
    if expect.now >= exp.saturating_add(expect.leeway_secs as i64) {
        return Err(InstallAuthError::Expired);
    }
    let aud = claims.aud.ok_or(InstallAuthError::MissingClaim("aud"))?;
    let ours = expect.app_base_url.trim_end_matches('/');
    let matches = |a: &String| a.trim_end_matches('/') == ours;
    let aud_ok = match &aud {
        Audience::One(a) => matches(a),
        Audience::Many(all) => all.iter().any(matches),
    };
    if !aud_ok {
        return Err(InstallAuthError::WrongAudience);
    }
    let iss = claims.iss.ok_or(InstallAuthError::MissingClaim("iss"))?;
    if iss != expect.client_key {
        return Err(InstallAuthError::IssuerMismatch);
    }
    let qsh = claims.qsh.ok_or(InstallAuthError::MissingClaim("qsh"))?;
    if !qsh.eq_ignore_ascii_case(expect.qsh) {
        return Err(InstallAuthError::QshMismatch);
    }
    Ok(())
}

/// Fetches install public keys by `kid` and keeps them; remembers `kid`s the server does not know.
pub struct InstallKeys {
    base_url: String,
    http: reqwest::Client,
    keys: Cache<String, Arc<DecodingKey>>,
    unknown: Cache<String, ()>,
    fetches: Semaphore,
    metrics: Option<Arc<Metrics>>,
}

impl InstallKeys {
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("static reqwest configuration is valid");
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
            keys: Cache::new(MAX_CACHED_KEYS),
            unknown: Cache::builder()
                .max_capacity(MAX_UNKNOWN_KIDS)
                .time_to_live(UNKNOWN_KID_TTL)
                .build(),
            fetches: Semaphore::new(CONCURRENT_FETCHES),
            metrics: None,
        }
    }

    /// Count every key fetch in `metrics`.
    pub fn with_metrics(self, metrics: Option<Arc<Metrics>>) -> Self {
        Self { metrics, ..self }
    }

    /// The key for a `kid` already checked by [`is_valid_kid`].
    pub async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, InstallAuthError> {
        if let Some(known) = self.cached(kid)? {
            return Ok(known);
        }
        // A queue of callbacks naming new kids waits at most this long, then is told to retry
        // (503), so Atlassian's own callbacks are not stuck behind a flood.
        let _permit = tokio::time::timeout(QUEUE_WAIT, self.fetches.acquire())
            .await
            .map_err(|_| InstallAuthError::KeyServerUnavailable)?
            .map_err(|_| InstallAuthError::KeyServerUnavailable)?;
        // Another request may have fetched it while this one waited.
        if let Some(known) = self.cached(kid)? {
            return Ok(known);
        }
        match self.fetch(kid).await {
            Ok(key) => {
                let key = Arc::new(key);
                self.keys.insert(kid.to_owned(), key.clone());
                Ok(key)
            }
            Err(InstallAuthError::UnknownKid) => {
                self.unknown.insert(kid.to_owned(), ());
                Err(InstallAuthError::UnknownKid)
            }
            Err(other) => Err(other),
        }
    }

    fn cached(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, InstallAuthError> {
        if self.unknown.contains_key(kid) {
            return Err(InstallAuthError::UnknownKid);
        }
        Ok(self.keys.get(kid))
    }

    async fn fetch(&self, kid: &str) -> Result<DecodingKey, InstallAuthError> {
        let fetched = self.fetch_uncounted(kid).await;
        if let Some(metrics) = &self.metrics {
            metrics.key_fetch(KeySource::ConnectInstall, fetched.is_ok());
        }
        fetched
    }

    async fn fetch_uncounted(&self, kid: &str) -> Result<DecodingKey, InstallAuthError> {
        let url = format!("{}/{kid}", self.base_url);
        let response = self.http.get(&url).send().await.map_err(|error| {
            tracing::warn!(%error, kid, "install key server unreachable");
            InstallAuthError::KeyServerUnavailable
        })?;
        let status = response.status();
        // Overloaded or failing: Atlassian retries the callback, so answer 503, not 401.
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            tracing::warn!(%status, kid, "install key server failed");
            return Err(InstallAuthError::KeyServerUnavailable);
        }
        if !status.is_success() {
            return Err(InstallAuthError::UnknownKid);
        }
        let pem = crate::outgoing::read_capped(response, MAX_KEY_BYTES)
            .await
            .map_err(|error| {
                tracing::warn!(%error, kid, "install key server answered something unusable");
                match error {
                    crate::outgoing::BodyError::TooLarge(_) => InstallAuthError::UnknownKid,
                    crate::outgoing::BodyError::Read(_) => InstallAuthError::KeyServerUnavailable,
                }
            })?;
        DecodingKey::from_rsa_pem(&pem).map_err(|error| {
            tracing::warn!(%error, kid, "install key server answered something that is not an RSA PEM key");
            InstallAuthError::UnknownKid
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_rules() {
        for good in ["abc", "a-b_c/123", "0e50fccb-239d-4991-a5db-dc850ba3f236"] {
            assert!(is_valid_kid(good), "{good}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "a/../b",
            "a b",
            "a?b",
            "a%2e",
            "a.b",
            "a#b",
            "a//b",
            "/a",
            "a/",
            "/",
            &"k".repeat(300),
        ] {
            assert!(!is_valid_kid(bad), "{bad}");
        }
    }
}
