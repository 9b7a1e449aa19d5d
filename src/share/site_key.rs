//! Site unlock keys (`docs/SECURITY.md`): one key unlocks every share of a site, or of some of
//! its spaces. A public JWK (as a share's public unlock keys, [`super::unlock_key`]) or a 32-byte
//! HS256 secret Pageshare generated, kept sealed with the data key and opened only when a site's
//! keys are loaded into memory.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::UnlockSecret;
use super::unlock_key::UnlockKey;
use crate::data_key::DataKey;

/// Spaces one key may be limited to.
pub const MAX_SPACES: usize = 50;
/// Longest space key, in characters.
const MAX_SPACE_KEY_LEN: usize = 255;

/// How a site key checks a signature.
#[derive(Clone)]
pub enum Verifier {
    /// A public key, with its own algorithm.
    Public(UnlockKey),
    /// HS256 with a generated secret: the keyed HMAC state, ready to check a tag.
    Secret(Hmac<Sha256>),
}

/// A site unlock key ready to verify: its `kid`, the spaces it is limited to, and its key.
#[derive(Clone)]
pub struct SiteKey {
    pub kid: String,
    /// Empty: every space of the site.
    pub space_keys: Vec<String>,
    pub verifier: Verifier,
}

impl std::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SiteKey({}, spaces {:?})", self.kid, self.space_keys)
    }
}

impl Verifier {
    /// HS256 with the generated `secret`.
    pub fn secret(secret: &UnlockSecret) -> Self {
        Self::Secret(
            Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes keys of any length"),
        )
    }
}

impl SiteKey {
    /// Whether the key may unlock a share of the space `space_key`.
    pub fn covers(&self, space_key: &str) -> bool {
        self.space_keys.is_empty() || self.space_keys.iter().any(|key| key == space_key)
    }
}

/// A site's keys, as the share page verifies with them.
#[derive(Debug, Default)]
pub struct SiteKeys(pub Vec<SiteKey>);

/// A new `kid` for a generated HS256 key: `hs256-` and 24 random hex digits.
pub fn generated_kid() -> String {
    let bytes: [u8; 12] = rand::rng().random();
    format!("hs256-{}", hex::encode(bytes))
}

/// What a sealed secret is bound to: its tenant and its kid, so it opens in no other row.
fn owner(client_key: &str, kid: &str) -> Vec<u8> {
    format!("site-unlock-key\0{client_key}\0{kid}").into_bytes()
}

/// Seal a generated secret for storage.
pub fn seal_secret(
    data_key: &DataKey,
    client_key: &str,
    kid: &str,
    secret: &UnlockSecret,
) -> Vec<u8> {
    data_key.seal(secret.as_bytes(), &owner(client_key, kid))
}

/// Open a sealed secret, and say whether it was sealed with the current data key; `None` when no
/// data key opens it (or it was moved to another row).
pub fn open_secret(
    data_key: &DataKey,
    client_key: &str,
    kid: &str,
    sealed: &[u8],
) -> Option<(UnlockSecret, bool)> {
    let (plain, current) = data_key.open_telling(sealed, &owner(client_key, kid))?;
    Some((UnlockSecret::from_bytes(&plain)?, current))
}

/// The space keys asked for, each once, in the order given; a clear message when one is not a
/// space key.
pub fn space_keys(raw: &[String]) -> Result<Vec<String>, String> {
    if raw.len() > MAX_SPACES {
        return Err(format!("spaceKeys holds at most {MAX_SPACES} spaces."));
    }
    let mut keys: Vec<String> = Vec::with_capacity(raw.len());
    for key in raw {
        let valid = (1..=MAX_SPACE_KEY_LEN).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"~_-".contains(&b));
        if !valid {
            return Err(
                "spaceKeys must be Confluence space keys (letters, digits, ~ _ -; 1 to 255 characters)."
                    .into(),
            );
        }
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_covers_its_spaces_or_every_space() {
        let secret = UnlockSecret::generate();
        let key = |spaces: &[&str]| SiteKey {
            kid: "k".into(),
            space_keys: spaces.iter().map(|s| (*s).to_owned()).collect(),
            verifier: Verifier::secret(&secret),
        };
        let (everywhere, eng) = (key(&[]), key(&["ENG", "OPS"]));
        let cases = [
            (&everywhere, "ENG", true),
            (&everywhere, "~557058", true),
            (&eng, "ENG", true),
            (&eng, "OPS", true),
            (&eng, "eng", false),
            (&eng, "HR", false),
        ];
        for (key, space, covered) in cases {
            assert_eq!(key.covers(space), covered, "{key:?} {space}");
        }
    }

    #[test]
    fn space_keys_are_checked_and_deduplicated() {
        let owned = |keys: &[&str]| keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        // What is asked, and what is kept (`None`: refused).
        let cases: [(&[&str], Option<&[&str]>); 7] = [
            (&[], Some(&[])),
            (&["ENG", "OPS", "ENG"], Some(&["ENG", "OPS"])),
            (&["~557058:abc"], None),
            (&["~557058abc"], Some(&["~557058abc"])),
            (&[""], None),
            (&["EN G"], None),
            (&["ENG\n"], None),
        ];
        for (raw, expected) in cases {
            let got = space_keys(&owned(raw)).ok();
            assert_eq!(got, expected.map(owned), "{raw:?}");
        }
        let many: Vec<String> = (0..=MAX_SPACES).map(|i| format!("S{i}")).collect();
        assert!(space_keys(&many).is_err());
        assert!(space_keys(&many[1..]).is_ok());
    }

    #[test]
    fn a_sealed_secret_opens_for_its_tenant_and_kid_only() {
        let data_key = DataKey::new(&[7; DataKey::LEN]);
        let secret = UnlockSecret::generate();
        let sealed = seal_secret(&data_key, "acme", "hs256-1", &secret);
        assert!(!sealed.windows(32).any(|w| w == secret.as_bytes()));
        let opened = open_secret(&data_key, "acme", "hs256-1", &sealed);
        assert_eq!(
            opened.map(|(s, current)| (s.to_hex(), current)),
            Some((secret.to_hex(), true))
        );
        assert!(open_secret(&data_key, "globex", "hs256-1", &sealed).is_none());
        assert!(open_secret(&data_key, "acme", "hs256-2", &sealed).is_none());
    }

    #[test]
    fn generated_kids_are_valid_and_distinct() {
        let (a, b) = (generated_kid(), generated_kid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 30);
        assert!(a.starts_with("hs256-") && a[6..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
