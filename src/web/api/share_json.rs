//! Shares as the Web API shows them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::confluence::ids::{AccountId, ContentId};
use crate::share::origins::FrameAncestor;
use crate::share::{ShareId, ShareStatus};
use crate::storage::share_overview::ShareSummary;
use crate::storage::shares::Share;

/// A share with what those who manage it see (`docs/HTTP.md`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareJson {
    uuid: ShareId,
    content_id: ContentId,
    space_key: String,
    title: String,
    url: String,
    status: ShareStatus,
    password_protected: bool,
    expires_at: Option<DateTime<Utc>>,
    frame_ancestors: Vec<FrameAncestor>,
    /// The page's descendants are shared too.
    include_children: bool,
    /// Only for those who manage the share, and only where asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    unlock_secret: Option<String>,
    /// Until when the unlock secret before the last change still unlocks; `None` once it does not.
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_by: AccountId,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl ShareJson {
    pub fn new(share: Share, base_url: &str, now: DateTime<Utc>, with_secret: bool) -> Self {
        Self {
            url: share.id.page_url(base_url),
            uuid: share.id,
            status: ShareStatus::of(share.revoked_at, share.expires_at, now),
            unlock_secret: with_secret.then(|| share.unlock_secret.to_hex()),
            previous_secret_expires_at: share.previous_secret_expires_at.filter(|at| *at > now),
            content_id: share.content_id,
            space_key: share.space_key,
            title: share.title,
            password_protected: share.password_protected,
            expires_at: share.expires_at,
            frame_ancestors: share.frame_ancestors,
            include_children: share.include_children,
            created_by: share.created_by,
            created_at: share.created_at,
            updated_at: share.updated_at,
            revoked_at: share.revoked_at,
        }
    }
}

/// A share as the site admin page lists it: no unlock secret, no embedding origins.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryJson {
    uuid: ShareId,
    content_id: ContentId,
    space_key: String,
    title: String,
    url: String,
    status: ShareStatus,
    password_protected: bool,
    expires_at: Option<DateTime<Utc>>,
    created_by: AccountId,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    /// Views of the last 30 days.
    views_last_30_days: i64,
}

impl SummaryJson {
    pub fn new(share: ShareSummary, base_url: &str, now: DateTime<Utc>) -> Self {
        Self {
            url: share.id.page_url(base_url),
            uuid: share.id,
            status: ShareStatus::of(share.revoked_at, share.expires_at, now),
            content_id: share.content_id,
            space_key: share.space_key,
            title: share.title,
            password_protected: share.password_protected,
            expires_at: share.expires_at,
            created_by: share.created_by,
            created_at: share.created_at,
            revoked_at: share.revoked_at,
            views_last_30_days: share.recent_views,
        }
    }
}
