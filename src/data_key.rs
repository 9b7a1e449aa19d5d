//! `PAGESHARE_DATA_KEY`: seals what must be stored but never read by anyone with the database
//! alone (Forge app tokens), with AES-256-GCM. A sealed value is `nonce || ciphertext`, and is
//! bound to its owner (the tenant key as associated data), so it cannot be moved to another row.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use rand::Rng;

const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct DataKey(Aes256Gcm);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    pub const LEN: usize = 32;

    pub fn new(key: &[u8; Self::LEN]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Encrypt `plaintext` for `owner`.
    pub fn seal(&self, plaintext: &[u8], owner: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::rng().random();
        let ciphertext = self
            .0
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: owner,
                },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        [nonce.as_slice(), &ciphertext].concat()
    }

    /// Decrypt a value sealed for `owner`; `None` when it was sealed with another key, for
    /// another owner, or changed.
    pub fn open(&self, sealed: &[u8], owner: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.0
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: owner,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_owner() {
        let key = DataKey::new(&[7; 32]);
        let sealed = key.seal(b"app token", b"tenant-a");
        assert!(!sealed.windows(9).any(|w| w == b"app token"));
        assert_eq!(
            key.open(&sealed, b"tenant-a").as_deref(),
            Some(&b"app token"[..])
        );
        assert_eq!(key.open(&sealed, b"tenant-b"), None, "another owner");
        assert_eq!(
            DataKey::new(&[8; 32]).open(&sealed, b"tenant-a"),
            None,
            "another key"
        );
        let mut edited = sealed.clone();
        *edited.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&edited, b"tenant-a"), None, "changed");
        assert_eq!(key.open(&sealed[..5], b"tenant-a"), None, "too short");
        assert_ne!(
            key.seal(b"x", b"o"),
            key.seal(b"x", b"o"),
            "a fresh nonce each time"
        );
    }
}
