//! Every Content-Security-Policy the app sends, in one place (see `docs/SECURITY.md`).

use std::fmt::Write;

use crate::share::origins::FrameAncestor;

/// A share page: its own images and forms only, inline styles (the page's), framed by the
/// share's embedding origins, or by any site when there are none.
pub fn share_page(embedding: &[FrameAncestor]) -> String {
    let mut policy = String::from(
        "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; \
         form-action 'self'; base-uri 'none'; frame-ancestors",
    );
    if embedding.is_empty() {
        policy.push_str(" *");
    }
    for origin in embedding {
        let _ = write!(policy, " {}", origin.as_str());
    }
    policy
}

/// A file served from the app's origin: never a document that runs script here.
pub const ATTACHMENT: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// The iframe pages inside Confluence: the app's own files, Atlassian's `all.js` (and the calls it
/// makes), framed only by the tenant's Confluence (`tenant_origins`; none: nobody).
pub fn iframe_page(all_js_origin: &str, tenant_origins: &[String]) -> String {
    let ancestors = if tenant_origins.is_empty() {
        "'none'".to_owned()
    } else {
        tenant_origins.join(" ")
    };
    format!(
        "default-src 'none'; script-src 'self' {all_js_origin}; connect-src 'self' {all_js_origin}; \
         style-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; \
         frame-ancestors {ancestors}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_pages_are_framed_by_their_origins_or_anyone() {
        let origins = [
            FrameAncestor::parse("https://docs.example.com").unwrap(),
            FrameAncestor::parse("https://*.example.org").unwrap(),
        ];
        assert!(
            share_page(&origins)
                .ends_with("frame-ancestors https://docs.example.com https://*.example.org")
        );
        assert!(share_page(&[]).ends_with("frame-ancestors *"));
    }

    #[test]
    fn iframe_pages_are_framed_by_the_tenant_only() {
        let policy = iframe_page(
            "https://connect-cdn.atl-paas.net",
            &["https://acme.atlassian.net".into()],
        );
        assert!(policy.contains("script-src 'self' https://connect-cdn.atl-paas.net;"));
        assert!(policy.ends_with("frame-ancestors https://acme.atlassian.net"));
        assert!(iframe_page("https://x", &[]).ends_with("frame-ancestors 'none'"));
    }
}
