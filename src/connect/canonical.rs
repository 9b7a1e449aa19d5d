//! Atlassian's canonical request and query string hash (`qsh`).
//!
//! `qsh = hex(sha256(METHOD & path & canonical_query))`, in the order of Atlassian's Java
//! implementation (the one Confluence itself uses): parameters sorted by their *encoded* name,
//! repeated names merged into `name=v1,v2` with values sorted by their *decoded* text.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// The `qsh` claim of a context token: the token is not bound to one request.
pub const CONTEXT_QSH: &str = "context-qsh";

/// Everything but RFC 3986 unreserved characters (`ALPHA DIGIT - . _ ~`) is percent-encoded.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A request as far as the canonical form needs it.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The raw request path (not decoded), as the client sent it.
    pub path: &'a str,
    /// The raw query string without the leading `?` (empty when there is none).
    pub query: &'a str,
}

/// The canonical request string of `request`, with `base_path` (the path of the app or product
/// base URL, e.g. `/wiki`) taken off the front of the path.
pub fn canonical_request(request: RequestParts<'_>, base_path: &str) -> String {
    let pairs = parse_query(request.query);
    canonical_request_from_pairs(request.method, request.path, base_path, pairs)
}

/// The canonical request from already decoded parameters (e.g. a servlet-style parameter map).
pub fn canonical_request_from_pairs<'a>(
    method: &str,
    path: &str,
    base_path: &str,
    pairs: impl IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> String {
    let mut out = String::with_capacity(256 + path.len());
    out.extend(method.chars().map(|c| c.to_ascii_uppercase()));
    out.push('&');
    push_canonical_path(&mut out, path, base_path);
    out.push('&');
    push_canonical_query(&mut out, pairs);
    out
}

/// `hex(sha256(canonical))`.
pub fn qsh_of(canonical: &str) -> String {
    let mut hex_digits = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(canonical.as_bytes()), &mut hex_digits)
        .expect("64 hex digits for 32 bytes");
    String::from_utf8(hex_digits.to_vec()).expect("hex digits are ASCII")
}

/// The `qsh` of a request: `qsh_of(canonical_request(..))`.
pub fn qsh(request: RequestParts<'_>, base_path: &str) -> String {
    qsh_of(&canonical_request(request, base_path))
}

fn push_canonical_path(out: &mut String, path: &str, base_path: &str) {
    let base_path = base_path.trim_end_matches('/');
    let relative = match path.strip_prefix(base_path) {
        Some(rest) if !base_path.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    };
    let relative = relative.strip_suffix('/').unwrap_or(relative);
    if relative.is_empty() {
        out.push('/');
        return;
    }
    if !relative.starts_with('/') {
        out.push('/');
    }
    // Only `&` is escaped: it separates the parts of the canonical request.
    for (i, piece) in relative.split('&').enumerate() {
        if i > 0 {
            out.push_str("%26");
        }
        out.push_str(piece);
    }
}

/// Decoded `(name, value)` pairs of a raw query string; `+` is a space, a valueless parameter
/// has an empty value, the `jwt` parameter is dropped.
fn parse_query(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .filter_map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            // The token itself is long and never part of the hash: skip it before decoding.
            // (An encoded name that decodes to `jwt` is dropped later.)
            (name != "jwt").then(|| (form_decode(name), form_decode(value)))
        })
}

fn form_decode(raw: &str) -> Cow<'_, str> {
    // Most names and values need no decoding: a byte search is cheaper than the decoder's scan.
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    if raw.contains('+') {
        let spaced = raw.replace('+', " ");
        Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
    } else {
        percent_decode_str(raw).decode_utf8_lossy()
    }
}

fn encode(text: &str) -> Cow<'_, str> {
    utf8_percent_encode(text, NOT_UNRESERVED).into()
}

/// [`encode`] for text that may be owned already; borrows whatever needs no encoding.
fn encode_cow(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(borrowed) => encode(borrowed),
        Cow::Owned(owned) => match encode(&owned) {
            Cow::Borrowed(_) => Cow::Owned(owned),
            Cow::Owned(encoded) => Cow::Owned(encoded),
        },
    }
}

/// Java's `String` order (UTF-16 code units). It differs from byte order only when a character
/// outside the BMP (4 UTF-8 bytes, lead byte 0xF0 or above) meets one in U+E000..U+FFFF.
fn java_order(a: &str, b: &str) -> std::cmp::Ordering {
    let astral = |s: &str| s.bytes().any(|byte| byte >= 0xF0);
    if astral(a) || astral(b) {
        a.encode_utf16().cmp(b.encode_utf16())
    } else {
        a.cmp(b)
    }
}

fn push_canonical_query<'a>(
    out: &mut String,
    pairs: impl IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) {
    // Sort by encoded name, then by decoded value in Java's order, so that repeated names sit
    // together with their values already in order.
    let mut params: Vec<(Cow<'a, str>, Cow<'a, str>)> = pairs
        .into_iter()
        .filter(|(name, _)| name != "jwt")
        .map(|(name, value)| (encode_cow(name), value))
        .collect();
    params.sort_unstable_by(|(an, av), (bn, bv)| an.cmp(bn).then_with(|| java_order(av, bv)));
    let mut previous: Option<&str> = None;
    for (name, value) in &params {
        if previous == Some(name.as_ref()) {
            out.push(',');
        } else {
            if previous.is_some() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
        }
        out.extend(utf8_percent_encode(value, NOT_UNRESERVED));
        previous = Some(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(method: &str, path: &str, query: &str, base: &str) -> String {
        canonical_request(
            RequestParts {
                method,
                path,
                query,
            },
            base,
        )
    }

    #[test]
    fn table_of_cases() {
        let cases = [
            ("GET", "/", "", "", "GET&/&"),
            ("get", "", "", "", "GET&/&"),
            ("POST", "/installed", "", "", "POST&/installed&"),
            ("GET", "/a/", "b=1", "", "GET&/a&b=1"),
            (
                "GET",
                "/wiki/rest/api/user",
                "accountId=x&expand=operations",
                "/wiki",
                "GET&/rest/api/user&accountId=x&expand=operations",
            ),
            ("GET", "/wikipedia", "", "/wiki", "GET&/wikipedia&"),
            ("GET", "/p", "a=1&jwt=x.y.z&b", "", "GET&/p&a=1&b="),
            ("GET", "/p", "z=%7E&a=%2a", "", "GET&/p&a=%2A&z=~"),
            ("GET", "/p&q", "", "", "GET&/p%26q&"),
            ("GET", "/p", "a=%zz", "", "GET&/p&a=%25zz"),
        ];
        for (method, path, query, base, expected) in cases {
            assert_eq!(
                canonical(method, path, query, base),
                expected,
                "{method} {path}?{query}"
            );
        }
    }

    #[test]
    fn values_sort_in_java_string_order() {
        // U+1F600 sorts after U+FF21 by code point but before it in UTF-16 code units
        // (its high surrogate is 0xD83D).
        let got = canonical("GET", "/p", "v=%EF%BC%A1&v=%F0%9F%98%80", "");
        assert_eq!(got, "GET&/p&v=%F0%9F%98%80,%EF%BC%A1");
    }

    #[test]
    fn qsh_is_lower_case_sha256_hex() {
        assert_eq!(
            qsh_of("GET&/test&param=value"),
            "be16910858a41fd19ea5c1b4e9decca9a784d1024cb00b2158defe2f29dc86dd"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn param() -> impl Strategy<Value = (String, String)> {
            ("[a-zA-Z0-9_.~ +%*-]{1,8}", "[a-zA-Z0-9 ,+*~!%&=/-]{0,12}")
                .prop_filter("jwt is special", |(name, _)| name != "jwt")
        }

        fn raw_query(params: &[(String, String)]) -> String {
            params
                .iter()
                .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        }

        proptest! {
            #[test]
            fn parameter_order_does_not_matter(params in prop::collection::vec(param(), 0..8), seed in any::<u64>()) {
                let mut shuffled = params.clone();
                let len = shuffled.len().max(1) as u64;
                shuffled.rotate_left((seed % len) as usize);
                shuffled.reverse();
                prop_assert_eq!(
                    canonical("GET", "/p", &raw_query(&params), ""),
                    canonical("GET", "/p", &raw_query(&shuffled), "")
                );
            }

            #[test]
            fn jwt_parameter_is_ignored(params in prop::collection::vec(param(), 0..6), token in "[A-Za-z0-9._-]{0,40}") {
                let query = raw_query(&params);
                let with_jwt = if query.is_empty() { format!("jwt={token}") } else { format!("{query}&jwt={token}") };
                prop_assert_eq!(canonical("GET", "/p", &query, ""), canonical("GET", "/p", &with_jwt, ""));
            }

            #[test]
            fn plus_and_percent_20_agree(words in prop::collection::vec("[a-z0-9]{1,5}", 1..5)) {
                let plus = format!("q={}", words.join("+"));
                let pct = format!("q={}", words.join("%20"));
                prop_assert_eq!(canonical("GET", "/p", &plus, ""), canonical("GET", "/p", &pct, ""));
            }

            #[test]
            fn a_changed_value_changes_the_hash(name in "[a-z]{1,6}", a in "[a-zA-Z0-9 ]{0,10}", b in "[a-zA-Z0-9 ]{0,10}") {
                prop_assume!(a != b);
                let qa = qsh(RequestParts { method: "GET", path: "/p", query: &raw_query(&[(name.clone(), a)]) }, "");
                let qb = qsh(RequestParts { method: "GET", path: "/p", query: &raw_query(&[(name, b)]) }, "");
                prop_assert_ne!(qa, qb);
            }

            #[test]
            fn java_order_is_utf16_order(a in "\\PC{0,6}", b in "\\PC{0,6}") {
                prop_assert_eq!(java_order(&a, &b), a.encode_utf16().cmp(b.encode_utf16()));
            }

            #[test]
            fn arbitrary_input_never_panics(method in "\\PC{0,8}", path in "\\PC{0,40}", query in "\\PC{0,80}", base in "\\PC{0,10}") {
                let out = canonical(&method, &path, &query, &base);
                prop_assert_eq!(out.matches('&').count() >= 2, true);
            }
        }
    }
}
