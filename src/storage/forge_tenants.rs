//! Tenants as Forge sees them: found, linked or created from a verified invocation, uninstalled
//! by `preUninstall`, and the app token kept for calls made outside an invocation.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::installations::{Installation, installation_columns};
use crate::forge::ids::InstallationId;
use crate::forge::token::Invocation;
use crate::tenant::ClientKey;

/// The tenant of a verified invocation (`docs/ARCHITECTURE.md`, one tenant across platforms):
/// the one that has this Forge installation; else the site's tenant, by cloud id (a reinstall,
/// or a Connect tenant arriving through Forge), which is linked to the installation and counts as
/// installed again; else the Connect tenant whose `installed` body named this installation; else a
/// new tenant keyed by the cloud id. `site_url` (the invocation's, checked by the caller) fills a
/// base URL the tenant does not have yet. `None` when that key is taken by a tenant that is not
/// this site.
pub async fn tenant_for(
    pool: &PgPool,
    invocation: &Invocation,
    app_id: &str,
    site_url: Option<&str>,
) -> Result<Option<Installation>, sqlx::Error> {
    if let Some(found) = by_installation(pool, &invocation.installation_id).await? {
        return Ok(Some(found));
    }
    let cloud_id = invocation.cloud_id.to_string();
    let base_url = site_url.map(|url| format!("{}/wiki", url.trim_end_matches('/')));
    // Link the site's tenant: its own cloud id, or the installation its Connect body named.
    let linked: Option<Installation> = sqlx::query_as(concat!(
        "UPDATE installation SET
             forge_app_token = CASE WHEN forge_installation_id IS DISTINCT FROM $1
                 THEN NULL ELSE forge_app_token END,
             forge_token_expires_at = CASE WHEN forge_installation_id IS DISTINCT FROM $1
                 THEN NULL ELSE forge_token_expires_at END,
             forge_installation_id = $1, forge_api_base_url = $2, cloud_id = $3,
             base_url = CASE WHEN base_url = '' THEN COALESCE($4, '') ELSE base_url END,
             installed = true, uninstalled_at = NULL, forge_seen_at = now(), updated_at = now()
         WHERE client_key = (
             SELECT client_key FROM installation
             WHERE cloud_id = $3 OR connect_installation_id = $1
             ORDER BY COALESCE(connect_installation_id = $1, false) DESC, installed DESC, client_key
             LIMIT 1)
         RETURNING ",
        installation_columns!(""),
        ""
    ))
    .bind(invocation.installation_id.as_str())
    .bind(&invocation.api_base_url)
    .bind(&cloud_id)
    .bind(&base_url)
    .fetch_optional(pool)
    .await?;
    if let Some(linked) = linked {
        tracing::info!(client_key = %linked.client_key, installation = %invocation.installation_id, "tenant linked to its Forge installation");
        return Ok(Some(linked));
    }
    // A site first seen through Forge. Two instances may race here: the key decides.
    sqlx::query(
        "INSERT INTO installation (client_key, app_key, base_url, product_type, cloud_id,
             forge_installation_id, forge_api_base_url, forge_seen_at)
         VALUES ($1, $2, COALESCE($3, ''), 'confluence', $1, $4, $5, now())
         ON CONFLICT DO NOTHING",
    )
    .bind(&cloud_id)
    .bind(app_id)
    .bind(&base_url)
    .bind(invocation.installation_id.as_str())
    .bind(&invocation.api_base_url)
    .execute(pool)
    .await?;
    let created = by_installation(pool, &invocation.installation_id).await?;
    match &created {
        Some(_) => {
            tracing::info!(%cloud_id, installation = %invocation.installation_id, "tenant created for a Forge installation")
        }
        // Another tenant already has the cloud id as its key, without the cloud id as its site.
        None => {
            tracing::warn!(%cloud_id, installation = %invocation.installation_id, "a tenant keyed by this cloud id is another site's; not linked")
        }
    }
    Ok(created)
}

pub async fn by_installation(
    pool: &PgPool,
    installation: &InstallationId,
) -> Result<Option<Installation>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        installation_columns!(""),
        " FROM installation WHERE forge_installation_id = $1"
    ))
    .bind(installation)
    .fetch_optional(pool)
    .await
}

/// Give a tenant created without a site URL (by an install event) the one a UI call brought.
pub async fn set_base_url_if_empty(
    pool: &PgPool,
    client_key: &ClientKey,
    site_url: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE installation SET base_url = $2, updated_at = now()
         WHERE client_key = $1 AND base_url = ''",
    )
    .bind(client_key)
    .bind(format!("{}/wiki", site_url.trim_end_matches('/')))
    .execute(pool)
    .await?;
    Ok(())
}

/// An install or upgrade event: the tenant is installed (again). Repeating it changes nothing.
pub async fn mark_installed(pool: &PgPool, client_key: &ClientKey) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE installation SET installed = true, uninstalled_at = NULL, updated_at = now()
         WHERE client_key = $1 AND NOT installed",
    )
    .bind(client_key)
    .execute(pool)
    .await?;
    Ok(())
}

/// Keep `sealed` (an app token sealed for the tenant) unless the stored one expires as late or
/// later: of two instances storing at once, the later token stays. Whether it was stored.
pub async fn store_app_token(
    pool: &PgPool,
    installation: &InstallationId,
    sealed: &[u8],
    expires_at: DateTime<Utc>,
    replace_unreadable: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE installation SET forge_app_token = $2, forge_token_expires_at = $3
         WHERE forge_installation_id = $1
           AND ($4 OR forge_token_expires_at IS NULL OR forge_token_expires_at < $3)",
    )
    .bind(installation)
    .bind(sealed)
    .bind(expires_at)
    .bind(replace_unreadable)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A verified invocation of the tenant came in at `at`.
pub async fn record_seen(
    pool: &PgPool,
    installation: &InstallationId,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE installation SET forge_seen_at = GREATEST(forge_seen_at, $2)
         WHERE forge_installation_id = $1",
    )
    .bind(installation)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// One tenant as `pageshare tenants status` reports it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatusRow {
    pub client_key: String,
    pub base_url: String,
    pub installed: bool,
    pub connect: bool,
    pub connect_seen_at: Option<DateTime<Utc>>,
    pub forge_installation_id: Option<String>,
    pub forge_seen_at: Option<DateTime<Utc>>,
    pub forge_token_expires_at: Option<DateTime<Utc>>,
    pub shares: i64,
}

pub async fn status(pool: &PgPool) -> Result<Vec<TenantStatusRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.client_key, i.base_url, i.installed,
                i.shared_secret IS NOT NULL OR i.connect_seen_at IS NOT NULL AS connect,
                i.connect_seen_at, i.forge_installation_id, i.forge_seen_at,
                i.forge_token_expires_at,
                (SELECT count(*) FROM shared_page s WHERE s.client_key = i.client_key) AS shares
         FROM installation i ORDER BY i.client_key",
    )
    .fetch_all(pool)
    .await
}

/// When each Forge installation was last seen, written down without a write on the request
/// path: at most once a minute per installation, in the background.
#[derive(Default)]
pub struct SeenLog {
    recent: super::OncePerMinute<String>,
}

impl SeenLog {
    /// A verified invocation of `installation` came in just now.
    pub fn note(&self, pool: &PgPool, installation: &InstallationId) {
        if !self.recent.first(&installation.as_str().to_owned()) {
            return;
        }
        let pool = pool.clone();
        let installation = installation.clone();
        let at = Utc::now();
        tokio::spawn(async move {
            if let Err(error) = record_seen(&pool, &installation, at).await {
                tracing::warn!(%error, %installation, "recording a Forge invocation failed");
            }
        });
    }
}

/// A tenant's stored app token, still sealed.
#[derive(Debug, sqlx::FromRow)]
pub struct SealedAppToken {
    pub client_key: String,
    pub sealed: Vec<u8>,
}

/// Every stored app token, sealed (for `pageshare keys reencrypt`).
pub async fn sealed_app_tokens(pool: &PgPool) -> Result<Vec<SealedAppToken>, sqlx::Error> {
    sqlx::query_as(
        "SELECT client_key, forge_app_token AS sealed FROM installation
         WHERE forge_app_token IS NOT NULL ORDER BY client_key",
    )
    .fetch_all(pool)
    .await
}

/// Put `resealed` in place of `token`, unless an invocation stored a newer token meanwhile.
/// Whether it was replaced.
pub async fn reseal_app_token(
    pool: &PgPool,
    token: &SealedAppToken,
    resealed: &[u8],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE installation SET forge_app_token = $3
         WHERE client_key = $1 AND forge_app_token = $2",
    )
    .bind(&token.client_key)
    .bind(&token.sealed)
    .bind(resealed)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
