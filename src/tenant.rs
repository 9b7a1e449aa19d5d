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
/// in `migrating` mode is the kind last verified. A tenant never installed through Connect has
/// only its app token.
pub fn host<'a>(
    settings: &'a Settings,
    data_key: &DataKey,
    tenant: &'a Installation,
    verified_now: Option<SecretKind>,
    now: DateTime<Utc>,
) -> Result<Host<'a>, NoCredentials> {
    if verified_now.is_none()
        && let Some(api_base_url) = forge_api_base_url(settings, tenant)
        && let Some(token) = forge_token(data_key, tenant, now)
    {
        return Ok(forge_host(tenant, api_base_url, token));
    }
    connect_host(settings, tenant, verified_now)
}

/// The tenant's Confluence with Connect credentials only: the shared secret the host holds
/// (`verified_now` inside a Connect request, else the kind last verified). Never for a tenant
/// that was not installed through Connect.
pub fn connect_host<'a>(
    settings: &'a Settings,
    tenant: &'a Installation,
    verified_now: Option<SecretKind>,
) -> Result<Host<'a>, NoCredentials> {
    if !tenant.connect {
        return Err(NoCredentials);
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

/// Where the tenant's app token may go: its stored `apiBaseUrl`, only while it is Forge's API
/// for a site (`PAGESHARE_FORGE_API_BASE` and a cloud id), so a changed row cannot send the
/// token elsewhere.
fn forge_api_base_url<'a>(settings: &Settings, tenant: &'a Installation) -> Option<&'a str> {
    let stored = tenant.forge_api_base_url.as_deref()?;
    let api_base = &settings.forge.as_ref()?.api_base;
    stored
        .strip_prefix(api_base.as_str())
        .and_then(crate::forge::ids::CloudId::parse)
        .map(|_| stored)
}

/// The site's Confluence through Forge's API gateway, with an app token.
pub fn forge_host<'a>(tenant: &'a Installation, api_base_url: &str, token: String) -> Host<'a> {
    Host {
        client_key: &tenant.client_key,
        base_url: Cow::Owned(format!("{}/wiki", api_base_url.trim_end_matches('/'))),
        credentials: Credentials::Bearer(Cow::Owned(token)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::connect::secrets::SharedSecret;
    use crate::forge::ids::InstallationId;

    const API: &str =
        "https://api.atlassian.com/ex/confluence/0d36e1c5-3c1f-4d5b-9f5e-4a8b2d6f7c11";

    fn settings(mode: &str) -> Settings {
        Settings::from_lookup(|name| match name {
            "PAGESHARE_SECRET_MODE" => Some(mode.to_owned()),
            "PAGESHARE_APP_SECRET" => Some("app-wide-secret-0123456789abcdef0123456789".to_owned()),
            "PAGESHARE_FORGE_APP_ID" => Some("5d3b2b52-0c7d-4a35-9f84-6c6b9d5e3f10".to_owned()),
            _ => None,
        })
        .unwrap()
    }

    /// A tenant seen through Forge (with an app token good for `token_for`), and through Connect
    /// too when `connect`.
    fn tenant(key: &DataKey, connect: bool, token_for: Duration, api: &str) -> Installation {
        let sample = Installation::sample("https://acme.atlassian.net/wiki");
        Installation {
            shared_secret: connect.then(|| SharedSecret::new("own-secret-0123456789abcdef0123")),
            connect,
            forge_installation_id: InstallationId::parse(
                "ari:cloud:ecosystem::installation/1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
            ),
            forge_api_base_url: Some(api.to_owned()),
            forge_app_token: Some(key.seal(b"app-token", sample.client_key.as_str().as_bytes())),
            forge_token_expires_at: Some(Utc::now() + token_for),
            ..sample
        }
    }

    #[derive(Debug, PartialEq)]
    enum Used {
        AppToken,
        ConnectJwt,
        Nothing,
    }

    #[test]
    fn calls_outside_a_request_use_the_app_token_then_a_connect_secret_the_tenant_has() {
        let key = DataKey::new(&[7; DataKey::LEN]);
        let valid = Duration::hours(2);
        let expired = Duration::minutes(-1);
        let elsewhere =
            "https://attacker.example/ex/confluence/0d36e1c5-3c1f-4d5b-9f5e-4a8b2d6f7c11";
        let cases = [
            ("per-install", true, valid, API, Used::AppToken),
            ("per-install", true, expired, API, Used::ConnectJwt),
            ("per-install", false, valid, API, Used::AppToken),
            ("per-install", false, expired, API, Used::Nothing),
            ("app-wide", false, expired, API, Used::Nothing),
            ("migrating", false, expired, API, Used::Nothing),
            ("app-wide", true, expired, API, Used::ConnectJwt),
            // A stored address that is not Forge's API for a site never gets the token.
            ("per-install", false, valid, elsewhere, Used::Nothing),
            ("per-install", true, valid, elsewhere, Used::ConnectJwt),
        ];
        for (mode, connect, token_for, api, expected) in cases {
            let settings = settings(mode);
            let tenant = tenant(&key, connect, token_for, api);
            let used = match host(&settings, &key, &tenant, None, Utc::now()) {
                Ok(host) => match host.credentials {
                    Credentials::Bearer(token) => {
                        assert_eq!(token, "app-token");
                        assert_eq!(host.base_url, format!("{API}/wiki"));
                        Used::AppToken
                    }
                    Credentials::ConnectJwt(_) => Used::ConnectJwt,
                },
                Err(NoCredentials) => Used::Nothing,
            };
            assert_eq!(used, expected, "{mode} connect={connect} {token_for} {api}");
        }
    }
}
