//! The query string hash as Confluence computes it when the app calls its REST API: written here
//! from Atlassian's description of the canonical request, and on purpose not with the app's own
//! canonicaliser (`crate::connect::canonical`), so that a bug there is not mirrored on this side.
//!
//! `qsh = hex(sha256(METHOD "&" path "&" query))`, where `path` is the request path relative to
//! the site's base path (`/` when nothing is left, no trailing `/`, `&` written `%26`) and `query`
//! holds every parameter but `jwt`, names and values decoded then encoded again leaving only RFC
//! 3986 unreserved characters bare (upper-case hex), sorted by encoded name, a repeated name
//! written once with its values sorted and joined by `,`.

use std::collections::BTreeMap;
use std::fmt::Write;

use sha2::{Digest, Sha256};

/// The canonical request of `method path?query` on a site whose base path is `base_path`.
pub fn canonical_request(method: &str, path: &str, query: &str, base_path: &str) -> String {
    let mut relative = match path.strip_prefix(base_path) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    if relative.len() > 1 {
        relative = relative.strip_suffix('/').unwrap_or(relative);
    }
    let relative = match relative {
        "" | "/" => "/".to_owned(),
        rest if rest.starts_with('/') => rest.replace('&', "%26"),
        rest => format!("/{}", rest.replace('&', "%26")),
    };

    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name != "jwt" {
            params
                .entry(rfc3986(&name))
                .or_default()
                .push(value.into_owned());
        }
    }
    let query: Vec<String> = params
        .into_iter()
        .map(|(name, mut values)| {
            // Java compares strings by UTF-16 code units.
            values.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            let values: Vec<String> = values.iter().map(|value| rfc3986(value)).collect();
            format!("{name}={}", values.join(","))
        })
        .collect();

    format!(
        "{}&{relative}&{}",
        method.to_ascii_uppercase(),
        query.join("&")
    )
}

/// `hex(sha256(canonical))`, lower case.
pub fn qsh_of(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Percent-encode every byte but the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~`.
fn rfc3986(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            write!(out, "%{byte:02X}").expect("writing to a String");
        }
    }
    out
}

/// The exact calls the app makes to a site at `…/acme/wiki`, as it sends them (its query
/// encodes every non-alphanumeric character), with the canonical request Confluence builds
/// and its `qsh`, computed once by hand: `printf '%s' 'GET&/rest/…' | sha256sum`.
#[cfg(test)]
pub(crate) const APP_CALLS: [(&str, &str, &str, &str, &str); 4] = [
    (
        "GET",
        "/acme/wiki/rest/api/user",
        "accountId=557058%3Aeditor&expand=operations",
        "GET&/rest/api/user&accountId=557058%3Aeditor&expand=operations",
        "613390883c1aaf3ed9a189df086712adc44a06eb5ca3454a83e56765f5778a56",
    ),
    (
        "POST",
        "/acme/wiki/rest/api/content/1234567/permission/check",
        "",
        "POST&/rest/api/content/1234567/permission/check&",
        "2a6b257539eab97c8169bbe2796f33f78e831813f82f98d04a96d6f7c754ad4d",
    ),
    (
        "GET",
        "/acme/wiki/rest/api/content/1234567",
        "expand=body%2Eexport%5Fview%2Cversion%2Cspace",
        "GET&/rest/api/content/1234567&expand=body.export_view%2Cversion%2Cspace",
        "312e6f6b1ec129727ee34e8567c90175a968e84142c3f520f178a5f8b074d522",
    ),
    (
        "GET",
        "/acme/wiki/rest/api/content/1234567/child/attachment/1900545/download",
        "",
        "GET&/rest/api/content/1234567/child/attachment/1900545/download&",
        "c9fb802b1f16cdda8f8feeb5086b9e784a033f972773322af30fc23df26910b2",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_calls_hash_to_the_values_computed_by_hand() {
        for (method, path, query, canonical, qsh) in APP_CALLS {
            let computed = canonical_request(method, path, query, "/acme/wiki");
            assert_eq!(computed, canonical, "{method} {path}?{query}");
            assert_eq!(qsh_of(&computed), qsh, "{canonical}");
        }
    }

    #[test]
    fn the_same_call_written_otherwise_has_the_same_qsh() {
        let user = APP_CALLS[0];
        let cases = [
            (
                "get",
                "/acme/wiki/rest/api/user/",
                "expand=operations&accountId=557058:editor",
            ),
            (
                "GET",
                "/acme/wiki/rest/api/user",
                "accountId=557058%3aeditor&expand=operations&jwt=a.b.c",
            ),
        ];
        for (method, path, query) in cases {
            assert_eq!(
                qsh_of(&canonical_request(method, path, query, "/acme/wiki")),
                user.4,
                "{method} {path}?{query}"
            );
        }
    }

    /// Atlassian's own interoperability vectors (generated by Atlassian Connect's
    /// `JwtSigningInteroperabilityTest`): this side follows the spec, not the app.
    #[test]
    fn atlassians_signed_urls_canonicalise_as_atlassian_says() {
        let file: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/data/vectors/jwt-signed-urls.json"
        ))
        .expect("the vectors are JSON");
        let cases = file["tests"].as_array().expect("a list of cases");
        assert_eq!(cases.len(), 79);
        for case in cases {
            let name = case["name"].as_str().expect("a name");
            let url = case["signedUrl"].as_str().expect("a signed URL");
            let after_host = &url[url.find("://").expect("an absolute URL") + 3..];
            let request = &after_host[after_host.find('/').expect("a path")..];
            let (path, query) = request.split_once('?').unwrap_or((request, ""));
            let base = case["addonBaseUrl"].as_str().unwrap_or("");
            assert_eq!(
                canonical_request("GET", path, query, base),
                case["canonicalUrl"].as_str().expect("a canonical URL"),
                "{name}"
            );
        }
    }
}
