//! The sandbox's HTTP side: the install key server, the Confluence REST calls the app makes, and
//! (on its own port, as Atlassian's is its own host) the media host that downloads redirect to.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::Shared;
use super::qsh::{canonical_request, qsh_of};
use super::sites::{KeyServer, MediaGrant, Site};

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
            &format!("{prefix}/content/{{id}}/descendant/page"),
            web::get().to(descendant_pages),
        )
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
    if let Some(delay) = site.hostile.delay {
        tokio::time::sleep(delay).await;
    }
    site.hostile.redirect_json_to.as_ref().map(|to| {
        HttpResponse::TemporaryRedirect()
            .insert_header(("Location", to.as_str()))
            .finish()
    })
}

async fn install_key(
    req: HttpRequest,
    kid: web::Path<String>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let (behaviour, pem) = {
        let mut state = state.lock().expect("sandbox state");
        state.key_fetches += 1;
        (state.key_server, state.public_key)
    };
    let pem = (kid.as_str() == super::KID).then(|| pem.to_owned());
    serve_key(&req, behaviour, "application/x-pem-file", pem).await
}

/// What a key server behaving like `behaviour` answers `req`, whose healthy answer is `body` of
/// `content_type` (`None`: 404). Its redirect leads to the same address with `?moved`, which
/// always answers as a healthy server does.
pub(super) async fn serve_key(
    req: &HttpRequest,
    behaviour: KeyServer,
    content_type: &'static str,
    body: Option<String>,
) -> HttpResponse {
    let behaviour = if req.query_string() == "moved" {
        KeyServer::Normal
    } else {
        behaviour
    };
    let mut padding = 0;
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
                .content_type(content_type)
                .streaming(endless);
        }
        KeyServer::Padded(bytes) => padding = bytes,
        KeyServer::Redirect => {
            return HttpResponse::Found()
                .insert_header(("Location", format!("{}?moved", req.path())))
                .finish();
        }
    }
    match body {
        Some(body) => HttpResponse::Ok()
            .content_type(content_type)
            .body(body + &" ".repeat(padding)),
        None => HttpResponse::NotFound().finish(),
    }
}

/// The longest lifetime (`exp - iat`) the sandbox accepts on the app's JWTs: the 180 s
/// `docs/SECURITY.md` says the app gives them.
pub const APP_JWT_MAX_LIFETIME_SECS: i64 = 180;
/// How far ahead of the sandbox's clock an app JWT's `iat` may be.
pub const APP_JWT_IAT_LEEWAY_SECS: i64 = 5;

/// The claims Confluence reads from the app's JWT; each is checked, a missing one refuses it.
#[derive(Deserialize)]
struct AppClaims {
    iss: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
    qsh: Option<String>,
    aud: Option<Vec<String>>,
}

impl AppClaims {
    /// Why Confluence refuses the token for a call whose qsh is `expected_qsh`, if it does.
    fn refusal(
        &self,
        app_key: &str,
        site: &Site,
        expected_qsh: &str,
        now: i64,
    ) -> Option<&'static str> {
        let (Some(iat), Some(exp)) = (self.iat, self.exp) else {
            return Some("iat and exp are required");
        };
        if self.iss.as_deref() != Some(app_key) {
            Some("iss is not the app's key")
        } else if !self
            .aud
            .as_ref()
            .is_some_and(|aud| aud.contains(&site.client_key))
        {
            Some("aud does not name the site")
        } else if iat > now + APP_JWT_IAT_LEEWAY_SECS {
            Some("iat is in the future")
        } else if exp <= now {
            Some("expired")
        } else if exp - iat > APP_JWT_MAX_LIFETIME_SECS {
            Some("lives longer than 180 s")
        } else if self.qsh.as_deref() != Some(expected_qsh) {
            Some("qsh does not match the request")
        } else {
            None
        }
    }
}

/// Check the app's Connect JWT as Confluence does, for a request whose canonical form (computed
/// by the sandbox) is `canonical`: signed with `site`'s secret, then every claim.
pub(super) fn check_app_jwt(
    token: &str,
    site: &Site,
    app_key: &str,
    canonical: &str,
) -> Result<(), &'static str> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<AppClaims>(
        token,
        &DecodingKey::from_secret(site.secret.as_bytes()),
        &validation,
    )
    .map_err(|_| "bad signature or claims")?
    .claims;
    let now = Utc::now().timestamp();
    match claims.refusal(app_key, site, &qsh_of(canonical), now) {
        Some(why) => Err(why),
        None => Ok(()),
    }
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
    // Confluence's own computation, from the request as it arrived: never the app's.
    let canonical = canonical_request(
        req.method().as_str(),
        req.path(),
        req.query_string(),
        &site.base_path(),
    );
    check_app_jwt(token, &site, &state.app_key, &canonical).map_err(Refusal::Unauthorized)?;
    state.verified_calls += 1;
    state.signed_requests.push(canonical);
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

/// The site a JSON call is for, once [`authorize`]d; else the answer it gets (a refusal, or the
/// site's hostile answer).
async fn answering_site(
    req: &HttpRequest,
    state: &Shared,
    name: &str,
) -> Result<Site, HttpResponse> {
    let site = authorize(req, state, name).map_err(Refusal::response)?;
    match hostile_json(&site).await {
        Some(hostile) => Err(hostile),
        None => Ok(site),
    }
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
    let site = match answering_site(&req, &state, &site).await {
        Ok(site) => site,
        Err(answer) => return answer,
    };
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
    let site = match answering_site(&req, &state, &site).await {
        Ok(site) => site,
        Err(answer) => return answer,
    };
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

/// Most results one call of the descendant listing answers, whatever `limit` asks: a client
/// must follow `_links.next`, as with Confluence's own system limits.
pub const MAX_DESCENDANTS_PER_CALL: usize = 50;

#[derive(Deserialize)]
struct DescendantQuery {
    #[serde(default)]
    start: usize,
    limit: Option<usize>,
    #[serde(default)]
    expand: String,
}

/// `GET /rest/api/content/{id}/descendant/page`: the pages below a page, depth first, paged
/// like Confluence (`start`, `limit` capped, `_links.next` while more remain), each with its
/// `ancestors` when expanded. Checked like content: the app's credentials for the site.
async fn descendant_pages(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<DescendantQuery>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let (site, content_id) = path.into_inner();
    let site = match answering_site(&req, &state, &site).await {
        Ok(site) => site,
        Err(answer) => return answer,
    };
    if !site.pages.contains_key(&content_id) {
        return HttpResponse::NotFound().json(json!({ "message": "No content found" }));
    }
    let all = site.descendants(&content_id);
    let limit = query.limit.unwrap_or(25).clamp(1, MAX_DESCENDANTS_PER_CALL);
    let start = query.start.min(all.len());
    let end = (start + limit).min(all.len());
    let with_ancestors = query.expand.split(',').any(|part| part == "ancestors");
    let results: Vec<_> = all[start..end]
        .iter()
        .map(|(id, ancestors)| {
            let mut page = json!({
                "id": id,
                "type": "page",
                "status": "current",
                "title": site.pages[id].title,
            });
            if with_ancestors {
                page["ancestors"] = ancestors
                    .iter()
                    .map(|a| json!({"id": a, "type": "page", "title": site.pages[a].title}))
                    .collect();
            }
            page
        })
        .collect();
    let here = format!("/rest/api/content/{content_id}/descendant/page");
    let mut links = json!({
        "base": site.base_url,
        "context": site.base_path(),
        "self": format!("{}{here}", site.base_url),
    });
    if end < all.len() {
        links["next"] = json!(format!(
            "{here}?start={end}&limit={limit}&expand={}",
            query.expand
        ));
    }
    HttpResponse::Ok().json(json!({
        "results": results,
        "start": start,
        "limit": limit,
        "size": results.len(),
        "_links": links,
    }))
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
    use chrono::Utc;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    use super::{APP_JWT_IAT_LEEWAY_SECS, APP_JWT_MAX_LIFETIME_SECS};
    use crate::sandbox::qsh::{APP_CALLS, qsh_of};
    use crate::sandbox::{Page, Sandbox};

    /// Confluence's checks of the app's JWT, each refusing a token that breaks one rule: only
    /// the app's key, this site, the 180 s the app's tokens live, a present `iat` not ahead of
    /// the clock, and the `qsh` of this very request (a canonicaliser's usual slips included).
    #[tokio::test]
    async fn confluence_refuses_app_jwts_that_break_a_rule() {
        let sandbox = Sandbox::start("pageshare-test").expect("sandbox starts");
        let site = sandbox.add_site("acme");
        let other = sandbox.add_site("other");
        let (method, path, query, _, qsh) = APP_CALLS[0];
        assert_eq!(method, "GET");
        let now = Utc::now().timestamp();
        let valid = json!({
            "iss": "pageshare-test", "aud": [site.client_key],
            "iat": now, "exp": now + APP_JWT_MAX_LIFETIME_SECS, "qsh": qsh,
        });
        let with = |changes: Value| {
            let mut claims = valid.clone();
            for (name, value) in changes.as_object().expect("an object") {
                if value.is_null() {
                    claims.as_object_mut().unwrap().remove(name);
                } else {
                    claims[name] = value.clone();
                }
            }
            claims
        };
        // A canonicaliser's usual slips.
        let qsh_of_canonical = |canonical: &str| with(json!({ "qsh": qsh_of(canonical) }));
        let lifetime = APP_JWT_MAX_LIFETIME_SECS;
        let ahead = APP_JWT_IAT_LEEWAY_SECS;
        let cases = [
            ("valid", valid.clone(), 200),
            (
                "iat within the leeway",
                with(json!({"iat": now + ahead - 2, "exp": now + ahead - 2 + lifetime})),
                200,
            ),
            ("no iat", with(json!({"iat": null})), 401),
            ("no exp", with(json!({"exp": null})), 401),
            (
                "iat ahead of the clock",
                with(json!({"iat": now + 60, "exp": now + 60 + lifetime})),
                401,
            ),
            (
                "one second too long",
                with(json!({"exp": now + lifetime + 1})),
                401,
            ),
            ("an hour long", with(json!({"exp": now + 3600})), 401),
            (
                "expired",
                with(json!({"iat": now - 200, "exp": now - 20})),
                401,
            ),
            ("no iss", with(json!({"iss": null})), 401),
            (
                "another app's iss",
                with(json!({"iss": "someone-else"})),
                401,
            ),
            ("no aud", with(json!({"aud": null})), 401),
            (
                "another site's aud",
                with(json!({"aud": [other.client_key]})),
                401,
            ),
            ("no qsh", with(json!({"qsh": null})), 401),
            ("context-qsh", with(json!({"qsh": "context-qsh"})), 401),
            (
                "another call's qsh",
                with(json!({"qsh": APP_CALLS[2].4})),
                401,
            ),
            (
                "parameters left unsorted",
                qsh_of_canonical("GET&/rest/api/user&expand=operations&accountId=557058%3Aeditor"),
                401,
            ),
            (
                "a value left unencoded",
                qsh_of_canonical("GET&/rest/api/user&accountId=557058:editor&expand=operations"),
                401,
            ),
            (
                "the base path kept",
                qsh_of_canonical(
                    "GET&/acme/wiki/rest/api/user&accountId=557058%3Aeditor&expand=operations",
                ),
                401,
            ),
            (
                "the method in lower case",
                qsh_of_canonical("get&/rest/api/user&accountId=557058%3Aeditor&expand=operations"),
                401,
            ),
        ];
        let http = reqwest::Client::new();
        let url = format!("{}{path}?{query}", site.host_url());
        for (name, claims, status) in cases {
            let token = jsonwebtoken::encode(
                &Header::default(),
                &claims,
                &EncodingKey::from_secret(site.secret.as_bytes()),
            )
            .unwrap();
            let verified = sandbox.verified_rest_calls();
            let response = http
                .get(&url)
                .header("Authorization", format!("JWT {token}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{name}");
            let counted = usize::from(status == 200);
            assert_eq!(sandbox.verified_rest_calls(), verified + counted, "{name}");
        }
    }

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
