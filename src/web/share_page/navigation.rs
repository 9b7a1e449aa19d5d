//! The navigation of a tree share: every page of the tree as nested lists of links, the page
//! being read marked with `aria-current="page"`, and a note when the tree was cut.

use std::fmt::Write;

use super::render::page_path;
use crate::share::content::push_escaped as escape;
use crate::share::tree::{MAX_DEPTH, MAX_PAGES, PageTree};

/// The tree as HTML, for the page `current` of the share at `share_url`.
pub fn navigation(tree: &PageTree, share_url: &str, current: &str) -> String {
    let pages = tree.pages();
    let root = &pages[0].id;
    let mut out = String::with_capacity(96 * pages.len() + 256);
    out.push_str(r#"<nav class="tree" aria-label="Pages of this guide"><ul>"#);
    let mut depth = 0;
    for (at, page) in pages.iter().enumerate() {
        if at > 0 {
            if page.depth > depth {
                // Depth first: a page is at most one level below the one before it.
                out.push_str("<ul>");
            } else {
                out.push_str("</li>");
                for _ in page.depth..depth {
                    out.push_str("</ul></li>");
                }
            }
        }
        depth = page.depth;
        let href = page_path(share_url, root, page.id.as_str());
        out.push_str("<li><a href=\"");
        escape(&mut out, &href);
        out.push('"');
        if page.id.as_str() == current {
            out.push_str(r#" aria-current="page""#);
        }
        out.push('>');
        escape(&mut out, &page.title);
        out.push_str("</a>");
    }
    out.push_str("</li>");
    for _ in 0..depth {
        out.push_str("</ul></li>");
    }
    out.push_str("</ul>");
    if tree.is_cut() {
        let _ = write!(
            out,
            r#"<p class="tree-note" role="note">This guide has more pages than can be shown: only the first {MAX_PAGES}, at most {MAX_DEPTH} levels deep, are shared.</p>"#
        );
    }
    out.push_str("</nav>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confluence::client::{ContentId, Descendant};

    fn tree(cut: bool) -> PageTree {
        let id = |raw: &str| ContentId::parse(raw).unwrap();
        let page = |raw: &str, parent: &str, title: &str| Descendant {
            id: id(raw),
            title: title.to_owned(),
            parent: Some(id(parent)),
        };
        PageTree::build(
            &id("1"),
            "Guide",
            vec![
                page("2", "1", "Start <here>"),
                page("3", "2", "Install"),
                page("4", "1", "Use"),
            ],
            cut,
        )
    }

    #[test]
    fn the_tree_is_nested_lists_with_the_current_page_marked_and_titles_escaped() {
        let html = navigation(&tree(false), "/content/abc", "3");
        assert_eq!(
            html,
            concat!(
                r#"<nav class="tree" aria-label="Pages of this guide"><ul>"#,
                r#"<li><a href="/content/abc">Guide</a>"#,
                r#"<ul><li><a href="/content/abc/pages/2">Start &lt;here&gt;</a>"#,
                r#"<ul><li><a href="/content/abc/pages/3" aria-current="page">Install</a></li></ul></li>"#,
                r#"<li><a href="/content/abc/pages/4">Use</a></li></ul></li></ul></nav>"#,
            )
        );
        let root = navigation(&tree(false), "/content/abc", "1");
        assert!(root.contains(r#"<a href="/content/abc" aria-current="page">Guide</a>"#));
        assert_eq!(root.matches("aria-current").count(), 1);
    }

    #[test]
    fn a_cut_tree_says_so() {
        assert!(!navigation(&tree(false), "/c", "1").contains("tree-note"));
        let cut = navigation(&tree(true), "/c", "1");
        assert!(
            cut.contains(r#"<p class="tree-note" role="note">"#),
            "{cut}"
        );
    }
}
