//! The Forge Invocation Token (FIT) every `/forge` request carries: an RS256 JWT from Forge's
//! key set. A pure function of the token, the key its `kid` names, what this app expects and the
//! time, so every rule (`docs/SECURITY.md`) is tested with a table of cases.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::ids::{AppId, CloudId, InstallationId};
use super::keys::ForgeKey;
use crate::confluence::ids::AccountId;
use crate::jws::{Alg, Claim, ClaimProblem, Jws, JwsError};

/// The `iss` of every FIT.
pub const ISSUER: &str = "forge/invocation-token";
/// Longest token looked at; real ones are about 2 KB.
pub const MAX_FIT_LEN: usize = 16 * 1024;
/// Longest `exp - iat` accepted: Forge's tokens live 25 seconds, so a token minted for longer
/// is not one of Forge's (and would be replayable for longer).
pub const MAX_FIT_LIFETIME_SECS: f64 = 300.0;

/// Which Forge environments may call: by type or by environment id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    Type(EnvironmentType),
    Id(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentType {
    Production,
    Staging,
    Development,
}

impl EnvironmentType {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "PRODUCTION" => Some(Self::Production),
            "STAGING" => Some(Self::Staging),
            "DEVELOPMENT" => Some(Self::Development),
            _ => None,
        }
    }
}

impl Environment {
    /// `PAGESHARE_FORGE_ENVIRONMENTS`: comma-separated types or environment ids.
    pub fn parse_list(spec: &str) -> Result<Vec<Self>, String> {
        let list: Vec<Self> = spec
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(
                |entry| match EnvironmentType::parse(&entry.to_ascii_uppercase()) {
                    Some(kind) => Ok(Self::Type(kind)),
                    None if entry.len() <= 200
                        && !entry.chars().any(|c| c.is_control() || c == ' ') =>
                    {
                        Ok(Self::Id(entry.to_owned()))
                    }
                    None => Err(format!(
                        "{entry:?} is neither an environment type nor an id"
                    )),
                },
            )
            .collect::<Result<_, _>>()?;
        if list.is_empty() {
            return Err("names no environment: every invocation would be refused".into());
        }
        Ok(list)
    }

    fn allows(list: &[Self], kind: Option<&str>, id: Option<&str>) -> bool {
        list.iter().any(|rule| match rule {
            Self::Type(wanted) => kind.and_then(EnvironmentType::parse) == Some(*wanted),
            Self::Id(wanted) => id == Some(wanted.as_str()),
        })
    }
}

/// What the app expects of every FIT.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    pub app_id: &'a AppId,
    /// `PAGESHARE_FORGE_API_BASE`: `app.apiBaseUrl` is this followed by the cloud id.
    pub api_base: &'a str,
    pub environments: &'a [Environment],
    pub leeway_secs: u64,
}

/// A verified invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub installation_id: InstallationId,
    pub cloud_id: CloudId,
    /// `{api_base}{cloud_id}`: Confluence's REST API for this site is under `{api_base_url}/wiki`.
    pub api_base_url: String,
    /// The user who invoked (UI modules only).
    pub principal: Option<AccountId>,
    /// `context.siteUrl`, where the site's users see it (UI modules only).
    pub site_url: Option<String>,
    /// Invoked from a UI module, by a user: it names a `principal` or carries the module's
    /// `context.extension`. Forge's own invocations (triggers, `preUninstall`) do neither.
    pub from_ui: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("the invocation token is longer than {MAX_FIT_LEN} bytes")]
    TooLong,
    #[error("the invocation token is not a well-formed JWT")]
    Malformed,
    #[error("the invocation token's header has a `crit` parameter")]
    CriticalHeader,
    #[error("the invocation token must be signed with RS256")]
    AlgorithmNotAllowed,
    #[error("the invocation token has no `kid`")]
    MissingKid,
    #[error("the invocation token's `kid` is not in Forge's key set")]
    UnknownKey,
    #[error("Forge's key set could not be fetched; try again shortly")]
    KeySetUnavailable,
    #[error("the invocation token's signature does not verify")]
    BadSignature,
    #[error("the invocation token has no `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the invocation token's `{0}` claim has the wrong type or form")]
    InvalidClaim(&'static str),
    #[error("the invocation token was not issued by Forge")]
    WrongIssuer,
    #[error("the invocation token is for another app (`aud`)")]
    WrongAudience,
    #[error("the invocation token's `app.id` is not this app")]
    WrongApp,
    #[error("the invocation token is not valid yet")]
    NotYetValid,
    #[error("the invocation token has expired")]
    Expired,
    #[error("the invocation token names two different installations")]
    InstallationMismatch,
    #[error("the invocation token's `app.apiBaseUrl` is not Confluence's API for a site")]
    WrongApiBase,
    #[error("the invocation token names two different sites")]
    CloudIdMismatch,
    #[error("the invocation token comes from a Forge environment this app does not accept")]
    EnvironmentNotAllowed,
    #[error("invocations from an isolated cloud (`icLabel`) are not accepted")]
    IsolatedCloud,
    #[error("the invocation token lives longer than Forge's do (`exp - iat`)")]
    LivesTooLong,
}

impl From<JwsError> for FitError {
    fn from(error: JwsError) -> Self {
        match error {
            JwsError::Malformed => Self::Malformed,
            JwsError::CriticalHeader => Self::CriticalHeader,
        }
    }
}

impl From<ClaimProblem> for FitError {
    fn from(problem: ClaimProblem) -> Self {
        match problem {
            ClaimProblem::Missing(name) => Self::MissingClaim(name),
            ClaimProblem::Invalid(name) => Self::InvalidClaim(name),
        }
    }
}

/// A FIT whose header checked out (RS256, a `kid`, no `crit`), not verified yet.
#[derive(Debug)]
pub struct UnverifiedFit<'a> {
    jws: Jws<'a>,
    kid: String,
}

impl<'a> UnverifiedFit<'a> {
    pub fn parse(token: &'a str) -> Result<Self, FitError> {
        if token.len() > MAX_FIT_LEN {
            return Err(FitError::TooLong);
        }
        let jws = Jws::parse(token)?;
        if jws.alg != Alg::RS256 {
            return Err(FitError::AlgorithmNotAllowed);
        }
        let kid = jws.kid.clone().ok_or(FitError::MissingKid)?;
        Ok(Self { jws, kid })
    }

    /// The key set entry to verify with.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Verify the signature with `key` (the key set's key of [`Self::kid`]), then every claim.
    pub fn verify(
        self,
        key: &ForgeKey,
        expect: Expectations<'_>,
        now: i64,
    ) -> Result<Invocation, FitError> {
        // An 8192-bit signature is 1024 bytes, the longest any key allows.
        let mut signature = [0u8; 1024];
        let len = URL_SAFE_NO_PAD
            .decode_slice(self.jws.signature_b64(), &mut signature)
            .map_err(|_| FitError::BadSignature)?;
        if !key.verifies_rs256(self.jws.signing_input.as_bytes(), &signature[..len]) {
            return Err(FitError::BadSignature);
        }
        self.jws.read_payload(|payload| {
            let claims: Claims<'_> =
                serde_json::from_slice(payload).map_err(|_| FitError::Malformed)?;
            claims.check(expect, now)
        })?
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience<'a> {
    #[serde(borrow)]
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims<'a> {
    #[serde(default)]
    iss: Claim,
    #[serde(borrow)]
    aud: Option<Audience<'a>>,
    #[serde(default)]
    exp: Claim,
    #[serde(default)]
    nbf: Claim,
    #[serde(default)]
    iat: Claim,
    #[serde(default)]
    jti: Claim,
    #[serde(borrow)]
    app: Option<App<'a>>,
    #[serde(borrow)]
    context: Option<Context<'a>>,
    #[serde(borrow)]
    principal: Option<Cow<'a, str>>,
    /// Present at all, even `null`.
    #[serde(default, deserialize_with = "crate::jws::present")]
    ic_label: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct App<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    installation_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    api_base_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    environment: Option<EnvironmentClaim<'a>>,
    #[serde(borrow)]
    installation: Option<InstallationClaim<'a>>,
}

#[derive(Deserialize)]
struct EnvironmentClaim<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct InstallationClaim<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    contexts: Vec<InstallationContext<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstallationContext<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    cloud_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    #[serde(borrow)]
    cloud_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    site_url: Option<Cow<'a, str>>,
    extension: Option<IgnoredAny>,
}

impl Claims<'_> {
    fn check(self, expect: Expectations<'_>, now: i64) -> Result<Invocation, FitError> {
        if self.iss.text("iss")? != ISSUER {
            return Err(FitError::WrongIssuer);
        }
        let app_id = expect.app_id.as_str();
        let audience_ok = match self.aud.ok_or(FitError::MissingClaim("aud"))? {
            Audience::One(aud) => aud == app_id,
            Audience::Many(all) => all.iter().any(|aud| aud == app_id),
        };
        if !audience_ok {
            return Err(FitError::WrongAudience);
        }
        let exp = self.exp.number("exp")?;
        let nbf = self.nbf.number("nbf")?;
        let iat = self.iat.number("iat")?;
        if self.jti.text("jti")?.is_empty() {
            return Err(FitError::InvalidClaim("jti"));
        }
        let (now, leeway) = (now as f64, expect.leeway_secs as f64);
        if nbf - leeway > now {
            return Err(FitError::NotYetValid);
        }
        if now >= exp + leeway {
            return Err(FitError::Expired);
        }
        if exp - iat > MAX_FIT_LIFETIME_SECS {
            return Err(FitError::LivesTooLong);
        }
        if self.ic_label {
            return Err(FitError::IsolatedCloud);
        }

        let app = self.app.ok_or(FitError::MissingClaim("app"))?;
        if app.id.as_deref() != Some(app_id) {
            return Err(FitError::WrongApp);
        }
        let installation_id = app
            .installation_id
            .as_deref()
            .ok_or(FitError::MissingClaim("app.installationId"))
            .and_then(|raw| {
                InstallationId::parse(raw).ok_or(FitError::InvalidClaim("app.installationId"))
            })?;
        let api_base_url = app
            .api_base_url
            .ok_or(FitError::MissingClaim("app.apiBaseUrl"))?;
        let cloud_id = api_base_url
            .strip_prefix(expect.api_base)
            .and_then(CloudId::parse)
            .ok_or(FitError::WrongApiBase)?;
        let same_cloud = |raw: &Option<Cow<'_, str>>| {
            raw.as_deref()
                .is_none_or(|raw| CloudId::parse(raw) == Some(cloud_id))
        };
        if let Some(installation) = &app.installation {
            if installation
                .id
                .as_deref()
                .is_some_and(|id| InstallationId::parse(id).as_ref() != Some(&installation_id))
            {
                return Err(FitError::InstallationMismatch);
            }
            let confluence = installation
                .contexts
                .iter()
                .filter(|context| context.name.as_deref() == Some("confluence"));
            for context in confluence {
                if !same_cloud(&context.cloud_id) {
                    return Err(FitError::CloudIdMismatch);
                }
            }
        }
        let (site_url, context_cloud, extension) = match self.context {
            Some(context) => (
                context.site_url.map(Cow::into_owned),
                context.cloud_id,
                context.extension.is_some(),
            ),
            None => (None, None, false),
        };
        if !same_cloud(&context_cloud) {
            return Err(FitError::CloudIdMismatch);
        }
        let environment = app.environment.as_ref();
        let kind = environment.and_then(|env| env.kind.as_deref());
        let id = environment.and_then(|env| env.id.as_deref());
        if !Environment::allows(expect.environments, kind, id) {
            return Err(FitError::EnvironmentNotAllowed);
        }
        let principal = self
            .principal
            .map(|raw| AccountId::parse(&raw).ok_or(FitError::InvalidClaim("principal")))
            .transpose()?;
        Ok(Invocation {
            installation_id,
            cloud_id,
            api_base_url: api_base_url.into_owned(),
            from_ui: principal.is_some() || extension,
            principal,
            site_url,
        })
    }
}

/// `exp` of a Forge OAuth token (a JWT, opaque otherwise), read without verifying anything: it
/// only decides how long the token is kept. `None` when it is not a JWT with a numeric `exp`.
pub fn token_expiry(token: &str) -> Option<i64> {
    #[derive(Deserialize)]
    struct Expiry {
        exp: Option<f64>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).ok()?;
    let exp = serde_json::from_slice::<Expiry>(&bytes).ok()?.exp?;
    (exp.is_finite() && exp > 0.0).then_some(exp as i64)
}

#[cfg(test)]
mod tests;
