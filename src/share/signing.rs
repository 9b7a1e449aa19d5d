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
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::ShareCookie => b"pageshare/share-cookie/v1",
            Self::AttachmentUrl => b"pageshare/attachment-url/v1",
            Self::PasswordForm => b"pageshare/password-form/v1",
        }
    }
}

/// The key, with HMAC's inner and outer pads computed once.
#[derive(Clone)]
pub struct SigningKey(HmacSha256);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    pub fn new(key: &[u8]) -> Self {
        Self(HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length"))
    }

    fn mac(&self, purpose: Purpose, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(purpose.label());
        for part in parts {
            // Length-prefixed, so no two part lists sign the same bytes.
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    pub fn tag(&self, purpose: Purpose, parts: &[&[u8]]) -> [u8; 32] {
        self.mac(purpose, parts).finalize().into_bytes().into()
    }

    /// Constant-time check of a tag.
    pub fn verify(&self, purpose: Purpose, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.mac(purpose, parts).verify_slice(tag).is_ok()
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
}
