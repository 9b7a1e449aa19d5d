//! Authorisation through Confluence (`docs/SECURITY.md`): the app never guesses a user's rights,
//! and refuses when Confluence cannot answer.

use super::auth::Caller;
use super::error::AppError;
use super::state::AppState;
use crate::confluence::client::ContentOperation;
use crate::confluence::ids::ContentId;
use crate::storage::shares::Share;

/// Whether Confluence lets the user read (or edit) the page; an error when it cannot say.
async fn can(
    connect: &Caller,
    state: &AppState,
    content: &ContentId,
    operation: ContentOperation,
) -> Result<bool, AppError> {
    let host = connect.host(state)?;
    Ok(state
        .host
        .has_content_permission(&host, connect.user()?, content, operation)
        .await?)
}

/// Whether the user manages the share: sees its unlock secret and changes it. Its creator does,
/// while still able to read the page, and so does anyone Confluence lets edit the page.
pub async fn may_manage(
    connect: &Caller,
    state: &AppState,
    share: &Share,
) -> Result<bool, AppError> {
    if !can(connect, state, &share.content_id, ContentOperation::Read).await? {
        return Ok(false);
    }
    if connect.account_id.as_ref() == Some(&share.created_by) {
        return Ok(true);
    }
    can(connect, state, &share.content_id, ContentOperation::Update).await
}

/// The user manages the share (see [`may_manage`]).
pub async fn require_manage(
    connect: &Caller,
    state: &AppState,
    share: &Share,
) -> Result<(), AppError> {
    if may_manage(connect, state, share).await? {
        Ok(())
    } else {
        Err(AppError::NotShareManager)
    }
}

/// Whether Confluence says the user administers the site; an error when it cannot say.
async fn is_site_admin(connect: &Caller, state: &AppState) -> Result<bool, AppError> {
    let Some(account_id) = connect.account_id.as_ref() else {
        return Ok(false);
    };
    let host = connect.host(state)?;
    Ok(state.host.is_site_admin(&host, account_id).await?)
}

/// The user may read the page in Confluence.
pub async fn require_read(
    connect: &Caller,
    state: &AppState,
    content: &ContentId,
) -> Result<(), AppError> {
    if can(connect, state, content, ContentOperation::Read).await? {
        Ok(())
    } else {
        Err(AppError::NoPermission)
    }
}

/// The user administers the site. An API key never passes, whoever created it: no key manages
/// keys or the site's settings.
pub async fn require_site_admin(connect: &Caller, state: &AppState) -> Result<(), AppError> {
    refuse_api_keys(connect)?;
    if is_site_admin(connect, state).await? {
        Ok(())
    } else {
        Err(AppError::NotSiteAdmin)
    }
}

/// The site admin API is for people: an API key is refused whatever it asks, before its
/// request is judged.
pub fn refuse_api_keys(connect: &Caller) -> Result<(), AppError> {
    match connect.api_key() {
        Some(_) => Err(AppError::ApiKeyNotForAdmin),
        None => Ok(()),
    }
}

/// Revoking is for those who manage the share, and for site admins, even when they cannot
/// read the page or Confluence cannot say whether they can.
pub async fn require_revoke(
    connect: &Caller,
    state: &AppState,
    share: &Share,
) -> Result<(), AppError> {
    let manages = may_manage(connect, state, share).await;
    if matches!(manages, Ok(true)) || is_site_admin(connect, state).await? {
        return Ok(());
    }
    manages?;
    Err(AppError::NotShareManagerToRevoke)
}
