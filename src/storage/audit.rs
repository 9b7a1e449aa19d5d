//! The `audit_entry` table: who did what to a site's shares and credentials
//! (`docs/SECURITY.md`). An entry is written with [`record`] on the connection of the change it
//! describes (its transaction, where the change has one), so an entry never exists for a change
//! that failed and a change never commits without its entry. No entry holds a secret: callers
//! write what happened, never a password, an unlock secret or an API key.

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::confluence::ids::AccountId;
use crate::share::ShareId;
use crate::tenant::ClientKey;

/// Longest detail kept, in characters (a list of embedding sites can be long).
const MAX_DETAIL_CHARS: usize = 1000;

/// What happened, as the log names it (`docs/HTTP.md` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ShareCreated,
    /// Expiry or embedding sites; the detail names the fields and their new values.
    ShareChanged,
    ShareRevoked,
    PasswordSet,
    PasswordRemoved,
    /// An answer carried the share's unlock secret to a person who asked to see it, or to an
    /// API key.
    UnlockSecretShown,
    UnlockSecretRotated,
    UnlockKeyAdded,
    UnlockKeyRemoved,
    SiteUnlockKeyAdded,
    /// The detail says how many shares' sessions ended with it.
    SiteUnlockKeyRemoved,
    ApiKeyCreated,
    /// The first request a key opened (recorded once, in the background).
    ApiKeyFirstUsed,
    ApiKeyRevoked,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::ShareCreated,
        Action::ShareChanged,
        Action::ShareRevoked,
        Action::PasswordSet,
        Action::PasswordRemoved,
        Action::UnlockSecretShown,
        Action::UnlockSecretRotated,
        Action::UnlockKeyAdded,
        Action::UnlockKeyRemoved,
        Action::SiteUnlockKeyAdded,
        Action::SiteUnlockKeyRemoved,
        Action::ApiKeyCreated,
        Action::ApiKeyFirstUsed,
        Action::ApiKeyRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ShareCreated => "share.created",
            Self::ShareChanged => "share.changed",
            Self::ShareRevoked => "share.revoked",
            Self::PasswordSet => "password.set",
            Self::PasswordRemoved => "password.removed",
            Self::UnlockSecretShown => "unlock_secret.shown",
            Self::UnlockSecretRotated => "unlock_secret.rotated",
            Self::UnlockKeyAdded => "unlock_key.added",
            Self::UnlockKeyRemoved => "unlock_key.removed",
            Self::SiteUnlockKeyAdded => "site_unlock_key.added",
            Self::SiteUnlockKeyRemoved => "site_unlock_key.removed",
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyFirstUsed => "api_key.first_used",
            Self::ApiKeyRevoked => "api_key.revoked",
        }
    }
}

/// Who acted: a person (their Confluence accountId) or an API key (`apikey:<uuid>`; an
/// accountId never starts that way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(AccountId),
    ApiKey(Uuid),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(account_id) => account_id.fmt(f),
            Self::ApiKey(id) => write!(f, "apikey:{id}"),
        }
    }
}

/// Write one entry of `client_key`'s log with `db`: pass the transaction of the change it
/// describes. `detail` is cut to [`MAX_DETAIL_CHARS`].
pub async fn record(
    db: impl PgExecutor<'_>,
    client_key: &ClientKey,
    actor: &Actor,
    action: Action,
    share: Option<ShareId>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_entry (client_key, actor, action, share_uuid, detail)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(client_key)
    .bind(actor.to_string())
    .bind(action.as_str())
    .bind(share)
    .bind(cut(detail))
    .execute(db)
    .await?;
    Ok(())
}

/// [`record`] for each of `shares`, in one statement.
pub async fn record_each(
    db: impl PgExecutor<'_>,
    client_key: &ClientKey,
    actor: &Actor,
    action: Action,
    shares: &[ShareId],
    detail: &str,
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = shares.iter().map(|id| id.uuid()).collect();
    sqlx::query(
        "INSERT INTO audit_entry (client_key, actor, action, share_uuid, detail)
         SELECT $1, $2, $3, share_uuid, $5 FROM unnest($4::uuid[]) AS share_uuid",
    )
    .bind(client_key)
    .bind(actor.to_string())
    .bind(action.as_str())
    .bind(&ids)
    .bind(cut(detail))
    .execute(db)
    .await?;
    Ok(())
}

fn cut(detail: &str) -> &str {
    match detail.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((at, _)) => &detail[..at],
        None => detail,
    }
}

/// An entry as the log is read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    #[sqlx(rename = "share_uuid")]
    pub share: Option<ShareId>,
    pub detail: String,
}

/// Up to `limit` entries of the tenant older than the entry `before` (from the newest when
/// `None`), newest first.
pub async fn page(
    pool: &PgPool,
    client_key: &ClientKey,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, action, share_uuid, detail FROM audit_entry
         WHERE client_key = $1 AND ($2::bigint IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(client_key)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every entry of the tenant written in `[from, to)` (unbounded where `None`), newest first.
pub async fn between(
    pool: &PgPool,
    client_key: &ClientKey,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, action, share_uuid, detail FROM audit_entry
         WHERE client_key = $1 AND ($2::timestamptz IS NULL OR at >= $2)
           AND ($3::timestamptz IS NULL OR at < $3)
         ORDER BY id DESC",
    )
    .bind(client_key)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_have_distinct_dotted_names() {
        let names: std::collections::HashSet<&str> =
            Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        assert!(names.iter().all(|name| name.contains('.')));
    }

    #[test]
    fn actors_print_as_the_log_shows_them() {
        let user = Actor::User(AccountId::parse("557058:editor").unwrap());
        assert_eq!(user.to_string(), "557058:editor");
        let key = Uuid::nil();
        assert_eq!(
            Actor::ApiKey(key).to_string(),
            "apikey:00000000-0000-0000-0000-000000000000"
        );
    }

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_DETAIL_CHARS + 5);
        assert_eq!(cut(&long).chars().count(), MAX_DETAIL_CHARS);
        assert_eq!(cut("short"), "short");
    }
}
