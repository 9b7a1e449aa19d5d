//! Which shared secret verifies a tenant's tokens and signs calls to its host (`docs/SECURITY.md`).

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A Connect shared secret, with its HMAC key schedule computed once (tenants are kept in
/// memory, so verifying a token starts from the keyed state). Never printed.
#[derive(Clone)]
pub struct SharedSecret {
    text: String,
    mac: Hmac<Sha256>,
}

impl SharedSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        let text = secret.into();
        let mac = Hmac::new_from_slice(text.as_bytes()).expect("HMAC takes keys of any length");
        Self { text, mac }
    }

    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// HMAC-SHA256 keyed with this secret, ready for the message.
    pub fn hs256(&self) -> &Hmac<Sha256> {
        &self.mac
    }
}

impl sqlx::Type<sqlx::Postgres> for SharedSecret {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for SharedSecret {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <String as sqlx::Decode<sqlx::Postgres>>::decode(value).map(Self::new)
    }
}

impl PartialEq for SharedSecret {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for SharedSecret {}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// `PAGESHARE_SECRET_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMode {
    PerInstall,
    AppWide,
    Migrating,
}

impl FromStr for SecretMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "per-install" => Ok(Self::PerInstall),
            "app-wide" => Ok(Self::AppWide),
            "migrating" => Ok(Self::Migrating),
            other => Err(format!(
                "unknown secret mode {other:?}: use per-install, app-wide or migrating"
            )),
        }
    }
}

impl SecretMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerInstall => "per-install",
            Self::AppWide => "app-wide",
            Self::Migrating => "migrating",
        }
    }

    pub fn needs_app_secret(self) -> bool {
        self != Self::PerInstall
    }
}

/// Which kind of secret verified a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    PerInstall,
    AppWide,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerInstall => "per-install",
            Self::AppWide => "app-wide",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "per-install" => Some(Self::PerInstall),
            "app-wide" => Some(Self::AppWide),
            _ => None,
        }
    }
}

impl sqlx::Type<sqlx::Postgres> for SecretKind {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for SecretKind {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Self::parse(text).ok_or_else(|| format!("unknown secret kind {text:?}").into())
    }
}

/// The secrets to try, in order, for a tenant's incoming token.
pub fn verification_candidates<'a>(
    mode: SecretMode,
    stored: Option<&'a SharedSecret>,
    app_wide: Option<&'a SharedSecret>,
) -> [Option<(SecretKind, &'a SharedSecret)>; 2] {
    let own = stored.map(|s| (SecretKind::PerInstall, s));
    let app = app_wide.map(|s| (SecretKind::AppWide, s));
    match mode {
        SecretMode::PerInstall => [own, None],
        SecretMode::AppWide => [app, None],
        SecretMode::Migrating => [own, app],
    }
}

/// The secret the tenant's host holds, to sign calls to it: in `migrating` mode the kind the
/// tenant last verified with (its own secret until it has verified with the app-wide one).
pub fn signing_secret<'a>(
    mode: SecretMode,
    stored: Option<&'a SharedSecret>,
    app_wide: Option<&'a SharedSecret>,
    last_verified: Option<SecretKind>,
) -> Option<&'a SharedSecret> {
    match (mode, last_verified) {
        (SecretMode::PerInstall, _) => stored,
        (SecretMode::AppWide, _) => app_wide,
        (SecretMode::Migrating, Some(SecretKind::AppWide)) => app_wide,
        (SecretMode::Migrating, _) => stored.or(app_wide),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = SharedSecret::new("hunter2-very-secret");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn candidates_per_mode() {
        let own = SharedSecret::new("own");
        let app = SharedSecret::new("app");
        let kinds = |mode| {
            verification_candidates(mode, Some(&own), Some(&app))
                .into_iter()
                .flatten()
                .map(|(kind, secret)| (kind, secret.expose().to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(SecretMode::PerInstall),
            [(SecretKind::PerInstall, "own".into())]
        );
        assert_eq!(
            kinds(SecretMode::AppWide),
            [(SecretKind::AppWide, "app".into())]
        );
        assert_eq!(
            kinds(SecretMode::Migrating),
            [
                (SecretKind::PerInstall, "own".into()),
                (SecretKind::AppWide, "app".into())
            ]
        );
    }

    #[test]
    fn migrating_signs_with_the_kind_last_verified() {
        let own = SharedSecret::new("own");
        let app = SharedSecret::new("app");
        let pick = |mode, last| {
            signing_secret(mode, Some(&own), Some(&app), last).map(SharedSecret::expose)
        };
        assert_eq!(pick(SecretMode::Migrating, None), Some("own"));
        assert_eq!(
            pick(SecretMode::Migrating, Some(SecretKind::PerInstall)),
            Some("own")
        );
        assert_eq!(
            pick(SecretMode::Migrating, Some(SecretKind::AppWide)),
            Some("app")
        );
        assert_eq!(pick(SecretMode::AppWide, None), Some("app"));
        assert_eq!(
            pick(SecretMode::PerInstall, Some(SecretKind::AppWide)),
            Some("own")
        );
        assert_eq!(
            signing_secret(SecretMode::Migrating, None, Some(&app), None).map(SharedSecret::expose),
            Some("app")
        );
    }

    #[test]
    fn mode_parses_its_names_only() {
        for mode in [
            SecretMode::PerInstall,
            SecretMode::AppWide,
            SecretMode::Migrating,
        ] {
            assert_eq!(mode.as_str().parse::<SecretMode>(), Ok(mode));
        }
        assert!("perinstall".parse::<SecretMode>().is_err());
    }
}
