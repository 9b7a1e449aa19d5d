//! The pages Confluence shows in iframes: the share panel of a page, and the site admin page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{Connect, IframeUser};
use super::error::PageError;
use super::error::host_error;
use super::state::AppState;
use crate::connect::host_client::ContentId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/connect/share-panel", web::get().to(share_panel))
        .route("/connect/admin", web::get().to(admin));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PanelQuery {
    content_id: Option<String>,
    space_key: Option<String>,
}

#[derive(Template)]
#[template(path = "connect/share_panel.html")]
struct SharePanel<'a> {
    content_id: &'a str,
    space_key: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "connect/admin.html")]
struct AdminPage;

fn html(page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(|error| {
        tracing::error!(%error, "template failed");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The page could not be rendered.",
        )
    })?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

async fn share_panel(
    user: IframeUser,
    query: web::Query<PanelQuery>,
) -> Result<HttpResponse, PageError> {
    let _ = user;
    let content_id = query
        .content_id
        .as_deref()
        .and_then(ContentId::parse)
        .ok_or_else(|| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "Unknown page",
                "The contentId parameter is missing or not a Confluence content id.",
            )
        })?;
    html(&SharePanel {
        content_id: content_id.as_str(),
        space_key: query.space_key.as_deref(),
    })
}

async fn admin(user: IframeUser, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    require_site_admin(&user.0, &state).await?;
    html(&AdminPage)
}

/// Ask Confluence whether the user administers the site; refuse when it cannot say.
pub async fn require_site_admin(connect: &Connect, state: &AppState) -> Result<(), PageError> {
    let not_admin = || {
        PageError::new(
            StatusCode::FORBIDDEN,
            "Site administrators only",
            "Only Confluence site administrators can see every external share of this site.",
        )
    };
    let account_id = connect.account_id.as_deref().ok_or_else(not_admin)?;
    let tenant = connect.tenant(&state.settings)?;
    match state.host.is_site_admin(tenant, account_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(not_admin()),
        Err(error) => Err(host_error(error).into()),
    }
}
