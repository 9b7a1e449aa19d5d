//! The `shared_page` table. Every query a user makes is scoped to the user's tenant.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

use super::installations::Installation;
use super::jobs::{self, Job};
use crate::confluence::ids::{AccountId, ContentId};
use crate::share::origins::FrameAncestor;
use crate::share::password::PasswordHash;
use crate::share::rotation::GracePeriod;
use crate::share::site_key::SiteKey;
use crate::share::unlock::UnlockCredentials;
use crate::share::unlock_key::{StoredKey, UnlockKey};
use crate::share::{ShareId, UnlockSecret};
use crate::tenant::ClientKey;

/// A share as its owners see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Share {
    #[sqlx(rename = "uuid")]
    pub id: ShareId,
    pub client_key: ClientKey,
    pub content_id: ContentId,
    pub space_key: String,
    pub title: String,
    pub password_protected: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub frame_ancestors: Vec<FrameAncestor>,
    pub unlock_secret: UnlockSecret,
    /// Until when the secret before the last change still unlocks (`None`: it does not).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_by: AccountId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The share serves the page's descendants too.
    pub include_children: bool,
}

/// The columns of a [`Share`], as a literal so queries stay `&'static str`.
macro_rules! share_columns {
    () => {
        "uuid, client_key, content_id, space_key, title,
         password_hash IS NOT NULL AS password_protected, expires_at, frame_ancestors,
         unlock_secret, previous_secret_expires_at, created_by, created_at, updated_at,
         revoked_at, include_children"
    };
}

pub struct NewShare<'a> {
    pub client_key: &'a ClientKey,
    pub content_id: &'a ContentId,
    pub space_key: &'a str,
    pub title: &'a str,
    pub password: Option<PasswordHash>,
    pub expires_at: Option<DateTime<Utc>>,
    pub frame_ancestors: Vec<FrameAncestor>,
    pub created_by: &'a AccountId,
    pub include_children: bool,
}

pub async fn insert(db: impl PgExecutor<'_>, new: NewShare<'_>) -> Result<Share, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO shared_page (uuid, client_key, content_id, space_key, title, password_hash,
             expires_at, frame_ancestors, created_by, unlock_secret, include_children)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING ",
        share_columns!(),
        ""
    ))
    .bind(ShareId::new())
    .bind(new.client_key)
    .bind(new.content_id)
    .bind(new.space_key)
    .bind(new.title)
    .bind(new.password.as_ref().map(PasswordHash::as_str))
    .bind(new.expires_at)
    .bind(&new.frame_ancestors)
    .bind(new.created_by)
    .bind(UnlockSecret::generate())
    .bind(new.include_children)
    .fetch_one(db)
    .await
}

pub async fn list_for_content(
    pool: &PgPool,
    client_key: &ClientKey,
    content_id: &ContentId,
) -> Result<Vec<Share>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        share_columns!(),
        " FROM shared_page
         WHERE client_key = $1 AND content_id = $2 ORDER BY created_at, uuid"
    ))
    .bind(client_key)
    .bind(content_id)
    .fetch_all(pool)
    .await
}

pub async fn find(
    pool: &PgPool,
    client_key: &ClientKey,
    id: ShareId,
) -> Result<Option<Share>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        share_columns!(),
        " FROM shared_page WHERE uuid = $1 AND client_key = $2"
    ))
    .bind(id)
    .bind(client_key)
    .fetch_optional(pool)
    .await
}

/// A change to a share; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ShareChange {
    pub password: Option<Option<PasswordHash>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub frame_ancestors: Option<Vec<FrameAncestor>>,
}

/// Apply `change` to a live (not revoked) share of the tenant, in one statement. A password
/// change bumps the password version, which ends every reader's session.
pub async fn update(
    db: impl PgExecutor<'_>,
    client_key: &ClientKey,
    id: ShareId,
    change: ShareChange,
) -> Result<Option<Share>, sqlx::Error> {
    sqlx::query_as(concat!(
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
    .bind(id)
    .bind(client_key)
    .bind(change.password.is_some())
    .bind(change.password.flatten().as_ref().map(PasswordHash::as_str))
    .bind(change.expires_at.is_some())
    .bind(change.expires_at.flatten())
    .bind(change.frame_ancestors)
    .fetch_optional(db)
    .await
}

/// A new unlock secret, and until when the one it replaced still unlocks.
pub struct RotatedSecret {
    pub secret: UnlockSecret,
    pub previous_expires_at: Option<DateTime<Utc>>,
}

/// Give a live share a new unlock secret. With a grace period the old one keeps unlocking for
/// that long (replacing any older previous secret); without, it stops at once and the share's
/// sessions end, as after a password change (the version cookies carry is bumped).
pub async fn replace_unlock_secret(
    db: impl PgExecutor<'_>,
    client_key: &ClientKey,
    id: ShareId,
    grace: GracePeriod,
) -> Result<Option<RotatedSecret>, sqlx::Error> {
    let secret = UnlockSecret::generate();
    let previous_expires_at: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "UPDATE shared_page SET
             previous_unlock_secret = CASE WHEN $4 > 0 THEN unlock_secret END,
             previous_secret_expires_at = CASE WHEN $4 > 0
                 THEN now() + make_interval(secs => $4) END,
             password_version = password_version + CASE WHEN $4 > 0 THEN 0 ELSE 1 END,
             unlock_secret = $3,
             updated_at = now()
         WHERE uuid = $1 AND client_key = $2 AND revoked_at IS NULL
         RETURNING previous_secret_expires_at",
    )
    .bind(id)
    .bind(client_key)
    .bind(&secret)
    .bind(f64::from(grace.secs()))
    .fetch_optional(db)
    .await?;
    Ok(
        previous_expires_at.map(|previous_expires_at| RotatedSecret {
            secret,
            previous_expires_at,
        }),
    )
}

/// Erase the previous unlock secrets whose overlap window has closed (they no longer unlock
/// anything; the share page checks the window against the clock), under the job's lock; how many,
/// or `None` when another instance is doing it.
pub async fn forget_previous_secrets(pool: &PgPool) -> Result<Option<u64>, sqlx::Error> {
    jobs::exclusively(pool, Job::ForgetPreviousSecrets, async |db| {
        let done = sqlx::query(
            "UPDATE shared_page SET previous_unlock_secret = NULL, previous_secret_expires_at = NULL
             WHERE previous_secret_expires_at <= now()",
        )
        .execute(db)
        .await?;
        Ok(done.rows_affected())
    })
    .await
}

/// Forget closed overlaps every ten minutes, for as long as the pool lives. Not at start: nothing
/// here is urgent (a closed overlap unlocks nothing), and an instance's first moments are the
/// other jobs' (retention's first run, which its tests time against).
pub async fn keep_forgetting_previous_secrets(pool: PgPool) {
    let period = std::time::Duration::from_secs(10 * 60);
    tokio::time::sleep(period).await;
    let done = "previous unlock secrets past their window erased";
    jobs::repeat(pool, period, done, forget_previous_secrets).await;
}

/// Revoke a live share of the tenant; false when it has no such share or it was revoked already
/// (revoking again changes nothing).
pub async fn revoke(
    db: impl PgExecutor<'_>,
    client_key: &ClientKey,
    id: ShareId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE shared_page SET revoked_at = now(), updated_at = now()
         WHERE uuid = $1 AND client_key = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(client_key)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Record that the share's page is now in the space `space_key` (it was moved in Confluence);
/// the change is announced like any other, so every instance reads the share again.
pub async fn set_space_key(pool: &PgPool, id: ShareId, space_key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shared_page SET space_key = $2 WHERE uuid = $1 AND space_key <> $2")
        .bind(id)
        .bind(space_key)
        .execute(pool)
        .await?;
    Ok(())
}

/// What serving `/content/{uuid}` needs of the share (its tenant is kept apart: see
/// [`super::reader_cache`]).
#[derive(Debug, sqlx::FromRow)]
pub struct ReaderShare {
    #[sqlx(rename = "uuid")]
    pub id: ShareId,
    pub content_id: ContentId,
    /// Its space: which of the site's unlock keys count for it.
    pub space_key: String,
    pub title: String,
    pub password_version: i32,
    pub password_protected: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub frame_ancestors: Vec<FrameAncestor>,
    pub revoked: bool,
    pub unlock_secret: UnlockSecret,
    pub previous_unlock_secret: Option<UnlockSecret>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Its public unlock keys, ready to verify.
    #[sqlx(try_from = "sqlx::types::Json<Vec<StoredKey>>")]
    pub unlock_keys: UnlockKeys,
    pub client_key: ClientKey,
    /// Descendants are served at `/content/{uuid}/pages/{pageId}`.
    pub include_children: bool,
}

/// A share's public unlock keys, as the share page verifies with them.
#[derive(Debug, Default)]
pub struct UnlockKeys(pub Vec<UnlockKey>);

impl From<sqlx::types::Json<Vec<StoredKey>>> for UnlockKeys {
    fn from(stored: sqlx::types::Json<Vec<StoredKey>>) -> Self {
        Self(
            stored
                .0
                .iter()
                .filter_map(|row| {
                    let key = UnlockKey::from_stored(row);
                    if key.is_none() {
                        // Checked when it was added: only a hand-edited row gets here.
                        tracing::warn!(kid = %row.kid, "a stored unlock key does not parse; ignored");
                    }
                    key
                })
                .collect(),
        )
    }
}

impl ReaderShare {
    /// What may sign the share's unlock tokens at `now`: its secret, and the previous one while
    /// its overlap window is open (until `previous_secret_expires_at`, excluded), its public
    /// keys, and its site's `site_keys`.
    pub fn unlock_credentials<'a>(
        &'a self,
        now: DateTime<Utc>,
        site_keys: &'a [SiteKey],
    ) -> UnlockCredentials<'a> {
        let previous = self
            .previous_unlock_secret
            .as_ref()
            .filter(|_| self.previous_secret_expires_at.is_some_and(|at| now < at));
        UnlockCredentials {
            secret: &self.unlock_secret,
            previous,
            keys: &self.unlock_keys.0,
            site_keys,
            space_key: &self.space_key,
        }
    }

    /// Origins that may embed the share: its own, else its tenant's default; empty: any site.
    pub fn embedding_origins<'a>(&'a self, tenant: &'a Installation) -> &'a [FrameAncestor] {
        if self.frame_ancestors.is_empty() {
            &tenant.default_frame_ancestors
        } else {
            &self.frame_ancestors
        }
    }
}

pub async fn find_for_reader(
    pool: &PgPool,
    id: ShareId,
) -> Result<Option<ReaderShare>, sqlx::Error> {
    sqlx::query_as(
        "SELECT uuid, content_id, space_key, title, password_version,
                password_hash IS NOT NULL AS password_protected, expires_at, frame_ancestors,
                revoked_at IS NOT NULL AS revoked, unlock_secret, previous_unlock_secret,
                previous_secret_expires_at, client_key, include_children,
                COALESCE((SELECT jsonb_agg(jsonb_build_object('kid', kid, 'alg', alg, 'jwk', jwk)
                                           ORDER BY created_at, kid)
                          FROM share_unlock_key WHERE share_uuid = shared_page.uuid),
                         '[]') AS unlock_keys
         FROM shared_page WHERE uuid = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
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
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(hash, version)| Some((PasswordHash::from_stored(hash?), version))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(own: &[&str], default: &[&str]) -> (ReaderShare, Installation) {
        let list = |origins: &[&str]| {
            origins
                .iter()
                .map(|o| FrameAncestor::parse(o).unwrap())
                .collect()
        };
        let mut tenant = Installation::sample("https://acme.atlassian.net/wiki");
        tenant.default_frame_ancestors = list(default);
        let share = ReaderShare {
            id: ShareId::new(),
            content_id: ContentId::parse("1").unwrap(),
            space_key: "ENG".into(),
            title: "t".into(),
            password_version: 0,
            password_protected: false,
            expires_at: None,
            frame_ancestors: list(own),
            revoked: false,
            unlock_secret: UnlockSecret::generate(),
            previous_unlock_secret: None,
            previous_secret_expires_at: None,
            unlock_keys: UnlockKeys::default(),
            client_key: tenant.client_key.clone(),
            include_children: false,
        };
        (share, tenant)
    }

    #[test]
    fn the_previous_secret_unlocks_until_its_window_ends_excluded() {
        let (mut share, _) = share(&[], &[]);
        let end = Utc::now();
        share.previous_unlock_secret = Some(UnlockSecret::generate());
        share.previous_secret_expires_at = Some(end);
        let second = chrono::Duration::seconds(1);
        let cases = [
            ("T - 1 s", end - second, true),
            ("T - 1 ms", end - chrono::Duration::milliseconds(1), true),
            ("T", end, false),
            ("T + 1 s", end + second, false),
        ];
        for (name, now, expected) in cases {
            let credentials = share.unlock_credentials(now, &[]);
            assert_eq!(credentials.previous.is_some(), expected, "{name}");
            assert_eq!(credentials.secret, &share.unlock_secret, "{name}");
        }
    }

    #[test]
    fn a_share_is_embedded_by_its_own_origins_else_by_the_tenant_default() {
        let own = "https://own.example.com";
        let default = "https://default.example.com";
        let origins = |(share, tenant): (ReaderShare, Installation)| {
            share
                .embedding_origins(&tenant)
                .iter()
                .map(|o| o.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(origins(share(&[own], &[default])), [own]);
        assert_eq!(origins(share(&[], &[default])), [default]);
        assert!(origins(share(&[], &[])).is_empty());
    }
}
