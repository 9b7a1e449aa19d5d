//! The site admin's view of `shared_page`: every share of one tenant, without its secrets.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::confluence::ids::{AccountId, ContentId};
use crate::share::ShareId;
use crate::tenant::ClientKey;

/// What the site admin page shows of a share.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShareSummary {
    #[sqlx(rename = "uuid")]
    pub id: ShareId,
    pub content_id: ContentId,
    pub space_key: String,
    pub title: String,
    pub password_protected: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: AccountId,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every share of the tenant, newest first.
pub async fn list_for_tenant(
    pool: &PgPool,
    client_key: &ClientKey,
) -> Result<Vec<ShareSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT uuid, content_id, space_key, title, password_hash IS NOT NULL AS password_protected,
                expires_at, created_by, created_at, revoked_at
         FROM shared_page WHERE client_key = $1 ORDER BY created_at DESC, uuid",
    )
    .bind(client_key)
    .fetch_all(pool)
    .await
}
