//! Origins allowed to embed a share in an iframe (CSP `frame-ancestors`).

/// At most this many origins per share.
pub const MAX_FRAME_ANCESTORS: usize = 20;

/// `https://host[:port]`, host optionally `*.domain`; normalised to lower case. Only characters
/// that are safe inside a CSP header survive parsing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct FrameAncestor(String);

impl FrameAncestor {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let problem = || {
            format!("{raw:?} is not an origin like https://example.com or https://*.example.com")
        };
        let lower = raw.trim().to_ascii_lowercase();
        let rest = lower.strip_prefix("https://").ok_or_else(problem)?;
        let (wildcard, authority) = match rest.strip_prefix("*.") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        let host_ok = host.len() <= 253 && host.split('.').all(label_ok);
        let port_ok = port.is_none_or(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n > 0)
        });
        // A bare wildcard over a top-level domain (`*.com`) would allow the world.
        let wildcard_ok = !wildcard || host.contains('.');
        if host_ok && port_ok && wildcard_ok {
            Ok(Self(lower))
        } else {
            Err(problem())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parse a list of origins, at most [`MAX_FRAME_ANCESTORS`], duplicates removed.
pub fn parse_list(raw: &[String]) -> Result<Vec<FrameAncestor>, String> {
    if raw.len() > MAX_FRAME_ANCESTORS {
        return Err(format!(
            "At most {MAX_FRAME_ANCESTORS} origins may embed a share."
        ));
    }
    let mut list: Vec<FrameAncestor> = Vec::with_capacity(raw.len());
    for origin in raw {
        let parsed = FrameAncestor::parse(origin)?;
        if !list.contains(&parsed) {
            list.push(parsed);
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_table() {
        let cases = [
            ("https://example.com", Some("https://example.com")),
            (
                "https://Docs.Example.com:8443",
                Some("https://docs.example.com:8443"),
            ),
            ("https://*.example.com", Some("https://*.example.com")),
            (
                " https://a-b.example.co.uk ",
                Some("https://a-b.example.co.uk"),
            ),
            ("http://example.com", None),
            ("https://example.com/", None),
            ("https://example.com/path", None),
            ("https://example.com?x", None),
            ("https://user@example.com", None),
            ("https://*.com", None),
            ("https://*", None),
            ("https://exa mple.com", None),
            ("https://example.com; script-src *", None),
            ("https://example.com:0", None),
            ("https://example.com:99999", None),
            ("https://example.com:+443", None),
            ("https://example.com:", None),
            ("https://-bad.example.com", None),
            ("https://", None),
            ("*", None),
            ("'self'", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                FrameAncestor::parse(raw)
                    .ok()
                    .as_ref()
                    .map(FrameAncestor::as_str),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn lists_are_bounded_and_deduplicated() {
        let many: Vec<String> = (0..21)
            .map(|i| format!("https://s{i}.example.com"))
            .collect();
        assert!(parse_list(&many).is_err());
        let dupes = vec![
            "https://a.example.com".into(),
            "https://A.example.com".into(),
        ];
        assert_eq!(parse_list(&dupes).unwrap().len(), 1);
    }
}
