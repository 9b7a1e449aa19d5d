//! Authorisation through Confluence (DESIGN §4): the app never guesses a user's rights, and
//! refuses when Confluence cannot answer.

use super::auth::Connect;
use super::error::{ApiError, host_error};
use super::state::AppState;
use crate::connect::host_client::{ContentId, ContentOperation};

pub fn account_id(connect: &Connect) -> Result<&str, ApiError> {
    connect.account_id.as_deref().ok_or_else(|| {
        ApiError::unauthorized("The token names no user (`sub`); sign in to Confluence.")
    })
}

/// Whether Confluence lets the user read the page; an error when it cannot say.
async fn can_read(
    connect: &Connect,
    state: &AppState,
    content: &ContentId,
) -> Result<bool, ApiError> {
    let tenant = connect.tenant(&state.settings)?;
    state
        .host
        .has_content_permission(
            tenant,
            account_id(connect)?,
            content,
            ContentOperation::Read,
        )
        .await
        .map_err(host_error)
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
            "Only Confluence site administrators can see every external share of this site.",
        ))
    }
}

/// Revoking is for the page's readers, and for site admins even when they cannot read it.
pub async fn require_revoke(
    connect: &Connect,
    state: &AppState,
    content: &ContentId,
) -> Result<(), ApiError> {
    if can_read(connect, state, content).await? || is_site_admin(connect, state).await? {
        Ok(())
    } else {
        Err(no_permission())
    }
}
