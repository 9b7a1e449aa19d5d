//! The `installation` table.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::connect::payload::InstallPayload;
use crate::connect::secrets::{SecretKind, SharedSecret};
use crate::forge::ids::InstallationId;
use crate::share::origins::FrameAncestor;
use crate::tenant::ClientKey;

/// A tenant as the request path needs it (kept in every instance's memory: see
/// [`super::reader_cache`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Installation {
    pub client_key: ClientKey,
    pub base_url: String,
    pub display_url: Option<String>,
    pub shared_secret: Option<SharedSecret>,
    pub installed: bool,
    pub enabled: bool,
    pub last_secret_kind: Option<SecretKind>,
    /// Origins that may embed the tenant's shares that have none of their own.
    pub default_frame_ancestors: Vec<FrameAncestor>,
    /// The Forge installation of the site, once it has been seen through Forge.
    pub forge_installation_id: Option<InstallationId>,
    /// Its invocations' `app.apiBaseUrl`.
    pub forge_api_base_url: Option<String>,
    /// The app's OAuth token for the installation, sealed with the data key (see
    /// [`crate::tenant::host`]), and its expiry.
    pub forge_app_token: Option<Vec<u8>>,
    pub forge_token_expires_at: Option<DateTime<Utc>>,
    /// Installed through Connect at some time (a Connect `installed` or a verified Connect
    /// token): only such a tenant is reached with, or may call with, a Connect JWT.
    pub connect: bool,
    /// When the shared secret (and so the kind a host holds) was last stored: which secret a
    /// recorded verification belongs to.
    pub secret_stored_at: DateTime<Utc>,
}

/// The columns of an [`Installation`], each after `$prefix` (a table alias and a dot, or "").
macro_rules! installation_columns {
    ($prefix:literal) => {
        concat!(
            $prefix,
            "client_key, ",
            $prefix,
            "base_url, ",
            $prefix,
            "display_url, ",
            $prefix,
            "shared_secret, ",
            $prefix,
            "installed, ",
            $prefix,
            "enabled, ",
            $prefix,
            "last_secret_kind, ",
            $prefix,
            "default_frame_ancestors, ",
            $prefix,
            "forge_installation_id, ",
            $prefix,
            "forge_api_base_url, ",
            $prefix,
            "forge_app_token, ",
            $prefix,
            "forge_token_expires_at, ",
            $prefix,
            "connect_seen_at IS NOT NULL AS connect, ",
            $prefix,
            "secret_stored_at"
        )
    };
}
pub(crate) use installation_columns;

impl Installation {
    /// Installed and enabled: its shares are served, its users may call the app.
    pub fn live(&self) -> bool {
        self.installed && self.enabled
    }

    /// A live tenant at `base_url`, for unit tests.
    #[cfg(test)]
    pub fn sample(base_url: &str) -> Self {
        Self {
            client_key: ClientKey::parse("acme").unwrap(),
            base_url: base_url.to_owned(),
            display_url: None,
            shared_secret: None,
            installed: true,
            enabled: true,
            last_secret_kind: None,
            default_frame_ancestors: Vec::new(),
            forge_installation_id: None,
            forge_api_base_url: None,
            forge_app_token: None,
            forge_token_expires_at: None,
            connect: true,
            secret_stored_at: DateTime::UNIX_EPOCH,
        }
    }
}

pub async fn find(pool: &PgPool, client_key: &str) -> Result<Option<Installation>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        installation_columns!(""),
        " FROM installation WHERE client_key = $1"
    ))
    .bind(client_key)
    .fetch_optional(pool)
    .await
}

/// Insert the tenant or replace what an earlier install stored, in one statement, so concurrent
/// callbacks for one tenant still leave one row. A live installation keeps its enabled flag; a
/// new or returning one starts enabled. The host now holds the secret of this body, so the kind
/// last verified is forgotten: calls are signed with the stored secret until a token of the
/// tenant verifies with the app-wide one again.
pub async fn upsert(pool: &PgPool, p: &InstallPayload) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO installation (client_key, app_key, shared_secret, base_url, display_url,
             product_type, description, server_version, plugins_version, cloud_id, payload,
             connect_installation_id, connect_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())
         ON CONFLICT (client_key) DO UPDATE SET
             app_key = EXCLUDED.app_key,
             shared_secret = EXCLUDED.shared_secret,
             base_url = EXCLUDED.base_url,
             display_url = EXCLUDED.display_url,
             product_type = EXCLUDED.product_type,
             description = EXCLUDED.description,
             server_version = EXCLUDED.server_version,
             plugins_version = EXCLUDED.plugins_version,
             cloud_id = EXCLUDED.cloud_id,
             payload = EXCLUDED.payload,
             connect_installation_id = EXCLUDED.connect_installation_id,
             connect_seen_at = now(),
             last_secret_kind = NULL,
             secret_stored_at = now(),
             enabled = installation.enabled OR NOT installation.installed,
             installed = true,
             uninstalled_at = NULL,
             updated_at = now()",
    )
    .bind(&p.client_key)
    .bind(&p.key)
    .bind(p.shared_secret.expose())
    .bind(&p.base_url)
    .bind(&p.display_url)
    .bind(&p.product_type)
    .bind(&p.description)
    .bind(&p.server_version)
    .bind(&p.plugins_version)
    .bind(&p.cloud_id)
    .bind(sqlx::types::Json(&p.rest))
    .bind(p.installation_id.as_ref().map(InstallationId::as_str))
    .execute(pool)
    .await?;
    Ok(())
}

/// Mark the tenant uninstalled; every row it owns stays.
pub async fn mark_uninstalled(pool: &PgPool, client_key: &ClientKey) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE installation SET installed = false, uninstalled_at = now(), updated_at = now()
         WHERE client_key = $1",
    )
    .bind(client_key)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_enabled(
    pool: &PgPool,
    client_key: &ClientKey,
    enabled: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE installation SET enabled = $2, updated_at = now() WHERE client_key = $1",
    )
    .bind(client_key)
    .bind(enabled)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How often, at most, one tenant's successful verification is written down.
const RECORD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Which kind of secret verified each tenant's tokens, written down without a write on the
/// request path: at most once a minute per tenant and kind, in the background.
pub struct VerificationLog {
    /// Client key → the kind, and the secret it belongs to, written down within the last minute.
    recent: moka::sync::Cache<String, (SecretKind, DateTime<Utc>)>,
}

impl Default for VerificationLog {
    fn default() -> Self {
        Self {
            recent: moka::sync::Cache::builder()
                .time_to_live(RECORD_EVERY)
                .max_capacity(100_000)
                .build(),
        }
    }
}

impl VerificationLog {
    /// A token of `tenant` verified with `kind` just now.
    pub fn note(&self, pool: &PgPool, tenant: &Installation, kind: SecretKind) {
        let noted = (kind, tenant.secret_stored_at);
        if self.recent.get(tenant.client_key.as_str()) == Some(noted) {
            return;
        }
        self.recent
            .insert(tenant.client_key.as_str().to_owned(), noted);
        let pool = pool.clone();
        let client_key = tenant.client_key.clone();
        let secret = tenant.secret_stored_at;
        let at = Utc::now();
        tokio::spawn(async move {
            if let Err(error) = record_verification(&pool, &client_key, kind, secret, at).await {
                tracing::warn!(%error, %client_key, "recording a verification failed");
            }
        });
    }
}

/// Record that a token of this tenant verified with `kind` at `at`, checked against the secret
/// stored at `secret_stored_at`. Records may arrive out of order: the kind last verified follows
/// the latest one, and one about an earlier secret (a record that arrives after a re-install)
/// never sets it: the secret is compared by its own timestamp, never the app's clock with the
/// database's.
pub async fn record_verification(
    pool: &PgPool,
    client_key: &ClientKey,
    kind: SecretKind,
    secret_stored_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE installation SET
             last_secret_kind = CASE
                 WHEN secret_stored_at = $4
                  AND $3 >= COALESCE(per_install_verified_at, '-infinity')
                  AND $3 >= COALESCE(app_wide_verified_at, '-infinity')
                 THEN $2 ELSE last_secret_kind END,
             per_install_verified_at = CASE WHEN $2 = 'per-install'
                 THEN GREATEST(per_install_verified_at, $3) ELSE per_install_verified_at END,
             app_wide_verified_at = CASE WHEN $2 = 'app-wide'
                 THEN GREATEST(app_wide_verified_at, $3) ELSE app_wide_verified_at END,
             connect_seen_at = GREATEST(connect_seen_at, $3)
         WHERE client_key = $1",
    )
    .bind(client_key)
    .bind(kind.as_str())
    .bind(at)
    .bind(secret_stored_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The tenant's default embedding origins (for its shares that have none of their own).
pub async fn default_frame_ancestors(
    pool: &PgPool,
    client_key: &ClientKey,
) -> Result<Option<Vec<FrameAncestor>>, sqlx::Error> {
    sqlx::query_scalar("SELECT default_frame_ancestors FROM installation WHERE client_key = $1")
        .bind(client_key)
        .fetch_optional(pool)
        .await
}

/// Replace the tenant's default embedding origins (already validated); what is stored now. A
/// trigger tells every instance, whose cached shares carry the old value.
pub async fn set_default_frame_ancestors(
    pool: &PgPool,
    client_key: &ClientKey,
    origins: &[FrameAncestor],
) -> Result<Option<Vec<FrameAncestor>>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE installation SET default_frame_ancestors = $2, updated_at = now()
         WHERE client_key = $1
         RETURNING default_frame_ancestors",
    )
    .bind(client_key)
    .bind(origins)
    .fetch_optional(pool)
    .await
}

/// One installed tenant as `secrets status` reports it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct SecretStatusRow {
    pub client_key: String,
    pub base_url: String,
    pub last_secret_kind: Option<String>,
    pub per_install_verified_at: Option<DateTime<Utc>>,
    pub app_wide_verified_at: Option<DateTime<Utc>>,
    pub has_stored_secret: bool,
}

pub async fn secret_status(pool: &PgPool) -> Result<Vec<SecretStatusRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT client_key, base_url, last_secret_kind, per_install_verified_at, app_wide_verified_at,
                shared_secret IS NOT NULL AS has_stored_secret
         FROM installation WHERE installed ORDER BY client_key",
    )
    .fetch_all(pool)
    .await
}

/// Forget every stored per-install secret once no installed tenant depends on its own. The table
/// is locked against writes for the check and the delete, so a secret an install writes while
/// this runs is never lost: the install either commits first (and is counted as not moved) or
/// waits until this is done.
pub async fn forget_per_install_secrets(pool: &PgPool) -> Result<Option<u64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("LOCK TABLE installation IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let holdouts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM installation
         WHERE installed AND last_secret_kind IS DISTINCT FROM 'app-wide'",
    )
    .fetch_one(&mut *tx)
    .await?;
    if holdouts > 0 {
        return Ok(None);
    }
    let done =
        sqlx::query("UPDATE installation SET shared_secret = NULL WHERE shared_secret IS NOT NULL")
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(Some(done.rows_affected()))
}
