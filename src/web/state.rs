//! What every handler shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Settings;
use crate::confluence::client::HostClient;
use crate::connect::signed_install::InstallKeys;
use crate::share::content_cache::ContentCache;
use crate::share::signing::SigningKey;
use crate::storage::installations::VerificationLog;
use crate::storage::reader_cache::ReaderCache;

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
    /// Which kind of secret verified each tenant, written down in the background.
    pub verifications: VerificationLog,
}
