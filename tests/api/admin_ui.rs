//! The admin UI's server side: the site admin API (the site's default embedding sites included),
//! revoking as a site admin, the embedded static files, the iframe pages' headers, and the
//! sandbox's stand-ins for what Confluence provides.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    EDITOR, OUTSIDER, PAGE_ID, TestApp, assert_bad_json_bodies_refused, error_code, spawn_app,
};

pub const ADMIN: &str = "557058:site-admin";
const PANEL: &str = "/connect/share-panel?contentId=1234567&spaceKey=ENG";

/// A site with the sample page (readable by [`EDITOR`]) and [`ADMIN`], who cannot read it.
pub async fn site_with_admin(app: &TestApp, name: &str) -> pageshare::sandbox::Site {
    app.site_with_page(name).await;
    app.sandbox.update_site(name, |s| {
        s.admins.insert(ADMIN.into());
    });
    app.sandbox.site(name)
}

async fn iframe_get(
    app: &TestApp,
    site: &pageshare::sandbox::Site,
    path: &str,
    user: &str,
) -> reqwest::Response {
    let url = app.sandbox.iframe_url(&app.target, site, path, user);
    app.http.get(url).send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn site_admins_list_every_share_of_their_site_without_secrets() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let protected = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "password": "correct horse"}),
        )
        .await;
    let open = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let revoked = app
        .api(
            &site,
            EDITOR,
            Method::DELETE,
            &format!("/api/shares/{}", open["uuid"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 204);
    let other = app.site_with_page("beta").await;
    app.create_share(&other, json!({"contentId": PAGE_ID}))
        .await;

    let response = app
        .api(&site, ADMIN, Method::GET, "/api/admin/shares", None)
        .await;

    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["nextCursor"], Value::Null, "one page: {page}");
    let list = page["items"].as_array().unwrap();
    assert_eq!(list.len(), 2, "only this site's shares: {list:?}");
    assert_eq!(list[0]["uuid"], open["uuid"], "newest first");
    assert_eq!(list[0]["status"], "revoked");
    assert_eq!(list[1]["uuid"], protected["uuid"]);
    assert_eq!(list[1]["status"], "active");
    assert_eq!(list[1]["passwordProtected"], true);
    assert_eq!(list[1]["title"], "Onboarding");
    assert_eq!(list[1]["spaceKey"], "ENG");
    assert_eq!(list[1]["createdBy"], EDITOR);
    assert_eq!(list[1]["url"], protected["url"]);
    assert!(list[1]["createdAt"].is_string() && list[1]["expiresAt"].is_null());
    let text = Value::Array(list.clone()).to_string();
    assert!(!text.contains("unlockSecret"));
    assert!(!text.contains(protected["unlockSecret"].as_str().unwrap()));
}

#[tokio::test]
async fn the_admin_share_list_is_refused_to_everyone_else() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    app.create_share(&site, json!({"contentId": PAGE_ID})).await;

    let editor = app
        .api(&site, EDITOR, Method::GET, "/api/admin/shares", None)
        .await;
    assert_eq!(editor.status(), 403);
    assert_eq!(error_code(editor).await, "not_site_admin");

    let no_token = app.get("/api/admin/shares").await;
    assert_eq!(no_token.status(), 401);
    let iframe_token =
        app.sandbox
            .hs256_token(&site, &site.secret, "GET", "/api/admin/shares", Some(ADMIN));
    assert_eq!(
        app.get_with_jwt("/api/admin/shares", &iframe_token)
            .await
            .status(),
        401,
        "a computed-qsh token does not open the API"
    );
}

#[tokio::test]
async fn the_admin_share_list_fails_closed_when_confluence_is_down() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    app.sandbox.update_site("acme", |s| s.down = true);

    let response = app
        .api(&site, ADMIN, Method::GET, "/api/admin/shares", None)
        .await;

    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "confluence_unavailable");
}

#[tokio::test]
async fn a_site_admin_revokes_a_share_of_a_page_they_cannot_read() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let path = format!("/api/shares/{}", share["uuid"].as_str().unwrap());

    let outsider = app.api(&site, OUTSIDER, Method::DELETE, &path, None).await;
    assert_eq!(outsider.status(), 403);
    assert_eq!(error_code(outsider).await, "not_share_manager");
    let read = app.api(&site, ADMIN, Method::GET, &path, None).await;
    assert_eq!(
        read.status(),
        403,
        "admins still cannot read the share itself"
    );

    app.sandbox.update_site("acme", |s| s.down = true);
    let down = app.api(&site, ADMIN, Method::DELETE, &path, None).await;
    assert_eq!(down.status(), 502, "fails closed");
    app.sandbox.update_site("acme", |s| s.down = false);

    let revoked = app.api(&site, ADMIN, Method::DELETE, &path, None).await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        app.read_share(share["url"].as_str().unwrap(), None)
            .await
            .status(),
        404
    );
}

/// `/static/...` URLs of the page's `<link>` and `<script>` elements.
fn static_urls(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|part| part.contains("/static/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn static_files_are_embedded_cached_for_long_and_unknown_names_are_404() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let html = iframe_get(&app, &site, PANEL, EDITOR)
        .await
        .text()
        .await
        .unwrap();
    let urls = static_urls(&html);
    assert_eq!(urls.len(), 3, "stylesheet, common.js, panel.js: {urls:?}");

    for url in &urls {
        let response = app.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            header(&response, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let expected = if url.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            header(&response, "content-type").starts_with(expected),
            "{url}"
        );
    }
    let stylesheet = urls.iter().find(|url| url.ends_with(".css")).unwrap();
    assert!(stylesheet.starts_with(&format!("{}/static/pageshare.", app.address)));

    for unknown in [
        "/static/nothing.css",
        "/static/pageshare.0000000000.css",
        "/static/pageshare.css",
        "/static/..%2FCargo.toml",
    ] {
        let response = app.get(unknown).await;
        assert_eq!(response.status(), 404, "{unknown}");
        assert_eq!(error_code(response).await, "not_found");
    }
}

#[tokio::test]
async fn iframe_pages_allow_only_what_they_load_and_only_the_tenant_frames_them() {
    let app = spawn_app().await;
    let site = app.sandbox.add_site("acme");
    app.sandbox.update_site("acme", |s| {
        s.display_url = "https://wiki.acme.example/wiki".into();
        s.admins.insert(ADMIN.into());
    });
    let site = app.sandbox.site(&site.name);
    app.install(&site).await;
    let sandbox_origin = app.sandbox.url.clone();
    let site_origin = site.host_url();
    assert_ne!(
        site_origin, sandbox_origin,
        "the site has an origin of its own"
    );

    for (path, user) in [(PANEL, EDITOR), ("/connect/admin", ADMIN)] {
        let response = iframe_get(&app, &site, path, user).await;
        assert_eq!(response.status(), 200, "{path}");
        let csp = header(&response, "content-security-policy");
        assert_eq!(
            csp,
            format!(
                "default-src 'none'; script-src 'self' {sandbox_origin}; connect-src 'self' {sandbox_origin}; \
                 style-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; \
                 frame-ancestors {site_origin} https://wiki.acme.example"
            ),
            "{path}"
        );
        assert_eq!(
            header(&response, "cache-control"),
            "no-cache, no-store",
            "{path}"
        );
        assert_eq!(header(&response, "x-frame-options"), "", "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("src=\"{sandbox_origin}/ap/all.js\"")),
            "{path}"
        );
        assert!(
            !html.contains("<style") && !html.contains(" style="),
            "{path}: no inline style"
        );
        assert!(
            html.match_indices("<script")
                .all(|(at, _)| html[at..].starts_with("<script src=")),
            "{path}: no inline script"
        );
    }
}

#[tokio::test]
async fn the_share_panel_html_holds_no_secret() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "password": "correct horse"}),
        )
        .await;

    let response = iframe_get(&app, &site, PANEL, EDITOR).await;

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("data-content-id=\"{PAGE_ID}\"")));
    assert!(html.contains(&format!("data-api=\"{}\"", app.address)));
    assert!(!html.contains(share["unlockSecret"].as_str().unwrap()));
    assert!(!html.contains(site.secret.expose()));
    assert!(
        !html.contains("jwt"),
        "the iframe token is not echoed into the page"
    );
}

async fn stand_in_context_token(app: &TestApp, iframe_token: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/ap/context-token", app.sandbox.url))
        .header("Origin", &app.address)
        .json(&json!({ "jwt": iframe_token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_stand_in_all_js_trades_an_iframe_token_for_a_context_token() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let all_js = app.http.get(app.sandbox.all_js_url()).send().await.unwrap();
    assert_eq!(all_js.status(), 200);
    assert!(all_js.text().await.unwrap().contains("getToken"));

    let iframe_token = app
        .sandbox
        .hs256_token(&site, &site.secret, "GET", PANEL, Some(EDITOR));
    let answer = stand_in_context_token(&app, &iframe_token).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(header(&answer, "access-control-allow-origin"), "*");
    let token: Value = answer.json().await.unwrap();
    let token = token["token"].as_str().unwrap();
    let list = app
        .get_with_jwt(&format!("/api/shares?contentId={PAGE_ID}"), token)
        .await;
    assert_eq!(
        list.status(),
        200,
        "the context token opens the API as the same user"
    );
    assert_eq!(
        app.get_with_jwt(PANEL, token).await.status(),
        401,
        "and only the API"
    );

    let preflight = app
        .http
        .request(
            Method::OPTIONS,
            format!("{}/ap/context-token", app.sandbox.url),
        )
        .header("Origin", &app.address)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        header(&preflight, "access-control-allow-headers"),
        "Content-Type"
    );

    let forged = app.sandbox.hs256_token(
        &site,
        &pageshare::connect::secrets::SharedSecret::new("not-the-site-secret"),
        "GET",
        PANEL,
        Some(EDITOR),
    );
    for bad in [forged.as_str(), "not a token", ""] {
        assert_eq!(
            stand_in_context_token(&app, bad).await.status(),
            401,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn dev_open_links_redirect_to_a_fresh_iframe_url() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert(EDITOR.into());
    });
    let links = app.sandbox.open_links(&app.target, &site, EDITOR, PAGE_ID);

    for (link, path) in [
        (
            &links.share_panel,
            format!("/connect/share-panel?contentId={PAGE_ID}&spaceKey=ENG&jwt="),
        ),
        (&links.admin, "/connect/admin?jwt=".to_owned()),
    ] {
        let redirect = app.http.get(link).send().await.unwrap();
        assert_eq!(redirect.status(), 303, "{link}");
        let location = header(&redirect, "location");
        assert!(
            location.starts_with(&format!("{}{path}", app.address)),
            "{location}"
        );
        assert_eq!(
            app.http.get(&location).send().await.unwrap().status(),
            200,
            "{location}"
        );
    }
    let unknown = app
        .http
        .get(format!("{}/dev/acme/open?page=settings", app.sandbox.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

const SETTINGS: &str = "/api/admin/settings";

/// The `frame-ancestors` of a share page's CSP, as the reader at `url` gets it.
async fn frame_ancestors(app: &TestApp, url: &str) -> String {
    let response = app.read_share(url, None).await;
    assert_eq!(response.status(), 200, "{url}");
    let csp = header(&response, "content-security-policy");
    csp.split(';')
        .map(str::trim)
        .find_map(|directive| directive.strip_prefix("frame-ancestors "))
        .unwrap_or_else(|| panic!("no frame-ancestors in {csp}"))
        .to_owned()
}

async fn stored_default(app: &TestApp, site: &pageshare::sandbox::Site) -> Vec<String> {
    sqlx::query_scalar("SELECT default_frame_ancestors FROM installation WHERE client_key = $1")
        .bind(&site.client_key)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn put_default(
    app: &TestApp,
    site: &pageshare::sandbox::Site,
    user: &str,
    body: Value,
) -> reqwest::Response {
    app.api(site, user, Method::PUT, SETTINGS, Some(body)).await
}

#[tokio::test]
async fn the_site_default_embeds_shares_without_origins_of_their_own() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let plain = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let own = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "frameAncestors": ["https://own.example.net"]}),
        )
        .await;
    let other_site = app.site_with_page("beta").await;
    let elsewhere = app
        .create_share(&other_site, json!({"contentId": PAGE_ID}))
        .await;
    let url = |share: &Value| share["url"].as_str().unwrap().to_owned();
    // Read once first: this instance now holds the shares in memory.
    assert_eq!(frame_ancestors(&app, &url(&plain)).await, "*");
    assert_eq!(
        frame_ancestors(&app, &url(&own)).await,
        "https://own.example.net"
    );

    let initial = app.api(&site, ADMIN, Method::GET, SETTINGS, None).await;
    assert_eq!(initial.status(), 200);
    assert_eq!(
        initial.json::<Value>().await.unwrap(),
        json!({"defaultFrameAncestors": []})
    );

    let saved = put_default(
        &app,
        &site,
        ADMIN,
        json!({"defaultFrameAncestors": ["https://Docs.Example.com", "https://*.example.org", "https://docs.example.com"]}),
    )
    .await;
    assert_eq!(saved.status(), 200);
    let expected =
        json!({"defaultFrameAncestors": ["https://docs.example.com", "https://*.example.org"]});
    assert_eq!(
        saved.json::<Value>().await.unwrap(),
        expected,
        "normalised, duplicates removed"
    );
    let read = app.api(&site, ADMIN, Method::GET, SETTINGS, None).await;
    assert_eq!(read.json::<Value>().await.unwrap(), expected);

    assert_eq!(
        frame_ancestors(&app, &url(&plain)).await,
        "https://docs.example.com https://*.example.org"
    );
    assert_eq!(
        frame_ancestors(&app, &url(&own)).await,
        "https://own.example.net",
        "a share's own origins win"
    );
    assert_eq!(
        frame_ancestors(&app, &url(&elsewhere)).await,
        "*",
        "another site's shares keep their own default"
    );

    let cleared = put_default(&app, &site, ADMIN, json!({"defaultFrameAncestors": []})).await;
    assert_eq!(cleared.status(), 200);
    assert_eq!(frame_ancestors(&app, &url(&plain)).await, "*");
}

#[tokio::test]
async fn the_site_default_is_for_site_admins_only_and_fails_closed() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let body = json!({"defaultFrameAncestors": ["https://docs.example.com"]});

    let read = app.api(&site, EDITOR, Method::GET, SETTINGS, None).await;
    assert_eq!(read.status(), 403);
    assert_eq!(error_code(read).await, "not_site_admin");
    let write = put_default(&app, &site, EDITOR, body.clone()).await;
    assert_eq!(write.status(), 403);
    assert_eq!(error_code(write).await, "not_site_admin");
    assert_eq!(app.get(SETTINGS).await.status(), 401, "no token");
    let no_token = app
        .http
        .put(format!("{}{SETTINGS}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);

    app.sandbox.update_site("acme", |s| s.down = true);
    let down = app.api(&site, ADMIN, Method::GET, SETTINGS, None).await;
    assert_eq!(down.status(), 502);
    assert_eq!(error_code(down).await, "confluence_unavailable");
    let down = put_default(&app, &site, ADMIN, body.clone()).await;
    assert_eq!(down.status(), 502);
    assert_eq!(error_code(down).await, "confluence_unavailable");

    assert!(
        stored_default(&app, &site).await.is_empty(),
        "nothing stored"
    );
}

#[tokio::test]
async fn a_bad_site_default_gets_a_clear_error_and_changes_nothing() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let before = vec!["https://docs.example.com".to_owned()];
    let set = put_default(&app, &site, ADMIN, json!({"defaultFrameAncestors": before})).await;
    assert_eq!(set.status(), 200);

    let many: Vec<String> = (0..21)
        .map(|i| format!("https://s{i}.example.com"))
        .collect();
    let cases: Vec<(&str, Value)> = vec![
        (
            "http origin",
            json!({"defaultFrameAncestors": ["http://a.example.com"]}),
        ),
        (
            "one bad among good",
            json!({"defaultFrameAncestors": ["https://a.example.com", "https://a.example.com/x"]}),
        ),
        (
            "CSP injection",
            json!({"defaultFrameAncestors": ["https://a.example.com; script-src *"]}),
        ),
        ("wildcard", json!({"defaultFrameAncestors": ["*"]})),
        ("too many", json!({"defaultFrameAncestors": many})),
        ("missing", json!({})),
        ("null", json!({"defaultFrameAncestors": null})),
        (
            "wrong type",
            json!({"defaultFrameAncestors": "https://a.example.com"}),
        ),
        (
            "unknown field",
            json!({"defaultFrameAncestors": [], "frameAncestors": []}),
        ),
    ];
    for (name, body) in cases {
        let response = put_default(&app, &site, ADMIN, body).await;
        assert_eq!(response.status(), 422, "{name}");
        assert_eq!(error_code(response).await, "invalid_field", "{name}");
    }
    let bad_origin = put_default(
        &app,
        &site,
        ADMIN,
        json!({"defaultFrameAncestors": ["http://a.example.com"]}),
    )
    .await;
    let message: Value = bad_origin.json().await.unwrap();
    // The field is named in `field`, so the UI never parses the message.
    assert_eq!(
        message["error"]["field"], "defaultFrameAncestors",
        "{message}"
    );
    assert!(
        message["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not an origin"),
        "{message}"
    );

    let token = app.sandbox.context_token(&site, ADMIN);
    let url = format!("{}{SETTINGS}", app.address);
    assert_bad_json_bodies_refused(
        || {
            app.http
                .put(&url)
                .header("Authorization", format!("JWT {token}"))
        },
        "{\"defaultFrameAncestors\":",
    )
    .await;

    assert_eq!(stored_default(&app, &site).await, before, "nothing changed");
}

#[tokio::test]
async fn a_new_site_default_reaches_the_other_instances_soon() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = format!("{other}/content/{}", share["uuid"].as_str().unwrap());
    // Read twice on the other instance: it now holds the share in memory.
    app.let_announcements_arrive().await;
    for _ in 0..2 {
        assert_eq!(frame_ancestors(&app, &url).await, "*");
    }
    // The other instance holds the tenant's default: a change behind its back goes unseen.
    app.change_unannounced(&format!(
        "UPDATE installation SET default_frame_ancestors = '{{https://quiet.example.com}}' \
         WHERE client_key = '{}'",
        site.client_key
    ))
    .await;
    assert_eq!(
        frame_ancestors(&app, &url).await,
        "*",
        "served from its cache"
    );

    let saved = put_default(
        &app,
        &site,
        ADMIN,
        json!({"defaultFrameAncestors": ["https://docs.example.com"]}),
    )
    .await;
    assert_eq!(saved.status(), 200);

    let mut seen = String::new();
    for _ in 0..40 {
        seen = frame_ancestors(&app, &url).await;
        if seen != "*" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen, "https://docs.example.com");
}
