//! `pageshare unlock-url --key FILE`: a customer's private key, read to sign unlock tokens the
//! way their server would. PKCS#8 PEM (Ed25519, P-256, RSA), PKCS#1 (`RSA PRIVATE KEY`) and SEC1
//! (`EC PRIVATE KEY`) PEM, or a JWK with its private members. The algorithm follows the key's
//! type; the default `kid` is the RFC 7638 thumbprint of its public half, as Pageshare names a
//! key registered without a `kid`. Errors never repeat the key.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};

use crate::share::ShareId;
use crate::share::unlock_key::{MAX_RSA_BITS, MIN_RSA_BITS, thumbprint};

/// A private unlock key, ready to sign.
pub struct PrivateKey {
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    /// RFC 7638's required public members.
    pub public_jwk: Map<String, Value>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

const FORMS: &str = "PKCS#8 PEM (Ed25519, P-256 or RSA), PKCS#1 or SEC1 PEM, or a JWK with \
                     its private members";

impl PrivateKey {
    /// The key in `text` (the contents of `--key FILE`).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        if text.starts_with('{') {
            let jwk: Value = serde_json::from_str(text)
                .map_err(|_| anyhow::anyhow!("--key: the file is not valid JSON"))?;
            return Self::from_jwk(&jwk);
        }
        if let Ok(key) = ed25519_dalek::pkcs8::DecodePrivateKey::from_pkcs8_pem(text) {
            return Ok(Self::ed25519(&key));
        }
        if let Ok(key) = <p256::SecretKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(text)
            .or_else(|_| p256::SecretKey::from_sec1_pem(text))
        {
            return Self::p256(&key);
        }
        let rsa = <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(text)
            .ok()
            .or_else(|| {
                <rsa::RsaPrivateKey as rsa::pkcs1::DecodeRsaPrivateKey>::from_pkcs1_pem(text).ok()
            });
        match rsa {
            Some(key) => Self::rsa(&key),
            None => bail!("--key: not a private key this command reads: {FORMS}"),
        }
    }

    fn from_jwk(jwk: &Value) -> anyhow::Result<Self> {
        let member = |name: &str| -> anyhow::Result<Vec<u8>> {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
                .with_context(|| format!("--key: the JWK's `{name}` is missing or not base64url"))
        };
        let d = member("d").context(
            "--key: the JWK has no private member `d`; unlock-url needs the private key",
        )?;
        match jwk.get("kty").and_then(Value::as_str) {
            Some("OKP") if jwk.get("crv").and_then(Value::as_str) == Some("Ed25519") => {
                let seed: [u8; 32] = d
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("--key: an Ed25519 `d` is 32 bytes"))?;
                Ok(Self::ed25519(&ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
            Some("EC") if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
                let key = p256::SecretKey::from_slice(&d)
                    .map_err(|_| anyhow::anyhow!("--key: not a P-256 private key"))?;
                Self::p256(&key)
            }
            Some("RSA") => {
                let int = |name| member(name).map(|bytes| rsa::BigUint::from_bytes_be(&bytes));
                let key = rsa::RsaPrivateKey::from_components(
                    int("n")?,
                    int("e")?,
                    rsa::BigUint::from_bytes_be(&d),
                    vec![int("p")?, int("q")?],
                )
                .map_err(|_| anyhow::anyhow!("--key: the JWK is not a valid RSA private key"))?;
                Self::rsa(&key)
            }
            _ => bail!("--key: the JWK must be an Ed25519 (OKP), P-256 (EC) or RSA key"),
        }
    }

    fn ed25519(key: &ed25519_dalek::SigningKey) -> Self {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let der = key.to_pkcs8_der().expect("an Ed25519 key encodes");
        Self {
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public_jwk: public(
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())}),
            ),
        }
    }

    fn p256(key: &p256::SecretKey) -> anyhow::Result<Self> {
        use p256::pkcs8::EncodePrivateKey;
        let der = key
            .to_pkcs8_der()
            .context("--key: the P-256 key does not encode")?;
        let point = key.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            bail!("--key: the P-256 key has no public point");
        };
        Ok(Self {
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            public_jwk: public(json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})),
        })
    }

    fn rsa(key: &rsa::RsaPrivateKey) -> anyhow::Result<Self> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let bits = key.n().bits();
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            bail!(
                "--key: the RSA key has {bits} bits; Pageshare takes {MIN_RSA_BITS} to {MAX_RSA_BITS}"
            );
        }
        let der = key
            .to_pkcs1_der()
            .context("--key: the RSA key does not encode")?;
        Ok(Self {
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            public_jwk: public(json!({
                "kty": "RSA", "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
            })),
        })
    }

    /// An unlock token for `share` naming `kid`: `nbf` now, `exp` `ttl_secs` later.
    pub fn mint(&self, share: ShareId, kid: &str, now: i64, ttl_secs: i64) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        let claims = json!({"nbf": now, "exp": now + ttl_secs, "iss": share.to_string()});
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .expect("signing JSON claims with a parsed key cannot fail")
    }

    /// The `kid` Pageshare gives the public key when it is registered without one.
    pub fn default_kid(&self) -> String {
        thumbprint(&self.public_jwk)
    }
}

fn public(jwk: Value) -> Map<String, Value> {
    match jwk {
        Value::Object(map) => map,
        _ => unreachable!("built as an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_each_form_sign_with_the_algorithm_of_their_type() {
        let ed = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let jwk = json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": b64(ed.verifying_key().as_bytes()), "d": b64(ed.as_bytes()),
        });
        let from_jwk = PrivateKey::parse(&jwk.to_string()).unwrap();
        assert_eq!(from_jwk.alg, Algorithm::EdDSA);
        let pem = {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            ed.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap()
        };
        let from_pem = PrivateKey::parse(&pem).unwrap();
        assert_eq!(from_pem.default_kid(), from_jwk.default_kid());

        let ec = p256::SecretKey::from_slice(&[6; 32]).unwrap();
        let sec1 = ec.to_sec1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        assert_eq!(PrivateKey::parse(&sec1).unwrap().alg, Algorithm::ES256);

        for (bad, says) in [
            ("not a key", "not a private key"),
            (
                r#"{"kty": "OKP", "crv": "Ed25519", "x": "AA"}"#,
                "no private member",
            ),
            (r#"{"kty": "oct", "d": "AAAA"}"#, "must be an Ed25519"),
            ("{not json", "not valid JSON"),
        ] {
            let error = PrivateKey::parse(bad).err().unwrap().to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
