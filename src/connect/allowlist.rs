//! `PAGESHARE_HOST_ALLOWLIST`: which hosts a tenant `baseUrl` may name. Over https any pattern
//! may match; plain http only where a pattern names the host exactly (tests, the sandbox).

/// Comma-separated host patterns: an exact host, or `*.domain` for any subdomain of `domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAllowlist(Vec<String>);

/// A host name or IPv4 address as a pattern may name it: dot-separated labels of ASCII letters,
/// digits and `-`, none empty.
pub fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl HostAllowlist {
    /// The list as `PAGESHARE_HOST_ALLOWLIST` gives it: every entry must be a host or `*.domain`
    /// (no scheme, path or port); an empty list allows nobody.
    pub fn parse_setting(spec: &str) -> Result<Self, String> {
        let allowlist = Self::parse(spec);
        match allowlist
            .0
            .iter()
            .find(|pattern| !is_host_name(pattern.strip_prefix("*.").unwrap_or(pattern)))
        {
            Some(bad) => Err(format!(
                "{bad:?} is not a host pattern (a host or *.domain, without scheme, path or port)"
            )),
            None => Ok(allowlist),
        }
    }

    /// The list as trusted code gives it, entries taken as written.
    pub fn parse(spec: &str) -> Self {
        Self(
            spec.split(',')
                .map(|p| p.trim().to_ascii_lowercase())
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }

    pub fn allows_host(&self, host: &str) -> bool {
        self.matches(host, true)
    }

    /// Whether a pattern matches `host`; wildcards only when `wildcards`.
    fn matches(&self, host: &str, wildcards: bool) -> bool {
        let host = host.to_ascii_lowercase();
        self.0
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(domain) => {
                    wildcards
                        && host
                            .strip_suffix(domain)
                            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
                }
                None => *pattern == host,
            })
    }

    /// Whether `base_url` is an https URL whose host is allowed, or an http URL whose host a
    /// pattern names exactly.
    pub fn allows_url(&self, base_url: &str) -> bool {
        url::Url::parse(base_url).is_ok_and(|url| {
            let Some(host) = url.host_str() else {
                return false;
            };
            match url.scheme() {
                "https" => self.matches(host, true),
                "http" => self.matches(host, false),
                _ => false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let list = HostAllowlist::parse("*.atlassian.net, 127.0.0.1");
        let cases = [
            ("https://acme.atlassian.net/wiki", true),
            ("https://ACME.Atlassian.net/wiki", true),
            ("https://a.b.atlassian.net", true),
            ("https://atlassian.net", false),
            ("https://evilatlassian.net", false),
            ("https://acme.atlassian.net.evil.com", false),
            ("http://127.0.0.1:8080/site/wiki", true),
            ("http://acme.atlassian.net/wiki", false),
            ("https://127.0.0.1/wiki", true),
            ("http://127.0.0.2/wiki", false),
            ("ftp://acme.atlassian.net", false),
            ("not a url", false),
        ];
        for (url, expected) in cases {
            assert_eq!(list.allows_url(url), expected, "{url}");
        }
    }

    #[test]
    fn the_setting_takes_host_patterns_only() {
        let good = HostAllowlist::parse_setting(" *.Atlassian.net , 127.0.0.1,").unwrap();
        assert_eq!(good, HostAllowlist::parse("*.atlassian.net,127.0.0.1"));
        assert_eq!(
            HostAllowlist::parse_setting(",").unwrap(),
            HostAllowlist(vec![])
        );
        for bad in [
            "https://acme.atlassian.net/",
            "acme.atlassian.net/wiki",
            "acme.atlassian.net:443",
            "*",
            "*.",
            "a..b",
            "*.atlassian.net, acme .net",
        ] {
            assert!(HostAllowlist::parse_setting(bad).is_err(), "{bad}");
        }
    }
}
