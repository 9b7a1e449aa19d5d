//! Public unlock keys (`docs/SECURITY.md`): a share's customer mints unlock tokens with a private
//! key Pageshare never sees, and registers the public half as a JWK. Ed25519 (`OKP`, `EdDSA`),
//! P-256 (`EC`, `ES256`) and RSA of 2048 to 4096 bits (`RS256`) are accepted; a JWK carrying any
//! private member is refused. A key is named by its `kid`: the JWK's own, else its RFC 7638
//! thumbprint. RS256 and ES256 signatures are verified with `ring`, Ed25519 ones with
//! `ed25519-dalek`'s strict verification (about twice as fast here as ring's; it also refuses
//! non-canonical signatures and weak keys).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA key accepted: its tokens must fit under the unlock token's length cap.
pub const MAX_RSA_BITS: usize = 4096;
/// Longest `kid`, in characters.
pub const MAX_KID_LEN: usize = 128;

/// The algorithm a key signs with, fixed by its type: a token must name this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlg {
    EdDSA,
    ES256,
    RS256,
}

impl KeyAlg {
    pub fn parse(name: &str) -> Option<Self> {
        [Self::EdDSA, Self::ES256, Self::RS256]
            .into_iter()
            .find(|alg| alg.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
}

impl fmt::Display for KeyAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a JWK is not accepted; each message tells the caller what to fix, never a key's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("jwk must be a JSON object (a single JWK, not a key set).")]
    NotAnObject,
    #[error(
        "jwk has the private member `{0}`: register the public key only, and keep the private key on your server."
    )]
    PrivateMember(&'static str),
    #[error("jwk's `kty` must be OKP (Ed25519), EC (P-256) or RSA.")]
    UnsupportedType,
    #[error("jwk's `crv` must be {0}.")]
    UnsupportedCurve(&'static str),
    #[error("jwk's `{0}` is missing or not base64url.")]
    BadMember(&'static str),
    #[error("jwk's `{0}` has the wrong length for this curve.")]
    BadLength(&'static str),
    #[error("jwk is not a valid point of P-256.")]
    NotOnCurve,
    #[error("jwk is not a valid Ed25519 public key.")]
    BadEd25519,
    #[error("jwk's RSA modulus has {0} bits; 2048 to 4096 are accepted.")]
    RsaSize(usize),
    #[error("jwk's RSA exponent must be odd, at least 3 and below 2^33.")]
    RsaExponent,
    #[error("jwk's RSA modulus is even, so it is not an RSA modulus.")]
    RsaEvenModulus,
    #[error(
        "jwk's `{0}` starts with a zero byte: a JWK number is written in its fewest bytes (RFC 7518)."
    )]
    NotMinimal(&'static str),
    #[error("jwk's `alg` must be {0} for this key type.")]
    AlgMismatch(KeyAlg),
    #[error("jwk's `use` must be \"sig\".")]
    NotForSigning,
    #[error(
        "jwk's `kid` must be 1 to 128 characters of letters, digits and . _ ~ - : @ + = (it goes in a URL)."
    )]
    BadKid,
}

impl JwkError {
    /// The member the problem is about, for the API's `field`.
    pub fn member(&self) -> &'static str {
        match self {
            Self::PrivateMember(name) | Self::BadMember(name) | Self::BadLength(name) => name,
            Self::UnsupportedType => "kty",
            Self::UnsupportedCurve(_) => "crv",
            Self::NotOnCurve | Self::BadEd25519 => "x",
            Self::RsaSize(_) | Self::RsaEvenModulus => "n",
            Self::RsaExponent => "e",
            Self::NotMinimal(name) => name,
            Self::AlgMismatch(_) => "alg",
            Self::NotForSigning => "use",
            Self::BadKid => "kid",
            Self::NotAnObject => "",
        }
    }
}

/// A public key as verification needs it.
#[derive(Clone)]
enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    /// The uncompressed SEC1 point, `04 || x || y`.
    P256(Vec<u8>),
    Rsa(ring::signature::RsaPublicKeyComponents<Vec<u8>>),
}

/// A registered public unlock key, ready to verify: its `kid`, its algorithm and the key.
#[derive(Clone)]
pub struct UnlockKey {
    pub kid: String,
    pub alg: KeyAlg,
    key: PublicKey,
}

impl fmt::Debug for UnlockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnlockKey({}, {})", self.alg, self.kid)
    }
}

/// A key as stored: `kid`, `alg`, and the JWK's required public members (RFC 7638's set).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub alg: KeyAlg,
    pub jwk: Map<String, Value>,
}

fn b64(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
        .ok_or(JwkError::BadMember(name))
}

fn text<'a>(jwk: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, JwkError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or(JwkError::BadMember(name))
}

fn fixed<const N: usize>(bytes: Vec<u8>, name: &'static str) -> Result<[u8; N], JwkError> {
    bytes.try_into().map_err(|_| JwkError::BadLength(name))
}

/// Bits of a big-endian unsigned integer.
fn bits(bytes: &[u8]) -> usize {
    let bytes = &bytes[bytes.iter().take_while(|b| **b == 0).count()..];
    bytes
        .first()
        .map_or(0, |top| bytes.len() * 8 - top.leading_zeros() as usize)
}

/// Whether `kid` may name a key: 1 to 128 of `A-Z a-z 0-9 . _ ~ - : @ + =` (it goes in a URL).
pub fn kid_is_valid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-:@+=".contains(&b))
}

impl UnlockKey {
    /// Parse a JWK as sent: refuse private members, unsupported types and weak keys; check the
    /// key; name it. The key to store, and the key ready to verify.
    pub fn from_jwk(jwk: &Value) -> Result<(StoredKey, Self), JwkError> {
        let jwk = jwk.as_object().ok_or(JwkError::NotAnObject)?;
        if let Some(private) = PRIVATE_MEMBERS.into_iter().find(|m| jwk.contains_key(*m)) {
            return Err(JwkError::PrivateMember(private));
        }
        let (alg, key, public) = match text(jwk, "kty").map_err(|_| JwkError::UnsupportedType)? {
            "OKP" => {
                if text(jwk, "crv") != Ok("Ed25519") {
                    return Err(JwkError::UnsupportedCurve("Ed25519"));
                }
                let x: [u8; 32] = fixed(b64(jwk, "x")?, "x")?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .ok()
                    .filter(|key| !key.is_weak())
                    .ok_or(JwkError::BadEd25519)?;
                (
                    KeyAlg::EdDSA,
                    PublicKey::Ed25519(key),
                    &["crv", "kty", "x"][..],
                )
            }
            "EC" => {
                if text(jwk, "crv") != Ok("P-256") {
                    return Err(JwkError::UnsupportedCurve("P-256"));
                }
                let x: [u8; 32] = fixed(b64(jwk, "x")?, "x")?;
                let y: [u8; 32] = fixed(b64(jwk, "y")?, "y")?;
                let point = [&[4u8][..], &x, &y].concat();
                p256::PublicKey::from_sec1_bytes(&point).map_err(|_| JwkError::NotOnCurve)?;
                (
                    KeyAlg::ES256,
                    PublicKey::P256(point),
                    &["crv", "kty", "x", "y"][..],
                )
            }
            "RSA" => {
                let n = b64(jwk, "n")?;
                let e = b64(jwk, "e")?;
                // One key, one thumbprint: numbers in their fewest bytes, as RFC 7518 requires.
                for (name, number) in [("n", &n), ("e", &e)] {
                    if number.first() == Some(&0) {
                        return Err(JwkError::NotMinimal(name));
                    }
                }
                if n.last().is_some_and(|b| b % 2 == 0) {
                    return Err(JwkError::RsaEvenModulus);
                }
                let size = bits(&n);
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&size) {
                    return Err(JwkError::RsaSize(size));
                }
                let exponent = (bits(&e) <= 33)
                    .then(|| e.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
                    .filter(|e| *e >= 3 && e % 2 == 1);
                if exponent.is_none() {
                    return Err(JwkError::RsaExponent);
                }
                // ring takes both without leading zeros.
                let trim = |bytes: Vec<u8>| bytes.into_iter().skip_while(|b| *b == 0).collect();
                let components = ring::signature::RsaPublicKeyComponents {
                    n: trim(n),
                    e: trim(e),
                };
                (
                    KeyAlg::RS256,
                    PublicKey::Rsa(components),
                    &["e", "kty", "n"][..],
                )
            }
            _ => return Err(JwkError::UnsupportedType),
        };
        if let Some(stated) = jwk.get("alg")
            && stated.as_str() != Some(alg.as_str())
        {
            return Err(JwkError::AlgMismatch(alg));
        }
        if let Some(usage) = jwk.get("use")
            && usage.as_str() != Some("sig")
        {
            return Err(JwkError::NotForSigning);
        }
        let required: Map<String, Value> = public
            .iter()
            .map(|name| ((*name).to_owned(), jwk[*name].clone()))
            .collect();
        let kid = match jwk.get("kid") {
            None => thumbprint(&required),
            Some(kid) => kid
                .as_str()
                .filter(|kid| kid_is_valid(kid))
                .ok_or(JwkError::BadKid)?
                .to_owned(),
        };
        let stored = StoredKey {
            kid: kid.clone(),
            alg,
            jwk: required,
        };
        Ok((stored, Self { kid, alg, key }))
    }

    /// The key of a stored row (checked when it was registered; checked again here).
    pub fn from_stored(stored: &StoredKey) -> Option<Self> {
        let mut jwk = stored.jwk.clone();
        jwk.insert("kid".into(), Value::String(stored.kid.clone()));
        let (_, key) = Self::from_jwk(&Value::Object(jwk)).ok()?;
        (key.alg == stored.alg).then_some(key)
    }

    /// Whether `signature` (as a JWS carries it) is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature::{
            ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
        };
        match &self.key {
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok()),
            PublicKey::P256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
            PublicKey::Rsa(components) => components
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
        }
    }
}

/// The RFC 7638 thumbprint of a JWK's required public members: SHA-256 of their JSON with the
/// members in lexicographic order and no whitespace, base64url.
pub fn thumbprint(required: &Map<String, Value>) -> String {
    // serde_json's map is ordered by key (no `preserve_order` feature), and strings are written
    // without whitespace: exactly RFC 7638's form.
    let json = serde_json::to_string(required).expect("a JSON map serialises");
    URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7638 §3.1's example key and its thumbprint.
    #[test]
    fn the_rfc_7638_example_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let (stored, key) = UnlockKey::from_jwk(&jwk).unwrap();
        assert_eq!(key.kid, "2011-04-29", "the JWK's own kid wins");
        assert_eq!(
            thumbprint(&stored.jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        let mut without_kid = jwk.as_object().unwrap().clone();
        without_kid.remove("kid");
        let (_, key) = UnlockKey::from_jwk(&Value::Object(without_kid)).unwrap();
        assert_eq!(key.kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        assert_eq!(key.alg, KeyAlg::RS256);
    }

    #[test]
    fn refused_jwks_say_which_member() {
        let ed_x = URL_SAFE_NO_PAD.encode(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .as_bytes(),
        );
        let ok = json!({"kty": "OKP", "crv": "Ed25519", "x": ed_x});
        let with = |name: &str, value: Value| {
            let mut jwk = ok.as_object().unwrap().clone();
            jwk.insert(name.into(), value);
            Value::Object(jwk)
        };
        assert!(UnlockKey::from_jwk(&ok).is_ok());
        let cases: Vec<(&str, Value, JwkError)> = vec![
            ("array", json!([ok.clone()]), JwkError::NotAnObject),
            ("d", with("d", json!("AAAA")), JwkError::PrivateMember("d")),
            (
                "k",
                json!({"kty": "oct", "k": "AAAA"}),
                JwkError::PrivateMember("k"),
            ),
            ("oct", json!({"kty": "oct"}), JwkError::UnsupportedType),
            (
                "no kty",
                json!({"crv": "Ed25519", "x": ed_x}),
                JwkError::UnsupportedType,
            ),
            (
                "X25519",
                with("crv", json!("X25519")),
                JwkError::UnsupportedCurve("Ed25519"),
            ),
            (
                "P-384",
                json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
                JwkError::UnsupportedCurve("P-256"),
            ),
            (
                "short x",
                with("x", json!("AAAA")),
                JwkError::BadLength("x"),
            ),
            (
                "x not base64url",
                with("x", json!("***")),
                JwkError::BadMember("x"),
            ),
            (
                "alg of another type",
                with("alg", json!("RS256")),
                JwkError::AlgMismatch(KeyAlg::EdDSA),
            ),
            (
                "HS256 alg",
                with("alg", json!("HS256")),
                JwkError::AlgMismatch(KeyAlg::EdDSA),
            ),
            (
                "enc key",
                with("use", json!("enc")),
                JwkError::NotForSigning,
            ),
            (
                "kid with a slash",
                with("kid", json!("a/b")),
                JwkError::BadKid,
            ),
            ("empty kid", with("kid", json!("")), JwkError::BadKid),
            ("numeric kid", with("kid", json!(7)), JwkError::BadKid),
            (
                "long kid",
                with("kid", json!("k".repeat(129))),
                JwkError::BadKid,
            ),
            (
                "EC point off the curve",
                json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([1u8; 32])}),
                JwkError::NotOnCurve,
            ),
            (
                "RSA exponent 1",
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xffu8; 256]), "e": "AQ"}),
                JwkError::RsaExponent,
            ),
            (
                "RSA modulus with a leading zero byte",
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([&[0u8][..], &[0xff; 256]].concat()), "e": "AQAB"}),
                JwkError::NotMinimal("n"),
            ),
            (
                "RSA exponent with a leading zero byte",
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xffu8; 256]), "e": "AAEAAQ"}),
                JwkError::NotMinimal("e"),
            ),
            (
                "RSA even modulus",
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([&[0xffu8; 255][..], &[0xfe]].concat()), "e": "AQAB"}),
                JwkError::RsaEvenModulus,
            ),
            (
                "RSA 2047 bits",
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([&[0x7fu8][..], &[0xff; 255]].concat()), "e": "AQAB"}),
                JwkError::RsaSize(2047),
            ),
            (
                "RSA 4104 bits",
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xffu8; 513]), "e": "AQAB"}),
                JwkError::RsaSize(4104),
            ),
        ];
        for (name, jwk, expected) in cases {
            assert_eq!(UnlockKey::from_jwk(&jwk).unwrap_err(), expected, "{name}");
        }
    }

    #[test]
    fn bits_of_a_modulus_ignore_leading_zeros() {
        assert_eq!(bits(&[0, 0x80, 0]), 16);
        assert_eq!(bits(&[0x01]), 1);
        assert_eq!(bits(&[]), 0);
        assert_eq!(bits(&[0, 0]), 0);
    }
}
