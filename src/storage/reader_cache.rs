//! Shares as readers need them, kept in memory so that serving a share page asks the database
//! nothing. Every change reaches every instance at once: triggers on `shared_page` and
//! `installation` send `NOTIFY pageshare_share_changed`, and each instance listens. While the
//! listener is not connected the cache is not used at all, and a reconnect empties it, because
//! notifications may have been lost meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::shares::ReaderShare;
use crate::share::ShareId;

pub const CHANNEL: &str = "pageshare_share_changed";
/// The payload an instance sends itself when the channel has been quiet for a while.
const HEARTBEAT: &str = "heartbeat";
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

pub struct ReaderCache {
    entries: moka::sync::Cache<ShareId, Arc<ReaderShare>>,
    /// Bumped by every invalidation: a row read before one is not cached after it.
    generation: AtomicU64,
    listening: AtomicBool,
}

impl ReaderCache {
    /// `ttl` is a safety net only; notifications do the real work.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        }
    }

    pub fn get(&self, id: ShareId) -> Option<Arc<ReaderShare>> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        self.entries.get(&id)
    }

    /// Take before reading the row from the database; give to [`Self::insert`] after.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keep `share` unless something was invalidated since `read_at` (the row may be stale).
    pub fn insert(&self, share: ReaderShare, read_at: u64) -> Arc<ReaderShare> {
        let share = Arc::new(share);
        if self.listening.load(Ordering::Acquire) && self.generation() == read_at {
            self.entries.insert(share.id, share.clone());
            // An invalidation that raced the insert wins.
            if self.generation() != read_at {
                self.entries.invalidate(&share.id);
            }
        }
        share
    }

    pub fn invalidate(&self, id: ShareId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(&id);
    }

    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    fn set_listening(&self, listening: bool) {
        self.invalidate_all();
        self.listening.store(listening, Ordering::Release);
    }

    /// A share's uuid evicts that share; anything else (`*`) evicts all.
    fn apply(&self, payload: &str) {
        match ShareId::parse(payload) {
            Some(id) => self.invalidate(id),
            None => self.invalidate_all(),
        }
    }
}

/// Listen for changes for as long as the pool lives; reconnect after failures.
pub async fn keep_listening(pool: PgPool, cache: Arc<ReaderCache>) {
    loop {
        match listen(&pool, &cache).await {
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => tracing::warn!(%error, "share change listener lost; retrying"),
            Ok(()) => {}
        }
        cache.set_listening(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen(pool: &PgPool, cache: &ReaderCache) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    cache.set_listening(true);
    let mut heartbeat_sent = false;
    loop {
        // sqlx itself abandons `try_recv` this way when the pool closes: partial reads stay
        // buffered in the connection.
        let received = tokio::time::timeout(HEARTBEAT_EVERY, listener.try_recv()).await;
        match received.map(|r| r.map(|n| n.map(|n| n.payload().to_owned()))) {
            Ok(Err(error)) => return Err(error),
            Ok(Ok(Some(payload))) if payload == HEARTBEAT => heartbeat_sent = false,
            Ok(Ok(Some(payload))) => cache.apply(&payload),
            // Reconnected: whatever was sent in between is lost.
            Ok(Ok(None)) => cache.invalidate_all(),
            Err(_) if heartbeat_sent => {
                // A connection can die without an error (an idle timeout on the way): our own
                // heartbeat did not come back, so notifications may be lost too.
                return Err(sqlx::Error::Protocol(
                    "share change listener heard no heartbeat".into(),
                ));
            }
            Err(_) => {
                // Over the listener's own connection: that is the one being checked, and a
                // busy pool must not make it look dead.
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(HEARTBEAT)
                    .execute(&mut listener)
                    .await?;
                heartbeat_sent = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::UnlockSecret;
    use crate::storage::shares::ReaderTenant;

    fn row(id: ShareId) -> ReaderShare {
        ReaderShare {
            id,
            content_id: "1".into(),
            title: "t".into(),
            password_version: 0,
            password_protected: false,
            expires_at: None,
            frame_ancestors: Vec::new(),
            revoked: false,
            unlock_secret: UnlockSecret::generate(),
            tenant: ReaderTenant {
                client_key: "c".into(),
                base_url: "https://acme.atlassian.net/wiki".into(),
                shared_secret: None,
                last_secret_kind: None,
                live: true,
                default_frame_ancestors: Vec::new(),
            },
        }
    }

    fn listening_cache() -> ReaderCache {
        let cache = ReaderCache::new(Duration::from_secs(60), 10);
        cache.set_listening(true);
        cache
    }

    #[test]
    fn nothing_is_cached_while_not_listening() {
        let cache = ReaderCache::new(Duration::from_secs(60), 10);
        let id = ShareId::new();
        cache.insert(row(id), cache.generation());
        assert!(cache.get(id).is_none());
    }

    #[test]
    fn a_row_read_before_an_invalidation_is_not_kept() {
        let cache = listening_cache();
        let id = ShareId::new();
        let read_at = cache.generation();
        cache.apply(&ShareId::new().to_string());
        cache.insert(row(id), read_at);
        assert!(cache.get(id).is_none());
        cache.insert(row(id), cache.generation());
        assert!(cache.get(id).is_some());
    }

    #[test]
    fn notifications_evict_one_share_or_all() {
        let cache = listening_cache();
        let (a, b) = (ShareId::new(), ShareId::new());
        cache.insert(row(a), cache.generation());
        cache.insert(row(b), cache.generation());
        cache.apply(&a.to_string());
        assert!(cache.get(a).is_none() && cache.get(b).is_some());
        cache.apply("*");
        assert!(cache.get(b).is_none());
        cache.insert(row(a), cache.generation());
        cache.set_listening(false);
        assert!(
            cache.get(a).is_none(),
            "a lost listener empties and disables the cache"
        );
    }
}
