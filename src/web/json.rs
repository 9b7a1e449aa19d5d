//! JSON request bodies: `Content-Type: application/json`, at most [`MAX_JSON_BODY`] bytes, and a
//! value of the wrong type or shape answered with the field it is about
//! (`{"error": {"code": "invalid_field", "field": "expiresAt", ...}}`), never with the value.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::mime;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use super::error::{ApiError, AppError, without_values};

/// Largest JSON body accepted by the API.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// A JSON body, parsed.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|mime| {
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        })
}

/// The JSON body's limit, for the scopes that take [`Json`].
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_JSON_BODY)
}

/// Parse `bytes` as `T`, naming the field a problem is about.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if !inner.is_data() {
            return AppError::MalformedJson(inner.to_string());
        }
        let message = without_values(&inner.to_string());
        // A missing field is named only in serde's message (its path is the object's).
        let named = message.split('`').nth(1).filter(|_| {
            message.starts_with("missing field") || message.starts_with("unknown field")
        });
        let field = match named {
            Some(name) if path == "." => name.to_owned(),
            _ => path,
        };
        AppError::invalid(field, message)
    })?;
    deserializer
        .end()
        .map_err(|error| AppError::MalformedJson(error.to_string()))?;
    Ok(value)
}

/// A JSON body that may be left out: an empty body is `T::default()`, whatever its
/// `Content-Type`; any other is held to the rules of [`Json`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// The body of `req` parsed as `T`; `None` when it is empty and `optional` (then any
/// `Content-Type` will do).
fn read<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    optional: bool,
) -> Pin<Box<dyn Future<Output = Result<Option<T>, ApiError>>>> {
    let json = is_json(req);
    let body = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        if !json && !optional {
            return Err(AppError::UnsupportedMediaType.into());
        }
        let bytes = body.await.map_err(|error| {
            if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::BodyTooLarge(MAX_JSON_BODY)
            } else {
                AppError::UnreadableBody
            }
        })?;
        if optional && bytes.is_empty() {
            return Ok(None);
        }
        if !json {
            return Err(AppError::UnsupportedMediaType.into());
        }
        Ok(Some(parse(&bytes)?))
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read(req, payload, false);
        Box::pin(async move {
            // Never `None`: an empty required body fails to parse.
            let value = body.await?.ok_or(AppError::UnreadableBody)?;
            Ok(Self(value))
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read(req, payload, true);
        Box::pin(async move { Ok(Self(body.await?.unwrap_or_default())) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        content_id: String,
        expires_at: Option<u32>,
        frame_ancestors: Option<Vec<String>>,
    }

    #[test]
    fn problems_name_their_field_and_never_the_value() {
        let cases = [
            (r#"{"expiresAt": 1}"#, "invalid_field", Some("contentId")),
            (
                r#"{"contentId": "1", "expiresAt": "secret-value"}"#,
                "invalid_field",
                Some("expiresAt"),
            ),
            (
                r#"{"contentId": "1", "frameAncestors": ["a", 7]}"#,
                "invalid_field",
                Some("frameAncestors[1]"),
            ),
            (
                r#"{"contentId": "1", "colour": "red"}"#,
                "invalid_field",
                Some("colour"),
            ),
            (r#"{"contentId": "1""#, "malformed_json", None),
            (r#"{"contentId": "1"} trailing"#, "malformed_json", None),
            ("hello", "malformed_json", None),
        ];
        for (body, code, field) in cases {
            let error = parse::<Body>(body.as_bytes()).unwrap_err();
            assert_eq!(error.code(), code, "{body}");
            let named = match &error {
                AppError::InvalidField { field, .. } => Some(field.to_string()),
                _ => None,
            };
            assert_eq!(named.as_deref(), field, "{body}");
            assert!(!error.to_string().contains("secret-value"), "{error}");
        }
        assert!(parse::<Body>(br#"{"contentId": "1"}"#).is_ok());
    }
}
