//! Share passwords: checked once on input, stored only as Argon2id hashes.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A password as a user set it, within the length rules. Never printed.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub fn parse(raw: String) -> Result<Self, String> {
        let chars = raw.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
            return Err(format!(
                "A password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters."
            ));
        }
        Ok(Self(raw))
    }

    /// Hash with Argon2id and a fresh salt. Slow on purpose: call it off the async threads.
    pub fn hash(&self) -> PasswordHash {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let hash = hasher()
            .hash_password(self.0.as_bytes(), &salt)
            .expect("Argon2id with valid parameters hashes any password");
        PasswordHash(hash.to_string())
    }
}

/// OWASP's Argon2id parameters: 19 MiB of memory, 2 passes, one lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A stored Argon2id hash (PHC string).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `attempt` is the password. Slow on purpose: call it off the async threads.
    /// The parameters stored in the hash are used, so hashes made with older settings still verify.
    pub fn verify(&self, attempt: &str) -> bool {
        if attempt.len() > MAX_PASSWORD_CHARS * 4 {
            return false;
        }
        argon2::password_hash::PasswordHash::new(&self.0).is_ok_and(|parsed| {
            hasher()
                .verify_password(attempt.as_bytes(), &parsed)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify_only_the_password() {
        let password = Password::parse("correct horse battery".into()).unwrap();
        let a = password.hash();
        let b = password.hash();
        assert!(a.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_ne!(a, b, "a fresh salt each time");
        assert!(a.verify("correct horse battery"));
        assert!(!a.verify("correct horse battery "));
        assert!(!a.verify(""));
        assert!(!PasswordHash::from_stored("not a hash".into()).verify("x"));
        assert!(!format!("{a:?}").contains("argon2"));
    }

    #[test]
    fn length_rules() {
        for (raw, ok) in [
            ("", false),
            ("1234567", false),
            ("12345678", true),
            ("ééééééé", false),
            ("éééééééé", true),
            (&"x".repeat(128), true),
            (&"x".repeat(129), false),
        ] {
            assert_eq!(Password::parse(raw.to_owned()).is_ok(), ok, "{raw:?}");
        }
    }
}
