//! Atlassian's interoperability vectors and peers' canonicalisation cases (tests/data/vectors).

use std::borrow::Cow;

use pageshare::connect::canonical::{
    RequestParts, canonical_request, canonical_request_from_pairs, qsh_of,
};
use pageshare::connect::secrets::{SecretKind, SharedSecret};
use pageshare::connect::token::{QshRule, verify};

const SIGNED_URLS: &str = include_str!("../data/vectors/jwt-signed-urls.json");
const TSV: &str = include_str!("../data/vectors/qsh_vectors.tsv");

/// `https://host/path?query` or `/path?query` → (path, query), without any normalisation.
fn split_request(request: &str) -> (&str, &str) {
    let without_origin = match request
        .split_once("://")
        .filter(|_| request.starts_with("http"))
    {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => request,
    };
    without_origin
        .split_once('?')
        .unwrap_or((without_origin, ""))
}

fn base_path(base: &str) -> &str {
    let base = base.split(" (").next().unwrap_or("");
    if base.contains("://") {
        split_request(base).0
    } else {
        base
    }
}

#[test]
fn atlassian_signed_urls_canonicalise_hash_and_verify() {
    let file: serde_json::Value = serde_json::from_str(SIGNED_URLS).unwrap();
    let secret = SharedSecret::new(file["secret"].as_str().unwrap());
    let tests = file["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 79);
    for case in tests {
        let name = case["name"].as_str().unwrap();
        let (path, query) = split_request(case["signedUrl"].as_str().unwrap());
        let base = case
            .get("addonBaseUrl")
            .and_then(|b| b.as_str())
            .unwrap_or("");
        let canonical = canonical_request(
            RequestParts {
                method: "GET",
                path,
                query,
            },
            base,
        );
        assert_eq!(canonical, case["canonicalUrl"].as_str().unwrap(), "{name}");

        let token = query
            .split('&')
            .find_map(|p| p.strip_prefix("jwt="))
            .expect("signed URL carries a jwt");
        let expected_qsh = qsh_of(&canonical);
        // The vectors were signed on several days of 2014: verify each at its own `iat`.
        let verified = verify(
            token,
            &[Some((SecretKind::PerInstall, &secret)), None],
            QshRule::Computed(&expected_qsh),
            issued_at(token),
            0,
        );
        assert!(verified.is_ok(), "{name}: {verified:?}");
    }
}

/// The `iat` claim of a token, read without verifying it.
fn issued_at(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    claims["iat"].as_i64().expect("a numeric iat")
}

/// `{foo:[humbug,bah], first:[param1]}` → decoded pairs (the Java tests' parameter maps).
fn parse_param_map(map: &str) -> Vec<(Cow<'static, str>, Cow<'static, str>)> {
    let inner = map.trim().trim_start_matches('{').trim_end_matches('}');
    let mut pairs = Vec::new();
    for entry in inner.split("], ").filter(|e| !e.trim().is_empty()) {
        let (name, values) = entry.split_once(":[").expect("name:[values]");
        for value in values.trim_end_matches(']').split(',') {
            pairs.push((
                Cow::Owned(name.trim().to_owned()),
                Cow::Owned(value.to_owned()),
            ));
        }
    }
    pairs
}

#[test]
fn every_tsv_vector_passes() {
    let mut rows = 0;
    for line in TSV.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, method, request, base, expected, expected_qsh) =
            (cols[1], cols[2], cols[3], cols[4], cols[5], cols[6]);
        assert_eq!(qsh_of(expected), expected_qsh, "{name}: the row's own qsh");
        let base = base_path(base);
        let canonical = if request == "(no path)" {
            canonical_request(
                RequestParts {
                    method,
                    path: "",
                    query: "",
                },
                base,
            )
        } else if let Some((path, _)) = request.split_once("  [params in form body]") {
            // Form-body parameters are not part of Pageshare's canonical request.
            let ours = canonical_request(
                RequestParts {
                    method,
                    path,
                    query: "",
                },
                base,
            );
            if name.contains("checkBodyForParams=true") {
                assert_ne!(ours, expected, "{name}");
            } else {
                assert_eq!(ours, expected, "{name}");
            }
            rows += 1;
            continue;
        } else if let Some((path, map)) = request.split_once("  {") {
            canonical_request_from_pairs(method, path, base, parse_param_map(&format!("{{{map}")))
        } else {
            let (path, query) = split_request(request);
            canonical_request(
                RequestParts {
                    method,
                    path,
                    query,
                },
                base,
            )
        };
        assert_eq!(canonical, expected, "{name} ({request})");
        assert_eq!(qsh_of(&canonical), expected_qsh, "{name}");
        rows += 1;
    }
    assert_eq!(rows, 118, "every row ran");
}
