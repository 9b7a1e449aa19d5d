//! The body of the `installed` / `uninstalled` callbacks.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::secrets::SharedSecret;
use crate::forge::ids::InstallationId;
use crate::tenant::ClientKey;

const MAX_FIELD_LEN: usize = 2048;

/// What Atlassian posts to `/installed` and `/uninstalled`, parsed and checked once.
#[derive(Debug, Clone)]
pub struct InstallPayload {
    pub key: String,
    pub client_key: ClientKey,
    pub shared_secret: SharedSecret,
    pub base_url: String,
    pub display_url: Option<String>,
    pub product_type: String,
    pub description: String,
    pub server_version: Option<String>,
    pub plugins_version: Option<String>,
    pub cloud_id: Option<String>,
    /// The site's Forge installation, once the app is registered with Forge (Connect on Forge).
    pub installation_id: Option<InstallationId>,
    /// Every other field Atlassian sent (never the shared secret).
    pub rest: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    key: String,
    client_key: String,
    shared_secret: String,
    base_url: String,
    display_url: Option<String>,
    #[serde(default)]
    product_type: String,
    #[serde(default)]
    description: String,
    server_version: Option<String>,
    plugins_version: Option<String>,
    cloud_id: Option<String>,
    installation_id: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not the JSON of a Connect lifecycle callback: {0}")]
    Malformed(String),
    #[error("`{0}` is empty, longer than {MAX_FIELD_LEN} characters or has control characters")]
    InvalidField(&'static str),
    #[error("the body has a NUL character, which no field may hold")]
    NulCharacter,
}

/// Whether a NUL character appears anywhere in `value`, names included (Postgres stores none).
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn bad_text(value: &str) -> bool {
    value.len() > MAX_FIELD_LEN || value.chars().any(char::is_control)
}

/// The other fields of the body, kept for reference: plain values under clean names, each
/// string clean (no control character, at most the field limit); anything else is dropped, so
/// no unchecked text is stored.
fn kept(rest: Map<String, Value>) -> Map<String, Value> {
    rest.into_iter()
        .filter(|(name, value)| {
            !bad_text(name)
                && match value {
                    Value::String(text) => !bad_text(text),
                    Value::Null | Value::Bool(_) | Value::Number(_) => true,
                    Value::Array(_) | Value::Object(_) => false,
                }
        })
        .collect()
}

impl InstallPayload {
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        // serde quotes wrong-typed values; the shared secret may be one of them.
        let malformed =
            |e: serde_json::Error| PayloadError::Malformed(without_values(&e.to_string()));
        let value: Value = serde_json::from_slice(body).map_err(malformed)?;
        if has_nul(&value) {
            return Err(PayloadError::NulCharacter);
        }
        let raw: Raw = serde_json::from_value(value).map_err(malformed)?;
        for (name, value) in [
            ("key", &raw.key),
            ("clientKey", &raw.client_key),
            ("sharedSecret", &raw.shared_secret),
            ("baseUrl", &raw.base_url),
        ] {
            if value.is_empty() || bad_text(value) {
                return Err(PayloadError::InvalidField(name));
            }
        }
        for (name, value) in [
            ("productType", &raw.product_type),
            ("description", &raw.description),
        ] {
            if bad_text(value) {
                return Err(PayloadError::InvalidField(name));
            }
        }
        let optional = [
            ("displayUrl", &raw.display_url),
            ("serverVersion", &raw.server_version),
            ("pluginsVersion", &raw.plugins_version),
            ("cloudId", &raw.cloud_id),
        ];
        for (name, value) in optional {
            if value.as_deref().is_some_and(bad_text) {
                return Err(PayloadError::InvalidField(name));
            }
        }
        Ok(Self {
            key: raw.key,
            client_key: ClientKey::parse(&raw.client_key)
                .ok_or(PayloadError::InvalidField("clientKey"))?,
            shared_secret: SharedSecret::new(raw.shared_secret),
            base_url: raw.base_url.trim_end_matches('/').to_owned(),
            display_url: raw.display_url,
            product_type: raw.product_type,
            description: raw.description,
            server_version: raw.server_version,
            plugins_version: raw.plugins_version,
            cloud_id: raw.cloud_id,
            installation_id: raw
                .installation_id
                .map(|id| {
                    InstallationId::parse(&id).ok_or(PayloadError::InvalidField("installationId"))
                })
                .transpose()?,
            rest: kept(raw.rest),
        })
    }
}

/// A serde message without the values it quotes (field names stay): a secret or a password may
/// be one of them. serde quotes numbers and the like in backticks and strings as Rust string
/// literals (`string "…"`, with `\"` inside).
pub fn without_values(message: &str) -> String {
    if !(message.contains("invalid type") || message.contains("invalid value")) {
        return message.to_owned();
    }
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                out.push('…');
                chars.by_ref().find(|&c| c == '`');
            }
            '"' => {
                out.push('…');
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_shaped_payload_and_keeps_the_rest() {
        let body = br#"{"key":"pageshare","clientKey":"c1","sharedSecret":"s3cret","baseUrl":"https://acme.atlassian.net/wiki/",
            "productType":"confluence","description":"Atlassian Confluence","eventType":"installed","serverVersion":"6452"}"#;
        let p = InstallPayload::parse(body).unwrap();
        assert_eq!(p.client_key.as_str(), "c1");
        assert_eq!(p.base_url, "https://acme.atlassian.net/wiki");
        assert_eq!(p.rest.get("eventType"), Some(&Value::from("installed")));
        assert!(!p.rest.contains_key("sharedSecret"));
    }

    #[test]
    fn only_plain_clean_values_of_the_rest_are_kept() {
        let long = "x".repeat(MAX_FIELD_LEN + 1);
        let body = serde_json::json!({"key":"pageshare","clientKey":"c1","sharedSecret":"s3cret",
            "baseUrl":"https://acme.atlassian.net/wiki","eventType":"installed","retries":2,
            "note":"line\nbreak","nested":{"a":"b"},"list":["a"],"long":long,"ok\u{7}":"x"});
        let p = InstallPayload::parse(body.to_string().as_bytes()).unwrap();
        let mut names: Vec<&str> = p.rest.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["eventType", "retries"]);
    }

    #[test]
    fn serde_messages_lose_every_value_they_quote() {
        let cases = [
            "invalid type: string \"hunter2\", expected u32 at line 1 column 9",
            "invalid type: string \"a \\\"quoted\\\" hunter2\", expected a sequence",
            "invalid type: integer `987654321`, expected a string",
            "invalid value: string \"hunter2\", expected one of `a`, `b`",
        ];
        for message in cases {
            let cleaned = without_values(message);
            assert!(
                !cleaned.contains("hunter2") && !cleaned.contains("987"),
                "{cleaned}"
            );
            assert!(cleaned.contains("expected"), "{cleaned}");
        }
        assert_eq!(without_values("missing field `x`"), "missing field `x`");
    }

    #[test]
    fn rejects_bad_bodies_without_echoing_the_secret() {
        let cases: [&[u8]; 7] = [
            b"not json",
            br#"{"clientKey":"c1"}"#,
            br#"{"key":"k","clientKey":"","sharedSecret":"topsecret","baseUrl":"https://a.atlassian.net"}"#,
            br#"{"key":"k","clientKey":"c","sharedSecret":42,"baseUrl":"https://a.atlassian.net"}"#,
            br#"{"key":"k","clientKey":"c","sharedSecret":987654321,"baseUrl":"https://a.atlassian.net"}"#,
            br#"{"key":"k","clientKey":"a\u0000b","sharedSecret":"topsecret","baseUrl":"https://a.atlassian.net"}"#,
            br#"[1,2,3]"#,
        ];
        let nul_anywhere: [&[u8]; 3] = [
            br#"{"key":"k","clientKey":"c","sharedSecret":"topsecret","baseUrl":"https://a.atlassian.net","description":"a\u0000b"}"#,
            br#"{"key":"k","clientKey":"c","sharedSecret":"topsecret","baseUrl":"https://a.atlassian.net","extra":{"deep":["x\u0000"]}}"#,
            br#"{"key":"k","clientKey":"c","sharedSecret":"topsecret","baseUrl":"https://a.atlassian.net","a\u0000":1}"#,
        ];
        for body in nul_anywhere {
            assert_eq!(
                InstallPayload::parse(body).unwrap_err(),
                PayloadError::NulCharacter
            );
        }
        let control = br#"{"key":"k","clientKey":"c","sharedSecret":"s","baseUrl":"https://a.atlassian.net","description":"line\nbreak"}"#;
        assert_eq!(
            InstallPayload::parse(control).unwrap_err(),
            PayloadError::InvalidField("description")
        );
        for body in cases {
            let err = InstallPayload::parse(body).unwrap_err();
            let text = err.to_string();
            assert!(
                !text.contains("topsecret") && !text.contains("987654321"),
                "{text}"
            );
        }
    }
}
