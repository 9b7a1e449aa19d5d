//! Unlock tokens: HS256 JWTs a customer's backend mints with a share's unlock secret (`docs/SECURITY.md`).
//!
//! Rules: header `alg` exactly `HS256`; `nbf`, `exp` numeric and `iss` a string, all required;
//! `nbf <= now < exp`; `exp - nbf <= 60`; `iss` is the share's uuid; the signature verifies with
//! the share's unlock secret (or, during an overlap after a change, the previous one). A token
//! whose header names the `kid` of one of the share's public unlock keys is verified with that
//! key alone, and its `alg` must be the key's: an HS256 token naming an RSA key is refused. A
//! `kid` of no share key may name one of the site's unlock keys ([`super::site_key`]), which
//! counts only on shares of the spaces it is limited to. The token length is capped before
//! anything is parsed.

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::site_key::{SiteKey, Verifier};
use super::unlock_key::{KeyAlg, UnlockKey};
use super::{ShareId, UnlockSecret};
use crate::jws::{Alg, Claim, ClaimProblem, Jws, JwsError};

/// Longest token looked at: an HS256 one is about 200 bytes, an RS256 one with a 4096-bit key
/// and a long `kid` about 1,100.
pub const MAX_UNLOCK_TOKEN_LEN: usize = 2048;
/// Longest lifetime (`exp - nbf`) a token may claim, in seconds.
pub const MAX_LIFETIME_SECS: f64 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("the unlock token is too long")]
    TooLong,
    #[error("the unlock token is not a valid token")]
    Malformed,
    #[error(
        "the unlock token's `alg` is not the algorithm of its key (HS256 for the unlock secret)"
    )]
    AlgorithmNotAllowed,
    #[error("the unlock token names no public unlock key of this share in its `kid`")]
    UnknownKey,
    #[error("the unlock token names a site unlock key limited to other spaces than this share's")]
    KeyNotForThisSpace,
    #[error(
        "the unlock token's header has a `crit` parameter, which Pageshare does not understand"
    )]
    CriticalHeader,
    #[error("the unlock token's signature does not match this share's unlock secret or key")]
    BadSignature,
    #[error("the unlock token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the unlock token's `{0}` claim has the wrong type")]
    InvalidClaim(&'static str),
    #[error("the unlock token is not valid yet")]
    NotYetValid,
    #[error("the unlock token has expired")]
    Expired,
    #[error("the unlock token is valid for more than 60 seconds")]
    LifetimeTooLong,
    #[error("the unlock token was made for another share")]
    WrongShare,
}

impl UnlockError {
    /// The short reason shown to the reader above the password form.
    pub fn reader_message(self) -> &'static str {
        match self {
            Self::Expired => {
                "This unlock link has expired. Ask the site that sent you here for a new one, or enter the password."
            }
            Self::NotYetValid => {
                "This unlock link is not valid yet. Check your clock, or enter the password."
            }
            _ => "This unlock link is not valid for this page. Enter the password instead.",
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    nbf: Claim,
    #[serde(default)]
    exp: Claim,
    #[serde(default)]
    iss: Claim,
}

impl From<ClaimProblem> for UnlockError {
    fn from(problem: ClaimProblem) -> Self {
        match problem {
            ClaimProblem::Missing(name) => Self::MissingClaim(name),
            ClaimProblem::Invalid(name) => Self::InvalidClaim(name),
        }
    }
}

/// What may sign a share's unlock tokens at a given time.
#[derive(Debug, Clone, Copy)]
pub struct UnlockCredentials<'a> {
    pub secret: &'a UnlockSecret,
    /// The secret before the last change, while its overlap window is open.
    pub previous: Option<&'a UnlockSecret>,
    /// The share's public unlock keys.
    pub keys: &'a [UnlockKey],
    /// Its site's unlock keys, and the space of the share's page (which of them count; see
    /// [`UnlockToken::verify_but_the_space`] for the page's space now).
    pub site_keys: &'a [SiteKey],
    pub space_key: &'a str,
}

impl<'a> From<&'a UnlockSecret> for UnlockCredentials<'a> {
    fn from(secret: &'a UnlockSecret) -> Self {
        Self {
            secret,
            previous: None,
            keys: &[],
            site_keys: &[],
            space_key: "",
        }
    }
}

fn jws_alg(alg: KeyAlg) -> Alg {
    match alg {
        KeyAlg::EdDSA => Alg::EdDSA,
        KeyAlg::ES256 => Alg::ES256,
        KeyAlg::RS256 => Alg::RS256,
    }
}

impl UnlockCredentials<'_> {
    /// Whether the token's signature verifies with what its header names: the share's public
    /// key of its `kid`, else the site key of that `kid` (each with its own algorithm only), else
    /// the secret(s) with HS256. An HS256 token whose `kid` names no key is checked with the
    /// secret, as before keys existed.
    fn signature_matches(&self, jws: &Jws<'_>) -> Result<bool, UnlockError> {
        let Some(kid) = jws.kid.as_deref() else {
            return self.secret_matches(jws);
        };
        if let Some(key) = self.keys.iter().find(|key| key.kid == kid) {
            return Self::key_matches(key, jws);
        }
        let Some(site_key) = self.site_keys.iter().find(|key| key.kid == kid) else {
            return self.secret_matches(jws);
        };
        if !site_key.covers(self.space_key) {
            return Err(UnlockError::KeyNotForThisSpace);
        }
        match &site_key.verifier {
            Verifier::Public(key) => Self::key_matches(key, jws),
            Verifier::Secret(keyed) if jws.alg == Alg::HS256 => Ok(jws.hs256_matches_keyed(keyed)),
            Verifier::Secret(_) => Err(UnlockError::AlgorithmNotAllowed),
        }
    }

    /// A public key's verdict, with its own algorithm only.
    fn key_matches(key: &UnlockKey, jws: &Jws<'_>) -> Result<bool, UnlockError> {
        if jws.alg != jws_alg(key.alg) {
            return Err(UnlockError::AlgorithmNotAllowed);
        }
        Ok(jws
            .signature()
            .is_some_and(|signature| key.verifies(jws.signing_input.as_bytes(), &signature)))
    }

    /// The share's secret(s) decide, for an HS256 token; any other names a key it does not have.
    fn secret_matches(&self, jws: &Jws<'_>) -> Result<bool, UnlockError> {
        match jws.alg {
            Alg::HS256 => Ok(self.hs256_matches(jws)),
            Alg::Other => Err(UnlockError::AlgorithmNotAllowed),
            _ => Err(UnlockError::UnknownKey),
        }
    }

    /// Whether an HS256 signature is the tag of either secret. Both tags are always computed and
    /// each compared in constant time, so the answer's timing does not tell which one matched.
    fn hs256_matches(&self, jws: &Jws<'_>) -> bool {
        let current = jws.hs256_matches(self.secret.as_bytes());
        let previous = self
            .previous
            .is_some_and(|previous| jws.hs256_matches(previous.as_bytes()));
        current | previous
    }
}

/// Verify an unlock token for `share` at time `now` (seconds), with `leeway_secs` on `nbf`/`exp`.
pub fn verify_unlock<'a>(
    token: &str,
    share: ShareId,
    credentials: impl Into<UnlockCredentials<'a>>,
    now: i64,
    leeway_secs: u64,
) -> Result<(), UnlockError> {
    UnlockToken::parse(token)?.verify(share, credentials, now, leeway_secs)
}

/// An unlock token parsed (its length capped first), not verified yet: the share page looks at
/// the key it names before it verifies it.
pub struct UnlockToken<'t>(Jws<'t>);

impl<'t> UnlockToken<'t> {
    pub fn parse(token: &'t str) -> Result<Self, UnlockError> {
        if token.len() > MAX_UNLOCK_TOKEN_LEN {
            return Err(UnlockError::TooLong);
        }
        Jws::parse(token).map(Self).map_err(|error| match error {
            JwsError::Malformed => UnlockError::Malformed,
            JwsError::CriticalHeader => UnlockError::CriticalHeader,
        })
    }

    /// Verify the token as [`Self::verify`] does, except the space of a site key limited to
    /// spaces (named by the `kid`, no key of the share holding it): then `Ok(Some(key))`, and the
    /// token unlocks if `key` covers the space the page is in now, which the caller looks up only
    /// for a token valid in every other respect. `Ok(None)`: it unlocks.
    pub fn verify_but_the_space<'k>(
        &self,
        share: ShareId,
        credentials: UnlockCredentials<'k>,
        now: i64,
        leeway_secs: u64,
    ) -> Result<Option<&'k SiteKey>, UnlockError> {
        let Some((site_key, one_of_its_spaces)) = self.space_limited_site_key(&credentials) else {
            return self
                .verify(share, credentials, now, leeway_secs)
                .map(|()| None);
        };
        let in_its_space = UnlockCredentials {
            space_key: one_of_its_spaces,
            ..credentials
        };
        self.verify(share, in_its_space, now, leeway_secs)
            .map(|()| Some(site_key))
    }

    /// The site key limited to spaces the token's `kid` names, unless a key of the share holds
    /// that kid (it decides then), with the first of its spaces.
    fn space_limited_site_key<'k>(
        &self,
        credentials: &UnlockCredentials<'k>,
    ) -> Option<(&'k SiteKey, &'k str)> {
        let kid = self.0.kid.as_deref()?;
        if credentials.keys.iter().any(|key| key.kid == kid) {
            return None;
        }
        let site_key = credentials.site_keys.iter().find(|key| key.kid == kid)?;
        Some((site_key, site_key.space_keys.first()?.as_str()))
    }

    /// Verify the token for `share` at time `now` (seconds), with `leeway_secs` on `nbf`/`exp`.
    ///
    /// The signature is checked over the token's exact `header.payload` bytes (HMACs in
    /// constant time) before any claim is trusted.
    pub fn verify<'a>(
        &self,
        share: ShareId,
        credentials: impl Into<UnlockCredentials<'a>>,
        now: i64,
        leeway_secs: u64,
    ) -> Result<(), UnlockError> {
        let jws = &self.0;
        let signed = credentials.into().signature_matches(jws)?;
        let payload = jws.payload().map_err(|_| UnlockError::Malformed)?;
        let claims: Claims =
            serde_json::from_slice(&payload).map_err(|_| UnlockError::Malformed)?;
        if !signed {
            return Err(UnlockError::BadSignature);
        }
        let nbf = claims.nbf.number("nbf")?;
        let exp = claims.exp.number("exp")?;
        let iss = claims.iss.text("iss")?;
        let now = now as f64;
        let leeway = leeway_secs as f64;
        if exp - nbf > MAX_LIFETIME_SECS {
            return Err(UnlockError::LifetimeTooLong);
        }
        if now + leeway < nbf {
            return Err(UnlockError::NotYetValid);
        }
        if now >= exp + leeway {
            return Err(UnlockError::Expired);
        }
        if ShareId::parse(iss) != Some(share) {
            return Err(UnlockError::WrongShare);
        }
        Ok(())
    }
}

/// A token as a customer's backend mints it: `nbf` now, `exp` `ttl_secs` later, `iss` the share.
pub fn mint_unlock_token(share: ShareId, secret: &UnlockSecret, now: i64, ttl_secs: i64) -> String {
    let claims = serde_json::json!({"nbf": now, "exp": now + ttl_secs, "iss": share.to_string()});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing of JSON claims cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    const NOW: i64 = 1_800_000_000;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn signed(alg: Algorithm, claims: &Value, key: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
    }

    #[test]
    fn the_rules_one_case_each() {
        let share = ShareId::new();
        let secret = UnlockSecret::generate();
        let other_share = ShareId::new();
        let other_secret = UnlockSecret::generate();
        let key = secret.as_bytes().as_slice();
        let iss = share.to_string();
        let claims = |nbf: Value, exp: Value| json!({"nbf": nbf, "exp": exp, "iss": iss});
        let valid = claims(json!(NOW - 10), json!(NOW + 30));
        let without = |name: &str| {
            let mut c = valid.clone();
            c.as_object_mut().unwrap().remove(name);
            c
        };
        let rs256 = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &valid,
            &crate::sandbox::keys::stranger().encoding,
        )
        .unwrap();
        let alg_none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(valid.to_string().as_bytes())
        );
        let hs256 = |c: &Value| signed(Algorithm::HS256, c, key);
        let cases: Vec<(&str, String, Result<(), UnlockError>)> = vec![
            ("valid", hs256(&valid), Ok(())),
            (
                "exp - nbf = 60 accepted",
                hs256(&claims(json!(NOW - 30), json!(NOW + 30))),
                Ok(()),
            ),
            (
                "exp - nbf = 61 refused",
                hs256(&claims(json!(NOW - 30), json!(NOW + 31))),
                Err(UnlockError::LifetimeTooLong),
            ),
            (
                "nbf = now accepted",
                hs256(&claims(json!(NOW), json!(NOW + 60))),
                Ok(()),
            ),
            (
                "nbf in the future",
                hs256(&claims(json!(NOW + 1), json!(NOW + 60))),
                Err(UnlockError::NotYetValid),
            ),
            (
                "exp reached",
                hs256(&claims(json!(NOW - 60), json!(NOW))),
                Err(UnlockError::Expired),
            ),
            (
                "fractional times are numeric dates",
                hs256(&claims(json!(NOW as f64 - 0.5), json!(NOW as f64 + 0.5))),
                Ok(()),
            ),
            (
                "iss of another share",
                hs256(&json!({"nbf": NOW - 10, "exp": NOW + 30, "iss": other_share.to_string()})),
                Err(UnlockError::WrongShare),
            ),
            (
                "iss not a uuid",
                hs256(&json!({"nbf": NOW - 10, "exp": NOW + 30, "iss": "acme"})),
                Err(UnlockError::WrongShare),
            ),
            (
                "signed with another share's secret",
                signed(Algorithm::HS256, &valid, other_secret.as_bytes()),
                Err(UnlockError::BadSignature),
            ),
            ("alg none", alg_none, Err(UnlockError::AlgorithmNotAllowed)),
            (
                "crit header",
                jsonwebtoken::encode(
                    &Header {
                        crit: Some(vec!["exp".into()]),
                        ..Header::new(Algorithm::HS256)
                    },
                    &valid,
                    &EncodingKey::from_secret(key),
                )
                .unwrap(),
                Err(UnlockError::CriticalHeader),
            ),
            (
                "HS384",
                signed(Algorithm::HS384, &valid, key),
                Err(UnlockError::AlgorithmNotAllowed),
            ),
            ("RS256", rs256, Err(UnlockError::UnknownKey)),
            (
                "string-typed nbf",
                hs256(&claims(json!((NOW - 10).to_string()), json!(NOW + 30))),
                Err(UnlockError::InvalidClaim("nbf")),
            ),
            (
                "string-typed exp",
                hs256(&claims(json!(NOW - 10), json!((NOW + 30).to_string()))),
                Err(UnlockError::InvalidClaim("exp")),
            ),
            (
                "numeric iss",
                hs256(&json!({"nbf": NOW - 10, "exp": NOW + 30, "iss": 42})),
                Err(UnlockError::InvalidClaim("iss")),
            ),
            (
                "missing nbf",
                hs256(&without("nbf")),
                Err(UnlockError::MissingClaim("nbf")),
            ),
            (
                "missing exp",
                hs256(&without("exp")),
                Err(UnlockError::MissingClaim("exp")),
            ),
            (
                "missing iss",
                hs256(&without("iss")),
                Err(UnlockError::MissingClaim("iss")),
            ),
            (
                "a 100 KB token",
                format!(
                    "{}.{}.x",
                    b64(br#"{"alg":"HS256"}"#),
                    "a".repeat(100 * 1024)
                ),
                Err(UnlockError::TooLong),
            ),
            ("garbage", "garbage".into(), Err(UnlockError::Malformed)),
            (
                "three garbage parts",
                "a.b.c".into(),
                Err(UnlockError::Malformed),
            ),
            ("empty", String::new(), Err(UnlockError::Malformed)),
        ];
        for (name, token, expected) in cases {
            assert_eq!(
                verify_unlock(&token, share, &secret, NOW, 0),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn old_secret_stops_working_after_a_change() {
        let share = ShareId::new();
        let old = UnlockSecret::generate();
        let new = UnlockSecret::generate();
        let claims = json!({"nbf": NOW, "exp": NOW + 60, "iss": share.to_string()});
        let with_old = signed(Algorithm::HS256, &claims, old.as_bytes());
        assert_eq!(verify_unlock(&with_old, share, &old, NOW, 0), Ok(()));
        assert_eq!(
            verify_unlock(&with_old, share, &new, NOW, 0),
            Err(UnlockError::BadSignature)
        );
    }

    #[test]
    fn during_an_overlap_either_secret_unlocks_and_no_other() {
        let share = ShareId::new();
        let (current, previous, stranger) = (
            UnlockSecret::generate(),
            UnlockSecret::generate(),
            UnlockSecret::generate(),
        );
        let both = UnlockCredentials {
            secret: &current,
            previous: Some(&previous),
            keys: &[],
            site_keys: &[],
            space_key: "ENG",
        };
        let token = |secret| mint_unlock_token(share, secret, NOW, 60);
        assert_eq!(verify_unlock(&token(&current), share, both, NOW, 0), Ok(()));
        assert_eq!(
            verify_unlock(&token(&previous), share, both, NOW, 0),
            Ok(())
        );
        assert_eq!(
            verify_unlock(&token(&stranger), share, both, NOW, 0),
            Err(UnlockError::BadSignature)
        );
        assert_eq!(
            verify_unlock(&token(&previous), share, &current, NOW, 0),
            Err(UnlockError::BadSignature),
            "once the window closes"
        );
        let other_share = mint_unlock_token(ShareId::new(), &previous, NOW, 60);
        assert_eq!(
            verify_unlock(&other_share, share, both, NOW, 0),
            Err(UnlockError::WrongShare),
            "the previous secret is held to every other rule"
        );
    }

    #[test]
    fn a_kid_naming_a_public_key_decides_key_and_algorithm() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let share = ShareId::new();
        let secret = UnlockSecret::generate();
        let ed = |seed: u8| ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let jwk =
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(ed(1).verifying_key().as_bytes())});
        let (_, key) = UnlockKey::from_jwk(&jwk).unwrap();
        let kid = key.kid.clone();
        let keys = [key];
        let credentials = UnlockCredentials {
            secret: &secret,
            previous: None,
            keys: &keys,
            site_keys: &[],
            space_key: "ENG",
        };
        let claims = json!({"nbf": NOW, "exp": NOW + 60, "iss": share.to_string()});
        let header = |alg, kid: &str| Header {
            kid: Some(kid.to_owned()),
            ..Header::new(alg)
        };
        let eddsa = |seed: u8, kid: &str| {
            let der = ed(seed).to_pkcs8_der().unwrap();
            let signing = EncodingKey::from_ed_der(der.as_bytes());
            jsonwebtoken::encode(&header(Algorithm::EdDSA, kid), &claims, &signing).unwrap()
        };
        let hs256 = |kid: &str| {
            let signing = EncodingKey::from_secret(secret.as_bytes());
            jsonwebtoken::encode(&header(Algorithm::HS256, kid), &claims, &signing).unwrap()
        };
        let rs256 = jsonwebtoken::encode(
            &header(Algorithm::RS256, &kid),
            &claims,
            &crate::sandbox::keys::stranger().encoding,
        )
        .unwrap();
        let cases = [
            ("its key, its alg", eddsa(1, &kid), Ok(())),
            (
                "another key",
                eddsa(2, &kid),
                Err(UnlockError::BadSignature),
            ),
            (
                "HS256 naming the key",
                hs256(&kid),
                Err(UnlockError::AlgorithmNotAllowed),
            ),
            (
                "RS256 naming the key",
                rs256,
                Err(UnlockError::AlgorithmNotAllowed),
            ),
            (
                "an unknown kid",
                eddsa(1, "other"),
                Err(UnlockError::UnknownKey),
            ),
            (
                "HS256 with a kid of no key: the secret",
                hs256("v1"),
                Ok(()),
            ),
        ];
        for (name, token, expected) in cases {
            assert_eq!(
                verify_unlock(&token, share, credentials, NOW, 0),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn a_kid_naming_a_site_key_decides_key_algorithm_and_spaces() {
        use crate::share::site_key::{SiteKey, Verifier};
        let share = ShareId::new();
        let secret = UnlockSecret::generate();
        let site_secret = UnlockSecret::generate();
        let ed = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "site-ed",
                         "x": b64(ed.verifying_key().as_bytes())});
        let (_, public) = UnlockKey::from_jwk(&jwk).unwrap();
        let site_keys = [
            SiteKey {
                kid: "site-hs".into(),
                space_keys: vec![],
                verifier: Verifier::secret(&site_secret),
            },
            SiteKey {
                kid: "site-ed".into(),
                space_keys: vec![],
                verifier: Verifier::Public(public),
            },
            SiteKey {
                kid: "ops-only".into(),
                space_keys: vec!["OPS".into()],
                verifier: Verifier::secret(&site_secret),
            },
        ];
        let credentials = UnlockCredentials {
            secret: &secret,
            previous: None,
            keys: &[],
            site_keys: &site_keys,
            space_key: "ENG",
        };
        let claims = json!({"nbf": NOW, "exp": NOW + 60, "iss": share.to_string()});
        let hs256_with = |kid: &str, key: &UnlockSecret, claims: &Value| {
            let header = Header {
                kid: Some(kid.to_owned()),
                ..Header::new(Algorithm::HS256)
            };
            let signing = EncodingKey::from_secret(key.as_bytes());
            jsonwebtoken::encode(&header, claims, &signing).unwrap()
        };
        let hs256 = |kid: &str, key: &UnlockSecret| hs256_with(kid, key, &claims);
        let hs256_claims = |kid: &str, claims: &Value| hs256_with(kid, &site_secret, claims);
        let eddsa = {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let header = Header {
                kid: Some("site-ed".into()),
                ..Header::new(Algorithm::EdDSA)
            };
            let der = ed.to_pkcs8_der().unwrap();
            let signing = EncodingKey::from_ed_der(der.as_bytes());
            jsonwebtoken::encode(&header, &claims, &signing).unwrap()
        };
        let cases = [
            ("HS256 site key", hs256("site-hs", &site_secret), Ok(())),
            (
                "HS256 site key, the share's secret",
                hs256("site-hs", &secret),
                Err(UnlockError::BadSignature),
            ),
            ("EdDSA site key", eddsa, Ok(())),
            (
                "HS256 naming the EdDSA site key",
                hs256("site-ed", &site_secret),
                Err(UnlockError::AlgorithmNotAllowed),
            ),
            (
                "a key of another space",
                hs256("ops-only", &site_secret),
                Err(UnlockError::KeyNotForThisSpace),
            ),
            (
                "a kid of no key: the share's secret",
                hs256("other", &secret),
                Ok(()),
            ),
            (
                "a kid of no key, the site secret",
                hs256("other", &site_secret),
                Err(UnlockError::BadSignature),
            ),
            (
                "alg none naming the HS256 site key",
                format!(
                    "{}.{}.",
                    b64(br#"{"alg":"none","kid":"site-hs"}"#),
                    b64(claims.to_string().as_bytes())
                ),
                Err(UnlockError::AlgorithmNotAllowed),
            ),
            (
                "HS384 with the site secret naming its key",
                jsonwebtoken::encode(
                    &Header {
                        kid: Some("site-hs".into()),
                        ..Header::new(Algorithm::HS384)
                    },
                    &claims,
                    &EncodingKey::from_secret(site_secret.as_bytes()),
                )
                .unwrap(),
                Err(UnlockError::AlgorithmNotAllowed),
            ),
            (
                "over 2 KB, signed with the site secret",
                hs256_claims(
                    "site-hs",
                    &json!({"nbf": NOW, "exp": NOW + 60, "iss": share.to_string(),
                            "pad": "x".repeat(MAX_UNLOCK_TOKEN_LEN)}),
                ),
                Err(UnlockError::TooLong),
            ),
        ];
        for (name, token, expected) in cases {
            assert_eq!(
                verify_unlock(&token, share, credentials, NOW, 0),
                expected,
                "{name}"
            );
        }
        // Leeway on both ends, for a site key as for the share's secret (`exp` itself excluded).
        let iss = share.to_string();
        let early = json!({"nbf": NOW + 5, "exp": NOW + 60, "iss": iss});
        let late = json!({"nbf": NOW - 55, "exp": NOW - 4, "iss": iss});
        for claims in [early, late] {
            let token = hs256_claims("site-hs", &claims);
            assert!(verify_unlock(&token, share, credentials, NOW, 4).is_err());
            assert_eq!(verify_unlock(&token, share, credentials, NOW, 5), Ok(()));
        }
        let ops = UnlockCredentials {
            space_key: "OPS",
            ..credentials
        };
        let token = hs256("ops-only", &site_secret);
        assert_eq!(verify_unlock(&token, share, ops, NOW, 0), Ok(()));
        assert_eq!(
            verify_unlock(&token, ShareId::new(), ops, NOW, 0),
            Err(UnlockError::WrongShare),
            "a site key is held to every other rule"
        );
        // A token naming a key limited to spaces is verified but for the space, which the page's
        // live space decides afterwards; only one valid in every other respect gets that far.
        let share_key =
            UnlockKey::from_jwk(&json!({"kty": "OKP", "crv": "Ed25519", "kid": "ops-only",
            "x": b64(ed.verifying_key().as_bytes())}))
            .unwrap()
            .1;
        let shadowed = [share_key];
        let shadowing = UnlockCredentials {
            keys: &shadowed,
            ..credentials
        };
        let cases = [
            (
                "its key",
                hs256("ops-only", &site_secret),
                &credentials,
                Ok(Some("ops-only")),
            ),
            (
                "a key of every space",
                hs256("site-hs", &site_secret),
                &credentials,
                Ok(None),
            ),
            (
                "another secret",
                hs256("ops-only", &secret),
                &credentials,
                Err(UnlockError::BadSignature),
            ),
            (
                "another share",
                hs256_with(
                    "ops-only",
                    &site_secret,
                    &json!({"nbf": NOW, "exp": NOW + 60, "iss": ShareId::new().to_string()}),
                ),
                &credentials,
                Err(UnlockError::WrongShare),
            ),
            (
                "a share key of its kid decides",
                hs256("ops-only", &site_secret),
                &shadowing,
                Err(UnlockError::AlgorithmNotAllowed),
            ),
        ];
        for (name, token, credentials, expected) in cases {
            let verdict = UnlockToken::parse(&token)
                .unwrap()
                .verify_but_the_space(share, *credentials, NOW, 0)
                .map(|key| key.map(|key| key.kid.as_str()));
            assert_eq!(verdict, expected, "{name}");
        }
    }

    #[test]
    fn minted_tokens_verify_for_their_lifetime_only() {
        let share = ShareId::new();
        let secret = UnlockSecret::generate();
        let token = mint_unlock_token(share, &secret, NOW, 60);
        assert_eq!(verify_unlock(&token, share, &secret, NOW, 0), Ok(()));
        assert_eq!(verify_unlock(&token, share, &secret, NOW + 59, 0), Ok(()));
        assert_eq!(
            verify_unlock(&token, share, &secret, NOW + 60, 0),
            Err(UnlockError::Expired)
        );
    }

    #[test]
    fn leeway_widens_both_ends() {
        let share = ShareId::new();
        let secret = UnlockSecret::generate();
        let early = json!({"nbf": NOW + 5, "exp": NOW + 60, "iss": share.to_string()});
        let late = json!({"nbf": NOW - 60, "exp": NOW - 5, "iss": share.to_string()});
        for claims in [early, late] {
            let token = signed(Algorithm::HS256, &claims, secret.as_bytes());
            assert!(verify_unlock(&token, share, &secret, NOW, 0).is_err());
            assert_eq!(verify_unlock(&token, share, &secret, NOW, 10), Ok(()));
        }
    }
}
