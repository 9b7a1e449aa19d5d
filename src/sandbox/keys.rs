//! The sandbox's RSA keys, generated when first used (once per process): no private key, test or
//! not, lives in the repository.

use std::sync::LazyLock;

use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

/// An RSA key pair in the forms the sandbox and the tests need.
pub struct KeyPair {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The public key as a PEM (SPKI), as Atlassian's install key server serves it.
    pub public_pem: String,
    /// The modulus and exponent, big-endian, for a JWK.
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

impl KeyPair {
    fn generate(bits: usize) -> Self {
        let private =
            RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).expect("RSA key generation works");
        let public = RsaPublicKey::from(&private);
        let private_pem = private
            .to_pkcs1_pem(LineEnding::LF)
            .expect("an RSA key encodes as PEM");
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .expect("an RSA public key encodes as PEM");
        Self {
            encoding: EncodingKey::from_rsa_pem(private_pem.as_bytes())
                .expect("a PEM the rsa crate wrote parses"),
            decoding: DecodingKey::from_rsa_pem(public_pem.as_bytes())
                .expect("a PEM the rsa crate wrote parses"),
            modulus: public.n().to_bytes_be(),
            exponent: public.e().to_bytes_be(),
            public_pem,
        }
    }
}

static SANDBOX: LazyLock<KeyPair> = LazyLock::new(|| KeyPair::generate(2048));
static STRANGER: LazyLock<KeyPair> = LazyLock::new(|| KeyPair::generate(2048));

/// The key the sandbox signs with and serves.
pub fn sandbox() -> &'static KeyPair {
    &SANDBOX
}

/// A key nobody serves, for forged tokens.
pub fn stranger() -> &'static KeyPair {
    &STRANGER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_are_distinct_2048_bit_rsa_keys() {
        assert_ne!(sandbox().public_pem, stranger().public_pem);
        assert_eq!(sandbox().modulus.len(), 256);
        assert_eq!(sandbox().exponent, [1, 0, 1]);
        assert!(
            sandbox()
                .public_pem
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
    }
}
