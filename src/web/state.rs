//! What every handler shares.

use sqlx::PgPool;

use crate::config::Settings;
use crate::connect::host_client::HostClient;
use crate::connect::signed_install::InstallKeys;
use crate::share::content_cache::ContentCache;
use crate::share::signing::SigningKey;

pub struct AppState {
    pub settings: Settings,
    pub pool: PgPool,
    pub install_keys: InstallKeys,
    pub host: HostClient,
    /// `atlassian-connect.json` as served, rendered once.
    pub descriptor: String,
    /// Signs share cookies and attachment URLs (`PAGESHARE_COOKIE_KEY`, or the database's).
    pub signing_key: SigningKey,
    /// Sanitised page content, per tenant and page, for a short while.
    pub content: ContentCache,
}
