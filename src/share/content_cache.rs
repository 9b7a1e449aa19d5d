//! Sanitised pages (and the page trees of tree shares) kept briefly per tenant and content id, so
//! that many readers of a page cost Confluence one call (and the app one sanitising) per
//! time-to-live. The cache is bounded in bytes, and readers who miss the same page at once wait
//! for one fetch.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::Equivalent;
use moka::future::Cache;

use super::content::SanitizedPage;
use super::tree::PageTree;

/// What a cache holds: values that know about how many bytes they take.
pub trait Weighed: Send + Sync + 'static {
    fn size_bytes(&self) -> usize;
}

/// One page as the readers of its shares see it.
#[derive(Debug)]
pub struct CachedPage {
    pub version: u32,
    pub title: String,
    /// The space the page was in when it was fetched.
    pub space_key: String,
    pub page: SanitizedPage,
}

impl Weighed for CachedPage {
    fn size_bytes(&self) -> usize {
        self.title.len() + self.space_key.len() + self.page.size_bytes()
    }
}

impl Weighed for PageTree {
    fn size_bytes(&self) -> usize {
        PageTree::size_bytes(self)
    }
}

/// About how many bytes an entry takes (key and bookkeeping included).
fn weight<V: Weighed>(key: &Key, value: &V) -> u32 {
    let bytes = 128 + key.client_key.len() + key.content_id.len() + value.size_bytes();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Lookups borrow the caller's strings: a hit allocates nothing.
pub struct ContentCache<V: Weighed = CachedPage> {
    pages: Cache<Key, Arc<V>>,
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

impl<V: Weighed> ContentCache<V> {
    /// Pages live `ttl` after they were fetched; at most about `max_bytes` are kept.
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let pages = Cache::builder()
            .time_to_live(ttl)
            .max_capacity(max_bytes)
            .weigher(|key: &Key, value: &Arc<V>| weight(key, value.as_ref()))
            .build();
        Self { pages }
    }

    pub async fn get(&self, client_key: &str, content_id: &str) -> Option<Arc<V>> {
        self.pages
            .get(&KeyRef {
                client_key,
                content_id,
            })
            .await
    }

    /// The cached page, or the one `fetch` makes (then kept). Callers missing the same page at
    /// once share one `fetch`; its error goes to each of them and nothing is kept.
    pub async fn get_or_fetch<E: Send + Sync + 'static>(
        &self,
        client_key: &str,
        content_id: &str,
        fetch: impl Future<Output = Result<V, E>>,
    ) -> Result<Arc<V>, Arc<E>> {
        if let Some(hit) = self.get(client_key, content_id).await {
            return Ok(hit);
        }
        let key = Key {
            client_key: client_key.to_owned(),
            content_id: content_id.to_owned(),
        };
        self.pages
            .try_get_with(key, async { fetch.await.map(Arc::new) })
            .await
    }

    /// Bytes held now (after pending maintenance), for tests and metrics.
    pub async fn weighted_size(&self) -> u64 {
        self.pages.run_pending_tasks().await;
        self.pages.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::share::content::sanitize;

    fn page(version: u32, body: &str) -> CachedPage {
        CachedPage {
            version,
            title: format!("Version {version}"),
            space_key: "ENG".into(),
            page: sanitize(body, "https://acme.atlassian.net/wiki"),
        }
    }

    async fn fetched(
        cache: &ContentCache,
        client_key: &str,
        content_id: &str,
        version: u32,
    ) -> u32 {
        cache
            .get_or_fetch(client_key, content_id, async {
                Ok::<_, ()>(page(version, "<p>Hello</p>"))
            })
            .await
            .unwrap()
            .version
    }

    #[tokio::test]
    async fn a_cached_page_is_found_until_its_time_to_live_ends() {
        let cache: ContentCache = ContentCache::new(Duration::from_millis(100), 1 << 20);
        assert_eq!(fetched(&cache, "tenant-a", "123", 1).await, 1);
        assert_eq!(
            fetched(&cache, "tenant-a", "123", 2).await,
            1,
            "from the cache"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(cache.get("tenant-a", "123").await.is_none());
        assert_eq!(fetched(&cache, "tenant-a", "123", 3).await, 3);
    }

    #[tokio::test]
    async fn tenants_and_pages_do_not_see_each_others_entries() {
        let cache: ContentCache = ContentCache::new(Duration::from_secs(30), 1 << 20);
        fetched(&cache, "tenant-a", "123", 1).await;
        fetched(&cache, "tenant-b", "123", 2).await;
        let version = |c: Option<Arc<CachedPage>>| c.map(|p| p.version);
        assert_eq!(version(cache.get("tenant-a", "123").await), Some(1));
        assert_eq!(version(cache.get("tenant-b", "123").await), Some(2));
        assert!(cache.get("tenant-c", "123").await.is_none());
        assert!(cache.get("tenant-a", "124").await.is_none());
        // The parts are compared one by one, not as a joined string.
        fetched(&cache, "ab", "c", 3).await;
        assert!(cache.get("a", "bc").await.is_none());
    }

    #[tokio::test]
    async fn the_cache_is_bounded_in_bytes() {
        let cache: ContentCache = ContentCache::new(Duration::from_secs(30), 100 * 1024);
        let body = format!("<p>{}</p>", "x".repeat(10 * 1024));
        for id in 0..50 {
            cache
                .get_or_fetch("tenant-a", &id.to_string(), async {
                    Ok::<_, ()>(page(1, &body))
                })
                .await
                .unwrap();
        }
        let held = cache.weighted_size().await;
        assert!(held <= 100 * 1024, "{held} bytes held");
        assert!(
            held >= 50 * 1024,
            "{held} bytes held: the cache still works"
        );
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch_and_errors_are_not_kept() {
        let cache = Arc::new(ContentCache::<CachedPage>::new(
            Duration::from_secs(30),
            1 << 20,
        ));
        let fetches = Arc::new(AtomicUsize::new(0));
        let readers = (0..20).map(|_| {
            let cache = cache.clone();
            let fetches = fetches.clone();
            tokio::spawn(async move {
                cache
                    .get_or_fetch("tenant-a", "123", async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, ()>(page(1, "<p>Hello</p>"))
                    })
                    .await
                    .unwrap()
            })
        });
        for reader in readers.collect::<Vec<_>>() {
            assert_eq!(reader.await.unwrap().version, 1);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        let failed = cache
            .get_or_fetch("tenant-a", "404", async { Err::<CachedPage, _>("gone") })
            .await;
        assert_eq!(failed.unwrap_err().as_ref(), &"gone");
        assert_eq!(
            fetched(&cache, "tenant-a", "404", 5).await,
            5,
            "the error was not kept"
        );
    }
}
