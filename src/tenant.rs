//! The Confluence site as one tenant: its key, and how calls to its Confluence are made.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::confluence::client::{Credentials, Host};
use crate::connect::secrets::{SecretKind, signing_secret};
use crate::data_key::DataKey;
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

/// How long a Forge app token must still be valid to be used.
const TOKEN_MARGIN_SECS: i64 = 60;

/// The tenant's Forge app token, unsealed, while it is valid.
pub fn forge_token(
    data_key: &DataKey,
    tenant: &Installation,
    now: DateTime<Utc>,
) -> Option<String> {
    let expires_at = tenant.forge_token_expires_at?;
    if expires_at.timestamp() < now.timestamp() + TOKEN_MARGIN_SECS {
        return None;
    }
    let plain = data_key.open(
        tenant.forge_app_token.as_deref()?,
        tenant.client_key.as_str().as_bytes(),
    );
    if plain.is_none() {
        tracing::warn!(client_key = %tenant.client_key, "the stored Forge app token does not open with the data key");
    }
    String::from_utf8(plain?).ok()
}

/// The tenant's Confluence, with the credentials its host accepts now (`docs/SECURITY.md`):
/// inside a Connect request (`verified_now`), the shared secret the host holds; outside any
/// request, the Forge app token while one is valid, else the shared secret the host holds, which
/// in `migrating` mode is the kind last verified.
pub fn host<'a>(
    settings: &'a Settings,
    data_key: &DataKey,
    tenant: &'a Installation,
    verified_now: Option<SecretKind>,
    now: DateTime<Utc>,
) -> Result<Host<'a>, NoCredentials> {
    if verified_now.is_none()
        && let Some(api_base_url) = tenant.forge_api_base_url.as_deref()
        && let Some(token) = forge_token(data_key, tenant, now)
    {
        return Ok(forge_host(tenant, api_base_url, token));
    }
    let secret = signing_secret(
        settings.secret_mode,
        tenant.shared_secret.as_ref(),
        settings.app_secret.as_ref(),
        verified_now.or(tenant.last_secret_kind),
    )
    .ok_or(NoCredentials)?;
    Ok(Host {
        client_key: &tenant.client_key,
        base_url: Cow::Borrowed(&tenant.base_url),
        credentials: Credentials::ConnectJwt(secret),
    })
}

/// The site's Confluence through Forge's API gateway, with an app token.
pub fn forge_host<'a>(tenant: &'a Installation, api_base_url: &str, token: String) -> Host<'a> {
    Host {
        client_key: &tenant.client_key,
        base_url: Cow::Owned(format!("{}/wiki", api_base_url.trim_end_matches('/'))),
        credentials: Credentials::Bearer(Cow::Owned(token)),
    }
}
