//! Shares as readers need them, and installations as authenticated requests need them, kept in
//! memory so that serving a share page or verifying a Connect JWT asks the database nothing.
//! Every change reaches every instance at once: triggers on `shared_page` and `installation`
//! send `NOTIFY pageshare_share_changed`, and each instance listens.
//!
//! The cache is trusted only while the listener proves it hears everything: once a second the
//! instance sends a heartbeat on a channel of its own over the listener's connection, and
//! Postgres delivers notifications in commit order, so the echo of a heartbeat sent at `t`
//! proves every change committed before `t` has been applied. The cache is then trusted until
//! `t + 4 s`; without an echo it stops being used within that bound even when the connection
//! died silently (no FIN, no RST), and a new connection starts from an empty cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::time::{Instant, timeout, timeout_at};

use super::api_keys::{ApiKey, KeyHash};
use super::installations::Installation;
use super::shares::ReaderShare;
use crate::share::ShareId;
use crate::share::site_key::SiteKeys;
use crate::tenant::ClientKey;

pub const CHANNEL: &str = "pageshare_share_changed";
/// How often the listener proves itself.
const BEAT_EVERY: Duration = Duration::from_secs(1);
/// How long after a heartbeat was sent its echo lets the cache be trusted. Changes stop being
/// served within this bound (under the 5 seconds the contract allows).
const TRUST_FOR: Duration = Duration::from_secs(4);
/// A heartbeat not echoed within this long means the connection is gone.
const ECHO_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct ReaderCache {
    entries: moka::sync::Cache<ShareId, Arc<ReaderShare>>,
    /// By client key.
    installations: moka::sync::Cache<String, Arc<Installation>>,
    /// API keys by hash (revoked and expired ones too: the caller checks).
    api_keys: moka::sync::Cache<KeyHash, Arc<ApiKey>>,
    /// A site's unlock keys by client key.
    site_keys: moka::sync::Cache<String, Arc<SiteKeys>>,
    /// Forge installation id → client key; checked against the installation on every use.
    forge_tenants: moka::sync::Cache<String, Arc<str>>,
    /// Bumped by every invalidation: a row read before one is not cached after it.
    generation: AtomicU64,
    /// Milliseconds since `epoch` until which entries may be used; 0: not trusted.
    trusted_until: AtomicU64,
    epoch: std::time::Instant,
}

impl ReaderCache {
    /// `ttl` is a safety net only; notifications do the real work.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
            installations: moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
            api_keys: moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
            site_keys: moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
            forge_tenants: moka::sync::Cache::builder().max_capacity(capacity).build(),
            generation: AtomicU64::new(0),
            trusted_until: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
        }
    }

    fn millis(&self, at: std::time::Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Whether the listener has proven itself recently enough for the entries to be used.
    pub fn is_trusted(&self) -> bool {
        self.millis(std::time::Instant::now()) < self.trusted_until.load(Ordering::Acquire)
    }

    pub fn get(&self, id: ShareId) -> Option<Arc<ReaderShare>> {
        if !self.is_trusted() {
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
        if self.is_trusted() && self.generation() == read_at {
            self.entries.insert(share.id, share.clone());
            // An invalidation that raced the insert wins.
            if self.generation() != read_at {
                self.entries.invalidate(&share.id);
            }
        }
        share
    }

    pub fn installation(&self, client_key: &str) -> Option<Arc<Installation>> {
        if !self.is_trusted() {
            return None;
        }
        self.installations.get(client_key)
    }

    /// Keep `installation` unless something was invalidated since `read_at`.
    pub fn insert_installation(
        &self,
        installation: Installation,
        read_at: u64,
    ) -> Arc<Installation> {
        let installation = Arc::new(installation);
        if self.is_trusted() && self.generation() == read_at {
            let key = installation.client_key.as_str().to_owned();
            self.installations.insert(key.clone(), installation.clone());
            if self.generation() != read_at {
                self.installations.invalidate(&key);
            }
        }
        installation
    }

    pub fn api_key(&self, hash: &KeyHash) -> Option<Arc<ApiKey>> {
        if !self.is_trusted() {
            return None;
        }
        self.api_keys.get(hash)
    }

    /// Keep `key` (found by `hash`) unless something was invalidated since `read_at`.
    pub fn insert_api_key(&self, hash: KeyHash, key: ApiKey, read_at: u64) -> Arc<ApiKey> {
        let key = Arc::new(key);
        if self.is_trusted() && self.generation() == read_at {
            self.api_keys.insert(hash, key.clone());
            if self.generation() != read_at {
                self.api_keys.invalidate(&hash);
            }
        }
        key
    }

    pub fn site_keys(&self, client_key: &str) -> Option<Arc<SiteKeys>> {
        if !self.is_trusted() {
            return None;
        }
        self.site_keys.get(client_key)
    }

    /// Keep the site keys of `client_key` unless something was invalidated since `read_at`.
    pub fn insert_site_keys(
        &self,
        client_key: &str,
        keys: SiteKeys,
        read_at: u64,
    ) -> Arc<SiteKeys> {
        let keys = Arc::new(keys);
        if self.is_trusted() && self.generation() == read_at {
            self.site_keys.insert(client_key.to_owned(), keys.clone());
            if self.generation() != read_at {
                self.site_keys.invalidate(client_key);
            }
        }
        keys
    }

    /// Evict one site's unlock keys.
    pub fn invalidate_site_keys(&self, client_key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.site_keys.invalidate(client_key);
    }

    /// Evict every API key (one was revoked somewhere).
    pub fn invalidate_api_keys(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.api_keys.invalidate_all();
    }

    pub fn invalidate(&self, id: ShareId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(&id);
    }

    /// Evict every share and installation (a tenant changed, or notifications may be lost).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
        self.installations.invalidate_all();
        self.api_keys.invalidate_all();
        self.site_keys.invalidate_all();
    }

    /// The listener heard everything committed before `sent_at`.
    fn confirmed(&self, sent_at: Instant) {
        let until = self.millis((sent_at + TRUST_FOR).into_std());
        self.trusted_until.fetch_max(until, Ordering::AcqRel);
    }

    /// Notifications may have been lost: stop using the entries, and forget them.
    fn distrust(&self) {
        self.trusted_until.store(0, Ordering::Release);
        self.invalidate_all();
    }

    /// The client key of the tenant of a Forge installation, as last seen (the caller checks the
    /// installation it leads to still names that Forge installation).
    pub fn forge_tenant_key(&self, installation_id: &str) -> Option<Arc<str>> {
        self.forge_tenants.get(installation_id)
    }

    pub fn note_forge_tenant(&self, installation_id: &str, client_key: &ClientKey) {
        self.forge_tenants
            .insert(installation_id.to_owned(), Arc::from(client_key.as_str()));
    }

    /// Evict one tenant's installation.
    pub fn invalidate_tenant(&self, client_key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.installations.invalidate(client_key);
    }

    /// A share's uuid evicts that share, `tenant:{client_key}` that tenant, `site-keys:{client_key}`
    /// that site's unlock keys, `api-keys` every API key; anything else (`*`) evicts all.
    fn apply(&self, payload: &str) {
        if payload == "api-keys" {
            return self.invalidate_api_keys();
        }
        if let Some(client_key) = payload.strip_prefix("site-keys:") {
            return self.invalidate_site_keys(client_key);
        }
        if let Some(client_key) = payload.strip_prefix("tenant:") {
            return self.invalidate_tenant(client_key);
        }
        match ShareId::parse(payload) {
            Some(id) => self.invalidate(id),
            None => self.invalidate_all(),
        }
    }
}

/// Listen for changes for as long as the pool lives; reconnect after failures. The listener
/// connects with `listen_options` (`PAGESHARE_LISTEN_DATABASE_URL`), else as the pool does.
pub async fn keep_listening(
    pool: PgPool,
    listen_options: Option<PgConnectOptions>,
    cache: Arc<ReaderCache>,
) {
    // Heartbeats go to this instance's own channel, so instances do not echo each other.
    let own = format!("pageshare_beat_{}", uuid::Uuid::new_v4().simple());
    // A pool of one connection of its own: the listener never takes one of the requests'
    // connections, and a lost one is replaced by a new connection, so the listener being up
    // proves the database takes new connections (what `/readyz` reports).
    let listener_pool = PgPoolOptions::new().max_connections(1).connect_lazy_with(
        listen_options.unwrap_or_else(|| pool.connect_options().as_ref().clone()),
    );
    loop {
        if pool.is_closed() {
            listener_pool.close().await;
            return;
        }
        let connected = timeout(CONNECT_TIMEOUT, connect(&listener_pool, &own)).await;
        let error = match connected {
            Ok(Ok(listener)) => listen(listener, &cache, &own).await,
            Ok(Err(error)) => error,
            Err(_) => {
                sqlx::Error::Protocol("connecting the share change listener timed out".into())
            }
        };
        cache.distrust();
        if matches!(error, sqlx::Error::PoolClosed) {
            return;
        }
        tracing::warn!(%error, "share change listener lost; the share cache is off until it is back");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn connect(pool: &PgPool, own: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all([CHANNEL, own]).await?;
    Ok(listener)
}

/// Apply notifications and send heartbeats until the connection fails or stops echoing.
async fn listen(mut listener: PgListener, cache: &ReaderCache, own: &str) -> sqlx::Error {
    // Whatever changed before this connection listened was not heard.
    cache.invalidate_all();
    let mut beat: u64 = 0;
    let mut pending: Option<Instant> = None;
    let mut next_beat = Instant::now();
    loop {
        if pending.is_none() && Instant::now() >= next_beat {
            beat += 1;
            let sent_at = Instant::now();
            // Over the listener's own connection: that is the one being checked, and a busy
            // pool must not make it look dead.
            let sent = timeout(
                ECHO_TIMEOUT,
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(own)
                    .bind(beat.to_string())
                    .execute(&mut listener),
            )
            .await;
            match sent {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return error,
                Err(_) => return sqlx::Error::Protocol("heartbeat could not be sent".into()),
            }
            pending = Some(sent_at);
            next_beat = sent_at + BEAT_EVERY;
        }
        let wake = pending.map_or(next_beat, |sent_at| sent_at + ECHO_TIMEOUT);
        match timeout_at(wake, listener.try_recv()).await {
            Err(_) if pending.is_some() => {
                return sqlx::Error::Protocol("heartbeat not echoed in time".into());
            }
            Err(_) => {}
            Ok(Err(error)) => return error,
            // sqlx reconnected on its own: what was sent in between is lost.
            Ok(Ok(None)) => {
                cache.distrust();
                pending = None;
                next_beat = Instant::now();
            }
            Ok(Ok(Some(notification))) if notification.channel() == own => {
                if let Some(sent_at) = pending
                    && notification.payload() == beat.to_string()
                {
                    cache.confirmed(sent_at);
                    pending = None;
                }
            }
            Ok(Ok(Some(notification))) => cache.apply(notification.payload()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::UnlockSecret;

    fn row(id: ShareId) -> ReaderShare {
        ReaderShare {
            id,
            content_id: crate::confluence::ids::ContentId::parse("1").unwrap(),
            space_key: "ENG".into(),
            title: "t".into(),
            password_version: 0,
            password_protected: false,
            expires_at: None,
            frame_ancestors: Vec::new(),
            revoked: false,
            unlock_secret: UnlockSecret::generate(),
            previous_unlock_secret: None,
            previous_secret_expires_at: None,
            unlock_keys: Default::default(),
            client_key: crate::tenant::ClientKey::parse("acme").unwrap(),
            include_children: false,
        }
    }

    fn listening_cache() -> ReaderCache {
        let cache = ReaderCache::new(Duration::from_secs(60), 10);
        cache.confirmed(Instant::now());
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
        let tenant = cache.insert_installation(
            Installation::sample("https://acme.atlassian.net/wiki"),
            cache.generation(),
        );
        cache.apply(&format!("tenant:{}", tenant.client_key));
        assert!(
            cache.installation("acme").is_none(),
            "the tenant is evicted"
        );
        assert!(cache.get(b).is_some(), "its shares are not");
        cache.insert_site_keys("acme", SiteKeys::default(), cache.generation());
        cache.insert_site_keys("globex", SiteKeys::default(), cache.generation());
        cache.apply("site-keys:acme");
        assert!(
            cache.site_keys("acme").is_none(),
            "that site's keys are evicted"
        );
        assert!(cache.site_keys("globex").is_some() && cache.get(b).is_some());
        cache.apply("*");
        assert!(cache.get(b).is_none());
        assert!(cache.site_keys("globex").is_none());
        cache.insert(row(a), cache.generation());
        cache.distrust();
        assert!(
            cache.get(a).is_none(),
            "a lost listener empties and disables the cache"
        );
    }

    #[test]
    fn entries_are_used_only_within_four_seconds_of_the_last_echoed_heartbeat() {
        let cache = ReaderCache::new(Duration::from_secs(60), 10);
        let id = ShareId::new();
        let now = Instant::now();
        cache.confirmed(now - Duration::from_millis(4100));
        assert!(!cache.is_trusted(), "the last echo proves too little");
        cache.insert(row(id), cache.generation());
        assert!(cache.get(id).is_none(), "nothing is kept while untrusted");
        cache.confirmed(now - Duration::from_secs(3));
        cache.insert(row(id), cache.generation());
        assert!(cache.get(id).is_some());
        // A late echo of an older heartbeat does not move the bound back.
        cache.confirmed(now - Duration::from_secs(10));
        assert!(cache.get(id).is_some());
    }
}
