//! The pages a page-tree share serves: its page and the pages below it in Confluence, in the
//! order of a navigation tree, cut at [`MAX_PAGES`] (`docs/HTTP.md#page-trees`).

use std::collections::{HashMap, HashSet};

use crate::confluence::client::{ContentId, Descendant};

/// Most pages a tree serves, its own page included.
pub const MAX_PAGES: usize = 1000;
/// Most levels below the share's page; deeper pages are cut like those over [`MAX_PAGES`].
pub const MAX_DEPTH: usize = 30;

/// One page of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreePage {
    pub id: ContentId,
    pub title: String,
    /// 0 for the share's own page, 1 for its children, ...
    pub depth: usize,
}

/// The tree in navigation order: each page followed by the pages below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageTree {
    pages: Vec<TreePage>,
    /// The content ids of `pages`.
    ids: HashSet<String>,
    /// Pages were left out (too many, or too deep).
    cut: bool,
}

type Children = HashMap<String, Vec<Descendant>>;

/// Put the children of `id` on `stack` to be visited next, first child on top.
fn push_children(
    stack: &mut Vec<(Descendant, usize)>,
    children: &mut Children,
    id: &str,
    depth: usize,
) {
    if let Some(list) = children.remove(id) {
        stack.extend(list.into_iter().rev().map(|page| (page, depth)));
    }
}

impl PageTree {
    /// The tree under `root` (titled `root_title`) from Confluence's `descendants`, in the order
    /// Confluence listed each page's children; `more`: Confluence had pages it did not list.
    /// Pages whose parent is not in the tree are left out.
    pub fn build(
        root: &ContentId,
        root_title: &str,
        descendants: Vec<Descendant>,
        more: bool,
    ) -> Self {
        let mut children = Children::new();
        for page in descendants {
            if let Some(parent) = &page.parent {
                children
                    .entry(parent.as_str().to_owned())
                    .or_default()
                    .push(page);
            }
        }
        let mut pages = vec![TreePage {
            id: root.clone(),
            title: root_title.to_owned(),
            depth: 0,
        }];
        let mut cut = more;
        // Depth first, without recursion: a stack of children still to visit, last first.
        let mut stack: Vec<(Descendant, usize)> = Vec::new();
        push_children(&mut stack, &mut children, root.as_str(), 1);
        while let Some((page, depth)) = stack.pop() {
            if depth > MAX_DEPTH || pages.len() >= MAX_PAGES {
                cut = true;
                continue;
            }
            push_children(&mut stack, &mut children, page.id.as_str(), depth + 1);
            pages.push(TreePage {
                id: page.id,
                title: page.title,
                depth,
            });
        }
        let ids = pages
            .iter()
            .map(|page| page.id.as_str().to_owned())
            .collect();
        Self { pages, ids, cut }
    }

    /// Pages in navigation order, the share's own first.
    pub fn pages(&self) -> &[TreePage] {
        &self.pages
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Pages were left out: the navigation says so.
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    /// About how many bytes the tree takes in memory, to bound its cache.
    pub fn size_bytes(&self) -> usize {
        self.pages
            .iter()
            .map(|page| 2 * page.id.as_str().len() + page.title.len() + 96)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> ContentId {
        ContentId::parse(raw).unwrap()
    }

    fn page(raw: &str, parent: &str) -> Descendant {
        Descendant {
            id: id(raw),
            title: format!("Page {raw}"),
            parent: Some(id(parent)),
        }
    }

    fn order(tree: &PageTree) -> Vec<(String, usize)> {
        tree.pages()
            .iter()
            .map(|p| (p.id.as_str().to_owned(), p.depth))
            .collect()
    }

    #[test]
    fn pages_come_depth_first_in_confluences_order_whatever_order_they_were_listed_in() {
        let listed = vec![
            page("4", "2"),
            page("2", "1"),
            page("3", "1"),
            page("5", "3"),
            page("6", "2"),
            // Not under the tree (its parent is elsewhere): left out, and no cut.
            page("9", "8"),
        ];
        let tree = PageTree::build(&id("1"), "Root", listed, false);
        let expected = [("1", 0), ("2", 1), ("4", 2), ("6", 2), ("3", 1), ("5", 2)];
        let expected: Vec<(String, usize)> =
            expected.iter().map(|(i, d)| (i.to_string(), *d)).collect();
        assert_eq!(order(&tree), expected);
        assert!(!tree.is_cut());
        assert!(tree.contains("5") && tree.contains("1") && !tree.contains("9"));
        assert_eq!(tree.pages()[2].title, "Page 4");
    }

    #[test]
    fn a_tree_over_the_limits_is_cut_and_says_so() {
        let wide: Vec<Descendant> = (2..=MAX_PAGES + 1)
            .map(|n| page(&n.to_string(), "1"))
            .collect();
        let tree = PageTree::build(&id("1"), "Root", wide, false);
        assert_eq!(tree.pages().len(), MAX_PAGES);
        assert!(tree.is_cut());
        let exact: Vec<Descendant> = (2..=MAX_PAGES).map(|n| page(&n.to_string(), "1")).collect();
        let tree = PageTree::build(&id("1"), "Root", exact, false);
        assert_eq!(tree.pages().len(), MAX_PAGES);
        assert!(!tree.is_cut());
        // Confluence had more than it listed.
        let tree = PageTree::build(&id("1"), "Root", vec![page("2", "1")], true);
        assert!(tree.is_cut());
        // Too deep: a chain of MAX_DEPTH + 1 levels.
        let deep: Vec<Descendant> = (2..=MAX_DEPTH + 2)
            .map(|n| page(&n.to_string(), &(n - 1).to_string()))
            .collect();
        let tree = PageTree::build(&id("1"), "Root", deep, false);
        assert_eq!(tree.pages().len(), MAX_DEPTH + 1);
        assert!(tree.is_cut());
    }
}
