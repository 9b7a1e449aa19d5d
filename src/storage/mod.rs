//! Queries, one module per table.

pub mod api_keys;
pub mod app_keys;
pub mod audit;
pub mod forge_tenants;
pub mod installations;
pub mod jobs;
pub mod password_failures;
pub mod personal_data;
pub mod reader_cache;
pub mod readership;
pub mod retention;
pub mod share_overview;
pub mod shares;
pub mod site_unlock_keys;
pub mod unlock_keys;

/// What was noted within the last minute: uses written down in the background at most once a
/// minute per key (a Forge installation seen, an API key used).
pub struct OncePerMinute<K>(moka::sync::Cache<K, ()>);

impl<K: std::hash::Hash + Eq + Send + Sync + 'static> Default for OncePerMinute<K> {
    fn default() -> Self {
        Self(
            moka::sync::Cache::builder()
                .time_to_live(std::time::Duration::from_secs(60))
                .max_capacity(100_000)
                .build(),
        )
    }
}

impl<K: std::hash::Hash + Eq + Clone + Send + Sync + 'static> OncePerMinute<K> {
    /// Whether `key` is new this minute (and note it).
    pub fn first(&self, key: &K) -> bool {
        if self.0.contains_key(key) {
            return false;
        }
        self.0.insert(key.clone(), ());
        true
    }
}
