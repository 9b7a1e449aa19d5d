//! Where an attachment download may be redirected: the tenant's own origin, or a media host of
//! `PAGESHARE_MEDIA_HOSTS`; never an IP literal the operator did not name, a private address,
//! another port or plain http to a wildcard host. JSON calls follow no redirect at all.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::connect::allowlist::is_host_name;

/// `PAGESHARE_MEDIA_HOSTS`: comma-separated `host`, `*.domain`, each with an optional `:port`.
/// Without a port only the scheme's default port matches; plain http and IP literals only where
/// a pattern names the host exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaHosts(Vec<HostPattern>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    /// Lower case; `*.domain` for any subdomain of `domain`.
    host: String,
    port: Option<u16>,
}

pub const DEFAULT_MEDIA_HOSTS: &str = "api.media.atlassian.com";

impl MediaHosts {
    pub fn parse(spec: &str) -> Result<Self, String> {
        spec.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (host, port) = match entry.rsplit_once(':') {
                    Some((host, port)) if !host.ends_with(']') && !host.contains(':') => {
                        let port = port
                            .parse::<u16>()
                            .map_err(|_| format!("{entry:?}: the port is not a number"))?;
                        (host, Some(port))
                    }
                    _ => (entry, None),
                };
                if !is_host_name(host.strip_prefix("*.").unwrap_or(host)) {
                    return Err(format!(
                        "{entry:?} is not a host pattern (host, *.domain, optional :port)"
                    ));
                }
                Ok(HostPattern {
                    host: host.to_ascii_lowercase(),
                    port,
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `url` is a media host a download may be redirected to.
    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host() else {
            return false;
        };
        let ip_literal = !matches!(host, Host::Domain(_));
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let default_port = url.port().is_none();
        let port = url.port_or_known_default();
        self.0.iter().any(|pattern| {
            let exact = pattern.host == host;
            let wildcard = !ip_literal
                && pattern.host.strip_prefix("*.").is_some_and(|domain| {
                    host.strip_suffix(domain)
                        .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
                });
            // Media tokens travel in the URL: plain http only to this machine (the sandbox).
            let scheme_ok = match url.scheme() {
                "https" => true,
                "http" => exact && loopback(url),
                _ => false,
            };
            let port_ok = match pattern.port {
                Some(wanted) => port == Some(wanted),
                None => default_port,
            };
            (exact || wildcard) && scheme_ok && port_ok
        })
    }
}

fn loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `url` is on the tenant's own origin (scheme, host and port of its base URL).
pub fn same_origin(url: &Url, tenant_base_url: &str) -> bool {
    Url::parse(tenant_base_url).is_ok_and(|base| base.origin() == url.origin())
}

/// Whether an address is one a public service may have: not loopback, private, link-local,
/// shared, documentation, unspecified, multicast or reserved; nor an IPv6 address that embeds an
/// IPv4 one (NAT64, 6to4, IPv4-compatible), which could reach the internal network.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let first = segments[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || (first == 0x2001 && segments[1] == 0x0db8)
                || first == 0x2002
                || (first == 0x0064 && segments[1] == 0xff9b)
                || segments[..6].iter().all(|s| *s == 0))
        }
    }
}

/// A resolver for redirect targets: a name that resolves to no public address is refused, so a
/// media host's DNS cannot point the app at the internal network.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|addr| is_public(addr.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The resolver as reqwest wants it.
pub fn public_only() -> Arc<PublicOnly> {
    Arc::new(PublicOnly)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_host_patterns() {
        let hosts = MediaHosts::parse("api.media.atlassian.com, *.cdn.example.com, 127.0.0.1:5000")
            .unwrap();
        let cases = [
            ("https://api.media.atlassian.com/file/1", true),
            ("https://API.media.atlassian.com/file/1", true),
            ("https://api.media.atlassian.com:443/file/1", true),
            ("http://api.media.atlassian.com/file/1", false),
            ("https://api.media.atlassian.com:8443/file/1", false),
            ("https://eu.cdn.example.com/x", true),
            ("http://eu.cdn.example.com/x", false),
            ("https://cdn.example.com/x", false),
            ("https://evilcdn.example.com/x", false),
            ("http://127.0.0.1:5000/media/1", true),
            ("http://127.0.0.1:5001/media/1", false),
            ("http://127.0.0.1/media/1", false),
            ("http://127.0.0.2:5000/media/1", false),
            ("https://[::1]:5000/x", false),
            ("ftp://api.media.atlassian.com/x", false),
        ];
        for (url, expected) in cases {
            assert_eq!(hosts.allows(&Url::parse(url).unwrap()), expected, "{url}");
        }
        let wildcard_ip = MediaHosts::parse("*.0.0.1").unwrap();
        assert!(!wildcard_ip.allows(&Url::parse("https://127.0.0.1/x").unwrap()));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "https://api.media.atlassian.com",
            "host:port",
            "a b",
            "*.",
            "x/y",
        ] {
            assert!(MediaHosts::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(MediaHosts::parse("").unwrap(), MediaHosts(Vec::new()));
    }

    #[test]
    fn public_addresses() {
        for public in [
            "8.8.8.8",
            "104.192.136.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
            "192.0.0.8",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "::10.0.0.1",
            "fec0::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn origins() {
        let base = "https://acme.atlassian.net/wiki";
        assert!(same_origin(
            &Url::parse("https://acme.atlassian.net/download/x").unwrap(),
            base
        ));
        assert!(!same_origin(
            &Url::parse("http://acme.atlassian.net/x").unwrap(),
            base
        ));
        assert!(!same_origin(
            &Url::parse("https://acme.atlassian.net:8443/x").unwrap(),
            base
        ));
        assert!(!same_origin(
            &Url::parse("https://evil.atlassian.net/x").unwrap(),
            base
        ));
    }
}
