//! Forge's key set (JWKS), cached: a token's `kid` is looked up without a lock; a `kid` not in the
//! set causes at most one refetch every 30 seconds; a set older than an hour is refetched in the
//! background, so a key Forge removed stops working; while the key server cannot be reached, or
//! answers a set without a usable key, the cached keys keep working. The URL is configuration,
//! never taken from a token.

use crate::metrics::{KeySource, Metrics};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::outgoing::read_capped;

/// At most one fetch of the key set per this long for unknown `kid`s.
const REFETCH_EVERY: Duration = Duration::from_secs(30);
/// A set older than this is refetched in the background.
pub const MAX_AGE: Duration = Duration::from_secs(60 * 60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_KEY_SET_BYTES: usize = 256 * 1024;
/// RSA keys shorter than this are not used.
const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key set has no key with this `kid`")]
    UnknownKid,
    #[error("the key set could not be fetched")]
    Unavailable,
}

/// An RSA public key of Forge's key set, at least 2048 bits.
pub struct ForgeKey(ring::signature::RsaPublicKeyComponents<Vec<u8>>);

impl ForgeKey {
    /// The key of a modulus and exponent (big-endian), if the modulus has 2048 bits or more.
    pub fn from_components(modulus: &[u8], exponent: &[u8]) -> Option<Self> {
        let modulus: Vec<u8> = modulus.iter().copied().skip_while(|b| *b == 0).collect();
        let bits = modulus
            .first()
            .map_or(0, |top| modulus.len() * 8 - top.leading_zeros() as usize);
        if bits < MIN_RSA_BITS || exponent.is_empty() {
            return None;
        }
        Some(Self(ring::signature::RsaPublicKeyComponents {
            n: modulus,
            e: exponent.to_vec(),
        }))
    }

    /// Whether `signature` is this key's RS256 (PKCS#1 v1.5, SHA-256) signature of `message`.
    pub fn verifies_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            )
            .is_ok()
    }
}

type Keys = HashMap<String, Arc<ForgeKey>>;

/// The last fetch, to pace the next one.
struct LastFetch {
    at: Instant,
    succeeded: bool,
}

/// The keys, and when they are due to be fetched again in the background.
struct Cached {
    keys: Keys,
    refresh_at: Option<Instant>,
}

pub struct ForgeKeys {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    http: reqwest::Client,
    max_age: Duration,
    cached: ArcSwap<Cached>,
    last_fetch: Mutex<Option<LastFetch>>,
    refreshing: AtomicBool,
    metrics: Option<Arc<Metrics>>,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("not a JWKS document: {0}")]
    NotJwks(#[from] serde_json::Error),
    #[error("the key set has no usable RS256 key")]
    NoUsableKey,
}

/// The usable keys of a JWKS document: RSA signing keys of at least 2048 bits, by `kid`. An
/// entry that is not a key of that kind is skipped, and a set without any is refused.
pub fn parse_key_set(body: &[u8]) -> Result<Keys, KeySetError> {
    let set: KeySet = serde_json::from_slice(body)?;
    let keys: Keys = set
        .keys
        .into_iter()
        .filter_map(|entry| serde_json::from_value::<Jwk>(entry).ok())
        .filter(|jwk| jwk.kty.as_deref() == Some("RSA"))
        .filter(|jwk| jwk.alg.as_deref().is_none_or(|alg| alg == "RS256"))
        .filter(|jwk| jwk.usage.as_deref().is_none_or(|usage| usage == "sig"))
        .filter_map(|jwk| {
            let (kid, n, e) = (jwk.kid?, jwk.n?, jwk.e?);
            let modulus = URL_SAFE_NO_PAD.decode(&n).ok()?;
            let exponent = URL_SAFE_NO_PAD.decode(&e).ok()?;
            let Some(key) = ForgeKey::from_components(&modulus, &exponent) else {
                tracing::warn!(kid, "Forge key set: an RSA key under 2048 bits, ignored");
                return None;
            };
            Some((kid, Arc::new(key)))
        })
        .collect();
    if keys.is_empty() {
        return Err(KeySetError::NoUsableKey);
    }
    Ok(keys)
}

impl ForgeKeys {
    pub fn new(url: &str) -> Self {
        Self::with_max_age(url, MAX_AGE)
    }

    /// A cache whose set is refetched in the background once older than `max_age`.
    pub fn with_max_age(url: &str, max_age: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("static reqwest configuration is valid");
        Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                http,
                max_age,
                cached: ArcSwap::from_pointee(Cached {
                    keys: HashMap::new(),
                    refresh_at: None,
                }),
                last_fetch: Mutex::new(None),
                refreshing: AtomicBool::new(false),
                metrics: None,
            }),
        }
    }

    /// Count every fetch of the set in `metrics`.
    pub fn with_metrics(mut self, metrics: Option<Arc<Metrics>>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("not shared before it is set up")
            .metrics = metrics;
        self
    }

    /// The key of `kid`: from the cached set, else from a fresh fetch (paced).
    pub async fn key(&self, kid: &str) -> Result<Arc<ForgeKey>, KeyError> {
        let inner = &self.inner;
        let cached = inner.cached.load();
        if let Some(key) = cached.keys.get(kid) {
            if cached.refresh_at.is_some_and(|at| at <= Instant::now()) {
                self.refresh_in_background();
            }
            return Ok(key.clone());
        }
        let mut last = inner.last_fetch.lock().await;
        // Another request may have fetched the set while this one waited.
        if let Some(key) = inner.cached.load().keys.get(kid) {
            return Ok(key.clone());
        }
        if let Some(previous) = last.as_ref()
            && previous.at.elapsed() < REFETCH_EVERY
        {
            return Err(if previous.succeeded {
                KeyError::UnknownKid
            } else {
                KeyError::Unavailable
            });
        }
        let fetched = inner.fetch_and_store(&mut last).await;
        match fetched {
            Ok(()) => inner
                .cached
                .load()
                .keys
                .get(kid)
                .cloned()
                .ok_or(KeyError::UnknownKid),
            // The cached keys stay: they keep working while the key server is down.
            Err(()) => Err(KeyError::Unavailable),
        }
    }

    /// One background refetch at a time; the request that noticed the set is old does not wait.
    fn refresh_in_background(&self) {
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let mut last = inner.last_fetch.lock().await;
            if inner.fetch_and_store(&mut last).await.is_err() {
                // Keep the keys; try again after the usual pause.
                let keys = inner.cached.load().keys.clone();
                inner.cached.store(Arc::new(Cached {
                    keys,
                    refresh_at: Some(Instant::now() + REFETCH_EVERY),
                }));
            }
            drop(last);
            inner.refreshing.store(false, Ordering::Release);
        });
    }
}

impl Inner {
    /// Fetch the set; on success it replaces the cached one.
    async fn fetch_and_store(&self, last: &mut Option<LastFetch>) -> Result<(), ()> {
        let fetched = self.fetch().await;
        if let Some(metrics) = &self.metrics {
            metrics.key_fetch(KeySource::ForgeKeySet, fetched.is_ok());
        }
        *last = Some(LastFetch {
            at: Instant::now(),
            succeeded: fetched.is_ok(),
        });
        let keys = fetched?;
        self.cached.store(Arc::new(Cached {
            keys,
            refresh_at: Some(Instant::now() + self.max_age),
        }));
        Ok(())
    }

    async fn fetch(&self) -> Result<Keys, ()> {
        let response = self.http.get(&self.url).send().await.map_err(|error| {
            tracing::warn!(error = %error.without_url(), "Forge key set unreachable");
        })?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(%status, "Forge key set refused");
            return Err(());
        }
        let body = read_capped(response, MAX_KEY_SET_BYTES)
            .await
            .map_err(|error| tracing::warn!(%error, "Forge key set unreadable"))?;
        let keys = parse_key_set(&body)
            .map_err(|error| tracing::warn!(%error, "Forge key set not used"))?;
        tracing::info!(keys = keys.len(), "Forge key set fetched");
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::keys;

    fn jwk(kid: &str, n: &[u8], extra: serde_json::Value) -> serde_json::Value {
        let mut jwk = serde_json::json!({
            "kty": "RSA", "kid": kid, "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB",
        });
        jwk.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        jwk
    }

    #[test]
    fn only_rsa_signing_keys_of_2048_bits_are_kept() {
        let modulus = &keys::sandbox().modulus;
        let set = serde_json::json!({"keys": [
            jwk("good", modulus, serde_json::json!({})),
            jwk("with-alg-and-use", modulus, serde_json::json!({"alg": "RS256", "use": "sig"})),
            jwk("short", &modulus[..128], serde_json::json!({})),
            jwk("for-encryption", modulus, serde_json::json!({"use": "enc"})),
            jwk("other-alg", modulus, serde_json::json!({"alg": "RS512"})),
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "x", "y": "y"},
            {"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(modulus), "e": "AQAB"},
        ]});
        let keys = parse_key_set(set.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort();
        assert_eq!(kids, ["good", "with-alg-and-use"]);
        for not_a_key_set in [&b"[]"[..], b"{}", b"\"keys\"", b"{\"keys\": 1}"] {
            assert!(parse_key_set(not_a_key_set).is_err());
        }
        // A set without a usable key is refused (the cached one stays), and an entry of the
        // wrong shape does not spoil the others.
        assert!(matches!(
            parse_key_set(br#"{"keys": []}"#),
            Err(KeySetError::NoUsableKey)
        ));
        let odd = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": 7, "n": "AQAB", "e": "AQAB"},
            jwk("good", modulus, serde_json::json!({})),
        ]});
        assert_eq!(parse_key_set(odd.to_string().as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn the_size_rule_counts_bits_not_bytes() {
        let exponent = [1, 0, 1];
        let mut modulus = vec![0xff; 256];
        assert!(
            ForgeKey::from_components(&modulus, &exponent).is_some(),
            "2048 bits"
        );
        modulus[0] = 0x7f;
        assert!(
            ForgeKey::from_components(&modulus, &exponent).is_none(),
            "2047 bits"
        );
        let mut padded = vec![0, 0];
        padded.extend([0xffu8; 256]);
        assert!(
            ForgeKey::from_components(&padded, &exponent).is_some(),
            "leading zeros"
        );
    }
}
