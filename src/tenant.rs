//! The Confluence site as one tenant: its key, and how calls to its Confluence are made.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::confluence::client::{Credentials, Host};
use crate::connect::secrets::{SecretKind, signing_secret};
use crate::storage::installations::Installation;

/// A tenant's key: the Connect `clientKey` it installed with (printable, at most 256
/// characters). Every query a user makes is scoped to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(try_from = "String", into = "String")]
#[sqlx(transparent)]
pub struct ClientKey(String);

impl ClientKey {
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Option<Self> {
        let ok =
            !raw.is_empty() && raw.len() <= Self::MAX_LEN && !raw.chars().any(char::is_control);
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientKey {
    type Error = &'static str;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or("not a client key")
    }
}

impl From<ClientKey> for String {
    fn from(key: ClientKey) -> Self {
        key.0
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ClientKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Pageshare holds nothing its host would accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Pageshare holds no credentials to call this tenant's Confluence")]
pub struct NoCredentials;

/// The tenant's Confluence, with the credentials its host accepts now: the shared secret the
/// host holds, which in `migrating` mode is the kind `verified_now` (a token of this request
/// just verified with it) or else the kind last verified (see `docs/SECURITY.md`).
pub fn host<'a>(
    settings: &'a Settings,
    tenant: &'a Installation,
    verified_now: Option<SecretKind>,
) -> Result<Host<'a>, NoCredentials> {
    let secret = signing_secret(
        settings.secret_mode,
        tenant.shared_secret.as_ref(),
        settings.app_secret.as_ref(),
        verified_now.or(tenant.last_secret_kind),
    )
    .ok_or(NoCredentials)?;
    Ok(Host {
        client_key: &tenant.client_key,
        base_url: &tenant.base_url,
        credentials: Credentials::ConnectJwt(secret),
    })
}
