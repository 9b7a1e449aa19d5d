//! Page content from Confluence's `export_view`, sanitised, with attachments rewritten.
//!
//! Two passes over the page. `ammonia` parses it and keeps only harmless elements and attributes,
//! with every link made absolute against the tenant and every image of the tenant's host dropped;
//! its serializer writes each `&` of the page as an entity. Then `lol_html` points attachment
//! images and links at a marker that starts with a bare `&`, which the page therefore cannot
//! produce, and the result is split at the markers. Each reader's page is the segments written
//! out with a signed URL of the app for each attachment.

use std::borrow::Cow;
use std::collections::HashSet;

use ammonia::UrlRelative;
use lol_html::errors::RewritingError;
use lol_html::html_content::{ContentType, Element};
use lol_html::{RewriteStrSettings, element, rewrite_str};
use url::Url;

use crate::confluence::client::ContentId;

/// Prefix of the ids of the page's elements (and of in-page anchors), so that they cannot clash
/// with the ids of the app's own page around them.
const ID_PREFIX: &str = "content-";
/// What every marker starts with: a bare `&`, which the page cannot produce.
const MARKER: &str = "&pageshare-";
/// Takes the place of an attachment URL: the marker, the attachment id, `;`.
const ATTACHMENT_MARKER: &str = "&pageshare-attachment:";
/// Takes the place of the start tag of a link to a Confluence page: the marker, the page id, a
/// space, and the link's escaped `href` in double quotes (which an escaped value cannot hold).
const PAGE_MARKER: &str = "&pageshare-page:";
/// Takes the place of the end tag of such a link.
const PAGE_END_MARKER: &str = "&pageshare-page-end;";
const RESOURCE_ID: &str = "data-linked-resource-id";
const RESOURCE_TYPE: &str = "data-linked-resource-type";

/// A sanitised page, cached and shared by all its readers. Rendering writes the HTML with each
/// attachment URL made by the caller (signed for one share and reader).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SanitizedPage {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Html(String),
    /// Inside a double-quoted `src` or `href` attribute value.
    AttachmentUrl(ContentId),
    /// The start tag of a link to a Confluence page; `href`: the link as the page had it,
    /// escaped.
    PageLinkStart {
        page: ContentId,
        href: String,
    },
    /// The end tag of that link.
    PageLinkEnd,
}

/// What a link to a Confluence page becomes for one reader's share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageLink {
    /// A link to this (plain) URL, in the same tab: a page of the share's tree.
    To(String),
    /// The link's text only: a page the share does not serve.
    Text,
    /// The link to Confluence, as the page had it (a share of one page).
    Unchanged,
}

impl SanitizedPage {
    /// Write the page to `out`. `url_of(attachment_id, buffer)` writes the plain URL of one
    /// attachment into `buffer`; it is HTML-escaped here. `page_link(page_id)` says what each
    /// link to a Confluence page becomes.
    pub fn render(
        &self,
        out: &mut String,
        mut url_of: impl FnMut(&str, &mut String),
        mut page_link: impl FnMut(&str) -> PageLink,
    ) {
        let mut url = String::new();
        // Links do not nest (the HTML parser closes one before the next), so one flag will do.
        let mut link_open = false;
        for segment in &self.segments {
            match segment {
                Segment::Html(html) => out.push_str(html),
                Segment::AttachmentUrl(id) => {
                    url.clear();
                    url_of(id.as_str(), &mut url);
                    push_escaped(out, &url);
                }
                Segment::PageLinkStart { page, href } => {
                    link_open = true;
                    match page_link(page.as_str()) {
                        PageLink::To(url) => {
                            out.push_str("<a href=\"");
                            push_escaped(out, &url);
                            out.push_str("\">");
                        }
                        PageLink::Unchanged => {
                            out.push_str("<a href=\"");
                            out.push_str(href);
                            out.push_str("\" rel=\"noopener noreferrer\" target=\"_blank\">");
                        }
                        PageLink::Text => link_open = false,
                    }
                }
                Segment::PageLinkEnd => {
                    if std::mem::take(&mut link_open) {
                        out.push_str("</a>");
                    }
                }
            }
        }
    }

    /// About how many bytes the page takes in memory, to bound the cache in bytes.
    pub fn size_bytes(&self) -> usize {
        self.segments
            .iter()
            .map(|segment| {
                std::mem::size_of::<Segment>()
                    + match segment {
                        Segment::Html(html) => html.capacity(),
                        Segment::AttachmentUrl(id) => id.as_str().len(),
                        Segment::PageLinkStart { page, href } => page.as_str().len() + href.len(),
                        Segment::PageLinkEnd => 0,
                    }
            })
            .sum()
    }

    /// The ids of the attachments the page shows or links to, in document order, repeated when
    /// the page uses one twice.
    pub fn attachment_ids(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::AttachmentUrl(id) => Some(id.as_str()),
            _ => None,
        })
    }

    /// Split rewritten HTML at the markers. Only the rewriter writes a marker, always whole and
    /// with a valid id; anything else after a marker's start is dropped.
    fn from_marked(html: &str) -> Self {
        let mut segments = Vec::new();
        let mut pieces = html.split(MARKER);
        push_html(&mut segments, pieces.next().unwrap_or_default());
        for piece in pieces {
            let piece = format!("{MARKER}{piece}");
            let Some((segment, rest)) = marked_segment(&piece) else {
                continue;
            };
            segments.push(segment);
            push_html(&mut segments, rest);
        }
        Self { segments }
    }
}

/// The segment a marker at the start of `piece` stands for, and the HTML after it.
fn marked_segment(piece: &str) -> Option<(Segment, &str)> {
    if let Some(rest) = piece.strip_prefix(PAGE_END_MARKER) {
        return Some((Segment::PageLinkEnd, rest));
    }
    if let Some(marked) = piece.strip_prefix(ATTACHMENT_MARKER) {
        let (id, rest) = marked.split_once(';')?;
        return Some((Segment::AttachmentUrl(ContentId::parse(id)?), rest));
    }
    let marked = piece.strip_prefix(PAGE_MARKER)?;
    let (id, quoted) = marked.split_once(" \"")?;
    let (href, rest) = quoted.split_once('"')?;
    let page = ContentId::parse(id)?;
    let href = href.to_owned();
    Some((Segment::PageLinkStart { page, href }, rest))
}

fn push_html(segments: &mut Vec<Segment>, html: &str) {
    if !html.is_empty() {
        segments.push(Segment::Html(html.to_owned()));
    }
}

/// `text` escaped for HTML text and double- or single-quoted attribute values.
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Sanitise a page's `export_view` for readers outside Confluence. `tenant_base_url` is the
/// tenant's base URL, e.g. `https://acme.atlassian.net/wiki`.
pub fn sanitize(export_view: &str, tenant_base_url: &str) -> SanitizedPage {
    let base = tenant_base(tenant_base_url);
    let clean = cleaner(base.clone()).clean(export_view).to_string();
    match rewrite_links(&clean, base.as_ref()) {
        Ok(marked) => SanitizedPage::from_marked(&marked),
        Err(error) => {
            // Nothing of the page rather than something unchecked.
            tracing::warn!(%error, "sanitised page could not be rewritten");
            SanitizedPage::default()
        }
    }
}

/// The base with a trailing `/`, so that `spaces/x` resolves below `/wiki`. `None` when it does
/// not parse: then relative links and all images but attachments are dropped.
fn tenant_base(raw: &str) -> Option<Url> {
    Url::parse(&format!("{}/", raw.trim_end_matches('/'))).ok()
}

fn cleaner(base: Option<Url>) -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        // Image maps carry links that neither `link_rel` nor the rewriting below would see.
        .rm_tags(["area", "map"])
        // `cite` holds a URL that ammonia does not check.
        .rm_tag_attributes("blockquote", ["cite"])
        .rm_tag_attributes("del", ["cite"])
        .rm_tag_attributes("ins", ["cite"])
        .rm_tag_attributes("q", ["cite"])
        .add_tag_attributes("a", ["title", RESOURCE_ID, RESOURCE_TYPE])
        .add_tag_attributes("img", ["title", RESOURCE_ID, RESOURCE_TYPE])
        // Classes let the app's CSS style Confluence's panels, tables and code blocks.
        .add_generic_attributes(["class", "id"])
        .id_prefix(Some(ID_PREFIX))
        .url_schemes(HashSet::from(["http", "https", "mailto", "tel"]))
        .link_rel(Some("noopener noreferrer"))
        // Runs before `url_relative`, and leaves only in-page anchors relative.
        .attribute_filter(move |element, attribute, value| {
            filter_url(base.as_ref(), element, attribute, value)
        })
        .url_relative(UrlRelative::Custom(Box::new(keep_anchor)));
    builder
}

fn keep_anchor(url: &str) -> Option<Cow<'_, str>> {
    url.starts_with('#').then_some(Cow::Borrowed(url))
}

/// `value` is the decoded attribute value; ammonia has already refused unknown schemes.
fn filter_url<'u>(
    base: Option<&Url>,
    element: &str,
    attribute: &str,
    value: &'u str,
) -> Option<Cow<'u, str>> {
    match (element, attribute) {
        ("a", "href") => link_target(base, value),
        ("img", "src") => image_source(base, value),
        _ => Some(Cow::Borrowed(value)),
    }
}

/// In-page anchors follow the prefixed ids; every other link becomes absolute.
fn link_target<'u>(base: Option<&Url>, value: &'u str) -> Option<Cow<'u, str>> {
    match value.strip_prefix('#') {
        Some("") => Some(Cow::Borrowed(value)),
        Some(anchor) => Some(Cow::Owned(format!("#{ID_PREFIX}{anchor}"))),
        None => resolve(base, value).map(|url| Cow::Owned(url.into())),
    }
}

/// An image stays only when it is on another https host: the tenant's own images need a login
/// the reader does not have, and no Atlassian URL reaches the reader. Attachment images get
/// their URL back from [`rewrite_attachments`].
fn image_source<'u>(base: Option<&Url>, value: &'u str) -> Option<Cow<'u, str>> {
    let tenant_host = base?.host_str()?;
    let url = resolve(base, value)?;
    let elsewhere = url
        .host_str()
        .is_some_and(|host| !host.eq_ignore_ascii_case(tenant_host) && !is_atlassian_host(host));
    (url.scheme() == "https" && elsewhere).then(|| Cow::Owned(url.into()))
}

/// Atlassian's own domains (sites, media, emoji and avatar CDNs): never sent to readers.
fn is_atlassian_host(host: &str) -> bool {
    const DOMAINS: [&str; 5] = [
        "atlassian.net",
        "atlassian.com",
        "atl-paas.net",
        "jira.com",
        "atlassian.io",
    ];
    let host = host.to_ascii_lowercase();
    DOMAINS.iter().any(|domain| {
        host == *domain
            || host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

fn resolve(base: Option<&Url>, value: &str) -> Option<Url> {
    match base {
        Some(base) => base.join(value).ok(),
        None => Url::parse(value).ok(),
    }
}

/// Mark the URLs of attachment images and links, and the links to Confluence pages (of
/// ammonia's output, in which attribute values are still HTML-escaped), drop the resource
/// attributes, open links in a new tab.
fn rewrite_links(clean_html: &str, base: Option<&Url>) -> Result<String, RewritingError> {
    let settings = RewriteStrSettings::new()
        .append_element_content_handler(element!("img", |img| {
            mark_attachment(img, "src", true)?;
            Ok(())
        }))
        .append_element_content_handler(element!("a", |link| {
            if let Some(page) = linked_page(link, base) {
                let href = link.get_attribute("href").unwrap_or_default();
                let start = format!("{PAGE_MARKER}{} \"{href}\"", page.as_str());
                link.before(&start, ContentType::Html);
                link.after(PAGE_END_MARKER, ContentType::Html);
                link.remove_and_keep_content();
                return Ok(());
            }
            mark_attachment(link, "href", false)?;
            let leaves_page = link
                .get_attribute("href")
                .is_some_and(|href| !href.starts_with('#'));
            if leaves_page {
                link.set_attribute("target", "_blank")?;
            }
            Ok(())
        }))
        .with_enable_esi_tags(false);
    rewrite_str(clean_html, settings)
}

/// The Confluence page a link leads to: its `data-linked-resource-id` when it says it is a page,
/// else a page URL of the tenant (`…/spaces/KEY/pages/ID[/title]` or
/// `…/pages/viewpage.action?pageId=ID`).
fn linked_page(link: &Element<'_, '_>, base: Option<&Url>) -> Option<ContentId> {
    let kind = link.get_attribute(RESOURCE_TYPE);
    if kind.as_deref() == Some("page") {
        return link
            .get_attribute(RESOURCE_ID)
            .and_then(|id| ContentId::parse(&id));
    }
    if kind.is_some() {
        return None;
    }
    let href = link.get_attribute("href")?.replace("&amp;", "&");
    page_of_url(base?, &href)
}

/// The page id of a page URL of the tenant at `base`.
fn page_of_url(base: &Url, href: &str) -> Option<ContentId> {
    let url = Url::parse(href).ok()?;
    let same_site = url.scheme() == base.scheme()
        && url.host_str()?.eq_ignore_ascii_case(base.host_str()?)
        && url.port_or_known_default() == base.port_or_known_default();
    let path = url.path().strip_prefix(base.path().trim_end_matches('/'))?;
    if !same_site {
        return None;
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["spaces", _, "pages", id, ..] => ContentId::parse(id),
        ["pages", "viewpage.action"] => url
            .query_pairs()
            .find(|(name, _)| name == "pageId")
            .and_then(|(_, id)| ContentId::parse(&id)),
        _ => None,
    }
}

/// An element that names an attachment gets the marker as its URL, or loses the URL when the id
/// is unusable. Images name attachments unless they say otherwise; links only when they say so.
fn mark_attachment(
    element: &mut Element<'_, '_>,
    url_attribute: &str,
    is_image: bool,
) -> Result<(), lol_html::errors::AttributeNameError> {
    let id = element.get_attribute(RESOURCE_ID);
    let kind = element.get_attribute(RESOURCE_TYPE);
    element.remove_attribute(RESOURCE_ID);
    element.remove_attribute(RESOURCE_TYPE);
    let Some(id) = id else {
        return Ok(());
    };
    let names_attachment = kind.map_or(is_image, |kind| kind == "attachment");
    if !names_attachment {
        return Ok(());
    }
    match ContentId::parse(&id) {
        Some(id) => element.set_attribute(
            url_attribute,
            &format!("{ATTACHMENT_MARKER}{};", id.as_str()),
        ),
        None => {
            element.remove_attribute(url_attribute);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::sandbox::Page;

    const BASE: &str = "https://acme.atlassian.net/wiki";
    const SIGNED: &str = "/content/6f1c/attachments/ID?exp=1700000000&sig=abc";

    /// Render with URLs like the app's, with the attachment id in place of `ID`.
    fn rendered(page: &SanitizedPage) -> String {
        let mut out = String::new();
        let signed = |id: &str, url: &mut String| url.push_str(&SIGNED.replace("ID", id));
        page.render(&mut out, signed, |_| PageLink::Unchanged);
        out
    }

    fn clean(html: &str) -> String {
        rendered(&sanitize(html, BASE))
    }

    #[test]
    fn hostile_markup_is_removed() {
        let cases = [
            ("script", "<p>a</p><script>alert(1)</script>"),
            (
                "uppercase script",
                "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
            ),
            (
                "onerror",
                r#"<img src="https://img.example/a.png" onerror="alert(1)">"#,
            ),
            ("onclick", r#"<p onclick="alert(1)">a</p>"#),
            ("javascript href", r#"<a href="javascript:alert(1)">a</a>"#),
            (
                "obfuscated javascript",
                "<a href=\" JaVa&#x09;Script:alert(1)\">a</a>",
            ),
            ("javascript src", r#"<img src="javascript:alert(1)">"#),
            (
                "data link",
                r#"<a href="data:text/html;base64,PHNjcmlwdD4=">a</a>"#,
            ),
            (
                "data image",
                r#"<img src="data:image/svg+xml;base64,PHN2Zz4=">"#,
            ),
            (
                "svg script",
                "<svg><script>alert(1)</script><circle r=1 /></svg>",
            ),
            ("svg onload", "<svg onload=alert(1)></svg>"),
            (
                "style element",
                "<style>body { display: none }</style><p>a</p>",
            ),
            (
                "style attribute",
                r#"<p style="position:fixed;top:0">a</p>"#,
            ),
            ("iframe", r#"<iframe src="https://evil.example/"></iframe>"#),
            (
                "object",
                r#"<object data="https://evil.example/x.swf"></object>"#,
            ),
            ("embed", r#"<embed src="https://evil.example/x.swf">"#),
            (
                "form",
                r#"<form action="https://evil.example/"><input name=p><button>Go</button></form>"#,
            ),
            (
                "meta refresh",
                r#"<meta http-equiv="refresh" content="0;url=https://e.example">"#,
            ),
            ("base", r#"<base href="https://evil.example/">"#),
            (
                "link stylesheet",
                r#"<link rel="stylesheet" href="https://evil.example/x.css">"#,
            ),
            (
                "blockquote cite",
                r#"<blockquote cite="javascript:alert(1)">q</blockquote>"#,
            ),
            (
                "mxss",
                "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            ),
            ("comment", "<!-- <script>alert(1)</script> -->"),
        ];
        let forbidden = [
            "<script",
            "alert(",
            "javascript:",
            "data:",
            "onerror",
            "onclick",
            "onload",
            "<svg",
            "<style",
            "style=",
            "<iframe",
            "<object",
            "<embed",
            "<form",
            "<input",
            "<meta",
            "<base",
            "<link",
            "<math",
            "<!--",
            "evil.example",
        ];
        for (name, input) in cases {
            let output = clean(input).to_ascii_lowercase();
            for needle in forbidden {
                assert!(!output.contains(needle), "{name}: {needle} in {output}");
            }
        }
    }

    #[test]
    fn hostile_sandbox_page_keeps_only_its_text() {
        let output = clean(&Page::hostile().export_view);
        for needle in [
            "<script",
            "onclick",
            "onerror",
            "javascript:",
            "<iframe",
            "alert(",
        ] {
            assert!(!output.contains(needle), "{needle} in {output}");
        }
        assert!(output.contains("<p>Harmless text before the trouble.</p>"));
        assert!(output.contains("<p>Harmless text after the trouble.</p>"));
        assert!(output.contains(r#"<img alt="broken">"#), "{output}");
    }

    #[test]
    fn sample_page_keeps_its_structure_and_serves_the_image_through_the_app() {
        let page = sanitize(&Page::sample(BASE, "65538").export_view, BASE);
        let output = rendered(&page);

        assert_eq!(
            page.attachment_ids().collect::<Vec<_>>(),
            [Page::SAMPLE_IMAGE_ID]
        );
        for kept in [
            r#"<h1 id="content-Onboarding-Welcome">Welcome</h1>"#,
            r#"<table class="confluenceTable">"#,
            r#"<th class="confluenceTh"><p><strong>Step</strong></p></th>"#,
            r#"<td colspan="2" class="confluenceTd">"#,
            r#"<div class="confluence-information-macro confluence-information-macro-information">"#,
            r#"<pre class="syntaxhighlighter-pre">cargo build --release</pre>"#,
            "<p>Open a pull request &amp; ask for review.</p>",
            r#"src="/content/6f1c/attachments/1900545?exp=1700000000&amp;sig=abc""#,
            r#"class="confluence-embedded-image""#,
            r#"alt="diagram.png""#,
            r#"<a href="https://acme.atlassian.net/wiki/spaces/ENG/pages/98305/Runbook" rel="noopener noreferrer" target="_blank">Runbook</a>"#,
            r#"<a href="https://example.com/faq" class="external-link" rel="noopener noreferrer" target="_blank">"#,
        ] {
            assert!(output.contains(kept), "{kept} missing from {output}");
        }
        for gone in [
            "/download/attachments",
            "data-image-src",
            "data-base-url",
            "data-linked-resource",
            "data-media-id",
            "nofollow",
            "style=",
        ] {
            assert!(!output.contains(gone), "{gone} in {output}");
        }
    }

    #[test]
    fn images_stay_only_on_other_https_hosts_that_are_not_atlassian() {
        let cases = [
            ("/wiki/download/attachments/1/a.png", false),
            ("download/attachments/1/a.png", false),
            (
                "https://acme.atlassian.net/wiki/s/emoticons/smile.svg",
                false,
            ),
            ("//acme.atlassian.net/wiki/a.png", false),
            ("HTTPS://ACME.Atlassian.NET/wiki/a.png", false),
            ("http://images.example.com/a.png", false),
            ("https://images.example.com/a.png", true),
            ("https://api.media.atlassian.com/file/1/image", false),
            (
                "https://pf-emoji-service--cdn.us-east-1.prod.public.atl-paas.net/a.png",
                false,
            ),
            ("https://other-site.atlassian.net/wiki/a.png", false),
            ("https://notatlassian.net.example.com/a.png", true),
        ];
        for (src, kept) in cases {
            let output = clean(&format!(r#"<p><img alt="a" src="{src}"></p>"#));
            assert_eq!(output.contains("src="), kept, "{src}: {output}");
            assert!(!output.contains("acme"), "{src}: {output}");
            if !kept {
                let dropped = !output.contains("atlassian") && !output.contains("atl-paas");
                assert!(dropped, "{src}: {output}");
            }
        }
    }

    #[test]
    fn attachments_with_unusable_ids_lose_their_url() {
        for id in [
            "",
            "12/../34",
            "1 2",
            "1?x=y",
            "1&quot;x",
            "1;2",
            "%31",
            &"1".repeat(65),
        ] {
            let image = format!(
                r#"<img src="{BASE}/download/attachments/9/a.png" data-linked-resource-id="{id}" data-linked-resource-type="attachment">"#
            );
            let link = format!(
                r#"<a href="{BASE}/download/attachments/9/a.pdf" data-linked-resource-id="{id}" data-linked-resource-type="attachment">a.pdf</a>"#
            );
            for html in [image, link] {
                let page = sanitize(&html, BASE);
                let output = rendered(&page);
                assert_eq!(page.attachment_ids().count(), 0, "{id}: {output}");
                assert!(!output.contains("src="), "{id}: {output}");
                assert!(!output.contains("href="), "{id}: {output}");
            }
        }
    }

    #[test]
    fn attachment_links_go_through_the_app_and_page_links_to_confluence() {
        let html = r#"<p><a href="/wiki/download/attachments/9/a.pdf?api=v2" data-linked-resource-id="77" data-linked-resource-type="attachment">a.pdf</a>
            <a href="/wiki/spaces/ENG/pages/9" data-linked-resource-id="9" data-linked-resource-type="page">page</a>
            <img src="https://images.example.com/a.png" data-linked-resource-id="5" data-linked-resource-type="userinfo"></p>"#;
        let page = sanitize(html, BASE);
        let output = rendered(&page);
        assert_eq!(page.attachment_ids().collect::<Vec<_>>(), ["77"]);
        assert!(output.contains(r#"<a href="/content/6f1c/attachments/77?exp=1700000000&amp;sig=abc" rel="noopener noreferrer" target="_blank">a.pdf</a>"#), "{output}");
        assert!(output.contains(r#"<a href="https://acme.atlassian.net/wiki/spaces/ENG/pages/9" rel="noopener noreferrer" target="_blank">page</a>"#), "{output}");
        assert!(
            output.contains(r#"<img src="https://images.example.com/a.png">"#),
            "{output}"
        );
    }

    #[test]
    fn links_become_absolute_against_the_tenant() {
        let cases = [
            (
                "/wiki/spaces/ENG/pages/1",
                "https://acme.atlassian.net/wiki/spaces/ENG/pages/1",
            ),
            (
                "spaces/ENG/pages/1",
                "https://acme.atlassian.net/wiki/spaces/ENG/pages/1",
            ),
            ("//other.example/x", "https://other.example/x"),
            (
                "https://example.com/a?b=1&c=2",
                "https://example.com/a?b=1&amp;c=2",
            ),
            ("mailto:team@example.com", "mailto:team@example.com"),
        ];
        for (href, expected) in cases {
            let output = clean(&format!(
                r#"<a href="{}">x</a>"#,
                href.replace('&', "&amp;")
            ));
            let wanted =
                format!(r#"<a href="{expected}" rel="noopener noreferrer" target="_blank">x</a>"#);
            assert_eq!(output, wanted, "{href}");
        }
    }

    #[test]
    fn in_page_anchors_follow_the_prefixed_ids_in_the_same_tab() {
        let output = clean(r##"<h2 id="Page-Setup">Setup</h2><a href="#Page-Setup">Setup</a>"##);
        assert_eq!(
            output,
            r##"<h2 id="content-Page-Setup">Setup</h2><a href="#content-Page-Setup" rel="noopener noreferrer">Setup</a>"##
        );
    }

    #[test]
    fn the_callers_url_is_escaped_into_the_attribute() {
        let page = sanitize(
            r#"<img data-linked-resource-id="att1" data-linked-resource-type="attachment">"#,
            BASE,
        );
        let mut out = String::new();
        let url_of = |id: &str, url: &mut String| {
            url.push_str("/a/");
            url.push_str(id);
            url.push_str("?x=\"><script>&y='");
        };
        page.render(&mut out, url_of, |_| PageLink::Unchanged);
        assert_eq!(
            out,
            r#"<img src="/a/att1?x=&quot;&gt;&lt;script&gt;&amp;y=&#39;">"#
        );
    }

    #[test]
    fn links_to_confluence_pages_are_recognised_in_each_form_and_become_what_the_share_says() {
        // Page 2001 is in the reader's tree; any other page is not.
        let tree = |id: &str| match id {
            "2001" => PageLink::To("/content/t/pages/2001".into()),
            _ => PageLink::Text,
        };
        let render = |html: &str| {
            let mut out = String::new();
            sanitize(html, BASE).render(&mut out, |_, _| {}, tree);
            out
        };
        let to_2001 = |text: &str| format!(r#"<a href="/content/t/pages/2001">{text}</a>"#);
        let cases = [
            ("/wiki/spaces/ENG/pages/2001/Getting+started", to_2001("x")),
            ("spaces/ENG/pages/2001", to_2001("x")),
            ("https://ACME.atlassian.net/wiki/spaces/ENG/pages/2001#Intro", to_2001("x")),
            ("/wiki/pages/viewpage.action?pageId=2001&amp;src=tree", to_2001("x")),
            ("/wiki/spaces/ENG/pages/9999/Elsewhere", "x".into()),
            ("/wiki/pages/viewpage.action?pageId=9999", "x".into()),
            // Not a page link: left as it was.
            (
                "https://other.example/wiki/spaces/ENG/pages/2001",
                r#"<a href="https://other.example/wiki/spaces/ENG/pages/2001" rel="noopener noreferrer" target="_blank">x</a>"#.into(),
            ),
            (
                "/wiki/spaces/ENG/overview",
                r#"<a href="https://acme.atlassian.net/wiki/spaces/ENG/overview" rel="noopener noreferrer" target="_blank">x</a>"#.into(),
            ),
            (
                "/wiki/pages/viewpage.action?pageId=not%20an%20id",
                r#"<a href="https://acme.atlassian.net/wiki/pages/viewpage.action?pageId=not%20an%20id" rel="noopener noreferrer" target="_blank">x</a>"#.into(),
            ),
        ];
        for (href, expected) in cases {
            assert_eq!(
                render(&format!(r#"<a href="{href}">x</a>"#)),
                expected,
                "{href}"
            );
        }
        // `data-linked-resource-id` of a page decides, whatever the URL; markup inside is kept.
        let linked = r#"<a href="https://elsewhere.example/x" data-linked-resource-id="2001" data-linked-resource-type="page"><strong>Start</strong></a>"#;
        assert_eq!(render(linked), to_2001("<strong>Start</strong>"));
        let outside = r#"<p>See <a href="/wiki/x" data-linked-resource-id="77" data-linked-resource-type="page" title="t"><em>it</em></a>.</p>"#;
        assert_eq!(render(outside), "<p>See <em>it</em>.</p>");
        // Page text cannot forge a page link.
        for html in [
            r#"<p>&pageshare-page:2001 "/x"&pageshare-page-end;</p>"#,
            r#"<a href="https://example.com/?&pageshare-page:2001 &quot;x&quot;">a</a>"#,
        ] {
            assert!(!render(html).contains("/content/t/pages/2001"), "{html}");
        }
    }

    #[test]
    fn page_text_cannot_forge_an_attachment_marker() {
        for html in [
            "<p>&pageshare-attachment:123;</p>",
            "<p>&amp;pageshare-attachment:123;</p>",
            r#"<p title="&pageshare-attachment:123;">a</p>"#,
            r#"<a href="https://example.com/?&pageshare-attachment:123;">a</a>"#,
        ] {
            let page = sanitize(html, BASE);
            assert_eq!(page.attachment_ids().count(), 0, "{html}: {page:?}");
            assert!(
                rendered(&page).contains("pageshare-attachment:123;"),
                "{html}"
            );
        }
    }

    #[test]
    fn without_a_usable_base_relative_links_and_images_go() {
        let page = sanitize(
            r#"<a href="/wiki/x">a</a><img src="https://img.example/a.png">"#,
            "not a url",
        );
        assert_eq!(
            rendered(&page),
            r#"<a rel="noopener noreferrer">a</a><img>"#
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sanitize_never_panics_nor_lets_a_script_through(
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just("<script>".to_owned()),
                    Just("</script>".to_owned()),
                    Just("<scr".to_owned()),
                    Just("ipt>".to_owned()),
                    Just("<img src=x onerror=alert(1)>".to_owned()),
                    Just(r#"<img data-linked-resource-id="1" data-linked-resource-type="attachment">"#.to_owned()),
                    Just("<svg><![CDATA[".to_owned()),
                    Just("<!--".to_owned()),
                    Just("<textarea>".to_owned()),
                    Just("<a href='javascript:x'>".to_owned()),
                    Just("&pageshare-attachment:1;".to_owned()),
                    "[<>&;=\"'/a-z ]{0,12}",
                    any::<String>(),
                ],
                0..12,
            )
        ) {
            let input = pieces.concat();
            let output = clean(&input).to_ascii_lowercase();
            prop_assert!(!output.contains("<script"), "{}", output);
        }
    }
}
