//! Confluence's ids, parsed once where they enter the app and typed from there to SQL.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Confluence content id (page or attachment): `^[A-Za-z0-9-]{1,64}$`, checked before it goes
/// into a URL or a query.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(try_from = "String", into = "String")]
#[sqlx(transparent)]
pub struct ContentId(String);

impl ContentId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ContentId {
    type Error = &'static str;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or("not a Confluence content id (letters, digits and -)")
    }
}

impl From<ContentId> for String {
    fn from(id: ContentId) -> Self {
        id.0
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Atlassian account id: a Connect JWT's `sub`, a Forge invocation's `principal`. Printable,
/// at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(try_from = "String", into = "String")]
#[sqlx(transparent)]
pub struct AccountId(String);

/// What an erased accountId becomes everywhere (`docs/OPERATIONS.md#personal-data-reporting`).
pub const ERASED_ACCOUNT: &str = "closed-account";
/// The audit log's actor when Pageshare acts on its own (revoking the API keys of a closed
/// account).
pub const PAGESHARE_ACTOR: &str = "pageshare";

impl AccountId {
    /// An accountId as a token names it: printable, at most 128 characters, and none of the
    /// names Pageshare writes in its place ([`ERASED_ACCOUNT`], [`PAGESHARE_ACTOR`], an API key's
    /// `apikey:…`), so no caller is taken for them.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && !raw.chars().any(char::is_control)
            && raw != ERASED_ACCOUNT
            && raw != PAGESHARE_ACTOR
            && !raw.starts_with("apikey:");
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = &'static str;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or("not an Atlassian account id")
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> Self {
        id.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ids() {
        for good in ["12345", "abc-DEF-1"] {
            assert!(ContentId::parse(good).is_some(), "{good}");
        }
        for bad in ["", "12/../3", "1?x=y", "1 2", "%31", &"1".repeat(65)] {
            assert!(ContentId::parse(bad).is_none(), "{bad}");
        }
        let parsed: Result<ContentId, _> = serde_json::from_str(r#""12/3""#);
        assert!(parsed.is_err());
        assert_eq!(
            serde_json::to_string(&ContentId::parse("123").unwrap()).unwrap(),
            r#""123""#
        );
    }

    #[test]
    fn account_ids() {
        for good in [
            "557058:f2b7a9c4-1d2e-4f3a-8b9c-0d1e2f3a4b5c",
            "5b10ac8d82e05b22cc7d4ef5",
        ] {
            assert!(AccountId::parse(good).is_some(), "{good}");
        }
        let reserved = [
            ERASED_ACCOUNT,
            PAGESHARE_ACTOR,
            "apikey:0f8fad5b-d9cb-469f-a165-70867728950e",
        ];
        for bad in ["", "a\u{0}b", "line\nbreak", &"a".repeat(129)]
            .into_iter()
            .chain(reserved)
        {
            assert!(AccountId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
