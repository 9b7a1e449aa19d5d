//! Compact JWS (RFC 7515), the form of every token the app reads: Connect JWTs, signed-install
//! tokens, unlock tokens. One parser for all of them, so the rules that hold for every kind live
//! here once: the header is decoded on the stack, `alg` is read as the token states it, and a
//! `crit` header is refused (RFC 7515 §4.1.11: the app understands no extension). The signature
//! is checked over the exact `header.payload` bytes before the caller trusts a claim.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::IgnoredAny;
use sha2::Sha256;

/// Longest encoded header looked at; real ones are under 100 characters.
const MAX_HEADER_B64: usize = 512;

/// The algorithms the app knows by name; anything else is [`Alg::Other`] (never accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    HS256,
    RS256,
    ES256,
    EdDSA,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's header has a `crit` parameter, which this app does not understand")]
    CriticalHeader,
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    /// Present at all, even `null`.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// `true` for a member that is there, whatever its value (`null` included): for members whose
/// mere presence refuses a token.
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// A token split into its parts, its header read; nothing verified yet.
#[derive(Debug)]
pub struct Jws<'a> {
    /// `header.payload`: the bytes the signature covers.
    pub signing_input: &'a str,
    payload_b64: &'a str,
    signature_b64: &'a str,
    pub alg: Alg,
    pub kid: Option<String>,
}

impl<'a> Jws<'a> {
    /// Split `header.payload.signature` and read the header. The caller caps the length first.
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        let (signing_input, signature_b64) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
        let (header_b64, payload_b64) = signing_input.split_once('.').ok_or(JwsError::Malformed)?;
        if header_b64.len() > MAX_HEADER_B64 {
            return Err(JwsError::Malformed);
        }
        let mut buffer = [0u8; MAX_HEADER_B64];
        let len = URL_SAFE_NO_PAD
            .decode_slice(header_b64, &mut buffer)
            .map_err(|_| JwsError::Malformed)?;
        let header: RawHeader<'_> =
            serde_json::from_slice(&buffer[..len]).map_err(|_| JwsError::Malformed)?;
        if header.crit {
            return Err(JwsError::CriticalHeader);
        }
        let alg = match header.alg.as_ref() {
            "HS256" => Alg::HS256,
            "RS256" => Alg::RS256,
            "ES256" => Alg::ES256,
            "EdDSA" => Alg::EdDSA,
            _ => Alg::Other,
        };
        Ok(Self {
            signing_input,
            payload_b64,
            signature_b64,
            alg,
            kid: header.kid.map(Cow::into_owned),
        })
    }

    /// The decoded payload (JSON bytes), for the caller to read its claims from.
    pub fn payload(&self) -> Result<Vec<u8>, JwsError> {
        URL_SAFE_NO_PAD
            .decode(self.payload_b64)
            .map_err(|_| JwsError::Malformed)
    }

    /// The signature's bytes (`None`: not base64url).
    pub fn signature(&self) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(self.signature_b64).ok()
    }

    /// The signature part, base64url as sent.
    pub fn signature_b64(&self) -> &'a str {
        self.signature_b64
    }

    /// Whether the signature is the HS256 tag of the signing input under `key`, compared in
    /// constant time. A signature that does not decode to 32 bytes simply does not match.
    pub fn hs256_matches(&self, key: &[u8]) -> bool {
        self.hs256_matches_keyed(
            &Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length"),
        )
    }

    /// [`Self::hs256_matches`] from a keyed HMAC state (the key schedule computed once).
    pub fn hs256_matches_keyed(&self, keyed: &Hmac<Sha256>) -> bool {
        let mut tag = [0u8; 32];
        if !matches!(
            URL_SAFE_NO_PAD.decode_slice(self.signature_b64, &mut tag),
            Ok(32)
        ) {
            return false;
        }
        let mut mac = keyed.clone();
        mac.update(self.signing_input.as_bytes());
        mac.verify_slice(&tag).is_ok()
    }

    /// Read the claims of the payload with `read`, the payload decoded on the stack when it is
    /// small (every real token's is).
    pub fn read_payload<T>(&self, read: impl FnOnce(&[u8]) -> T) -> Result<T, JwsError> {
        let mut buffer = [0u8; 1536];
        match URL_SAFE_NO_PAD.decode_slice(self.payload_b64, &mut buffer) {
            Ok(len) => Ok(read(&buffer[..len])),
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => Ok(read(&self.payload()?)),
            Err(_) => Err(JwsError::Malformed),
        }
    }
}

/// A claim as sent: absent, a number, a string, or anything else, so that each problem gets its
/// own error.
#[derive(Debug, Default)]
pub enum Claim {
    #[default]
    Missing,
    Number(f64),
    Text(String),
    Other,
}

impl<'de> Deserialize<'de> for Claim {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ClaimVisitor)
    }
}

struct ClaimVisitor;

impl<'de> serde::de::Visitor<'de> for ClaimVisitor {
    type Value = Claim;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_i64<E>(self, n: i64) -> Result<Claim, E> {
        Ok(Claim::Number(n as f64))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Claim, E> {
        Ok(Claim::Number(n as f64))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Claim, E> {
        Ok(Claim::Number(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Claim, E> {
        Ok(Claim::Text(s.to_owned()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Claim, E> {
        Ok(Claim::Other)
    }

    fn visit_unit<E>(self) -> Result<Claim, E> {
        Ok(Claim::Other)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Claim, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Claim::Other)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Claim, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Claim::Other)
    }
}

/// What is wrong with a required claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimProblem {
    Missing(&'static str),
    Invalid(&'static str),
}

impl Claim {
    /// The claim as a number (a NumericDate, say).
    pub fn number(&self, name: &'static str) -> Result<f64, ClaimProblem> {
        match self {
            Self::Number(n) => Ok(*n),
            Self::Missing => Err(ClaimProblem::Missing(name)),
            _ => Err(ClaimProblem::Invalid(name)),
        }
    }

    /// The claim as a string.
    pub fn text(&self, name: &'static str) -> Result<&str, ClaimProblem> {
        match self {
            Self::Text(s) => Ok(s),
            Self::Missing => Err(ClaimProblem::Missing(name)),
            _ => Err(ClaimProblem::Invalid(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.sig", b64(header), b64(payload))
    }

    type Expected = Result<(Alg, Option<&'static str>), JwsError>;

    #[test]
    fn headers() {
        let cases: Vec<(String, Expected)> = vec![
            (
                token(r#"{"alg":"HS256","typ":"JWT"}"#, "{}"),
                Ok((Alg::HS256, None)),
            ),
            (
                token(r#"{"alg":"RS256","kid":"a/b"}"#, "{}"),
                Ok((Alg::RS256, Some("a/b"))),
            ),
            (
                token(r#"{"alg":"ES256","kid":"k"}"#, "{}"),
                Ok((Alg::ES256, Some("k"))),
            ),
            (token(r#"{"alg":"EdDSA"}"#, "{}"), Ok((Alg::EdDSA, None))),
            (token(r#"{"alg":"Ed25519"}"#, "{}"), Ok((Alg::Other, None))),
            (token(r#"{"alg":"none"}"#, "{}"), Ok((Alg::Other, None))),
            (token(r#"{"alg":"hs256"}"#, "{}"), Ok((Alg::Other, None))),
            (
                token(r#"{"alg":"HS256","crit":["exp"]}"#, "{}"),
                Err(JwsError::CriticalHeader),
            ),
            (
                token(r#"{"alg":"HS256","crit":"x"}"#, "{}"),
                Err(JwsError::CriticalHeader),
            ),
            (
                token(r#"{"alg":"HS256","crit":null}"#, "{}"),
                Err(JwsError::CriticalHeader),
            ),
            (token(r#"{"typ":"JWT"}"#, "{}"), Err(JwsError::Malformed)),
            (token(r#"{"alg":1}"#, "{}"), Err(JwsError::Malformed)),
            (token("not json", "{}"), Err(JwsError::Malformed)),
            ("a.b".into(), Err(JwsError::Malformed)),
            ("nodots".into(), Err(JwsError::Malformed)),
            (
                format!("{}.e30.sig", "e".repeat(MAX_HEADER_B64 + 1)),
                Err(JwsError::Malformed),
            ),
        ];
        for (token, expected) in cases {
            let got = Jws::parse(&token).map(|jws| (jws.alg, jws.kid));
            let expected = expected.map(|(alg, kid)| (alg, kid.map(str::to_owned)));
            assert_eq!(got, expected, "{token}");
        }
    }

    #[test]
    fn hs256_signatures_are_checked_over_the_exact_bytes() {
        let key = b"the key";
        let signing_input = format!("{}.{}", b64(r#"{"alg":"HS256"}"#), b64(r#"{"a":1}"#));
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(signing_input.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let good = format!("{signing_input}.{tag}");
        assert!(Jws::parse(&good).unwrap().hs256_matches(key));
        assert!(!Jws::parse(&good).unwrap().hs256_matches(b"another key"));
        let truncated = format!("{signing_input}.{}", &tag[..20]);
        assert!(!Jws::parse(&truncated).unwrap().hs256_matches(key));
        let edited = good.replacen(&b64(r#"{"a":1}"#), &b64(r#"{"a":2}"#), 1);
        assert!(!Jws::parse(&edited).unwrap().hs256_matches(key));
        assert_eq!(
            Jws::parse(&good).unwrap().payload().unwrap(),
            br#"{"a":1}"#.to_vec()
        );
        assert_eq!(
            Jws::parse(&good).unwrap().read_payload(<[u8]>::to_vec),
            Ok(br#"{"a":1}"#.to_vec())
        );
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(4000));
        let big_token = format!("{}.{}.sig", b64(r#"{"alg":"HS256"}"#), b64(&big));
        assert_eq!(
            Jws::parse(&big_token).unwrap().read_payload(<[u8]>::to_vec),
            Ok(big.into_bytes()),
            "a payload too large for the stack is decoded on the heap"
        );
    }
}
