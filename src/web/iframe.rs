//! The pages Confluence shows in iframes: the share panel of a page, and the site admin page.
//! Both are shells: their script asks the Web API for data with a context token, so no secret
//! is ever rendered into the HTML.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::assets;
use super::auth::IframeUser;
use super::csp;
use super::error::{AppError, PageError, page_extractors};
use super::html::render;
use super::permissions::require_site_admin;
use super::state::AppState;
use super::ui::{AdminPage, PageAssets, SharePanel};
use crate::config::Settings;
use crate::confluence::ids::ContentId;
use crate::storage::installations::Installation;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let (query, path) = page_extractors();
    cfg.service(
        web::scope("/connect")
            .wrap(super::api::no_store())
            .app_data(query)
            .app_data(path)
            .route("/share-panel", web::get().to(share_panel))
            .route("/admin", web::get().to(admin)),
    );
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PanelQuery {
    content_id: Option<String>,
    space_key: Option<String>,
}

/// `scheme://host[:port]` of the tenant's `baseUrl` and `displayUrl`: where Confluence frames us.
fn tenant_origins(installation: &Installation) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    for raw in std::iter::once(&installation.base_url).chain(&installation.display_url) {
        let Ok(url) = url::Url::parse(raw) else {
            continue;
        };
        let origin = url.origin().ascii_serialization();
        // Only what an origin is made of, so a stored URL cannot add a directive to the CSP.
        let plain = url.has_host()
            && origin
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:/[]".contains(&b));
        if plain && !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    origins
}

fn html(
    page: &impl Template,
    settings: &Settings,
    installation: &Installation,
) -> Result<HttpResponse, PageError> {
    let policy = csp::iframe_page(&settings.all_js_origin(), &tenant_origins(installation));
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_SECURITY_POLICY, policy));
    render(response, page)
}

async fn share_panel(
    user: IframeUser,
    query: web::Query<PanelQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let content_id = query
        .content_id
        .as_deref()
        .and_then(ContentId::parse)
        .ok_or(AppError::BadParameter {
            name: "contentId",
            message: "The contentId parameter is missing or not a Confluence content id.",
        })?;
    let settings = &state.settings;
    let page = SharePanel {
        assets: PageAssets::connect(settings, assets::PANEL_JS),
        platform: "connect",
        api_base: &settings.base_url,
        content_id: content_id.as_str(),
        space_key: query.space_key.as_deref(),
    };
    html(&page, settings, &user.0.installation)
}

async fn admin(user: IframeUser, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    require_site_admin(&user.0, &state)
        .await
        .map_err(PageError)?;
    let settings = &state.settings;
    let page = AdminPage {
        assets: PageAssets::connect(settings, assets::ADMIN_JS),
        platform: "connect",
        api_base: &settings.base_url,
    };
    html(&page, settings, &user.0.installation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installation(base_url: &str, display_url: Option<&str>) -> Installation {
        Installation {
            display_url: display_url.map(str::to_owned),
            ..Installation::sample(base_url)
        }
    }

    #[test]
    fn frame_ancestors_are_the_tenant_origins() {
        let cases = [
            (
                "https://acme.atlassian.net/wiki",
                Some("https://wiki.acme.com/wiki"),
                vec!["https://acme.atlassian.net", "https://wiki.acme.com"],
            ),
            (
                "https://acme.atlassian.net/wiki",
                Some("https://acme.atlassian.net/wiki/"),
                vec!["https://acme.atlassian.net"],
            ),
            (
                "http://127.0.0.1:4000/acme/wiki",
                None,
                vec!["http://127.0.0.1:4000"],
            ),
            ("not a url", Some("data:text/html,x"), vec![]),
        ];
        for (base, display, expected) in cases {
            assert_eq!(
                tenant_origins(&installation(base, display)),
                expected,
                "{base} {display:?}"
            );
        }
    }
}
