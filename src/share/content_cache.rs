//! Sanitised pages kept briefly per tenant and content id, so that many readers of a page cost
//! Confluence one call (and the app one sanitising) per time-to-live.

use std::sync::Arc;
use std::time::Duration;

use moka::Equivalent;
use moka::sync::Cache;

use super::content::SanitizedPage;

/// One page as the readers of its shares see it.
#[derive(Debug)]
pub struct CachedPage {
    pub version: u32,
    pub title: String,
    pub page: SanitizedPage,
}

/// Lookups borrow the caller's strings: a hit allocates nothing.
pub struct ContentCache {
    pages: Cache<Key, Arc<CachedPage>>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    client_key: String,
    content_id: String,
}

/// A [`Key`] made of borrowed parts; its derived `Hash` feeds the hasher exactly what `Key`'s
/// does (`String` hashes as `str`), as `Equivalent` requires.
#[derive(Hash)]
struct KeyRef<'a> {
    client_key: &'a str,
    content_id: &'a str,
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.client_key == key.client_key && self.content_id == key.content_id
    }
}

impl ContentCache {
    /// Pages live `ttl` after they were fetched; at most `capacity` pages are kept.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        let pages = Cache::builder()
            .time_to_live(ttl)
            .max_capacity(capacity)
            .build();
        Self { pages }
    }

    pub fn get(&self, client_key: &str, content_id: &str) -> Option<Arc<CachedPage>> {
        self.pages.get(&KeyRef {
            client_key,
            content_id,
        })
    }

    /// Keep `page` (replacing an older one) and hand it back, shared.
    pub fn insert(&self, client_key: &str, content_id: &str, page: CachedPage) -> Arc<CachedPage> {
        let page = Arc::new(page);
        let key = Key {
            client_key: client_key.to_owned(),
            content_id: content_id.to_owned(),
        };
        self.pages.insert(key, page.clone());
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::content::sanitize;

    fn page(version: u32) -> CachedPage {
        CachedPage {
            version,
            title: format!("Version {version}"),
            page: sanitize("<p>Hello</p>", "https://acme.atlassian.net/wiki"),
        }
    }

    #[test]
    fn a_cached_page_is_found_until_its_time_to_live_ends() {
        let cache = ContentCache::new(Duration::from_millis(100), 10);
        let inserted = cache.insert("tenant-a", "123", page(1));

        let found = cache.get("tenant-a", "123").expect("cached page");
        assert!(Arc::ptr_eq(&found, &inserted));

        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.get("tenant-a", "123").is_none());
    }

    #[test]
    fn tenants_and_pages_do_not_see_each_others_entries() {
        let cache = ContentCache::new(Duration::from_secs(30), 10);
        cache.insert("tenant-a", "123", page(1));
        cache.insert("tenant-b", "123", page(2));

        assert_eq!(cache.get("tenant-a", "123").map(|p| p.version), Some(1));
        assert_eq!(cache.get("tenant-b", "123").map(|p| p.version), Some(2));
        assert!(cache.get("tenant-c", "123").is_none());
        assert!(cache.get("tenant-a", "124").is_none());
        // The parts are compared one by one, not as a joined string.
        cache.insert("ab", "c", page(3));
        assert!(cache.get("a", "bc").is_none());
    }

    #[test]
    fn a_newer_version_replaces_the_cached_one() {
        let cache = ContentCache::new(Duration::from_secs(30), 10);
        cache.insert("tenant-a", "123", page(1));
        cache.insert("tenant-a", "123", page(2));
        let found = cache.get("tenant-a", "123").expect("cached page");
        assert_eq!((found.version, found.title.as_str()), (2, "Version 2"));
    }
}
