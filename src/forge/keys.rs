//! Forge's key set (JWKS), cached: a token's `kid` is looked up without a lock; a `kid` not in the
//! set causes at most one refetch every 30 seconds; while the key server cannot be reached the
//! cached keys keep working. The URL is configuration, never taken from a token.

use std::collections::HashMap;
use std::sync::Arc;
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
        if modulus.len() * 8 < MIN_RSA_BITS || exponent.is_empty() {
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

pub struct ForgeKeys {
    url: String,
    http: reqwest::Client,
    keys: ArcSwap<Keys>,
    last_fetch: Mutex<Option<LastFetch>>,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Jwk>,
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

/// The usable keys of a JWKS document: RSA signing keys of at least 2048 bits, by `kid`.
pub fn parse_key_set(body: &[u8]) -> Result<Keys, serde_json::Error> {
    let set: KeySet = serde_json::from_slice(body)?;
    Ok(set
        .keys
        .into_iter()
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
        .collect())
}

impl ForgeKeys {
    pub fn new(url: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("static reqwest configuration is valid");
        Self {
            url: url.to_owned(),
            http,
            keys: ArcSwap::from_pointee(HashMap::new()),
            last_fetch: Mutex::new(None),
        }
    }

    /// The key of `kid`: from the cached set, else from a fresh fetch (paced).
    pub async fn key(&self, kid: &str) -> Result<Arc<ForgeKey>, KeyError> {
        if let Some(key) = self.keys.load().get(kid) {
            return Ok(key.clone());
        }
        let mut last = self.last_fetch.lock().await;
        // Another request may have fetched the set while this one waited.
        if let Some(key) = self.keys.load().get(kid) {
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
        let fetched = self.fetch().await;
        *last = Some(LastFetch {
            at: Instant::now(),
            succeeded: fetched.is_ok(),
        });
        match fetched {
            Ok(keys) => {
                let found = keys.get(kid).cloned();
                self.keys.store(Arc::new(keys));
                found.ok_or(KeyError::UnknownKid)
            }
            // The cached keys stay: they keep working while the key server is down.
            Err(()) => Err(KeyError::Unavailable),
        }
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
            .map_err(|error| tracing::warn!(%error, "Forge key set is not a JWKS"))?;
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
    }
}
