//! The site admin's view of `shared_page`: every share of one tenant, without its secrets.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::share::ShareId;

/// What the site admin page shows of a share.
#[derive(Debug, Clone)]
pub struct ShareSummary {
    pub id: ShareId,
    pub content_id: String,
    pub space_key: String,
    pub title: String,
    pub password_protected: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every share of the tenant, newest first.
pub async fn list_for_tenant(
    pool: &PgPool,
    client_key: &str,
) -> Result<Vec<ShareSummary>, sqlx::Error> {
    sqlx::query(
        "SELECT uuid, content_id, space_key, title, password_hash IS NOT NULL AS password_protected,
                expires_at, created_by, created_at, revoked_at
         FROM shared_page WHERE client_key = $1 ORDER BY created_at DESC, uuid",
    )
    .bind(client_key)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(ShareSummary {
            id: row.try_get::<uuid::Uuid, _>("uuid")?.into(),
            content_id: row.try_get("content_id")?,
            space_key: row.try_get("space_key")?,
            title: row.try_get("title")?,
            password_protected: row.try_get("password_protected")?,
            expires_at: row.try_get("expires_at")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    })
    .collect()
}
