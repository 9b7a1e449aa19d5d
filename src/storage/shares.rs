//! The `shared_page` table. Every query a user makes is scoped to the user's tenant.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row, postgres::PgRow};

use crate::connect::secrets::{SecretKind, SharedSecret};
use crate::share::password::PasswordHash;
use crate::share::{ShareId, UnlockSecret};

/// A share as its owners see it.
#[derive(Debug, Clone)]
pub struct Share {
    pub id: ShareId,
    pub client_key: String,
    pub content_id: String,
    pub space_key: String,
    pub title: String,
    pub password_protected: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub frame_ancestors: Vec<String>,
    pub unlock_secret: UnlockSecret,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The columns of a [`Share`], as a literal so queries stay `&'static str`.
macro_rules! share_columns {
    () => {
        "uuid, client_key, content_id, space_key, title,
         password_hash IS NOT NULL AS password_protected, expires_at, frame_ancestors,
         unlock_secret, created_by, created_at, updated_at, revoked_at"
    };
}

fn unlock_secret(row: &PgRow) -> Result<UnlockSecret, sqlx::Error> {
    let bytes: Vec<u8> = row.try_get("unlock_secret")?;
    UnlockSecret::from_bytes(&bytes).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: "unlock_secret".into(),
        source: "an unlock secret is 32 bytes".into(),
    })
}

impl Share {
    fn from_row(row: PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get::<uuid::Uuid, _>("uuid")?.into(),
            client_key: row.try_get("client_key")?,
            content_id: row.try_get("content_id")?,
            space_key: row.try_get("space_key")?,
            title: row.try_get("title")?,
            password_protected: row.try_get("password_protected")?,
            expires_at: row.try_get("expires_at")?,
            frame_ancestors: row.try_get("frame_ancestors")?,
            unlock_secret: unlock_secret(&row)?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }
}

pub struct NewShare<'a> {
    pub client_key: &'a str,
    pub content_id: &'a str,
    pub space_key: &'a str,
    pub title: &'a str,
    pub password: Option<PasswordHash>,
    pub expires_at: Option<DateTime<Utc>>,
    pub frame_ancestors: Vec<String>,
    pub created_by: &'a str,
}

pub async fn insert(pool: &PgPool, new: NewShare<'_>) -> Result<Share, sqlx::Error> {
    let row = sqlx::query(concat!(
        "INSERT INTO shared_page (uuid, client_key, content_id, space_key, title, password_hash,
             expires_at, frame_ancestors, created_by, unlock_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING ",
        share_columns!(),
        ""
    ))
    .bind(ShareId::new().uuid())
    .bind(new.client_key)
    .bind(new.content_id)
    .bind(new.space_key)
    .bind(new.title)
    .bind(new.password.as_ref().map(PasswordHash::as_str))
    .bind(new.expires_at)
    .bind(&new.frame_ancestors)
    .bind(new.created_by)
    .bind(UnlockSecret::generate().as_bytes().as_slice())
    .fetch_one(pool)
    .await?;
    Share::from_row(row)
}

pub async fn list_for_content(
    pool: &PgPool,
    client_key: &str,
    content_id: &str,
) -> Result<Vec<Share>, sqlx::Error> {
    sqlx::query(concat!(
        "SELECT ",
        share_columns!(),
        " FROM shared_page
         WHERE client_key = $1 AND content_id = $2 ORDER BY created_at, uuid"
    ))
    .bind(client_key)
    .bind(content_id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Share::from_row)
    .collect()
}

pub async fn find(
    pool: &PgPool,
    client_key: &str,
    id: ShareId,
) -> Result<Option<Share>, sqlx::Error> {
    sqlx::query(concat!(
        "SELECT ",
        share_columns!(),
        " FROM shared_page WHERE uuid = $1 AND client_key = $2"
    ))
    .bind(id.uuid())
    .bind(client_key)
    .fetch_optional(pool)
    .await?
    .map(Share::from_row)
    .transpose()
}

/// A change to a share; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ShareChange {
    pub password: Option<Option<PasswordHash>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub frame_ancestors: Option<Vec<String>>,
}

/// Apply `change` to a live (not revoked) share of the tenant, in one statement. A password
/// change bumps the password version, which ends every reader's session.
pub async fn update(
    pool: &PgPool,
    client_key: &str,
    id: ShareId,
    change: ShareChange,
) -> Result<Option<Share>, sqlx::Error> {
    sqlx::query(concat!(
        "UPDATE shared_page SET
             password_hash = CASE WHEN $3 THEN $4 ELSE password_hash END,
             password_version = password_version + CASE WHEN $3 THEN 1 ELSE 0 END,
             expires_at = CASE WHEN $5 THEN $6 ELSE expires_at END,
             frame_ancestors = COALESCE($7, frame_ancestors),
             updated_at = now()
         WHERE uuid = $1 AND client_key = $2 AND revoked_at IS NULL
         RETURNING ",
        share_columns!(),
        ""
    ))
    .bind(id.uuid())
    .bind(client_key)
    .bind(change.password.is_some())
    .bind(change.password.flatten().as_ref().map(PasswordHash::as_str))
    .bind(change.expires_at.is_some())
    .bind(change.expires_at.flatten())
    .bind(change.frame_ancestors)
    .fetch_optional(pool)
    .await?
    .map(Share::from_row)
    .transpose()
}

/// Give a live share a new unlock secret; tokens signed with the old one stop working.
pub async fn replace_unlock_secret(
    pool: &PgPool,
    client_key: &str,
    id: ShareId,
) -> Result<Option<UnlockSecret>, sqlx::Error> {
    let secret = UnlockSecret::generate();
    let done = sqlx::query(
        "UPDATE shared_page SET unlock_secret = $3, updated_at = now()
         WHERE uuid = $1 AND client_key = $2 AND revoked_at IS NULL",
    )
    .bind(id.uuid())
    .bind(client_key)
    .bind(secret.as_bytes().as_slice())
    .execute(pool)
    .await?;
    Ok((done.rows_affected() == 1).then_some(secret))
}

/// Revoke a share of the tenant (again: a no-op). False when the tenant has no such share.
pub async fn revoke(pool: &PgPool, client_key: &str, id: ShareId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE shared_page SET revoked_at = COALESCE(revoked_at, now()), updated_at = now()
         WHERE uuid = $1 AND client_key = $2",
    )
    .bind(id.uuid())
    .bind(client_key)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What serving `/content/{uuid}` needs, share and tenant, in one round trip.
#[derive(Debug)]
pub struct ReaderShare {
    pub id: ShareId,
    pub content_id: String,
    pub title: String,
    pub password_version: i32,
    pub password_protected: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub frame_ancestors: Vec<String>,
    pub revoked: bool,
    pub unlock_secret: UnlockSecret,
    pub tenant: ReaderTenant,
}

/// The share's tenant, enough to call its Confluence.
#[derive(Debug)]
pub struct ReaderTenant {
    pub client_key: String,
    pub base_url: String,
    pub shared_secret: Option<SharedSecret>,
    pub last_secret_kind: Option<SecretKind>,
    pub live: bool,
    /// Origins that may embed the tenant's shares that have none of their own.
    pub default_frame_ancestors: Vec<String>,
}

impl ReaderShare {
    /// Origins that may embed the share: its own, else its tenant's default; empty: any site.
    pub fn embedding_origins(&self) -> &[String] {
        if self.frame_ancestors.is_empty() {
            &self.tenant.default_frame_ancestors
        } else {
            &self.frame_ancestors
        }
    }
}

pub async fn find_for_reader(
    pool: &PgPool,
    id: ShareId,
) -> Result<Option<ReaderShare>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT s.uuid, s.content_id, s.title, s.password_version,
                s.password_hash IS NOT NULL AS password_protected, s.expires_at, s.frame_ancestors,
                s.revoked_at IS NOT NULL AS revoked, s.unlock_secret,
                i.client_key, i.base_url, i.shared_secret, i.last_secret_kind,
                i.installed AND i.enabled AS live, i.default_frame_ancestors
         FROM shared_page s JOIN installation i ON i.client_key = s.client_key
         WHERE s.uuid = $1",
    )
    .bind(id.uuid())
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(ReaderShare {
        id: row.try_get::<uuid::Uuid, _>("uuid")?.into(),
        content_id: row.try_get("content_id")?,
        title: row.try_get("title")?,
        password_version: row.try_get("password_version")?,
        password_protected: row.try_get("password_protected")?,
        expires_at: row.try_get("expires_at")?,
        frame_ancestors: row.try_get("frame_ancestors")?,
        revoked: row.try_get("revoked")?,
        unlock_secret: unlock_secret(&row)?,
        tenant: ReaderTenant {
            client_key: row.try_get("client_key")?,
            base_url: row.try_get("base_url")?,
            shared_secret: row
                .try_get::<Option<String>, _>("shared_secret")?
                .map(SharedSecret::new),
            last_secret_kind: row
                .try_get::<Option<String>, _>("last_secret_kind")?
                .as_deref()
                .and_then(SecretKind::parse),
            live: row.try_get("live")?,
            default_frame_ancestors: row.try_get("default_frame_ancestors")?,
        },
    }))
}

/// The stored password hash of a live share and its password version, to check a reader's
/// attempt (read fresh: the cookie it earns carries this version).
pub async fn password_hash(
    pool: &PgPool,
    id: ShareId,
) -> Result<Option<(PasswordHash, i32)>, sqlx::Error> {
    let row: Option<(Option<String>, i32)> = sqlx::query_as(
        "SELECT password_hash, password_version FROM shared_page
         WHERE uuid = $1 AND revoked_at IS NULL",
    )
    .bind(id.uuid())
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(hash, version)| Some((PasswordHash::from_stored(hash?), version))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(own: &[&str], default: &[&str]) -> ReaderShare {
        let list = |origins: &[&str]| origins.iter().map(|&o| o.to_owned()).collect();
        ReaderShare {
            id: ShareId::new(),
            content_id: "1".into(),
            title: "t".into(),
            password_version: 0,
            password_protected: false,
            expires_at: None,
            frame_ancestors: list(own),
            revoked: false,
            unlock_secret: UnlockSecret::generate(),
            tenant: ReaderTenant {
                client_key: "c".into(),
                base_url: "https://acme.atlassian.net/wiki".into(),
                shared_secret: None,
                last_secret_kind: None,
                live: true,
                default_frame_ancestors: list(default),
            },
        }
    }

    #[test]
    fn a_share_is_embedded_by_its_own_origins_else_by_the_tenant_default() {
        let own = "https://own.example.com";
        let default = "https://default.example.com";
        assert_eq!(share(&[own], &[default]).embedding_origins(), [own]);
        assert_eq!(share(&[], &[default]).embedding_origins(), [default]);
        assert!(share(&[], &[]).embedding_origins().is_empty());
    }
}
