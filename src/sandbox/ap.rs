//! What Confluence gives the app's iframes, simulated: a stand-in for Atlassian's `all.js` whose
//! `AP.context.getToken()` trades the page's iframe token for a context token here, and links
//! that open the app's pages in a plain browser tab (`pageshare dev`).

use actix_web::http::{Method, header};
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::sites::Site;
use super::{Shared, connect_token, iframe_url};
use crate::connect::canonical::CONTEXT_QSH;
use crate::connect::token::unverified_issuer;

const ALL_JS: &str = include_str!("all.js");

/// Who `/dev/{site}/open` opens the app's pages as.
#[derive(Debug, Clone)]
pub(crate) struct Opener {
    pub app_base_url: String,
    pub account_id: String,
    pub content_id: String,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ap/all.js", web::get().to(all_js))
        .route("/ap/context-token", web::post().to(context_token))
        .route(
            "/ap/context-token",
            web::method(Method::OPTIONS).to(preflight),
        )
        .route("/dev/{site}/open", web::get().to(open))
        .route("/dev/{site}/frame", web::get().to(frame));
}

#[derive(Deserialize)]
struct FrameQuery {
    src: String,
}

/// `/dev/{site}/frame?src=URL`: a page of the site that frames `src` (an iframe URL of the app)
/// as Confluence frames the app's pages, so the browser applies the app's `frame-ancestors`.
async fn frame(query: web::Query<FrameQuery>) -> HttpResponse {
    if !query.src.starts_with("http://") && !query.src.starts_with("https://") {
        return HttpResponse::BadRequest().body("src must be an http(s) URL");
    }
    let src = query
        .src
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><title>Confluence (sandbox)</title>\
             <style>html,body{{margin:0;height:100%}}iframe{{border:0;width:100%;height:100%}}</style>\
             <iframe name=\"app\" src=\"{src}\" allow=\"clipboard-read; clipboard-write\"></iframe>"
        ))
}

async fn all_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(ALL_JS)
}

/// The app's pages call from their own origin: any origin may ask, no credentials travel.
fn cors(response: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
}

async fn preflight() -> HttpResponse {
    cors(&mut HttpResponse::NoContent()).finish()
}

#[derive(Deserialize)]
struct TokenRequest {
    jwt: String,
}

#[derive(Deserialize)]
struct IframeClaims {
    sub: Option<String>,
}

/// The site whose secret signed this iframe token, and the user it names.
fn verify_iframe_token(state: &Shared, token: &str) -> Option<(Site, Option<String>)> {
    let issuer = unverified_issuer(token).ok()?;
    let site = state
        .lock()
        .expect("sandbox state")
        .sites
        .values()
        .find(|site| site.client_key == issuer)
        .cloned()?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.set_issuer(&[&site.client_key]);
    let claims = jsonwebtoken::decode::<IframeClaims>(
        token,
        &DecodingKey::from_secret(site.secret.as_bytes()),
        &validation,
    )
    .ok()?
    .claims;
    Some((site, claims.sub))
}

/// `AP.context.getToken()`: a context token (`qsh` = `context-qsh`, same issuer and user, three
/// minutes) for a page that shows a valid iframe token of one of this host's sites.
async fn context_token(body: web::Json<TokenRequest>, state: web::Data<Shared>) -> HttpResponse {
    match verify_iframe_token(&state, &body.jwt) {
        Some((site, sub)) => {
            let token = connect_token(&site, &site.secret, CONTEXT_QSH.to_owned(), sub.as_deref());
            cors(&mut HttpResponse::Ok()).json(json!({ "token": token }))
        }
        None => cors(&mut HttpResponse::Unauthorized()).json(
            json!({ "message": "the iframe token is not valid (expired, or not from this host)" }),
        ),
    }
}

#[derive(Deserialize)]
struct OpenQuery {
    page: String,
}

/// `/dev/{site}/open?page=share-panel|admin`: a redirect to a fresh iframe URL of that page.
async fn open(
    site: web::Path<String>,
    query: web::Query<OpenQuery>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let found = {
        let state = state.lock().expect("sandbox state");
        state
            .sites
            .get(site.as_str())
            .cloned()
            .zip(state.openers.get(site.as_str()).cloned())
    };
    let Some((site, opener)) = found else {
        return HttpResponse::NotFound().body("no such sandbox site, or it has no open links");
    };
    let path_and_query = match query.page.as_str() {
        "share-panel" => {
            let space = site
                .pages
                .get(&opener.content_id)
                .map(|page| page.space_key.as_str())
                .unwrap_or_default();
            format!(
                "/connect/share-panel?contentId={}&spaceKey={space}",
                opener.content_id
            )
        }
        "admin" => "/connect/admin".to_owned(),
        _ => return HttpResponse::NotFound().body("page must be share-panel or admin"),
    };
    let location = iframe_url(
        &opener.app_base_url,
        &site,
        &path_and_query,
        &opener.account_id,
    );
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
