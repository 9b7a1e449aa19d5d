//! `/api/shares`: a page's shares, and everything their managers do with them.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::share_json::ShareJson;
use crate::confluence::ids::ContentId;
use crate::share::ShareId;
use crate::share::origins::{FrameAncestor, parse_list};
use crate::share::password::{Password, PasswordHash};
use crate::share::rotation::{GracePeriod, MAX_GRACE_SECS};
use crate::storage::api_keys::Scope;
use crate::storage::audit::{self, Action};
use crate::storage::shares::{self, NewShare, Share, ShareChange};
use crate::web::auth::{ApiUser, Caller};
use crate::web::error::{ApiError, AppError, Missing};
use crate::web::json::{Json, OptionalJson};
use crate::web::permissions::{may_manage, require_manage, require_read, require_revoke};
use crate::web::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/shares")
            .route("", web::get().to(list))
            .route("", web::post().to(create))
            .route("/{uuid}", web::get().to(read))
            .route("/{uuid}", web::patch().to(update))
            .route("/{uuid}", web::delete().to(revoke))
            .route("/{uuid}/unlock-secret", web::post().to(new_unlock_secret)),
    );
}

/// The answer of a change the caller made to a share they manage: its unlock secret included
/// when the caller may see secrets.
fn changed_json(connect: &Caller, state: &AppState, share: Share) -> ShareJson {
    let with_secret = may_see_secrets(connect);
    ShareJson::new(share, &state.settings.base_url, Utc::now(), with_secret)
}

/// Whether the caller may be shown unlock secrets at all: a user may (of the shares they
/// manage); an API key only with `unlock-secrets:read`, whatever else it may do
/// (`docs/SECURITY.md#api-keys`).
fn may_see_secrets(connect: &Caller) -> bool {
    connect
        .api_key()
        .is_none_or(|key| key.has(Scope::UnlockSecretsRead))
}

/// Record that the answer about to be sent shows `shown`'s unlock secrets to the caller's API
/// key (with `db`: the change's transaction, when there is one). A person's answers are recorded
/// by [`read`] only (`docs/SECURITY.md#audit-log`); without a key this does nothing.
async fn record_shown_to_key(
    db: impl sqlx::PgExecutor<'_>,
    connect: &Caller,
    shown: &[ShareId],
    detail: &str,
) -> Result<(), AppError> {
    if connect.api_key().is_none() || shown.is_empty() {
        return Ok(());
    }
    let (client_key, actor) = (&connect.installation.client_key, connect.actor()?);
    let action = Action::UnlockSecretShown;
    audit::record_each(db, client_key, &actor, action, shown, detail).await?;
    Ok(())
}

fn content_id(raw: &str) -> Result<ContentId, AppError> {
    ContentId::parse(raw)
        .ok_or_else(|| AppError::invalid("contentId", "contentId is not a Confluence content id."))
}

fn expiry(expires_at: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    if expires_at <= Utc::now() {
        return Err(AppError::invalid(
            "expiresAt",
            "expiresAt must be in the future.",
        ));
    }
    Ok(expires_at)
}

/// The embedding origins of the body's `field`, checked and normalised.
pub(super) fn origins(field: &'static str, raw: &[String]) -> Result<Vec<FrameAncestor>, AppError> {
    parse_list(raw).map_err(|problem| AppError::invalid(field, problem))
}

fn password(raw: String) -> Result<Password, AppError> {
    Password::parse(raw)
        .map_err(|problem| AppError::invalid("password", format!("password: {problem}")))
}

/// Hash on a blocking thread: Argon2id takes tens of milliseconds on purpose.
async fn hash(password: Password) -> Result<PasswordHash, AppError> {
    web::block(move || password.hash())
        .await
        .map_err(|_| AppError::Busy)
}

/// The share of the caller's tenant, whoever may see it.
async fn tenant_share(connect: &Caller, state: &AppState, id: ShareId) -> Result<Share, AppError> {
    shares::find(&state.pool, &connect.installation.client_key, id)
        .await?
        .ok_or(AppError::NotFound(Missing::Share))
}

/// The share of the caller's tenant, when the caller may read it: `shares:read` for an API key,
/// and the page visible to the user in Confluence.
pub(super) async fn readable_share(
    connect: &Caller,
    state: &AppState,
    id: ShareId,
) -> Result<Share, AppError> {
    connect.require_scope(Scope::SharesRead)?;
    let share = tenant_share(connect, state, id).await?;
    require_read(connect, state, &share.content_id).await?;
    Ok(share)
}

/// The share of the caller's tenant, when the caller manages it (see [`may_manage`]).
pub(super) async fn managed_share(
    connect: &Caller,
    state: &AppState,
    id: ShareId,
) -> Result<Share, AppError> {
    let share = tenant_share(connect, state, id).await?;
    require_manage(connect, state, &share).await?;
    if share.revoked_at.is_some() {
        return Err(AppError::ShareRevoked);
    }
    Ok(share)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    content_id: String,
}

async fn list(
    user: ApiUser,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    connect.require_scope(Scope::SharesRead)?;
    let content = content_id(&query.content_id)?;
    require_read(connect, &state, &content).await?;
    let found =
        shares::list_for_content(&state.pool, &connect.installation.client_key, &content).await?;
    let now = Utc::now();
    let caller = connect.account_id.as_ref();
    let secrets = may_see_secrets(connect);
    // Unlock secrets of the caller's own shares only; others' come from GET /api/shares/{uuid}
    // to those who manage them.
    let own = |share: &Share| secrets && caller == Some(&share.created_by);
    // A key's answer that carries secrets is audited; a person's is not: the panel keeps the
    // list's secrets from the page until its Show button asks `read` for one (docs/SECURITY.md).
    let shown: Vec<ShareId> = found.iter().filter(|s| own(s)).map(|s| s.id).collect();
    let detail = "in the list of the page's shares";
    record_shown_to_key(&state.pool, connect, &shown, detail).await?;
    let body: Vec<ShareJson> = found
        .into_iter()
        .map(|share| {
            let with_secret = own(&share);
            ShareJson::new(share, &state.settings.base_url, now, with_secret)
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateShare {
    content_id: String,
    password: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    frame_ancestors: Option<Vec<String>>,
    /// Share the page's descendants too (fixed once the share exists).
    #[serde(default)]
    include_children: bool,
}

async fn create(
    user: ApiUser,
    body: Json<CreateShare>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    connect.require_scope(Scope::SharesWrite)?;
    let body = body.into_inner();
    let created_by = connect.user()?;
    let content = content_id(&body.content_id)?;
    let expires_at = body.expires_at.map(expiry).transpose()?;
    let frame_ancestors = origins(
        "frameAncestors",
        body.frame_ancestors.as_deref().unwrap_or_default(),
    )?;
    // Check the password's rules before asking Confluence anything.
    let password = body.password.map(password).transpose()?;
    require_read(connect, &state, &content).await?;
    let page = state
        .host
        .content(&connect.host(&state)?, &content)
        .await
        .map_err(AppError::from)?;
    let password = match password {
        Some(password) => Some(hash(password).await?),
        None => None,
    };
    let actor = connect.actor()?;
    let mut tx = state.pool.begin().await?;
    let share = shares::insert(
        &mut *tx,
        NewShare {
            client_key: &connect.installation.client_key,
            content_id: &content,
            space_key: &page.space_key,
            title: &page.title,
            password,
            expires_at,
            frame_ancestors,
            created_by,
            include_children: body.include_children,
        },
    )
    .await?;
    let (client_key, id) = (&share.client_key, Some(share.id));
    let detail = created_detail(&share);
    audit::record(
        &mut *tx,
        client_key,
        &actor,
        Action::ShareCreated,
        id,
        &detail,
    )
    .await?;
    if share.password_protected {
        audit::record(&mut *tx, client_key, &actor, Action::PasswordSet, id, "").await?;
    }
    if may_see_secrets(connect) {
        let detail = "in the answer that created the share";
        record_shown_to_key(&mut *tx, connect, &[share.id], detail).await?;
    }
    tx.commit().await?;
    tracing::info!(share = %share.id, client_key = %share.client_key, "share created");
    let location = format!(
        "{}{}/shares/{}",
        state.settings.base_path(),
        connect.api_path(),
        share.id
    );
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, location))
        .json(changed_json(connect, &state, share)))
}

async fn read(
    user: ApiUser,
    id: web::Path<ShareId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    let share = readable_share(connect, &state, *id).await?;
    let manages = may_see_secrets(connect) && may_manage(connect, &state, &share).await?;
    if manages {
        // Recorded before the secret leaves: no answer carries it unaudited.
        let (client_key, actor) = (&share.client_key, connect.actor()?);
        let action = Action::UnlockSecretShown;
        audit::record(&state.pool, client_key, &actor, action, Some(share.id), "").await?;
    }
    Ok(HttpResponse::Ok().json(ShareJson::new(
        share,
        &state.settings.base_url,
        Utc::now(),
        manages,
    )))
}

/// `Some(value)` when the field is present, `null` included: PATCH tells "absent" from "null".
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateShare {
    #[serde(default, deserialize_with = "present")]
    password: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "present")]
    frame_ancestors: Option<Option<Vec<String>>>,
}

async fn update(
    user: ApiUser,
    id: web::Path<ShareId>,
    body: Json<UpdateShare>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    connect.require_scope(Scope::SharesWrite)?;
    let body = body.into_inner();
    let expires_at = body
        .expires_at
        .map(|at| at.map(expiry).transpose())
        .transpose()?;
    let frame_ancestors = body
        .frame_ancestors
        .map(|list| origins("frameAncestors", list.as_deref().unwrap_or_default()))
        .transpose()?;
    // Rules first, so a bad password costs no call to Confluence.
    let new_password = body
        .password
        .map(|raw| raw.map(password).transpose())
        .transpose()?;
    let share = managed_share(connect, &state, *id).await?;
    let password_action = new_password.as_ref().map(|new| match new {
        Some(_) => Action::PasswordSet,
        None => Action::PasswordRemoved,
    });
    let password = match new_password {
        Some(Some(password)) => Some(Some(hash(password).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let change = ShareChange {
        password,
        expires_at,
        frame_ancestors,
    };
    let actor = connect.actor()?;
    let mut tx = state.pool.begin().await?;
    let updated = shares::update(&mut *tx, &share.client_key, share.id, change)
        .await?
        .ok_or(AppError::ShareRevoked)?;
    let (client_key, id) = (&share.client_key, Some(share.id));
    if let Some(action) = password_action {
        audit::record(&mut *tx, client_key, &actor, action, id, "").await?;
    }
    if let Some(detail) = changed_detail(&share, &updated) {
        audit::record(
            &mut *tx,
            client_key,
            &actor,
            Action::ShareChanged,
            id,
            &detail,
        )
        .await?;
    }
    if may_see_secrets(connect) {
        let detail = "in the answer to a change of the share";
        record_shown_to_key(&mut *tx, connect, &[share.id], detail).await?;
    }
    tx.commit().await?;
    // This instance sees its own change at once; the others hear of it through Postgres.
    state.readers.invalidate(updated.id);
    tracing::info!(share = %updated.id, "share updated");
    Ok(HttpResponse::Ok().json(changed_json(connect, &state, updated)))
}

/// The optional body of a rotation, `{"graceSeconds": N}` (an object: serde would take an array
/// for a struct).
type RotationBody = serde_json::Map<String, serde_json::Value>;

fn grace(body: &RotationBody) -> Result<GracePeriod, AppError> {
    if let Some(unknown) = body.keys().find(|key| *key != "graceSeconds") {
        return Err(AppError::invalid(
            unknown.clone(),
            "unknown field: only graceSeconds is accepted.",
        ));
    }
    let value = body.get("graceSeconds").unwrap_or(&serde_json::Value::Null);
    GracePeriod::parse(value).ok_or_else(|| {
        AppError::invalid(
            "graceSeconds",
            format!(
                "graceSeconds must be a whole number of seconds from 0 to {MAX_GRACE_SECS} \
                 (7 days), or null."
            ),
        )
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UnlockSecretJson {
    unlock_secret: String,
    previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// A new secret, answered to whoever rotated it: `unlock-secrets:rotate` is enough for a key,
/// since a secret nobody receives could sign nothing (`docs/HTTP.md#api-keys`). The rotation's
/// audit entry stands for that answer.
async fn new_unlock_secret(
    user: ApiUser,
    id: web::Path<ShareId>,
    body: OptionalJson<RotationBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    connect.require_scope(Scope::UnlockSecretsRotate)?;
    let grace = grace(&body.into_inner())?;
    let share = managed_share(connect, &state, *id).await?;
    let actor = connect.actor()?;
    let mut tx = state.pool.begin().await?;
    let rotated = shares::replace_unlock_secret(&mut *tx, &share.client_key, share.id, grace)
        .await?
        .ok_or(AppError::ShareRevoked)?;
    let detail = match rotated.previous_expires_at {
        Some(until) => format!("previous secret works until {}", until.to_rfc3339()),
        None => "previous secret stopped at once; sessions ended".to_owned(),
    };
    let (client_key, action) = (&share.client_key, Action::UnlockSecretRotated);
    audit::record(
        &mut *tx,
        client_key,
        &actor,
        action,
        Some(share.id),
        &detail,
    )
    .await?;
    tx.commit().await?;
    state.readers.invalidate(share.id);
    tracing::info!(share = %share.id, grace_secs = grace.secs(), "unlock secret changed");
    Ok(HttpResponse::Ok().json(UnlockSecretJson {
        unlock_secret: rotated.secret.to_hex(),
        previous_secret_expires_at: rotated.previous_expires_at,
    }))
}

async fn revoke(
    user: ApiUser,
    id: web::Path<ShareId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    connect.require_scope(Scope::SharesWrite)?;
    let share = tenant_share(connect, &state, *id).await?;
    require_revoke(connect, &state, &share).await?;
    let actor = connect.actor()?;
    let mut tx = state.pool.begin().await?;
    // Revoking a revoked share changes nothing, and records nothing.
    if shares::revoke(&mut *tx, &share.client_key, share.id).await? {
        let (client_key, action) = (&share.client_key, Action::ShareRevoked);
        audit::record(&mut *tx, client_key, &actor, action, Some(share.id), "").await?;
    }
    tx.commit().await?;
    state.readers.invalidate(share.id);
    tracing::info!(share = %share.id, "share revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// What the audit log says of a new share: its page, and its expiry and embedding sites.
fn created_detail(share: &Share) -> String {
    let page = format!(
        "page {} \"{}\" in {}",
        share.content_id, share.title, share.space_key
    );
    let mut parts = vec![page];
    if share.include_children {
        parts.push("with the pages below it".into());
    }
    parts.extend(share.expires_at.map(|at| expiry_detail(Some(at))));
    if !share.frame_ancestors.is_empty() {
        parts.push(origins_detail(&share.frame_ancestors));
    }
    parts.join("; ")
}

/// What the audit log says of a change to the share's expiry or embedding sites (the password
/// has entries of its own, without a value); `None` when neither changed.
fn changed_detail(before: &Share, after: &Share) -> Option<String> {
    let mut parts = Vec::new();
    if before.expires_at != after.expires_at {
        parts.push(expiry_detail(after.expires_at));
    }
    if before.frame_ancestors != after.frame_ancestors {
        parts.push(origins_detail(&after.frame_ancestors));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn expiry_detail(at: Option<DateTime<Utc>>) -> String {
    match at {
        Some(at) => format!("expiresAt: {}", at.to_rfc3339()),
        None => "expiresAt: never".into(),
    }
}

fn origins_detail(origins: &[FrameAncestor]) -> String {
    if origins.is_empty() {
        return "frameAncestors: none (the site's default)".into();
    }
    let list: Vec<&str> = origins.iter().map(FrameAncestor::as_str).collect();
    format!("frameAncestors: {}", list.join(" "))
}
