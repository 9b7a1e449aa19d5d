//! The reader's IP address, for rate limits: the peer, or, behind a trusted proxy, the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy.

use std::net::IpAddr;

use actix_web::HttpRequest;

pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> String {
    let peer = req.peer_addr().map(|addr| addr.ip());
    let Some(peer) = peer else {
        return "unknown".to_owned();
    };
    if !trusted_proxies.contains(&peer) {
        return peer.to_string();
    }
    forwarded_client(req, trusted_proxies)
        .unwrap_or(peer)
        .to_string()
}

fn forwarded_client(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in req.headers().get_all("x-forwarded-for") {
        for hop in value.to_str().ok()?.split(',') {
            hops.push(hop.trim().parse().ok()?);
        }
    }
    hops.into_iter()
        .rev()
        .find(|hop| !trusted_proxies.contains(hop))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_trusted_proxies_are_believed() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let cases: [(&str, Option<&str>, &[IpAddr], &str); 6] = [
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
