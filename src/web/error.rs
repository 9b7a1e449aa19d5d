//! Every way a request can fail, named once ([`AppError`]) and mapped here only: to its status,
//! to the JSON body of API and callback routes (`{"error": {"code", "message", "field"?}}`, as
//! [`ApiError`]) and to the friendly page of HTML routes ([`PageError`]). The message is the
//! user-facing wording (the admin UI shows it as it comes); none carries a secret or echoes a
//! value the caller sent. See `docs/HTTP.md`.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde::Serialize;

use crate::confluence::client::HostError;
pub use crate::connect::payload::without_values;

/// How a 401 tells the caller to authenticate (`WWW-Authenticate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// Connect JWTs (`Authorization: JWT …`).
    Jwt,
    /// Forge invocation tokens (`Authorization: Bearer …`).
    Bearer,
}

impl AuthScheme {
    fn header(self) -> HeaderValue {
        match self {
            Self::Jwt => HeaderValue::from_static("JWT"),
            Self::Bearer => HeaderValue::from_static("Bearer"),
        }
    }
}

/// What could not be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Route,
    Share,
    ApiKey,
    UnlockKey,
    SiteUnlockKey,
    /// A share page a reader opened (unknown or revoked).
    SharedPage,
    File,
    /// The tenant's installation row.
    Site,
    /// A parameter of a URL that does not parse.
    Resource,
}

/// Why a share page is no longer served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    ShareExpired,
    PageDeleted,
    SharingOff,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("The body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    MalformedBody(String),
    #[error("Invalid query string: {0}")]
    InvalidQuery(String),
    #[error("{message}")]
    BadParameter {
        name: &'static str,
        message: &'static str,
    },
    #[error("The request body could not be read.")]
    UnreadableBody,
    #[error("The body's key is not this app's key (PAGESHARE_APP_KEY).")]
    WrongAppKey,
    #[error("Go back, enter the password and try again.")]
    BadPasswordForm,
    #[error("{reason}")]
    Unauthorized {
        scheme: AuthScheme,
        reason: Cow<'static, str>,
    },
    #[error("You cannot view this page in Confluence, so you cannot share it.")]
    NoPermission,
    #[error("Only Confluence site administrators can manage the external shares of this site.")]
    NotSiteAdmin,
    #[error(
        "Only the person who created this link, or someone who can edit the page in Confluence, can change it."
    )]
    NotShareManager,
    #[error(
        "Only the person who created this link, someone who can edit the page, or a site administrator can revoke it."
    )]
    NotShareManagerToRevoke,
    #[error("This API key does not have the `{0}` scope.")]
    MissingScope(&'static str),
    #[error(
        "API keys cannot call the site admin API; a site administrator manages the site from Confluence."
    )]
    ApiKeyNotForAdmin,
    #[error("The site's baseUrl is not on this app's host allowlist (PAGESHARE_HOST_ALLOWLIST).")]
    HostNotAllowed,
    #[error("Only Forge itself calls this route (a trigger), never a user's page.")]
    NotFromForge,
    #[error(
        "Another tenant of this app already uses this site's cloud id as its key, so this Forge installation cannot be linked. Contact the app's operator."
    )]
    TenantConflict,
    #[error("The password can only be entered on the page itself.")]
    CrossSitePost,
    #[error(
        "This form has expired or did not come from the page itself. Open the page again and enter the password."
    )]
    FormExpired,
    #[error("This file link has expired. Open the shared page again.")]
    FileLinkExpired,
    #[error("{}", missing_message(*.0))]
    NotFound(Missing),
    #[error("Confluence has no such page (or it was deleted).")]
    NotInConfluence,
    #[error("This share is revoked; create a new one.")]
    ShareRevoked,
    #[error(
        "An unlock key of this kid already exists (on this share, or among the site's unlock keys); remove it first, or give the new key another kid."
    )]
    UnlockKeyExists,
    #[error(
        "An unlock key of this kid already exists (among the site's unlock keys, or on one of its shares); remove it first, or give the new key another kid."
    )]
    SiteUnlockKeyExists,
    #[error("{}", gone_message(*.0))]
    Gone(Gone),
    #[error("The body is larger than {0} bytes.")]
    BodyTooLarge(usize),
    #[error("Send the body as JSON (Content-Type: application/json).")]
    UnsupportedMediaType,
    #[error("{message}")]
    InvalidField {
        field: Cow<'static, str>,
        message: String,
    },
    #[error("Pageshare could not get an answer from Confluence: {0}")]
    Confluence(HostError),
    #[error("The database is unavailable; try again shortly.")]
    DatabaseUnavailable,
    #[error("This instance is not hearing share changes from the database yet; try again shortly.")]
    ChangeListenerUnavailable,
    #[error("The server is busy; try again.")]
    Busy,
    #[error("Pageshare holds no secret to call this Confluence site.")]
    NoTenantSecret,
    #[error("The install key server could not be reached; try again later.")]
    InstallKeysUnavailable,
    #[error("Forge's key set could not be fetched; try again shortly.")]
    ForgeKeysUnavailable,
    #[error("Something went wrong on our side.")]
    Internal,
}

fn missing_message(missing: Missing) -> &'static str {
    match missing {
        Missing::Route => "No such route.",
        Missing::Share => "No such share.",
        Missing::ApiKey => "No such API key.",
        Missing::UnlockKey => "This share has no unlock key of this kid.",
        Missing::SiteUnlockKey => "This site has no unlock key of this kid.",
        Missing::SharedPage => {
            "This link does not lead to a shared page. Check the address, or ask the person who shared it."
        }
        Missing::File => "This file is not part of the shared page.",
        Missing::Site => "This site is not installed.",
        Missing::Resource => "This address does not lead to anything here. Check the link.",
    }
}

fn gone_message(gone: Gone) -> &'static str {
    match gone {
        Gone::ShareExpired => "This share has expired.",
        Gone::PageDeleted => "The Confluence page of this share no longer exists.",
        Gone::SharingOff => "The Confluence site of this page has turned sharing off.",
    }
}

impl AppError {
    pub fn unauthorized(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Unauthorized {
            scheme: AuthScheme::Jwt,
            reason: reason.into(),
        }
    }

    pub fn invalid(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        use AppError::*;
        match self {
            MalformedJson(_)
            | MalformedBody(_)
            | InvalidQuery(_)
            | BadParameter { .. }
            | UnreadableBody
            | WrongAppKey
            | BadPasswordForm => StatusCode::BAD_REQUEST,
            Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            NoPermission
            | NotSiteAdmin
            | NotShareManager
            | NotShareManagerToRevoke
            | MissingScope(_)
            | ApiKeyNotForAdmin
            | HostNotAllowed
            | NotFromForge
            | CrossSitePost
            | FormExpired
            | FileLinkExpired => StatusCode::FORBIDDEN,
            NotFound(_) | NotInConfluence => StatusCode::NOT_FOUND,
            ShareRevoked | TenantConflict | UnlockKeyExists | SiteUnlockKeyExists => {
                StatusCode::CONFLICT
            }
            Gone(_) => StatusCode::GONE,
            BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Confluence(_) => StatusCode::BAD_GATEWAY,
            DatabaseUnavailable
            | ChangeListenerUnavailable
            | Busy
            | NoTenantSecret
            | InstallKeysUnavailable
            | ForgeKeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code scripts match on.
    pub fn code(&self) -> &'static str {
        use AppError::*;
        match self {
            MalformedJson(_) => "malformed_json",
            MalformedBody(_) => "malformed_body",
            InvalidQuery(_) | BadParameter { .. } => "invalid_query",
            UnreadableBody | BadPasswordForm => "unreadable_body",
            WrongAppKey => "wrong_app_key",
            Unauthorized { .. } => "unauthorized",
            NoPermission => "no_permission",
            NotSiteAdmin => "not_site_admin",
            NotShareManager | NotShareManagerToRevoke => "not_share_manager",
            MissingScope(_) | ApiKeyNotForAdmin => "missing_scope",
            HostNotAllowed => "host_not_allowed",
            NotFromForge => "not_from_forge",
            TenantConflict => "tenant_conflict",
            CrossSitePost => "cross_site_post",
            FormExpired => "form_expired",
            FileLinkExpired => "file_link_expired",
            NotFound(_) => "not_found",
            NotInConfluence => "not_in_confluence",
            ShareRevoked => "share_revoked",
            UnlockKeyExists | SiteUnlockKeyExists => "unlock_key_exists",
            Gone(_) => "gone",
            BodyTooLarge(_) => "body_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            InvalidField { .. } => "invalid_field",
            Confluence(_) => "confluence_unavailable",
            DatabaseUnavailable => "database_unavailable",
            ChangeListenerUnavailable => "change_listener_unavailable",
            Busy => "busy",
            NoTenantSecret => "no_tenant_secret",
            InstallKeysUnavailable => "install_keys_unavailable",
            ForgeKeysUnavailable => "forge_keys_unavailable",
            Internal => "internal",
        }
    }

    /// The heading of the error page.
    fn title(&self) -> &'static str {
        use AppError::*;
        match self {
            NotSiteAdmin => "Site administrators only",
            Unauthorized { .. } => "Please sign in again",
            FormExpired => "Please try again",
            FileLinkExpired => "Link expired",
            NotFound(Missing::SharedPage | Missing::Resource) => "Page not found",
            NotFound(_) | NotInConfluence => "Not found",
            Gone(_) => "No longer shared",
            BadPasswordForm => "Something is wrong with that form",
            BadParameter { .. } => "Unknown page",
            Confluence(HostError::TooLarge) => "Too large to share",
            Confluence(_) => "Confluence did not answer",
            Busy => "Busy",
            _ => match self.status() {
                StatusCode::FORBIDDEN => "Not allowed",
                status if status.is_server_error() => "Temporarily unavailable",
                _ => "This request could not be handled",
            },
        }
    }

    /// What the reader of a page is told (plainer than the API's message where they differ).
    fn page_message(&self) -> Cow<'static, str> {
        match self {
            Self::Confluence(HostError::TooLarge) => {
                "Confluence sent more than Pageshare passes on for one page or file.".into()
            }
            Self::Confluence(_) => {
                "The page could not be loaded from Confluence just now. Try again in a moment."
                    .into()
            }
            Self::InvalidQuery(_) => {
                "The address has a parameter Pageshare does not understand. Check the link.".into()
            }
            Self::NoTenantSecret => {
                "Confluence has not been reachable for this site. Try again later.".into()
            }
            other => other.to_string().into(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::BadParameter { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Headers every answer of this error carries.
    fn headers(&self, response: &mut actix_web::HttpResponseBuilder) {
        match self {
            Self::Unauthorized { scheme, .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, scheme.header()));
            }
            error if error.status() == StatusCode::SERVICE_UNAVAILABLE => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
            }
            _ => {}
        }
    }
}

impl From<HostError> for AppError {
    /// Confluence could not answer: the request is refused (fail closed), with a clear message.
    fn from(error: HostError) -> Self {
        match error {
            HostError::NotFound => Self::NotInConfluence,
            other => Self::Confluence(other),
        }
    }
}

impl From<crate::tenant::NoCredentials> for AppError {
    fn from(_: crate::tenant::NoCredentials) -> Self {
        Self::NoTenantSecret
    }
}

impl From<sqlx::Error> for AppError {
    /// A database failure, classified: unreachable (503) or a bug (500). Logged here, once. A
    /// connection closed or garbled on the way (`Protocol`: a proxy in front of Postgres that
    /// accepts and then drops connections answers the TLS request with nothing) is unreachable.
    fn from(error: sqlx::Error) -> Self {
        let unavailable = matches!(
            error,
            sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
        );
        tracing::error!(%error, "database call failed");
        if unavailable {
            Self::DatabaseUnavailable
        } else {
            Self::Internal
        }
    }
}

/// An [`AppError`] answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub AppError);

/// An [`AppError`] answered with the friendly HTML page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl<E: Into<AppError>> From<E> for PageError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status().as_u16(),
            self.0.code(),
            self.0
        )
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status().as_u16(),
            self.0.title(),
            self.0
        )
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.0.status());
        self.0.headers(&mut response);
        response.json(Body {
            error: Inner {
                code: self.0.code(),
                message: &self.0.to_string(),
                field: self.0.field(),
            },
        })
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        let message = self.0.page_message();
        let html = ErrorPage {
            title: self.0.title(),
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| message.clone().into_owned());
        let mut response = HttpResponse::build(self.0.status());
        self.0.headers(&mut response);
        response
            .insert_header((header::CACHE_CONTROL, "no-cache, no-store"))
            .content_type("text/html; charset=utf-8")
            .body(html)
    }
}

/// Query and path extractors of HTML routes: a bad parameter gets the friendly error page, not
/// the JSON the API answers.
pub fn page_extractors() -> (actix_web::web::QueryConfig, actix_web::web::PathConfig) {
    let query = actix_web::web::QueryConfig::default()
        .error_handler(|error, _| PageError(AppError::InvalidQuery(error.to_string())).into());
    let path = actix_web::web::PathConfig::default()
        .error_handler(|_, _| PageError(AppError::NotFound(Missing::Resource)).into());
    (query, path)
}

/// Query and path extractors of JSON routes.
pub fn api_extractors() -> (actix_web::web::QueryConfig, actix_web::web::PathConfig) {
    let query = actix_web::web::QueryConfig::default().error_handler(|error, _| {
        ApiError(AppError::InvalidQuery(without_values(&error.to_string()))).into()
    });
    let path = actix_web::web::PathConfig::default()
        .error_handler(|_, _| ApiError(AppError::NotFound(Missing::Resource)).into());
    (query, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_are_unavailable_unless_they_are_the_apps_own() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let cases: Vec<(&str, sqlx::Error, StatusCode)> = vec![
            (
                "pool timed out",
                sqlx::Error::PoolTimedOut,
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                "pool closed",
                sqlx::Error::PoolClosed,
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                "connection reset",
                sqlx::Error::Io(io()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                "closed during the TLS request",
                sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                "no row",
                sqlx::Error::RowNotFound,
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                "a column the code names wrong",
                sqlx::Error::ColumnNotFound("nope".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (name, error, status) in cases {
            assert_eq!(AppError::from(error).status(), status, "{name}");
        }
    }

    #[test]
    fn json_errors_carry_code_message_and_field() {
        let error = ApiError(AppError::invalid("frameAncestors", "at most 20 origins"));
        let response = error.error_response();
        assert_eq!(response.status(), 422);
        let body = actix_web::body::to_bytes(response.into_body());
        let body: serde_json::Value = serde_json::from_slice(
            &futures_util::FutureExt::now_or_never(body)
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "invalid_field", "message": "at most 20 origins", "field": "frameAncestors"}})
        );
    }

    fn header(response: &HttpResponse, name: header::HeaderName) -> &str {
        response.headers().get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn unauthorized_says_how_to_authenticate_and_unavailable_when_to_retry() {
        let unauthorized = ApiError(AppError::unauthorized("no token")).error_response();
        assert_eq!(header(&unauthorized, header::WWW_AUTHENTICATE), "JWT");
        let page = PageError(AppError::unauthorized("no token")).error_response();
        assert_eq!(header(&page, header::WWW_AUTHENTICATE), "JWT");
        let busy = ApiError(AppError::DatabaseUnavailable).error_response();
        assert_eq!(busy.status(), 503);
        assert_eq!(header(&busy, header::RETRY_AFTER), "5");
    }

    #[test]
    fn pages_are_html_never_cached() {
        let page = PageError(AppError::NotFound(Missing::SharedPage)).error_response();
        assert_eq!(page.status(), 404);
        assert_eq!(header(&page, header::CACHE_CONTROL), "no-cache, no-store");
        assert!(header(&page, header::CONTENT_TYPE).starts_with("text/html"));
    }
}
