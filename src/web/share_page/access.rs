//! How a reader proves access to a share, as pure functions of the request: the share cookie,
//! the `?unlock=` token, and the same-site check of password posts.

use std::borrow::Cow;

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderValue};

use crate::share::ShareId;
use crate::share::cookie::{COOKIE_NAME, COOKIE_TTL_SECS, cookie_is_valid, cookie_value};
use crate::share::signing::SigningKey;

/// Whether the request carries a live cookie of `share` at its current password version.
pub fn has_valid_cookie(
    req: &HttpRequest,
    key: &SigningKey,
    share: ShareId,
    password_version: i32,
    now: i64,
) -> bool {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
        .any(|value| cookie_is_valid(key, share, password_version, value, now))
}

/// `Set-Cookie` for a reader who proved access, scoped to the share's path (under `base_path`),
/// living at most until the share expires. `Partitioned` keeps it working in a cross-site iframe
/// of a browser that blocks third-party cookies but allows partitioned ones.
pub fn session_cookie(
    key: &SigningKey,
    base_path: &str,
    share: ShareId,
    password_version: i32,
    share_expires: Option<i64>,
    now: i64,
) -> String {
    let expires = share_expires.map_or(now + COOKIE_TTL_SECS, |at| at.min(now + COOKIE_TTL_SECS));
    let value = cookie_value(key, share, password_version, expires);
    format!(
        "{COOKIE_NAME}={value}; Path={}; Max-Age={}; HttpOnly; Secure; SameSite=None; Partitioned",
        share.page_url(base_path),
        (expires - now).max(0)
    )
}

/// Marks the first page view after a right password, so readership counts it as `password`
/// rather than `cookie`; only classifies the reader's own view, so it is not signed.
const CAME_BY_PASSWORD: &str = "pageshare_via=password";

/// The marker set beside the session cookie by a right password: lives a minute, for the
/// redirect to the page.
pub fn came_by_password_cookie(base_path: &str, share: ShareId) -> String {
    format!(
        "{CAME_BY_PASSWORD}; Path={}; Max-Age=60; HttpOnly; Secure; SameSite=None; Partitioned",
        share.page_url(base_path)
    )
}

/// The marker's removal, on the view it marked.
pub fn came_by_password_spent(base_path: &str, share: ShareId) -> String {
    format!(
        "pageshare_via=; Path={}; Max-Age=0; HttpOnly; Secure; SameSite=None; Partitioned",
        share.page_url(base_path)
    )
}

/// Whether the request carries the marker of a password just entered.
pub fn came_by_password(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .any(|pair| pair.trim() == CAME_BY_PASSWORD)
}

/// The `unlock` query parameter, if any.
pub fn unlock_token(query: &str) -> Option<Cow<'_, str>> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("unlock="))
        .map(|raw| percent_encoding::percent_decode_str(raw).decode_utf8_lossy())
}

/// Whether a password post may come from where it says (login CSRF): `Sec-Fetch-Site` where the
/// browser sends it, else `Origin`. `Origin: null` is what a same-origin post carries under
/// `Referrer-Policy: no-referrer` in browsers without `Sec-Fetch-Site`; it passes here, and the
/// form token (which a cross-site page cannot read) decides.
pub fn is_same_site_post(req: &HttpRequest, own_origin: &str) -> bool {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    match (header("sec-fetch-site"), header("origin")) {
        (Some(site), _) => site == "same-origin",
        (None, Some(origin)) => origin == "null" || origin == own_origin,
        (None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn same_site_posts() {
        let own = "https://pageshare.example.com";
        let cases: [(&[(&str, &str)], bool); 9] = [
            (&[("sec-fetch-site", "same-origin")], true),
            (&[("sec-fetch-site", "same-site")], false),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("sec-fetch-site", "none")], false),
            (&[("sec-fetch-site", "cross-site"), ("origin", own)], false),
            (&[("origin", own)], true),
            (&[("origin", "null")], true),
            (&[("origin", "https://evil.example.com")], false),
            (&[], true),
        ];
        for (headers, expected) in cases {
            let mut req = TestRequest::post();
            for header in headers {
                req = req.insert_header(*header);
            }
            assert_eq!(
                is_same_site_post(&req.to_http_request(), own),
                expected,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn the_session_cookie_is_scoped_signed_and_bounded_by_the_share() {
        let key = SigningKey::new(&[3; 32]);
        let share = ShareId::new();
        let cookie = session_cookie(&key, "/pageshare", share, 2, None, NOW);
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=None",
            "Partitioned",
            &format!("Path=/pageshare/content/{share}"),
            &format!("Max-Age={COOKIE_TTL_SECS}"),
        ] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
        let short = session_cookie(&key, "", share, 2, Some(NOW + 60), NOW);
        assert!(short.contains("Max-Age=60;"), "{short}");

        let value = cookie.split(';').next().unwrap();
        let with = |cookie: &str| {
            TestRequest::get()
                .insert_header((header::COOKIE, cookie))
                .to_http_request()
        };
        assert!(has_valid_cookie(&with(value), &key, share, 2, NOW));
        assert!(has_valid_cookie(
            &with(&format!("a=b; {value}")),
            &key,
            share,
            2,
            NOW
        ));
        assert!(
            !has_valid_cookie(&with(value), &key, share, 3, NOW),
            "password changed"
        );
        assert!(!has_valid_cookie(
            &with(value),
            &key,
            ShareId::new(),
            2,
            NOW
        ));
        assert!(!has_valid_cookie(
            &with("pageshare_session=x.y.z"),
            &key,
            share,
            2,
            NOW
        ));
    }

    #[test]
    fn the_password_marker_is_read_from_the_cookies() {
        let share = ShareId::new();
        let set = came_by_password_cookie("/base", share);
        assert!(
            set.contains(&format!("Path=/base/content/{share}")),
            "{set}"
        );
        let marker = set.split(';').next().unwrap();
        let cases = [
            (Some(marker.to_owned()), true),
            (Some(format!("pageshare_session=x; {marker}")), true),
            (Some("pageshare_via=".to_owned()), false),
            (Some("pageshare_via=passwords".to_owned()), false),
            (None, false),
        ];
        for (cookie, expected) in cases {
            let mut req = TestRequest::get();
            if let Some(cookie) = &cookie {
                req = req.insert_header((header::COOKIE, cookie.as_str()));
            }
            assert_eq!(
                came_by_password(&req.to_http_request()),
                expected,
                "{cookie:?}"
            );
        }
        assert!(came_by_password_spent("", share).contains("Max-Age=0"));
    }

    #[test]
    fn unlock_tokens_come_from_the_query() {
        assert_eq!(unlock_token("a=1&unlock=x.y%2Ez").as_deref(), Some("x.y.z"));
        assert_eq!(unlock_token("unlocked=1"), None);
        assert_eq!(unlock_token(""), None);
    }
}
