//! Who is asking, for rate limits and unique readers: the peer, or, behind a trusted proxy, the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy. IPv6 clients count per
//! /64, the block one subscriber usually gets. Addresses are canonical: an IPv4 client seen
//! through a dual-stack socket (`::ffff:a.b.c.d`) is that IPv4 address, for the key and for the
//! proxy list.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use actix_web::HttpRequest;

/// The rate-limit key of the request's client.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> String {
    match client_addr(req, trusted_proxies) {
        None => "unknown".to_owned(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => format!("{v6}/64"),
    }
}

/// The request's client as [`client_ip`] names it, without allocating: an IPv6 client is its
/// /64 block (the address with its last 64 bits zero); `None` when the peer is unknown.
pub fn client_addr(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    let client = if trusted_proxies.contains(&peer) {
        forwarded_client(req, trusted_proxies).unwrap_or(peer)
    } else {
        peer
    };
    Some(match client {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    })
}

/// `ip`, `ip:port` or `[ip]:port`, as proxies write them.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .map(|ip| ip.to_canonical())
}

/// Entries that do not parse are skipped rather than spoiling the whole header. The right-most
/// untrusted entry is the last one met reading left to right: no list of hops is built.
fn forwarded_client(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    req.headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(parse_hop)
        .filter(|hop| !trusted_proxies.contains(hop))
        .last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_trusted_proxies_are_believed() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let cases: [(&str, Option<&str>, &[IpAddr], &str); 12] = [
            // A dual-stack socket shows IPv4 clients as IPv4-mapped IPv6 addresses.
            ("[::ffff:203.0.113.9]:5000", None, &[], "203.0.113.9"),
            (
                "[::ffff:10.0.0.1]:5000",
                Some("198.51.100.1"),
                &[proxy],
                "198.51.100.1",
            ),
            (
                "10.0.0.1:5000",
                Some("::ffff:198.51.100.1, ::ffff:10.0.0.1"),
                &[proxy],
                "198.51.100.1",
            ),
            ("203.0.113.9:5000", None, &[], "203.0.113.9"),
            ("203.0.113.9:5000", Some("198.51.100.1"), &[], "203.0.113.9"),
            (
                "10.0.0.1:5000",
                Some("198.51.100.1"),
                &[proxy],
                "198.51.100.1",
            ),
            (
                "10.0.0.1:5000",
                Some("6.6.6.6, 198.51.100.1"),
                &[proxy],
                "198.51.100.1",
            ),
            (
                "10.0.0.1:5000",
                Some("198.51.100.1, 10.0.0.1"),
                &[proxy],
                "198.51.100.1",
            ),
            ("10.0.0.1:5000", Some("garbage"), &[proxy], "10.0.0.1"),
            (
                "10.0.0.1:5000",
                Some("198.51.100.1:4711, garbage"),
                &[proxy],
                "198.51.100.1",
            ),
            ("[2001:db8:1:2:3:4:5:6]:443", None, &[], "2001:db8:1:2::/64"),
            (
                "10.0.0.1:5000",
                Some("[2001:db8::9]:80"),
                &[proxy],
                "2001:db8::/64",
            ),
        ];
        for (peer, forwarded, trusted, expected) in cases {
            let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
            if let Some(forwarded) = forwarded {
                req = req.insert_header(("x-forwarded-for", forwarded));
            }
            assert_eq!(
                client_ip(&req.to_http_request(), trusted),
                expected,
                "{peer} {forwarded:?}"
            );
        }
    }
}
