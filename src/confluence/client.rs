//! Calls from the app to a tenant's Confluence REST API, signed with a Connect JWT (`docs/SECURITY.md`).
//! JSON calls follow no redirect and are read up to 5 MB; attachment downloads follow at most two
//! redirects, each to the tenant's origin or a media host (see [`super::redirects`]).

use crate::metrics::{CallKind, Metrics};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::ids::AccountId;
pub use super::ids::ContentId;

use super::redirects::{MediaHosts, public_only, same_origin};
use crate::connect::canonical::{RequestParts, canonical_request, qsh_of};
use crate::connect::secrets::SharedSecret;
use crate::connect::token::{OutgoingClaims, sign};
use crate::outgoing::{BodyError, read_capped};
use crate::tenant::ClientKey;

/// Lifetime of the JWTs the app signs.
const TOKEN_TTL_SECS: i64 = 180;
/// An attachment streams to the reader through the app, so its download may take longer than
/// the client's 10 seconds for an API call.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest JSON answer read from Confluence.
pub const MAX_JSON_BYTES: usize = 5 * 1024 * 1024;
/// Redirects an attachment download may follow (Confluence's to the media host, and one more).
const MAX_DOWNLOAD_REDIRECTS: usize = 2;

/// How calls to one tenant's Confluence are authenticated: the caller says, the client never
/// asks which platform the tenant came through.
#[derive(Clone)]
pub enum Credentials<'a> {
    /// Connect: a JWT per call (`iss` the app key, `aud` the client key, the call's `qsh`),
    /// signed with the shared secret the host holds.
    ConnectJwt(&'a SharedSecret),
    /// An OAuth bearer token (Forge's app token for the installation).
    Bearer(Cow<'a, str>),
}

/// Never prints a token.
impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ConnectJwt(_) => f.write_str("ConnectJwt(<redacted>)"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Where and how to reach one tenant's Confluence.
#[derive(Debug, Clone)]
pub struct Host<'a> {
    /// Names the tenant in logs (and is the Connect JWT's `aud`).
    pub client_key: &'a ClientKey,
    /// The REST base, e.g. `https://acme.atlassian.net/wiki` or, for Forge,
    /// `https://api.atlassian.com/ex/confluence/{cloudId}/wiki` (no trailing `/`): REST paths such
    /// as `/rest/api/content/1` are appended to it.
    pub base_url: Cow<'a, str>,
    pub credentials: Credentials<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("Confluence could not be reached; try again in a moment")]
    Unreachable,
    #[error("Confluence has no such page or attachment, or does not show it to Pageshare")]
    NotFound,
    #[error("Confluence answered with status {0}")]
    Status(u16),
    #[error("Confluence answered something Pageshare does not understand")]
    BadAnswer,
    #[error("Confluence answered with a redirect, which Pageshare does not follow for this call")]
    Redirected,
    #[error("Confluence sent the download to a host Pageshare does not fetch from")]
    RedirectRefused,
    #[error("Confluence's answer is larger than Pageshare accepts")]
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentOperation {
    Read,
    Update,
}

/// A page as `GET /rest/api/content/{id}?expand=body.export_view,version,space` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageContent {
    pub title: String,
    pub space_key: String,
    pub version: u32,
    /// The page body as HTML, with macros rendered; not sanitised.
    pub export_view: String,
}

/// A page below another, as Confluence's descendant listing names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descendant {
    pub id: ContentId,
    pub title: String,
    /// The page it sits under (the last of its ancestors).
    pub parent: Option<ContentId>,
}

pub struct HostClient {
    /// Calls to the tenant: no redirect is followed by the client itself.
    http: reqwest::Client,
    /// Redirect hops of downloads: names must resolve to public addresses.
    hops: reqwest::Client,
    app_key: String,
    media_hosts: MediaHosts,
    max_attachment_bytes: u64,
    metrics: Option<Arc<Metrics>>,
}

/// One REST call to a tenant, before it is signed.
struct Call<'a> {
    method: reqwest::Method,
    /// Relative to the tenant base URL, e.g. `/rest/api/content/123`.
    path: &'a str,
    params: &'a [(&'a str, &'a str)],
    body: Option<&'a serde_json::Value>,
    answer: Answer,
}

/// What the app expects back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Json,
    /// Bytes of any type, streamed on to a reader.
    Download,
}

impl Answer {
    fn accept(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Download => "*/*",
        }
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn client(public_only_names: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none());
    if public_only_names {
        // A proxy from the environment would resolve names itself, past the public-only check.
        builder = builder.dns_resolver(public_only()).no_proxy();
    }
    builder
        .build()
        .expect("static reqwest configuration is valid")
}

impl HostClient {
    pub fn new(app_key: &str, media_hosts: MediaHosts, max_attachment_bytes: u64) -> Self {
        Self {
            http: client(false),
            hops: client(true),
            app_key: app_key.to_owned(),
            media_hosts,
            max_attachment_bytes,
            metrics: None,
        }
    }

    /// Count every call in `metrics`.
    pub fn with_metrics(self, metrics: Option<Arc<Metrics>>) -> Self {
        Self { metrics, ..self }
    }

    /// Run one call, counted by kind and outcome, with its time.
    async fn counted<T>(
        &self,
        kind: CallKind,
        call: impl Future<Output = Result<T, HostError>>,
    ) -> Result<T, HostError> {
        let Some(metrics) = &self.metrics else {
            return call.await;
        };
        let started = std::time::Instant::now();
        let result = call.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(HostError::Unreachable) => "unreachable",
            Err(HostError::NotFound) => "not_found",
            Err(HostError::Status(_)) => "status",
            Err(HostError::BadAnswer) => "bad_answer",
            Err(HostError::Redirected) => "redirected",
            Err(HostError::RedirectRefused) => "redirect_refused",
            Err(HostError::TooLarge) => "too_large",
        };
        metrics.confluence_call(kind, outcome, started.elapsed());
        result
    }

    /// The `Authorization` header value for a request to `path?query` of the host.
    pub fn authorization(
        &self,
        host: &Host<'_>,
        method: &str,
        path: &str,
        query: &str,
        now: i64,
    ) -> String {
        let secret = match &host.credentials {
            Credentials::Bearer(token) => return format!("Bearer {token}"),
            Credentials::ConnectJwt(secret) => *secret,
        };
        let canonical = canonical_request(
            RequestParts {
                method,
                path,
                query,
            },
            "",
        );
        let claims = OutgoingClaims {
            iss: self.app_key.clone(),
            iat: now,
            exp: now + TOKEN_TTL_SECS,
            qsh: qsh_of(&canonical),
            sub: None,
            aud: Some(vec![host.client_key.to_string()]),
        };
        format!("JWT {}", sign(&claims, secret))
    }

    /// Sign and send a call; answer with the response when its final status is a success.
    async fn send(&self, host: &Host<'_>, call: Call<'_>) -> Result<reqwest::Response, HostError> {
        let Call {
            method,
            path,
            params,
            body,
            answer,
        } = call;
        let query = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let now = chrono::Utc::now().timestamp();
        let auth = self.authorization(host, method.as_str(), path, &query, now);
        let mut url = format!("{}{path}", host.base_url);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let mut request = self
            .http
            .request(method, &url)
            .header("Authorization", auth)
            .header("Accept", answer.accept());
        if let Some(body) = body {
            request = request.json(body);
        }
        if answer == Answer::Download {
            request = request.timeout(DOWNLOAD_TIMEOUT);
        }
        let unreachable = |error: reqwest::Error| {
            // reqwest's error names the URL, which carries no secret (the JWT is a header).
            tracing::warn!(%error, client_key = %host.client_key, path, "Confluence unreachable");
            HostError::Unreachable
        };
        let mut response = request.send().await.map_err(unreachable)?;
        if answer == Answer::Download {
            response = self.follow_download(host, response).await?;
        } else if response.status().is_redirection() {
            tracing::warn!(status = %response.status(), client_key = %host.client_key, path, "Confluence redirected a JSON call; not followed");
            return Err(HostError::Redirected);
        }
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            tracing::info!(
                client_key = %host.client_key,
                path,
                "Confluence found nothing"
            );
            return Err(HostError::NotFound);
        }
        if !status.is_success() {
            tracing::warn!(%status, client_key = %host.client_key, path, "Confluence refused a call");
            return Err(HostError::Status(status.as_u16()));
        }
        if answer == Answer::Download
            && response
                .content_length()
                .is_some_and(|len| len > self.max_attachment_bytes)
        {
            tracing::warn!(
                client_key = %host.client_key,
                path,
                "attachment larger than PAGESHARE_MAX_ATTACHMENT_MB"
            );
            return Err(HostError::TooLarge);
        }
        Ok(response)
    }

    /// Follow a download's redirects: at most [`MAX_DOWNLOAD_REDIRECTS`], each to the tenant's
    /// origin or a media host, without the tenant's credentials (the media URL carries its own).
    async fn follow_download(
        &self,
        host: &Host<'_>,
        mut response: reqwest::Response,
    ) -> Result<reqwest::Response, HostError> {
        for hop in 0..=MAX_DOWNLOAD_REDIRECTS {
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let target = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|location| response.url().join(location).ok())
                .ok_or(HostError::BadAnswer)?;
            // Only the host goes to the log: a media URL's query is a credential.
            let target_host = target.host_str().unwrap_or_default().to_owned();
            if hop == MAX_DOWNLOAD_REDIRECTS {
                tracing::warn!(
                    client_key = %host.client_key,
                    host = target_host,
                    "download redirected too often"
                );
                return Err(HostError::RedirectRefused);
            }
            if !self.may_follow(host, &target) {
                tracing::warn!(
                    client_key = %host.client_key,
                    host = target_host,
                    port = target.port(),
                    scheme = target.scheme(),
                    "download redirected to a host outside PAGESHARE_MEDIA_HOSTS; not followed"
                );
                return Err(HostError::RedirectRefused);
            }
            response = self
                .hops
                .get(target)
                .header("Accept", Answer::Download.accept())
                .timeout(DOWNLOAD_TIMEOUT)
                .send()
                .await
                .map_err(|error| {
                    tracing::warn!(error = %error.without_url(), client_key = %host.client_key, host = target_host, "media host unreachable");
                    HostError::Unreachable
                })?;
        }
        Ok(response)
    }

    fn may_follow(&self, host: &Host<'_>, target: &Url) -> bool {
        same_origin(target, &host.base_url) || self.media_hosts.allows(target)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        host: &Host<'_>,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, HostError> {
        let call = Call {
            method,
            path,
            params,
            body,
            answer: Answer::Json,
        };
        let response = self.send(host, call).await?;
        let body = read_capped(response, MAX_JSON_BYTES)
            .await
            .map_err(|error| {
                tracing::warn!(%error, client_key = %host.client_key, path, "Confluence answer not read");
                match error {
                    BodyError::TooLarge(_) => HostError::TooLarge,
                    BodyError::Read(_) => HostError::Unreachable,
                }
            })?;
        serde_json::from_slice(&body).map_err(|error| {
            tracing::warn!(%error, client_key = %host.client_key, path, "Confluence answer not understood");
            HostError::BadAnswer
        })
    }

    /// Whether the user administers the site (`administer` on `application`).
    pub async fn is_site_admin(
        &self,
        host: &Host<'_>,
        account_id: &AccountId,
    ) -> Result<bool, HostError> {
        #[derive(Deserialize)]
        struct User {
            #[serde(default)]
            operations: Vec<Operation>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Operation {
            operation: String,
            target_type: String,
        }
        let params = [("accountId", account_id.as_str()), ("expand", "operations")];
        let call = self.call(host, reqwest::Method::GET, "/rest/api/user", &params, None);
        let user: User = self.counted(CallKind::SiteAdmin, call).await?;
        Ok(user
            .operations
            .iter()
            .any(|op| op.operation == "administer" && op.target_type == "application"))
    }

    /// Whether the user may read (or update) the content, as Confluence says.
    pub async fn has_content_permission(
        &self,
        host: &Host<'_>,
        account_id: &AccountId,
        content: &ContentId,
        operation: ContentOperation,
    ) -> Result<bool, HostError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            has_permission: bool,
        }
        let body = serde_json::json!({
            "subject": {"type": "user", "identifier": account_id},
            "operation": match operation { ContentOperation::Read => "read", ContentOperation::Update => "update" },
        });
        let path = format!("/rest/api/content/{}/permission/check", content.as_str());
        let call = self.call(host, reqwest::Method::POST, &path, &[], Some(&body));
        let answer: Answer = self.counted(CallKind::Permission, call).await?;
        Ok(answer.has_permission)
    }

    /// The page's title, space, version and `export_view` body.
    pub async fn content(
        &self,
        host: &Host<'_>,
        content: &ContentId,
    ) -> Result<PageContent, HostError> {
        #[derive(Deserialize)]
        struct Answer {
            title: String,
            space: Space,
            version: Version,
            body: Body,
        }
        #[derive(Deserialize)]
        struct Space {
            key: String,
        }
        #[derive(Deserialize)]
        struct Version {
            number: u32,
        }
        #[derive(Deserialize)]
        struct Body {
            export_view: ExportView,
        }
        #[derive(Deserialize)]
        struct ExportView {
            value: String,
        }
        let path = format!("/rest/api/content/{}", content.as_str());
        let call = self.call(
            host,
            reqwest::Method::GET,
            &path,
            &[("expand", "body.export_view,version,space")],
            None,
        );
        let answer: Answer = self.counted(CallKind::Content, call).await?;
        Ok(PageContent {
            title: answer.title,
            space_key: answer.space.key,
            version: answer.version.number,
            export_view: answer.body.export_view.value,
        })
    }

    /// The pages below `root`, from Confluence's descendant listing (paged with `start` and
    /// `limit`; Confluence may answer fewer than asked, and names the next page in
    /// `_links.next` while there is one), at most `at_most` of them; `true` with them when
    /// Confluence has more.
    pub async fn descendants(
        &self,
        host: &Host<'_>,
        root: &ContentId,
        at_most: usize,
    ) -> Result<(Vec<Descendant>, bool), HostError> {
        #[derive(Deserialize)]
        struct Answer {
            results: Vec<Item>,
            #[serde(rename = "_links", default)]
            links: Links,
        }
        #[derive(Deserialize)]
        struct Item {
            id: String,
            title: String,
            #[serde(default)]
            ancestors: Vec<Ancestor>,
        }
        #[derive(Deserialize)]
        struct Ancestor {
            id: String,
        }
        #[derive(Deserialize, Default)]
        struct Links {
            next: Option<String>,
        }
        const PAGE_SIZE: usize = 100;
        let path = format!("/rest/api/content/{}/descendant/page", root.as_str());
        let mut found = Vec::new();
        loop {
            let start = found.len().to_string();
            let limit = PAGE_SIZE.min(at_most - found.len()).to_string();
            let params = [
                ("start", start.as_str()),
                ("limit", limit.as_str()),
                ("expand", "ancestors"),
            ];
            let call = self.call(host, reqwest::Method::GET, &path, &params, None);
            let answer: Answer = self.counted(CallKind::Descendants, call).await?;
            let more = answer.links.next.is_some() && !answer.results.is_empty();
            // Every result counts for `start`, even one whose id is unusable (then left out).
            for item in answer.results {
                found.push(ContentId::parse(&item.id).map(|id| Descendant {
                    id,
                    title: item.title,
                    parent: item.ancestors.last().and_then(|a| ContentId::parse(&a.id)),
                }));
            }
            if !more || found.len() >= at_most {
                return Ok((found.into_iter().flatten().collect(), more));
            }
        }
    }

    /// The bytes of one attachment of `page`, ready to stream (`content-type`, `content-length`,
    /// `bytes_stream`). Confluence redirects to its media host, which is followed without the
    /// tenant's credentials; a `Content-Length` over the cap is refused here, an unknown length
    /// is capped while streaming.
    pub async fn attachment(
        &self,
        host: &Host<'_>,
        page: &ContentId,
        attachment: &ContentId,
    ) -> Result<reqwest::Response, HostError> {
        let path = format!(
            "/rest/api/content/{}/child/attachment/{}/download",
            page.as_str(),
            attachment.as_str()
        );
        let call = Call {
            method: reqwest::Method::GET,
            path: &path,
            params: &[],
            body: None,
            answer: Answer::Download,
        };
        self.counted(CallKind::Attachment, self.send(host, call))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Page, Sandbox, Site};

    const APP_KEY: &str = "pageshare-test";
    const PAGE_ID: &str = "65538";

    fn sandbox_with_sample_page() -> (Sandbox, Site) {
        let sandbox = Sandbox::start(APP_KEY).expect("sandbox starts");
        let site = sandbox.add_site("acme");
        let page = Page::sample(&site.base_url, PAGE_ID);
        sandbox.update_site("acme", |s| {
            s.pages.insert(PAGE_ID.to_owned(), page);
        });
        (sandbox, site)
    }

    fn client_for(sandbox: &Sandbox) -> HostClient {
        HostClient::new(APP_KEY, sandbox.media_hosts(), 50 * 1024 * 1024)
    }

    /// What a [`Host`] of a sandbox site borrows.
    struct Target {
        client_key: ClientKey,
        base_url: String,
        secret: SharedSecret,
    }

    impl Target {
        fn of(site: &Site) -> Self {
            Self {
                client_key: ClientKey::parse(&site.client_key).unwrap(),
                base_url: site.base_url.clone(),
                secret: site.secret.clone(),
            }
        }

        fn host(&self) -> Host<'_> {
            Host {
                client_key: &self.client_key,
                base_url: Cow::Borrowed(&self.base_url),
                credentials: Credentials::ConnectJwt(&self.secret),
            }
        }
    }

    fn id(raw: &str) -> ContentId {
        ContentId::parse(raw).expect("valid id")
    }

    #[tokio::test]
    async fn content_is_fetched_with_a_jwt_confluence_accepts() {
        let (sandbox, site) = sandbox_with_sample_page();
        let client = client_for(&sandbox);

        let page = client
            .content(&Target::of(&site).host(), &id(PAGE_ID))
            .await
            .unwrap();

        assert_eq!(
            (page.title.as_str(), page.space_key.as_str(), page.version),
            ("Onboarding", "ENG", 7)
        );
        assert_eq!(
            page.export_view,
            Page::sample(&site.base_url, PAGE_ID).export_view
        );
        assert_eq!(sandbox.content_fetches(), 1);
        assert_eq!(sandbox.verified_rest_calls(), 1);
    }

    /// Confluence checks each call's `qsh` with its own canonicaliser (the sandbox's, not the
    /// app's): every call the app makes verifies there, with the canonical request (and so the
    /// `qsh`) computed by hand in `sandbox::qsh::APP_CALLS`.
    #[tokio::test]
    async fn each_call_carries_the_qsh_confluence_computes_for_it() {
        let sandbox = Sandbox::start(APP_KEY).expect("sandbox starts");
        let site = sandbox.add_site("acme");
        sandbox.update_site("acme", |s| {
            s.pages
                .insert("1234567".to_owned(), Page::sample(&s.base_url, "1234567"));
        });
        let client = client_for(&sandbox);
        let target = Target::of(&site);
        let host = target.host();
        let (user, page) = (AccountId::parse("557058:editor").unwrap(), id("1234567"));

        client.is_site_admin(&host, &user).await.unwrap();
        let read = ContentOperation::Read;
        (client
            .has_content_permission(&host, &user, &page, read)
            .await)
            .unwrap();
        client.content(&host, &page).await.unwrap();
        let image = id(Page::SAMPLE_IMAGE_ID);
        client.attachment(&host, &page, &image).await.unwrap();

        let by_hand: Vec<&str> = crate::sandbox::qsh::APP_CALLS
            .iter()
            .map(|call| call.3)
            .collect();
        assert_eq!(sandbox.signed_requests(), by_hand);
    }

    #[tokio::test]
    async fn an_unknown_page_is_not_found() {
        let (sandbox, site) = sandbox_with_sample_page();
        let client = client_for(&sandbox);

        let answer = client
            .content(&Target::of(&site).host(), &id("404404"))
            .await;

        assert!(matches!(answer, Err(HostError::NotFound)), "{answer:?}");
    }

    #[tokio::test]
    async fn attachment_download_follows_the_redirect_to_the_media_host() {
        let (sandbox, site) = sandbox_with_sample_page();
        let client = client_for(&sandbox);

        let response = client
            .attachment(
                &Target::of(&site).host(),
                &id(PAGE_ID),
                &id(Page::SAMPLE_IMAGE_ID),
            )
            .await
            .unwrap();

        assert!(response.url().path().starts_with("/media/acme/"));
        assert_eq!(
            response.url().port(),
            sandbox.media_url().port(),
            "the media host's own port"
        );
        assert_eq!(response.headers()["content-type"], "image/png");
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(sandbox.verified_rest_calls(), 1);
    }

    #[tokio::test]
    async fn an_attachment_of_another_page_is_not_found() {
        let (sandbox, site) = sandbox_with_sample_page();
        let client = client_for(&sandbox);

        let answer = client
            .attachment(
                &Target::of(&site).host(),
                &id("98305"),
                &id(Page::SAMPLE_IMAGE_ID),
            )
            .await;

        assert!(matches!(answer, Err(HostError::NotFound)), "{answer:?}");
    }

    #[tokio::test]
    async fn calls_signed_with_another_secret_are_refused() {
        let (sandbox, site) = sandbox_with_sample_page();
        let client = client_for(&sandbox);
        let wrong = Target {
            secret: SharedSecret::new("not-the-shared-secret"),
            ..Target::of(&site)
        };
        let host = &wrong.host();

        let page = client.content(host, &id(PAGE_ID)).await;
        let file = client
            .attachment(host, &id(PAGE_ID), &id(Page::SAMPLE_IMAGE_ID))
            .await;

        assert!(matches!(page, Err(HostError::Status(401))), "{page:?}");
        assert!(matches!(file, Err(HostError::Status(401))), "{file:?}");
        assert_eq!(sandbox.content_fetches(), 0);
    }
}
