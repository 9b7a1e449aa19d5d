//! The share domain: shares, unlock tokens, cookies, passwords, the rendered page content.

pub mod content;
pub mod content_cache;
pub mod cookie;
pub mod origins;
pub mod password;
pub mod readership;
pub mod rotation;
pub mod signing;
pub mod site_key;
pub mod tree;
pub mod unlock;
pub mod unlock_key;

use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng;

/// A share's public id: the `{uuid}` of `/content/{uuid}`. Parsed from paths and JSON in its
/// hyphenated form only, stored as a Postgres `uuid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, sqlx::Type)]
#[serde(into = "String")]
#[sqlx(transparent)]
pub struct ShareId(uuid::Uuid);

impl<'de> serde::Deserialize<'de> for ShareId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("not a share id"))
    }
}

impl From<ShareId> for String {
    fn from(id: ShareId) -> Self {
        id.to_string()
    }
}

impl ShareId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// Only the hyphenated form is accepted, so one share has exactly one URL.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == uuid::fmt::Hyphenated::LENGTH)
            .then(|| uuid::Uuid::try_parse(raw).ok())
            .flatten()
            .map(Self)
    }

    pub fn uuid(self) -> uuid::Uuid {
        self.0
    }

    /// The id whose 16 bytes these are (a cursor of the admin list carries them).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }

    /// `{base}/content/{uuid}`: the share's page under `base` (the app's base URL for a link,
    /// or its path for a cookie's `Path` and a form's `action`).
    pub fn page_url(self, base: &str) -> String {
        format!("{base}/content/{self}")
    }
}

impl Default for ShareId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<uuid::Uuid> for ShareId {
    fn from(id: uuid::Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for ShareId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A share's unlock secret: 32 bytes from a CSPRNG. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct UnlockSecret([u8; 32]);

impl UnlockSecret {
    pub const LEN: usize = 32;

    pub fn generate() -> Self {
        // ThreadRng is a CSPRNG (ChaCha12, seeded and reseeded from the OS).
        Self(rand::rng().random())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// Exactly 64 hex digits.
    pub fn from_hex(hex_text: &str) -> Option<Self> {
        let mut bytes = [0u8; Self::LEN];
        hex::decode_to_slice(hex_text.trim(), &mut bytes).ok()?;
        Some(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, as the Web API shows it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl sqlx::Type<sqlx::Postgres> for UnlockSecret {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Vec<u8> as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for UnlockSecret {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let bytes = <&[u8] as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Self::from_bytes(bytes).ok_or_else(|| "an unlock secret is 32 bytes".into())
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for UnlockSecret {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&[u8] as sqlx::Encode<sqlx::Postgres>>::encode(self.0.as_slice(), buf)
    }
}

impl fmt::Debug for UnlockSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnlockSecret(<redacted>)")
    }
}

/// Where a share stands for its owners: revoked wins over expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareStatus {
    Active,
    Expired,
    Revoked,
}

impl ShareStatus {
    pub fn of(
        revoked_at: Option<DateTime<Utc>>,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        if revoked_at.is_some() {
            Self::Revoked
        } else if expires_at.is_some_and(|at| at <= now) {
            Self::Expired
        } else {
            Self::Active
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_a_share() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        let cases = [
            (None, None, ShareStatus::Active),
            (None, Some(now + hour), ShareStatus::Active),
            (None, Some(now), ShareStatus::Expired),
            (None, Some(now - hour), ShareStatus::Expired),
            (Some(now), None, ShareStatus::Revoked),
            (Some(now), Some(now - hour), ShareStatus::Revoked),
        ];
        for (revoked_at, expires_at, expected) in cases {
            assert_eq!(
                ShareStatus::of(revoked_at, expires_at, now),
                expected,
                "{revoked_at:?} {expires_at:?}"
            );
        }
    }

    #[test]
    fn share_ids_parse_only_the_hyphenated_form() {
        let id = ShareId::new();
        assert_eq!(ShareId::parse(&id.to_string()), Some(id));
        for bad in [
            "",
            "not-a-uuid",
            &id.uuid().simple().to_string(),
            &format!("{{{id}}}"),
            &format!("{id} "),
        ] {
            assert_eq!(ShareId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn unlock_secrets_are_32_random_bytes_never_printed() {
        let a = UnlockSecret::generate();
        let b = UnlockSecret::generate();
        assert_ne!(a, b);
        assert_eq!(a.to_hex().len(), 64);
        assert_eq!(UnlockSecret::from_hex(&a.to_hex()), Some(a.clone()));
        assert!(!format!("{a:?}").contains(&a.to_hex()[..8]));
        for bad in ["", "00", &"0".repeat(63), &"g".repeat(64), &"0".repeat(66)] {
            assert!(UnlockSecret::from_hex(bad).is_none(), "{bad}");
        }
        assert!(UnlockSecret::from_bytes(&[0; 31]).is_none());
    }
}
