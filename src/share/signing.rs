//! The cookie key: HMAC-SHA256 tags for share cookies and signed attachment URLs.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a tag is for; part of the signed message, so a tag of one kind never passes as another.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    ShareCookie,
    AttachmentUrl,
    PasswordForm,
    /// The day's salt of reader hashes (`docs/SECURITY.md#readership`).
    ReaderSalt,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::ShareCookie => b"pageshare/share-cookie/v1",
            Self::AttachmentUrl => b"pageshare/attachment-url/v1",
            Self::PasswordForm => b"pageshare/password-form/v1",
            Self::ReaderSalt => b"pageshare/reader-salt/v1",
        }
    }
}

/// The cookie keys, with HMAC's inner and outer pads computed once: the first signs, and every
/// one verifies, so a new key can be put first while values signed with the old one still pass
/// (`docs/OPERATIONS.md`, "Rotating keys").
#[derive(Clone)]
pub struct SigningKey {
    current: HmacSha256,
    older: Box<[HmacSha256]>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn hmac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

impl SigningKey {
    pub fn new(key: &[u8]) -> Self {
        Self::with_older(key, &[])
    }

    /// `current` signs; `current` and each of `older` verify.
    pub fn with_older(current: &[u8], older: &[Vec<u8>]) -> Self {
        Self {
            current: hmac(current),
            older: older.iter().map(|key| hmac(key)).collect(),
        }
    }

    fn mac(key: &HmacSha256, purpose: Purpose, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = key.clone();
        mac.update(purpose.label());
        for part in parts {
            // Length-prefixed, so no two part lists sign the same bytes.
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    pub fn tag(&self, purpose: Purpose, parts: &[&[u8]]) -> [u8; 32] {
        Self::mac(&self.current, purpose, parts)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Constant-time check of a tag against each key in turn, the current one first.
    pub fn verify(&self, purpose: Purpose, parts: &[&[u8]], tag: &[u8]) -> bool {
        std::iter::once(&self.current)
            .chain(self.older.iter())
            .any(|key| Self::mac(key, purpose, parts).verify_slice(tag).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_depend_on_key_purpose_and_every_part() {
        let key = SigningKey::new(&[7; 32]);
        let tag = key.tag(Purpose::ShareCookie, &[b"a", b"bc"]);
        assert!(key.verify(Purpose::ShareCookie, &[b"a", b"bc"], &tag));
        assert!(!key.verify(Purpose::AttachmentUrl, &[b"a", b"bc"], &tag));
        assert!(!key.verify(Purpose::ShareCookie, &[b"ab", b"c"], &tag));
        assert!(!SigningKey::new(&[8; 32]).verify(Purpose::ShareCookie, &[b"a", b"bc"], &tag));
        assert!(!key.verify(Purpose::ShareCookie, &[b"a", b"bc"], &tag[..31]));
    }

    #[test]
    fn the_first_key_signs_and_every_key_verifies() {
        let old = SigningKey::new(&[7; 32]);
        let rotated = SigningKey::with_older(&[8; 32], &[vec![7; 32]]);
        let new_only = SigningKey::new(&[8; 32]);
        let parts: &[&[u8]] = &[b"share", b"1"];
        let old_tag = old.tag(Purpose::ShareCookie, parts);
        let new_tag = rotated.tag(Purpose::ShareCookie, parts);
        assert_eq!(
            new_tag,
            new_only.tag(Purpose::ShareCookie, parts),
            "the first key signs"
        );
        assert!(
            rotated.verify(Purpose::ShareCookie, parts, &old_tag),
            "an older key verifies"
        );
        assert!(rotated.verify(Purpose::ShareCookie, parts, &new_tag));
        assert!(
            !new_only.verify(Purpose::ShareCookie, parts, &old_tag),
            "a removed key does not"
        );
        assert!(!rotated.verify(Purpose::AttachmentUrl, parts, &old_tag));
    }
}
