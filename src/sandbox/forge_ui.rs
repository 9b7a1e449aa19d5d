//! The sandbox playing Forge's Custom UI host, so the app's Forge pages run in a plain browser
//! tab (`pageshare dev`, the Chromium test): it serves the pages (`pageshare forge-ui`'s
//! resources) under `/dev/{site}/forge/{panel|admin}/`, with a stand-in for the host script
//! Forge injects (`globalThis.__bridge`, which `@forge/bridge` talks to), the page's context
//! (`view.getContext()`), and `invokeRemote` done as Forge does it: server side, with a fresh
//! invocation token and app token, and Forge's rules for which answers reach the page.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::sites::Site;
use super::{Invoker, Sandbox, Shared};

/// What the Forge host injects before the page's scripts: `globalThis.__bridge`.
const HOST_JS: &str = include_str!("forge_host.js");
/// Used when the app's own bundle of `@forge/bridge` was not given
/// ([`Sandbox::use_forge_bridge_bundle`]): the same `window.PageshareForge` over `__bridge`.
const STAND_IN_BRIDGE_JS: &str = include_str!("forge_bridge.js");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/dev/{site}/forge/{page}/", web::get().to(page))
        .route("/dev/{site}/forge/{page}/context", web::get().to(context))
        .route("/dev/{site}/forge/{page}/invoke", web::post().to(invoke))
        .route("/dev/{site}/forge/{page}/{file}", web::get().to(file));
}

impl Sandbox {
    /// Serve this bundle of `@forge/bridge` (`forge/scripts/build.mjs`) to the Forge pages
    /// instead of the sandbox's stand-in, so they run on Atlassian's own bridge code.
    pub fn use_forge_bridge_bundle(&self, bundle: String) {
        self.lock().forge_bridge_bundle = Some(bundle);
    }
}

/// The site and its opener behind `/dev/{site}/forge/...`.
fn opened(state: &Shared, site: &str) -> Option<(Site, super::ap::Opener)> {
    let state = state.lock().expect("sandbox state");
    state
        .sites
        .get(site)
        .cloned()
        .zip(state.openers.get(site).cloned())
}

fn resource(page: &str, file: &str) -> Option<(String, &'static str)> {
    let wanted = format!("{page}/{file}");
    let content_type = match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        _ => "text/javascript; charset=utf-8",
    };
    crate::web::ui::forge_resources()
        .ok()?
        .into_iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, contents)| (contents, content_type))
}

fn serve(contents: String, content_type: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(contents)
}

async fn page(path: web::Path<(String, String)>, state: web::Data<Shared>) -> HttpResponse {
    let (site, page) = path.into_inner();
    if opened(&state, &site).is_none() {
        return HttpResponse::NotFound().body("no such sandbox site, or it has no open links");
    }
    match resource(&page, "index.html") {
        Some((html, content_type)) => serve(html, content_type),
        None => HttpResponse::NotFound().body("page must be panel or admin"),
    }
}

async fn file(path: web::Path<(String, String, String)>, state: web::Data<Shared>) -> HttpResponse {
    let (_, page, file) = path.into_inner();
    if file == crate::web::ui::FORGE_BRIDGE_JS {
        let bundle = state
            .lock()
            .expect("sandbox state")
            .forge_bridge_bundle
            .clone();
        let bridge = bundle.unwrap_or_else(|| STAND_IN_BRIDGE_JS.to_owned());
        return serve(
            format!("{HOST_JS}\n{bridge}"),
            "text/javascript; charset=utf-8",
        );
    }
    match resource(&page, &file) {
        Some((contents, content_type)) => serve(contents, content_type),
        None => HttpResponse::NotFound().finish(),
    }
}

/// `view.getContext()`: the context Forge gives the page (its documented fields).
async fn context(path: web::Path<(String, String)>, state: web::Data<Shared>) -> HttpResponse {
    let (site, page) = path.into_inner();
    let Some((site, opener)) = opened(&state, &site) else {
        return HttpResponse::NotFound().finish();
    };
    let space = site
        .pages
        .get(&opener.content_id)
        .map(|page| page.space_key.clone());
    let (module_key, extension) = if page == "panel" {
        (
            "pageshare-share",
            json!({"type": "confluence:contentBylineItem",
                   "content": {"id": opener.content_id, "type": "page"},
                   "space": {"key": space}}),
        )
    } else {
        (
            "pageshare-admin",
            json!({"type": "confluence:globalSettings"}),
        )
    };
    HttpResponse::Ok().json(json!({
        "accountId": opener.account_id,
        "cloudId": site.cloud_id,
        "siteUrl": site.base_url.trim_end_matches("/wiki"),
        "moduleKey": module_key,
        "localId": format!("{module_key}-1"),
        "environmentType": site.forge_environment,
        "locale": "en-US",
        "timezone": "UTC",
        "extension": extension,
    }))
}

#[derive(Deserialize)]
struct Invoke {
    path: String,
    method: String,
    #[serde(default)]
    body: Option<Value>,
}

/// What `__bridge.callBridge('invoke')` gives `@forge/bridge` for the remote's answer, by
/// Forge's documented rules: any 2xx, and other answers with a JSON body, resolve
/// (`{success, payload | error}` with `{status, headers, body}`); a 401, a body that is not
/// JSON, or no body on a failure reject (`{rejected: message}`, in Forge's words).
fn bridge_answer(status: u16, headers: Vec<(String, String)>, text: &str) -> Value {
    let rejected = |message: String| json!({ "rejected": message });
    if status == 401 {
        return rejected("Remote could not verify the Forge Invocation Token".into());
    }
    let content_type = headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.as_str());
    if let Some(content_type) = content_type
        && !text.is_empty()
        && !content_type.starts_with("application/json")
    {
        return rejected(format!(
            "Invalid response from remote - content-type header must be set to application/json and is currently: {content_type}. Status: {status}."
        ));
    }
    let success = (200..300).contains(&status);
    let body = if text.is_empty() {
        None
    } else {
        serde_json::from_str::<Value>(text).ok()
    };
    if body.is_none() && (!text.is_empty() || !success) {
        return rejected(format!(
            "Invalid response from remote - cannot parse body as JSON. Status: {status}."
        ));
    }
    let mut grouped = serde_json::Map::new();
    for (name, value) in headers {
        if let Value::Array(values) = grouped.entry(name).or_insert_with(|| json!([])) {
            values.push(value.into());
        }
    }
    let mut answer = json!({"status": status, "headers": grouped});
    if let Some(body) = body {
        answer["body"] = body;
    }
    if success {
        json!({"success": true, "payload": answer})
    } else {
        json!({"success": false, "error": answer})
    }
}

/// `invokeRemote`, server side as Forge does it: an invocation token for the page's user and
/// an app token go to the app's remote (no redirect followed); the answer goes back to the
/// page by [`bridge_answer`].
async fn invoke(
    path: web::Path<(String, String)>,
    invoke: web::Json<Invoke>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let (site, _) = path.into_inner();
    let Some((site, opener)) = opened(&state, &site) else {
        return HttpResponse::NotFound().finish();
    };
    let Ok(method) = invoke.method.to_uppercase().parse::<reqwest::Method>() else {
        return HttpResponse::BadRequest().body("not an HTTP method");
    };
    if !invoke.path.starts_with('/') || invoke.path.starts_with("//") {
        return HttpResponse::BadRequest().body("the path must start with a single /");
    }
    let sandbox = Sandbox {
        url: state.lock().expect("sandbox state").host_url.clone(),
        state: state.get_ref().clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
    };
    let claims = sandbox.fit_claims(
        &site,
        Invoker::User {
            account_id: &opener.account_id,
            content_id: Some(&opener.content_id),
        },
    );
    let mut request = sandbox
        .http
        .request(method, format!("{}{}", opener.app_base_url, invoke.path))
        .bearer_auth(sandbox.sign_fit(&claims, false))
        .header("x-forge-oauth-system", sandbox.issue_app_token(&site));
    if let Some(body) = &invoke.body {
        request = request.json(body);
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(_) => {
            return HttpResponse::Ok()
                .json(json!({"rejected": "Invalid response from remote - remote network error"}));
        }
    };
    let status = answer.status().as_u16();
    let headers = answer
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let text = answer.text().await.unwrap_or_default();
    HttpResponse::Ok().json(bridge_answer(status, headers, &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Headers = Vec<(String, String)>;

    fn json_headers() -> Headers {
        vec![("content-type".into(), "application/json".into())]
    }

    #[test]
    fn answers_reach_the_page_by_forges_rules() {
        let rejected = |answer: &Value| answer["rejected"].as_str().map(str::to_owned);
        let cases: [(u16, Headers, &str, Option<bool>); 8] = [
            (200, json_headers(), r#"[{"uuid":"a"}]"#, Some(true)),
            (204, vec![], "", Some(true)),
            (
                422,
                json_headers(),
                r#"{"error":{"code":"invalid"}}"#,
                Some(false),
            ),
            (404, json_headers(), r#"{"error":{}}"#, Some(false)),
            (401, json_headers(), r#"{"error":{}}"#, None),
            (
                200,
                vec![("content-type".into(), "text/html".into())],
                "<p>",
                None,
            ),
            (500, vec![], "", None),
            (
                302,
                vec![("location".into(), "https://elsewhere".into())],
                "",
                None,
            ),
        ];
        for (status, headers, text, success) in cases {
            let answer = bridge_answer(status, headers, text);
            match success {
                Some(success) => {
                    assert_eq!(answer["success"], success, "{status} {text}: {answer}");
                    let inner = if success {
                        &answer["payload"]
                    } else {
                        &answer["error"]
                    };
                    assert_eq!(inner["status"], status);
                }
                None => assert!(rejected(&answer).is_some(), "{status} {text}: {answer}"),
            }
        }
        assert_eq!(
            bridge_answer(401, vec![], "")["rejected"],
            "Remote could not verify the Forge Invocation Token"
        );
        let with_body = bridge_answer(200, json_headers(), r#"{"a":1}"#);
        assert_eq!(with_body["payload"]["body"]["a"], 1);
        assert_eq!(
            with_body["payload"]["headers"]["content-type"],
            json!(["application/json"])
        );
    }
}
