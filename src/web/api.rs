//! The Web API (DESIGN §6): JSON, camelCase, behind the context-qsh extractor. Every call is
//! scoped to the caller's tenant, and Confluence decides whether the user may see the page.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::auth::{Connect, ContextUser};
use super::error::{ApiError, database_error, host_error};
use super::permissions::{account_id, may_manage, require_manage, require_read, require_revoke};
use super::state::AppState;
use crate::connect::host_client::ContentId;
use crate::connect::payload::without_values;
use crate::share::origins::parse_list;
use crate::share::password::{Password, PasswordHash};
use crate::share::{ShareId, ShareStatus};
use crate::storage::shares::{self, NewShare, Share, ShareChange};

/// Largest JSON body accepted by the API.
pub const MAX_JSON_BODY: usize = 16 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/shares")
            .app_data(json_config())
            .route("", web::get().to(list))
            .route("", web::post().to(create))
            .route("/{uuid}", web::get().to(read))
            .route("/{uuid}", web::patch().to(update))
            .route("/{uuid}", web::delete().to(revoke))
            .route("/{uuid}/unlock-secret", web::post().to(new_unlock_secret)),
    );
}

/// JSON bodies of the API: at most [`MAX_JSON_BODY`], errors as JSON (see [`json_error`]).
pub(super) fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BODY)
        .error_handler(|error, _| json_error(error).into())
}

fn json_error(error: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match error {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("The body is larger than {MAX_JSON_BODY} bytes."),
        ),
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON (Content-Type: application/json).",
        ),
        // serde quotes wrong-typed values, and a password may be one of them.
        E::Deserialize(error) if error.is_data() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            without_values(&error.to_string()),
        ),
        E::Deserialize(error) => ApiError::bad_request(
            "malformed_json",
            format!("The body is not valid JSON: {error}"),
        ),
        _ => ApiError::bad_request("unreadable_body", "The request body could not be read."),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
}

/// A share as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareJson {
    uuid: String,
    content_id: String,
    space_key: String,
    title: String,
    url: String,
    status: ShareStatus,
    password_protected: bool,
    expires_at: Option<DateTime<Utc>>,
    frame_ancestors: Vec<String>,
    /// Only for those who manage the share.
    #[serde(skip_serializing_if = "Option::is_none")]
    unlock_secret: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl ShareJson {
    fn new(share: Share, base_url: &str, now: DateTime<Utc>, with_secret: bool) -> Self {
        Self {
            url: format!("{base_url}/content/{}", share.id),
            uuid: share.id.to_string(),
            status: ShareStatus::of(share.revoked_at, share.expires_at, now),
            unlock_secret: with_secret.then(|| share.unlock_secret.to_hex()),
            content_id: share.content_id,
            space_key: share.space_key,
            title: share.title,
            password_protected: share.password_protected,
            expires_at: share.expires_at,
            frame_ancestors: share.frame_ancestors,
            created_by: share.created_by,
            created_at: share.created_at,
            updated_at: share.updated_at,
            revoked_at: share.revoked_at,
        }
    }
}

/// A share for a user who manages it (its unlock secret included).
fn share_json(state: &AppState, share: Share) -> ShareJson {
    ShareJson::new(share, &state.settings.base_url, Utc::now(), true)
}

fn parse_content_id(raw: &str) -> Result<ContentId, ApiError> {
    ContentId::parse(raw).ok_or_else(|| invalid("contentId is not a Confluence content id."))
}

fn parse_share_id(raw: &str) -> Result<ShareId, ApiError> {
    ShareId::parse(raw).ok_or_else(|| ApiError::not_found("No such share."))
}

fn parse_expiry(expires_at: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if expires_at <= Utc::now() {
        return Err(invalid("expiresAt must be in the future."));
    }
    Ok(expires_at)
}

/// The embedding origins of the body's `field`, checked and normalised.
pub(super) fn parse_origins(field: &str, raw: &[String]) -> Result<Vec<String>, ApiError> {
    Ok(parse_list(raw)
        .map_err(|problem| invalid(format!("{field}: {problem}")))?
        .into_iter()
        .map(|origin| origin.as_str().to_owned())
        .collect())
}

fn parse_password(raw: String) -> Result<Password, ApiError> {
    Password::parse(raw).map_err(|problem| invalid(format!("password: {problem}")))
}

/// Hash on a blocking thread: Argon2id takes tens of milliseconds on purpose.
async fn hash(password: Password) -> Result<PasswordHash, ApiError> {
    web::block(move || password.hash()).await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "The server is busy; try again.",
        )
    })
}

/// The share of the caller's tenant, whoever may see it.
async fn tenant_share(
    connect: &Connect,
    state: &AppState,
    raw_id: &str,
) -> Result<Share, ApiError> {
    let id = parse_share_id(raw_id)?;
    shares::find(&state.pool, &connect.installation.client_key, id)
        .await
        .map_err(database_error)?
        .ok_or_else(|| ApiError::not_found("No such share."))
}

/// The share of the caller's tenant, after Confluence said the user may read its page.
async fn readable_share(
    connect: &Connect,
    state: &AppState,
    raw_id: &str,
) -> Result<Share, ApiError> {
    let share = tenant_share(connect, state, raw_id).await?;
    require_read(connect, state, &parse_content_id(&share.content_id)?).await?;
    Ok(share)
}

/// The share of the caller's tenant, when the caller manages it (see [`may_manage`]).
async fn managed_share(
    connect: &Connect,
    state: &AppState,
    raw_id: &str,
) -> Result<Share, ApiError> {
    let share = tenant_share(connect, state, raw_id).await?;
    require_manage(connect, state, &share).await?;
    Ok(share)
}

fn revoked() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "share_revoked",
        "This share is revoked; create a new one.",
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    content_id: String,
}

async fn list(
    user: ContextUser,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    let content = parse_content_id(&query.content_id)?;
    require_read(connect, &state, &content).await?;
    let found = shares::list_for_content(
        &state.pool,
        &connect.installation.client_key,
        content.as_str(),
    )
    .await
    .map_err(database_error)?;
    let now = Utc::now();
    let caller = connect.account_id.as_deref();
    // Unlock secrets of the caller's own shares only; others' come from GET /api/shares/{uuid}
    // to those who manage them.
    let body: Vec<ShareJson> = found
        .into_iter()
        .map(|share| {
            let own = caller == Some(share.created_by.as_str());
            ShareJson::new(share, &state.settings.base_url, now, own)
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
}

async fn create(
    user: ContextUser,
    body: web::Json<CreateShare>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    let body = body.into_inner();
    let created_by = account_id(connect)?;
    let content = parse_content_id(&body.content_id)?;
    let expires_at = body.expires_at.map(parse_expiry).transpose()?;
    let frame_ancestors = parse_origins(
        "frameAncestors",
        body.frame_ancestors.as_deref().unwrap_or_default(),
    )?;
    // Check the password's rules before asking Confluence anything.
    let password = body.password.map(parse_password).transpose()?;
    require_read(connect, &state, &content).await?;
    let page = state
        .host
        .content(connect.tenant(&state.settings)?, &content)
        .await
        .map_err(host_error)?;
    let password = match password {
        Some(password) => Some(hash(password).await?),
        None => None,
    };
    let share = shares::insert(
        &state.pool,
        NewShare {
            client_key: &connect.installation.client_key,
            content_id: content.as_str(),
            space_key: &page.space_key,
            title: &page.title,
            password,
            expires_at,
            frame_ancestors,
            created_by,
        },
    )
    .await
    .map_err(database_error)?;
    tracing::info!(share = %share.id, client_key = share.client_key, "share created");
    let json = share_json(&state, share);
    Ok(HttpResponse::Created()
        .insert_header((
            LOCATION,
            format!("{}/api/shares/{}", state.settings.base_path(), json.uuid),
        ))
        .json(json))
}

async fn read(
    user: ContextUser,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    let share = readable_share(connect, &state, &id).await?;
    let manages = may_manage(connect, &state, &share).await?;
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
    user: ContextUser,
    id: web::Path<String>,
    body: web::Json<UpdateShare>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    let body = body.into_inner();
    let expires_at = body
        .expires_at
        .map(|at| at.map(parse_expiry).transpose())
        .transpose()?;
    let frame_ancestors = body
        .frame_ancestors
        .map(|list| parse_origins("frameAncestors", list.as_deref().unwrap_or_default()))
        .transpose()?;
    // Rules first, so a bad password costs no call to Confluence.
    let password = body
        .password
        .map(|raw| raw.map(parse_password).transpose())
        .transpose()?;
    let share = managed_share(connect, &state, &id).await?;
    if share.revoked_at.is_some() {
        return Err(revoked());
    }
    let password = match password {
        Some(Some(password)) => Some(Some(hash(password).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let change = ShareChange {
        password,
        expires_at,
        frame_ancestors,
    };
    let updated = shares::update(&state.pool, &share.client_key, share.id, change)
        .await
        .map_err(database_error)?
        .ok_or_else(revoked)?;
    // This instance sees its own change at once; the others hear of it through Postgres.
    state.readers.invalidate(updated.id);
    tracing::info!(share = %updated.id, "share updated");
    Ok(HttpResponse::Ok().json(share_json(&state, updated)))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UnlockSecretJson {
    unlock_secret: String,
}

async fn new_unlock_secret(
    user: ContextUser,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let share = managed_share(&user.0, &state, &id).await?;
    if share.revoked_at.is_some() {
        return Err(revoked());
    }
    let secret = shares::replace_unlock_secret(&state.pool, &share.client_key, share.id)
        .await
        .map_err(database_error)?
        .ok_or_else(revoked)?;
    state.readers.invalidate(share.id);
    tracing::info!(share = %share.id, "unlock secret changed");
    Ok(HttpResponse::Ok().json(UnlockSecretJson {
        unlock_secret: secret.to_hex(),
    }))
}

async fn revoke(
    user: ContextUser,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    let share = tenant_share(connect, &state, &id).await?;
    require_revoke(connect, &state, &share).await?;
    shares::revoke(&state.pool, &share.client_key, share.id)
        .await
        .map_err(database_error)?;
    state.readers.invalidate(share.id);
    tracing::info!(share = %share.id, "share revoked");
    Ok(HttpResponse::NoContent().finish())
}
