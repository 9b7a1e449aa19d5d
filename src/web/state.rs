//! What every handler shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Settings;
use crate::confluence::client::HostClient;
use crate::connect::signed_install::InstallKeys;
use crate::data_key::DataKey;
use crate::forge::keys::ForgeKeys;
use crate::metrics::{Cache, Metrics};
use crate::share::content_cache::ContentCache;
use crate::share::readership::Readership;
use crate::share::signing::SigningKey;
use crate::share::site_key::SiteKeys;
use crate::share::tree::PageTree;
use crate::storage::api_keys::{ApiKey, KeyHash, UsageLog};
use crate::storage::forge_tenants::SeenLog;
use crate::storage::installations::{Installation, VerificationLog};
use crate::storage::reader_cache::ReaderCache;
use crate::storage::site_unlock_keys;

pub struct AppState {
    pub settings: Settings,
    pub pool: PgPool,
    pub install_keys: InstallKeys,
    pub host: HostClient,
    /// `atlassian-connect.json` as served, rendered once.
    pub descriptor: String,
    /// Signs share cookies and attachment URLs (`PAGESHARE_COOKIE_KEY`, or the database's).
    pub signing_key: SigningKey,
    /// Shares as readers need them, fresh through change notifications.
    pub readers: Arc<ReaderCache>,
    /// Password checks running at once (Argon2id: 19 MiB each).
    pub password_checks: tokio::sync::Semaphore,
    /// Sanitised page content, per tenant and page, for a short while.
    pub content: ContentCache,
    /// The pages of tree shares, per tenant and top page, as long as content.
    pub trees: ContentCache<PageTree>,
    /// Which kind of secret verified each tenant, written down in the background.
    pub verifications: VerificationLog,
    /// When each API key was last used, written down in the background.
    pub api_key_usage: UsageLog,
    /// Seals Forge app tokens at rest (`PAGESHARE_DATA_KEY`, or the database's).
    pub data_key: DataKey,
    /// Forge Remote, when configured.
    pub forge: Option<ForgeRuntime>,
    /// Views of share pages not written yet (`docs/OPERATIONS.md#readership`).
    pub readership: Arc<Readership>,
    /// Counted only while `PAGESHARE_METRICS_BIND` is set.
    pub metrics: Option<Arc<Metrics>>,
}

/// What the Forge side keeps: Forge's key set, and when each installation was last seen.
pub struct ForgeRuntime {
    pub keys: ForgeKeys,
    pub seen: SeenLog,
}

impl AppState {
    /// The installation of `client_key`, from memory when the change listener vouches for it.
    pub async fn installation(
        &self,
        client_key: &str,
    ) -> Result<Option<Arc<Installation>>, sqlx::Error> {
        let known = self.readers.installation(client_key);
        self.count_lookup(Cache::Installations, known.is_some());
        if let Some(known) = known {
            return Ok(Some(known));
        }
        let read_at = self.readers.generation();
        let found = crate::storage::installations::find(&self.pool, client_key).await?;
        Ok(found.map(|row| self.readers.insert_installation(row, read_at)))
    }
}

impl AppState {
    /// The unlock keys of the site `client_key`, ready to verify; from memory when the change
    /// listener vouches for them.
    pub async fn site_keys(&self, client_key: &str) -> Result<Arc<SiteKeys>, sqlx::Error> {
        let known = self.readers.site_keys(client_key);
        self.count_lookup(Cache::SiteKeys, known.is_some());
        if let Some(known) = known {
            return Ok(known);
        }
        let read_at = self.readers.generation();
        let rows = site_unlock_keys::for_reader(&self.pool, client_key).await?;
        let keys = site_unlock_keys::ready(rows, &self.data_key, client_key);
        Ok(self.readers.insert_site_keys(client_key, keys, read_at))
    }

    pub fn count_lookup(&self, cache: Cache, hit: bool) {
        if let Some(metrics) = &self.metrics {
            metrics.cache_lookup(cache, hit);
        }
    }

    /// The API key with this hash, from memory when the change listener vouches for it.
    pub async fn api_key(&self, hash: &KeyHash) -> Result<Option<Arc<ApiKey>>, sqlx::Error> {
        if let Some(known) = self.readers.api_key(hash) {
            return Ok(Some(known));
        }
        let read_at = self.readers.generation();
        let found = crate::storage::api_keys::find_by_hash(&self.pool, hash).await?;
        Ok(found.map(|row| self.readers.insert_api_key(*hash, row, read_at)))
    }

    /// The tenant's Confluence, for a call made outside any request of the tenant (a share page).
    pub fn tenant_host<'a>(
        &'a self,
        tenant: &'a Installation,
    ) -> Result<crate::confluence::client::Host<'a>, crate::web::error::AppError> {
        crate::tenant::host(
            &self.settings,
            &self.data_key,
            tenant,
            None,
            chrono::Utc::now(),
        )
        .map_err(|error| {
            tracing::warn!(client_key = %tenant.client_key, "{error}: no valid Forge app token, and no shared secret the host holds");
            error.into()
        })
    }
}
