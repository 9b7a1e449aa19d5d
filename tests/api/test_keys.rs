//! Private keys generated at test time (none is committed), in the forms the tests need: the
//! public JWK to register, the private JWK and PKCS#8 PEM a customer's server would hold, and
//! signed unlock tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rsa::pkcs8::LineEnding;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::{Value, json};

pub enum TestKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::SecretKey),
    Rsa(rsa::RsaPrivateKey),
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    pub fn ed25519() -> Self {
        Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(&rand::random()))
    }

    pub fn p256() -> Self {
        Self::P256(p256::SecretKey::random(&mut rsa::rand_core::OsRng))
    }

    pub fn rsa(bits: usize) -> Self {
        Self::Rsa(rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).expect("RSA keygen"))
    }

    pub fn alg(&self) -> Algorithm {
        match self {
            Self::Ed25519(_) => Algorithm::EdDSA,
            Self::P256(_) => Algorithm::ES256,
            Self::Rsa(_) => Algorithm::RS256,
        }
    }

    pub fn alg_name(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "EdDSA",
            Self::P256(_) => "ES256",
            Self::Rsa(_) => "RS256",
        }
    }

    /// The public JWK, without `kid` or `alg`.
    pub fn public_jwk(&self) -> Value {
        match self {
            Self::Ed25519(key) => json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes()),
            }),
            Self::P256(key) => {
                let point = key.public_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "crv": "P-256",
                    "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()),
                })
            }
            Self::Rsa(key) => json!({
                "kty": "RSA", "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
            }),
        }
    }

    /// The JWK with its private members, as a customer's server might keep it.
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.public_jwk();
        let private = jwk.as_object_mut().unwrap();
        match self {
            Self::Ed25519(key) => {
                private.insert("d".into(), json!(b64(key.as_bytes())));
            }
            Self::P256(key) => {
                private.insert("d".into(), json!(b64(&key.to_bytes())));
            }
            Self::Rsa(key) => {
                let primes = key.primes();
                let part = |n: &rsa::BigUint| json!(b64(&n.to_bytes_be()));
                private.insert("d".into(), part(key.d()));
                private.insert("p".into(), part(&primes[0]));
                private.insert("q".into(), part(&primes[1]));
                private.insert("dp".into(), part(key.dp().unwrap()));
                private.insert("dq".into(), part(key.dq().unwrap()));
                let qi = key.crt_coefficient().unwrap();
                private.insert("qi".into(), part(&qi));
            }
        }
        jwk
    }

    /// The private key as PKCS#8 PEM.
    pub fn pkcs8_pem(&self) -> String {
        match self {
            // PKCS#8 v1 as openssl writes it (ed25519-dalek writes v2, with the public key, which
            // some libraries refuse): the seed as an OCTET STRING under the Ed25519 OID.
            Self::Ed25519(key) => {
                use p256::pkcs8::der::asn1::OctetStringRef;
                use p256::pkcs8::der::{Encode, EncodePem};
                use p256::pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier, PrivateKeyInfo};
                let seed = OctetStringRef::new(key.as_bytes())
                    .unwrap()
                    .to_der()
                    .unwrap();
                let algorithm = AlgorithmIdentifierRef {
                    oid: ObjectIdentifier::new_unwrap("1.3.101.112"),
                    parameters: None,
                };
                PrivateKeyInfo::new(algorithm, &seed)
                    .to_pem(LineEnding::LF)
                    .unwrap()
            }
            Self::P256(key) => {
                use p256::pkcs8::EncodePrivateKey;
                key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
            }
            Self::Rsa(key) => {
                use rsa::pkcs8::EncodePrivateKey;
                key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
            }
        }
    }

    fn encoding_key(&self) -> EncodingKey {
        let pem = self.pkcs8_pem();
        match self {
            Self::Ed25519(_) => EncodingKey::from_ed_pem(pem.as_bytes()),
            Self::P256(_) => EncodingKey::from_ec_pem(pem.as_bytes()),
            Self::Rsa(_) => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .expect("a PEM the key's crate wrote")
    }

    /// `claims` signed with this key, under `header`.
    pub fn sign(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding_key()).unwrap()
    }
}

/// A header of `alg` naming `kid`.
pub fn header(alg: Algorithm, kid: Option<&str>) -> Header {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    header
}
