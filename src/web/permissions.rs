//! Authorisation through Confluence (DESIGN §4): the app never guesses a user's rights, and
//! refuses when Confluence cannot answer.

use super::auth::Connect;
use super::error::{ApiError, host_error};
use super::state::AppState;
use crate::connect::host_client::{ContentId, ContentOperation};
use crate::storage::shares::Share;

pub fn account_id(connect: &Connect) -> Result<&str, ApiError> {
    connect.account_id.as_deref().ok_or_else(|| {
        ApiError::unauthorized("The token names no user (`sub`); sign in to Confluence.")
    })
}

/// Whether Confluence lets the user read (or edit) the page; an error when it cannot say.
async fn can(
    connect: &Connect,
    state: &AppState,
    content: &ContentId,
    operation: ContentOperation,
) -> Result<bool, ApiError> {
    let tenant = connect.tenant(&state.settings)?;
    state
        .host
        .has_content_permission(tenant, account_id(connect)?, content, operation)
        .await
        .map_err(host_error)
}

async fn can_read(
    connect: &Connect,
    state: &AppState,
    content: &ContentId,
) -> Result<bool, ApiError> {
    can(connect, state, content, ContentOperation::Read).await
}

fn content_of(share: &Share) -> Result<ContentId, ApiError> {
    ContentId::parse(&share.content_id)
        .ok_or_else(|| ApiError::not_found("This share's page id is not a Confluence content id."))
}

/// Whether the user manages the share: sees its unlock secret and changes it. Its creator does,
/// while still able to read the page, and so does anyone Confluence lets edit the page.
pub async fn may_manage(
    connect: &Connect,
    state: &AppState,
    share: &Share,
) -> Result<bool, ApiError> {
    let content = content_of(share)?;
    if !can_read(connect, state, &content).await? {
        return Ok(false);
    }
    if connect.account_id.as_deref() == Some(share.created_by.as_str()) {
        return Ok(true);
    }
    can(connect, state, &content, ContentOperation::Update).await
}

/// The user manages the share (see [`may_manage`]).
pub async fn require_manage(
    connect: &Connect,
    state: &AppState,
    share: &Share,
) -> Result<(), ApiError> {
    if may_manage(connect, state, share).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "not_share_manager",
            "Only the person who created this link, or someone who can edit the page in Confluence, can change it.",
        ))
    }
}

/// Whether Confluence says the user administers the site; an error when it cannot say.
async fn is_site_admin(connect: &Connect, state: &AppState) -> Result<bool, ApiError> {
    let Some(account_id) = connect.account_id.as_deref() else {
        return Ok(false);
    };
    let tenant = connect.tenant(&state.settings)?;
    state
        .host
        .is_site_admin(tenant, account_id)
        .await
        .map_err(host_error)
}

fn no_permission() -> ApiError {
    ApiError::forbidden(
        "no_permission",
        "You cannot view this page in Confluence, so you cannot share it.",
    )
}

/// The user may read the page in Confluence.
pub async fn require_read(
    connect: &Connect,
    state: &AppState,
    content: &ContentId,
) -> Result<(), ApiError> {
    if can_read(connect, state, content).await? {
        Ok(())
    } else {
        Err(no_permission())
    }
}

/// The user administers the site.
pub async fn require_site_admin(connect: &Connect, state: &AppState) -> Result<(), ApiError> {
    if is_site_admin(connect, state).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "not_site_admin",
            "Only Confluence site administrators can manage the external shares of this site.",
        ))
    }
}

/// Revoking is for those who manage the share, and for site admins, even when they cannot
/// read the page or Confluence cannot say whether they can.
pub async fn require_revoke(
    connect: &Connect,
    state: &AppState,
    share: &Share,
) -> Result<(), ApiError> {
    let manages = may_manage(connect, state, share).await;
    if matches!(manages, Ok(true)) || is_site_admin(connect, state).await? {
        return Ok(());
    }
    manages?;
    Err(ApiError::forbidden(
        "not_share_manager",
        "Only the person who created this link, someone who can edit the page, or a site administrator can revoke it.",
    ))
}
