//! Errors as HTTP: JSON for API and Connect callbacks, a friendly page for HTML routes.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde::Serialize;

use crate::connect::host_client::HostError;

/// `{"error": {"code": "...", "message": "..."}}` with a status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
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
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("JWT")));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        response.json(Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
    }
}

/// Confluence could not answer: the request is refused (fail closed), with a clear message.
pub fn host_error(error: HostError) -> ApiError {
    if matches!(error, HostError::NotFound) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_in_confluence",
            "Confluence has no such page (or it was deleted).",
        );
    }
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "confluence_unavailable",
        format!("Pageshare could not get an answer from Confluence: {error}"),
    )
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        database_error(error).into()
    }
}

/// A database failure, classified: unreachable (503) or a bug (500). Logged here, once.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseFailure {
    unavailable: bool,
}

pub fn database_error(error: sqlx::Error) -> DatabaseFailure {
    let unavailable = matches!(
        error,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
    );
    tracing::error!(%error, "database call failed");
    DatabaseFailure { unavailable }
}

impl From<DatabaseFailure> for ApiError {
    fn from(failure: DatabaseFailure) -> Self {
        if failure.unavailable {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "The database is unavailable; try again shortly.",
            )
        } else {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side.",
            )
        }
    }
}

impl From<DatabaseFailure> for PageError {
    fn from(failure: DatabaseFailure) -> Self {
        let api = ApiError::from(failure);
        Self::new(api.status, "Temporarily unavailable", api.message)
    }
}

/// A friendly HTML error page.
#[derive(Debug, Clone)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl PageError {
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.title,
            self.message
        )
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let html = ErrorPage {
            title: self.title,
            message: &self.message,
        }
        .render()
        .unwrap_or_else(|_| self.message.clone());
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("JWT")));
        }
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("text/html; charset=utf-8")
            .body(html)
    }
}

/// Query and path extractors of HTML routes: a bad parameter gets the friendly error page, not
/// the JSON the API answers.
pub fn page_extractors() -> (actix_web::web::QueryConfig, actix_web::web::PathConfig) {
    let query = actix_web::web::QueryConfig::default().error_handler(|_, _| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "This request could not be handled",
            "The address has a parameter Pageshare does not understand. Check the link.",
        )
        .into()
    });
    let path = actix_web::web::PathConfig::default().error_handler(|_, _| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Page not found",
            "This address does not lead to a page of Pageshare. Check the link.",
        )
        .into()
    });
    (query, path)
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        let title = match error.status {
            StatusCode::FORBIDDEN if error.code == "not_site_admin" => "Site administrators only",
            StatusCode::UNAUTHORIZED => "Please sign in again",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            s if s.is_server_error() => "Temporarily unavailable",
            _ => "This request could not be handled",
        };
        Self::new(error.status, title, error.message)
    }
}
