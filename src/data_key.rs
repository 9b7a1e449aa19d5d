//! `PAGESHARE_DATA_KEY`: seals what must be stored but never read by anyone with the database
//! alone (Forge app tokens), with AES-256-GCM. A sealed value is `nonce || ciphertext`, and is
//! bound to its owner (the tenant key as associated data), so it cannot be moved to another row.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use rand::Rng;

const NONCE_LEN: usize = 12;

/// The data keys: the first seals, every one opens, so a new key can be put first while values
/// sealed with the old one still open (`pageshare keys reencrypt` then moves them to the new one;
/// `docs/OPERATIONS.md`, "Rotating keys").
#[derive(Clone)]
pub struct DataKey {
    current: Aes256Gcm,
    older: Box<[Aes256Gcm]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    pub const LEN: usize = 32;

    pub fn new(key: &[u8; Self::LEN]) -> Self {
        Self::with_older(key, &[])
    }

    /// `current` seals; `current` and each of `older` open.
    pub fn with_older(current: &[u8; Self::LEN], older: &[[u8; Self::LEN]]) -> Self {
        Self {
            current: Aes256Gcm::new(current.into()),
            older: older.iter().map(|key| Aes256Gcm::new(key.into())).collect(),
        }
    }

    /// Encrypt `plaintext` for `owner`.
    pub fn seal(&self, plaintext: &[u8], owner: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::rng().random();
        let ciphertext = self
            .current
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

    /// Decrypt a value sealed for `owner`; `None` when it was sealed with none of the keys, for
    /// another owner, or changed.
    pub fn open(&self, sealed: &[u8], owner: &[u8]) -> Option<Vec<u8>> {
        self.open_telling(sealed, owner).map(|(plain, _)| plain)
    }

    /// Like [`Self::open`], and whether the value was sealed with the current key.
    pub fn open_telling(&self, sealed: &[u8], owner: &[u8]) -> Option<(Vec<u8>, bool)> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let open = |key: &Aes256Gcm| {
            key.decrypt(
                &nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: owner,
                },
            )
            .ok()
        };
        open(&self.current)
            .map(|plain| (plain, true))
            .or_else(|| self.older.iter().find_map(open).map(|plain| (plain, false)))
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

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let old = DataKey::new(&[7; 32]);
        let rotated = DataKey::with_older(&[8; 32], &[[7; 32]]);
        let new_only = DataKey::new(&[8; 32]);
        let sealed_old = old.seal(b"token", b"t");
        let sealed_new = rotated.seal(b"token", b"t");
        assert_eq!(
            rotated.open_telling(&sealed_old, b"t"),
            Some((b"token".to_vec(), false))
        );
        assert_eq!(
            rotated.open_telling(&sealed_new, b"t"),
            Some((b"token".to_vec(), true))
        );
        assert_eq!(
            new_only.open(&sealed_new, b"t").as_deref(),
            Some(&b"token"[..])
        );
        assert_eq!(
            new_only.open(&sealed_old, b"t"),
            None,
            "a removed key opens nothing"
        );
        assert_eq!(old.open(&sealed_new, b"t"), None);
    }
}
