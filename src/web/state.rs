//! What every handler shares.

use sqlx::PgPool;

use crate::config::Settings;
use crate::connect::host_client::HostClient;
use crate::connect::signed_install::InstallKeys;

pub struct AppState {
    pub settings: Settings,
    pub pool: PgPool,
    pub install_keys: InstallKeys,
    pub host: HostClient,
    /// `atlassian-connect.json` as served, rendered once.
    pub descriptor: String,
}
