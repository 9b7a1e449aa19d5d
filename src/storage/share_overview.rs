//! The site admin's view of `shared_page`: one tenant's shares, newest first, a page at a time,
//! searched and filtered in the database, without their secrets (`docs/HTTP.md`).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::confluence::ids::{AccountId, ContentId};
use crate::share::{ShareId, ShareStatus};
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
    /// Views of the last 30 UTC days, today included (as written so far).
    pub recent_views: i64,
}

/// The days [`ShareSummary::recent_views`] covers.
pub const RECENT_DAYS: u64 = 30;

impl ShareSummary {
    /// Where the next page starts: after this share.
    pub fn position(&self) -> Position {
        Position {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A place in the newest-first order: `(created_at, uuid)`, both descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: DateTime<Utc>,
    pub id: ShareId,
}

/// Which shares of the tenant, and how many.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Only shares after this one.
    pub after: Option<Position>,
    /// Text found (case-insensitively) in the title, space key, page id or creator.
    pub text: Option<&'a str>,
    pub status: Option<ShareStatus>,
}

/// `text` as a `LIKE` pattern that finds it anywhere, its wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Up to `limit` shares of the tenant matching `filter`, newest first.
///
/// Planned afresh on every call (`persistent(false)`): a generic plan cannot tell a rare search
/// (the trigram index) from a common one (the newest-first index).
pub async fn page_for_tenant(
    pool: &PgPool,
    client_key: &ClientKey,
    filter: &Filter<'_>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<ShareSummary>, sqlx::Error> {
    let status = filter.status.map(|status| match status {
        ShareStatus::Active => "active",
        ShareStatus::Expired => "expired",
        ShareStatus::Revoked => "revoked",
    });
    sqlx::query_as(
        "SELECT uuid, content_id, space_key, title, password_hash IS NOT NULL AS password_protected,
                expires_at, created_by, created_at, revoked_at,
                (SELECT COALESCE(sum(open_views + password_views + unlock_views + cookie_views), 0)
                 FROM share_daily_views v
                 WHERE v.share_uuid = shared_page.uuid AND v.day >= $8)::bigint AS recent_views
         FROM shared_page
         WHERE client_key = $1
           AND ($2::timestamptz IS NULL OR (created_at, uuid) < ($2, $3::uuid))
           AND ($4::text IS NULL
                OR (title || E'\\n' || space_key || E'\\n' || content_id || E'\\n' || created_by)
                   ILIKE $4)
           AND CASE $5::text
                 WHEN 'revoked' THEN revoked_at IS NOT NULL
                 WHEN 'expired' THEN revoked_at IS NULL AND expires_at <= $6
                 WHEN 'active' THEN revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $6)
                 ELSE true
               END
         ORDER BY created_at DESC, uuid DESC
         LIMIT $7",
    )
    .persistent(false)
    .bind(client_key)
    .bind(filter.after.map(|p| p.created_at))
    .bind(filter.after.map(|p| p.id))
    .bind(filter.text.map(contains_pattern))
    .bind(status)
    .bind(now)
    .bind(limit)
    .bind(now.date_naive() - chrono::Days::new(RECENT_DAYS - 1))
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn search_text_is_taken_literally() {
        let cases = [
            ("guide", "%guide%"),
            ("100%", "%100\\%%"),
            ("a_b", "%a\\_b%"),
            ("c:\\docs", "%c:\\\\docs%"),
            ("Ünïcode", "%Ünïcode%"),
        ];
        for (text, pattern) in cases {
            assert_eq!(contains_pattern(text), pattern, "{text}");
        }
    }
}
