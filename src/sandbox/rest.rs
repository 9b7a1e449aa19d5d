//! The sandbox's HTTP side: the install key server, the Confluence REST calls the app makes, and
//! (on its own port, as Atlassian's is its own host) the media host that downloads redirect to.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::Shared;
use super::sites::{KeyServer, MediaGrant, Site};
use crate::connect::canonical::{RequestParts, qsh};

/// Atlassian's services: the install key server, Forge's gateway to Confluence's API (the same
/// calls, Bearer app tokens), and an attacker's endpoint for the hostile tests.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/keys/{kid:.*}", web::get().to(install_key))
        .configure(|cfg| confluence_rest(cfg, "/ex/confluence/{site}/wiki/rest/api"))
        .route("/evil/{tail:.*}", web::to(evil));
}

/// What a site's own origin serves: its REST API, and the redirect hops of hostile downloads.
pub fn site_routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(|cfg| confluence_rest(cfg, "/{site}/wiki/rest/api"))
        .route("/hop/{n}", web::get().to(hop))
        .route("/evil/{tail:.*}", web::to(evil));
}

/// The REST calls the app makes, under `prefix` (where `{site}` is the site's name for Connect
/// JWTs, its cloud id for Forge's app tokens).
fn confluence_rest(cfg: &mut web::ServiceConfig, prefix: &str) {
    cfg.route(&format!("{prefix}/user"), web::get().to(user))
        .route(
            &format!("{prefix}/content/{{id}}/permission/check"),
            web::post().to(permission_check),
        )
        .route(&format!("{prefix}/content/{{id}}"), web::get().to(content))
        .route(
            &format!("{prefix}/content/{{page}}/child/attachment/{{attachment}}/download"),
            web::get().to(attachment_download),
        );
}

/// The media host's routes, served on a port of their own.
pub fn media_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/media/{site}/{page}/{attachment}", web::get().to(media));
}

#[derive(Deserialize)]
struct HopQuery {
    to: String,
}

/// `/hop/{n}?to=URL`: a redirect to `/hop/{n-1}`, and from `/hop/0` to `URL`.
async fn hop(n: web::Path<usize>, query: web::Query<HopQuery>) -> HttpResponse {
    let location = match n.into_inner() {
        0 => query.to.clone(),
        n => format!(
            "/hop/{}?to={}",
            n - 1,
            percent_encoding::utf8_percent_encode(&query.to, percent_encoding::NON_ALPHANUMERIC)
        ),
    };
    HttpResponse::Found()
        .insert_header(("Location", location))
        .finish()
}

/// Where hostile redirects lead: it says yes to every permission check and serves bytes that
/// must never reach a reader; it counts who came.
async fn evil(state: web::Data<Shared>) -> HttpResponse {
    state.lock().expect("sandbox state").evil_hits += 1;
    HttpResponse::Ok().json(json!({ "hasPermission": true, "evil": true }))
}

/// What a hostile site answers a JSON call instead of its answer, after stalling if it does.
async fn hostile_json(site: &Site) -> Option<HttpResponse> {
    if site.hostile.stall {
        tokio::time::sleep(super::sites::STALL).await;
    }
    site.hostile.redirect_json_to.as_ref().map(|to| {
        HttpResponse::TemporaryRedirect()
            .insert_header(("Location", to.as_str()))
            .finish()
    })
}

async fn install_key(kid: web::Path<String>, state: web::Data<Shared>) -> HttpResponse {
    let (behaviour, pem) = {
        let mut state = state.lock().expect("sandbox state");
        state.key_fetches += 1;
        (state.key_server, state.public_key)
    };
    match behaviour {
        KeyServer::Normal => {}
        KeyServer::Status(status) => {
            let status = actix_web::http::StatusCode::from_u16(status).expect("a status code");
            return HttpResponse::build(status).finish();
        }
        KeyServer::Slow(secs) => tokio::time::sleep(std::time::Duration::from_secs(secs)).await,
        KeyServer::Endless => {
            let chunk = web::Bytes::from(vec![b'A'; 64 * 1024]);
            let endless = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            return HttpResponse::Ok()
                .content_type("application/x-pem-file")
                .streaming(endless);
        }
    }
    if kid.as_str() != super::KID {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(pem)
}

#[derive(Deserialize)]
struct AppClaims {
    iss: String,
    exp: i64,
    qsh: String,
    aud: Vec<String>,
}

/// Why the host refused a call.
enum Refusal {
    UnknownSite,
    Down,
    Unauthorized(&'static str),
}

impl Refusal {
    fn response(self) -> HttpResponse {
        match self {
            Self::UnknownSite => HttpResponse::NotFound().finish(),
            Self::Down => HttpResponse::ServiceUnavailable().finish(),
            Self::Unauthorized(why) => HttpResponse::Unauthorized().json(json!({ "message": why })),
        }
    }
}

/// Check the app's credentials the way Confluence does: a Connect JWT on the site's own URL, an
/// app token the sandbox issued for this very site on Forge's gateway. The site on success.
fn authorize(req: &HttpRequest, state: &Shared, site_name: &str) -> Result<Site, Refusal> {
    if req.path().starts_with("/ex/confluence/") {
        return authorize_bearer(req, state, site_name);
    }
    let mut state = state.lock().expect("sandbox state");
    let site = state
        .sites
        .get(site_name)
        .cloned()
        .ok_or(Refusal::UnknownSite)?;
    if site.down {
        return Err(Refusal::Down);
    }
    let token = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("JWT "))
        .ok_or(Refusal::Unauthorized("missing JWT"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<AppClaims>(
        token,
        &DecodingKey::from_secret(site.secret.as_bytes()),
        &validation,
    )
    .map_err(|_| Refusal::Unauthorized("bad signature or claims"))?
    .claims;
    let expected_qsh = qsh(
        RequestParts {
            method: req.method().as_str(),
            path: req.path(),
            query: req.query_string(),
        },
        &site.base_path(),
    );
    if claims.iss != state.app_key
        || claims.exp <= Utc::now().timestamp()
        || !claims.aud.contains(&site.client_key)
        || claims.qsh != expected_qsh
    {
        return Err(Refusal::Unauthorized("iss, exp, aud or qsh wrong"));
    }
    state.verified_calls += 1;
    Ok(site)
}

fn authorize_bearer(req: &HttpRequest, state: &Shared, cloud_id: &str) -> Result<Site, Refusal> {
    let mut state = state.lock().expect("sandbox state");
    let site = state
        .sites
        .values()
        .find(|site| site.cloud_id == cloud_id)
        .cloned()
        .ok_or(Refusal::UnknownSite)?;
    if site.down {
        return Err(Refusal::Down);
    }
    let token = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(Refusal::Unauthorized("missing bearer token"))?;
    let valid = state
        .app_tokens
        .get(token)
        .is_some_and(|(name, exp)| *name == site.name && *exp > Utc::now().timestamp());
    if !valid {
        return Err(Refusal::Unauthorized(
            "unknown, expired or another site's token",
        ));
    }
    state.verified_calls += 1;
    Ok(site)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserQuery {
    account_id: String,
    #[serde(default)]
    expand: String,
}

async fn user(
    req: HttpRequest,
    site: web::Path<String>,
    query: web::Query<UserQuery>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let site = match authorize(&req, &state, &site) {
        Ok(site) => site,
        Err(refusal) => return refusal.response(),
    };
    if let Some(hostile) = hostile_json(&site).await {
        return hostile;
    }
    let mut user = json!({
        "type": "known",
        "accountId": query.account_id,
        "displayName": query.account_id,
    });
    // Like Confluence, the user's operations come only when asked for.
    if query.expand.split(',').any(|part| part == "operations") {
        let mut operations = vec![json!({"operation": "use", "targetType": "application"})];
        if site.admins.contains(&query.account_id) {
            operations.push(json!({"operation": "administer", "targetType": "application"}));
        }
        user["operations"] = json!(operations);
    }
    HttpResponse::Ok().json(user)
}

#[derive(Deserialize)]
struct PermissionCheck {
    subject: Subject,
    operation: String,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(rename = "type")]
    kind: String,
    identifier: String,
}

async fn permission_check(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<PermissionCheck>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let (site, content_id) = path.into_inner();
    let site = match authorize(&req, &state, &site) {
        Ok(site) => site,
        Err(refusal) => return refusal.response(),
    };
    if let Some(hostile) = hostile_json(&site).await {
        return hostile;
    }
    let user = &body.subject.identifier;
    let allowed = body.subject.kind == "user"
        && match body.operation.as_str() {
            "read" => site.can_read(user, &content_id),
            "update" => site.can_update(user, &content_id),
            _ => false,
        };
    HttpResponse::Ok().json(json!({ "hasPermission": allowed }))
}

#[derive(Deserialize)]
struct ContentQuery {
    #[serde(default)]
    expand: String,
}

/// `GET /rest/api/content/{id}`: like Confluence, only the expanded parts carry their fields.
async fn content(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ContentQuery>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let (site, content_id) = path.into_inner();
    let site = match authorize(&req, &state, &site) {
        Ok(site) => site,
        Err(refusal) => return refusal.response(),
    };
    state.lock().expect("sandbox state").content_fetches += 1;
    if let Some(hostile) = hostile_json(&site).await {
        return hostile;
    }
    if site.hostile.endless_content {
        let chunk = web::Bytes::from(vec![b' '; 64 * 1024]);
        let endless = futures_util::stream::repeat_with(move || {
            Ok::<_, std::convert::Infallible>(chunk.clone())
        });
        return HttpResponse::Ok()
            .content_type("application/json")
            .streaming(endless);
    }
    let Some(page) = site.pages.get(&content_id) else {
        return HttpResponse::NotFound().json(json!({ "message": "No content found" }));
    };
    let expanded: Vec<&str> = query.expand.split(',').collect();
    let mut answer = json!({
        "id": content_id,
        "type": "page",
        "status": "current",
        "title": page.title,
    });
    if expanded.contains(&"space") {
        answer["space"] = json!({ "key": page.space_key, "type": "global" });
    }
    if expanded.contains(&"version") {
        answer["version"] = json!({ "number": page.version });
    }
    if expanded.contains(&"body.export_view") {
        answer["body"] = json!({
            "export_view": { "value": page.export_view, "representation": "storage" },
        });
    }
    if let Some(size) = site.hostile.pad_content_to {
        answer["padding"] = json!(" ".repeat(size));
    }
    HttpResponse::Ok().json(answer)
}

/// The download answers with a redirect to the media host, carrying a token instead of a JWT.
async fn attachment_download(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let (site_name, page_id, attachment_id) = path.into_inner();
    let site = match authorize(&req, &state, &site_name) {
        Ok(site) => site,
        Err(refusal) => return refusal.response(),
    };
    let known = site
        .pages
        .get(&page_id)
        .is_some_and(|page| page.attachments.contains_key(&attachment_id));
    if !known {
        return HttpResponse::NotFound().json(json!({ "message": "No attachment found" }));
    }
    let token = hex::encode(rand::random::<[u8; 16]>());
    let media_url = {
        let mut state = state.lock().expect("sandbox state");
        let grant = MediaGrant {
            site: site.name.clone(),
            page: page_id.clone(),
            attachment: attachment_id.clone(),
        };
        state.media_tokens.insert(token.clone(), grant);
        format!(
            "{}/media/{}/{page_id}/{attachment_id}?token={token}",
            state.media_url, site.name
        )
    };
    let mut location = site
        .hostile
        .redirect_download_to
        .clone()
        .unwrap_or(media_url);
    if site.hostile.download_hops > 0 {
        location = format!(
            "{}/hop/{}?to={}",
            site.host_url(),
            site.hostile.download_hops - 1,
            percent_encoding::utf8_percent_encode(&location, percent_encoding::NON_ALPHANUMERIC)
        );
    }
    HttpResponse::Found()
        .insert_header(("Location", location))
        .finish()
}

#[derive(Deserialize)]
struct MediaQuery {
    token: Option<String>,
}

/// The media host: no JWT, only the token of the redirect opens the bytes.
async fn media(
    path: web::Path<(String, String, String)>,
    query: web::Query<MediaQuery>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let (site, page, attachment) = path.into_inner();
    let state = state.lock().expect("sandbox state");
    let granted = query
        .token
        .as_ref()
        .and_then(|token| state.media_tokens.get(token));
    let wanted = MediaGrant {
        site,
        page,
        attachment,
    };
    if granted != Some(&wanted) {
        return HttpResponse::Unauthorized().json(json!({ "message": "missing or wrong token" }));
    }
    let file = state
        .sites
        .get(&wanted.site)
        .and_then(|site| site.pages.get(&wanted.page))
        .and_then(|page| page.attachments.get(&wanted.attachment));
    match file {
        Some((media_type, bytes)) => HttpResponse::Ok()
            .content_type(media_type.as_str())
            .body(bytes.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use crate::sandbox::{Page, Sandbox};

    #[tokio::test]
    async fn the_media_host_wants_the_token_of_the_redirect() {
        let sandbox = Sandbox::start("pageshare-test").expect("sandbox starts");
        let site = sandbox.add_site("acme");
        let page = Page::sample(&site.base_url, "1");
        sandbox.update_site("acme", |s| {
            s.pages.insert("1".to_owned(), page);
        });
        let media = sandbox
            .media_url()
            .join(&format!("/media/acme/1/{}", Page::SAMPLE_IMAGE_ID))
            .unwrap()
            .to_string();
        let http = reqwest::Client::new();

        for url in [media.clone(), format!("{media}?token=guessed")] {
            let response = http.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 401, "{url}");
        }
    }
}
