//! Incoming Connect JWTs on iframe routes: every way a token can be wrong is a 401.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pageshare::connect::canonical::CONTEXT_QSH;
use pageshare::sandbox::KID;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

const PANEL: &str = "/connect/share-panel?contentId=12345&spaceKey=DOC";

fn claims(
    app: &TestApp,
    site: &pageshare::sandbox::Site,
    qsh: &str,
    exp_offset: i64,
) -> serde_json::Value {
    let _ = app;
    let now = chrono::Utc::now().timestamp();
    json!({"iss": site.client_key, "sub": "user-1", "iat": now, "exp": now + exp_offset, "qsh": qsh})
}

fn encode(alg: Algorithm, claims: &serde_json::Value, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn panel_status(app: &TestApp, token: &str) -> (u16, String) {
    let response = app.get(&format!("{PANEL}&jwt={token}")).await;
    let status = response.status().as_u16();
    let www = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, www)
}

#[tokio::test]
async fn valid_iframe_token_opens_the_share_panel() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let response = app
        .http
        .get(app.sandbox.iframe_url(&app.target, &site, PANEL, "user-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("12345"));
}

#[tokio::test]
async fn token_in_authorization_header_works_too() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let token = app
        .sandbox
        .hs256_token(&site, &site.secret, "GET", PANEL, Some("user-1"));
    assert_eq!(app.get_with_jwt(PANEL, &token).await.status(), 200);
}

#[tokio::test]
async fn every_bad_token_is_a_401_with_www_authenticate() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let secret = site.secret.as_bytes();
    let good_qsh =
        pageshare::connect::canonical::qsh_of(&pageshare::connect::canonical::canonical_request(
            pageshare::connect::canonical::RequestParts {
                method: "GET",
                path: "/connect/share-panel",
                query: "contentId=12345&spaceKey=DOC",
            },
            "",
        ));
    let valid = claims(&app, &site, &good_qsh, 120);
    let mut unknown = valid.clone();
    unknown["iss"] = json!("no-such-tenant");
    let mut no_exp = valid.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut no_qsh = valid.clone();
    no_qsh.as_object_mut().unwrap().remove("qsh");
    let mut no_iat = valid.clone();
    no_iat.as_object_mut().unwrap().remove("iat");
    let now = chrono::Utc::now().timestamp();
    let mut issued_ahead = valid.clone();
    issued_ahead["iat"] = json!(now + 90);
    let mut too_long = valid.clone();
    too_long["exp"] = json!(now + 2 * 3600);
    let crit = jsonwebtoken::encode(
        &Header {
            crit: Some(vec!["exp".into()]),
            ..Header::new(Algorithm::HS256)
        },
        &valid,
        &EncodingKey::from_secret(secret),
    )
    .unwrap();
    let rs256 = app.sandbox.sign_rs256(&valid, KID, false);
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(valid.to_string().as_bytes())
            ),
        ),
        ("HS512", encode(Algorithm::HS512, &valid, secret)),
        ("RS256 on an HS route", rs256),
        (
            "context token on an iframe route",
            encode(
                Algorithm::HS256,
                &claims(&app, &site, CONTEXT_QSH, 120),
                secret,
            ),
        ),
        (
            "qsh of another path",
            encode(
                Algorithm::HS256,
                &claims(
                    &app,
                    &site,
                    &pageshare::connect::canonical::qsh_of("GET&/connect/admin&"),
                    120,
                ),
                secret,
            ),
        ),
        (
            "expired",
            encode(
                Algorithm::HS256,
                &claims(&app, &site, &good_qsh, -60),
                secret,
            ),
        ),
        ("unknown tenant", encode(Algorithm::HS256, &unknown, secret)),
        (
            "wrong secret",
            encode(Algorithm::HS256, &valid, b"not-the-shared-secret"),
        ),
        ("no exp", encode(Algorithm::HS256, &no_exp, secret)),
        ("no qsh", encode(Algorithm::HS256, &no_qsh, secret)),
        ("no iat", encode(Algorithm::HS256, &no_iat, secret)),
        (
            "iat ahead of the clock",
            encode(Algorithm::HS256, &issued_ahead, secret),
        ),
        (
            "valid for two hours",
            encode(Algorithm::HS256, &too_long, secret),
        ),
        ("crit header", crit),
        ("garbage", "garbage".into()),
        ("three garbage parts", "a.b.c".into()),
        ("huge", "a".repeat(20_000)),
    ];
    // The valid token passes, so the refusals below are about the token alone.
    assert_eq!(
        panel_status(&app, &encode(Algorithm::HS256, &valid, secret))
            .await
            .0,
        200
    );
    for (name, token) in cases {
        assert_eq!(
            panel_status(&app, &token).await,
            (401, "JWT".into()),
            "{name}"
        );
    }
}

#[tokio::test]
async fn missing_token_is_a_401() {
    let app = spawn_app().await;
    let response = app.get(PANEL).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "JWT");
}

#[tokio::test]
async fn uninstalled_tenant_is_refused() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    app.uninstall(&site).await;
    let url = app.sandbox.iframe_url(&app.target, &site, PANEL, "user-1");
    assert_eq!(app.http.get(url).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn share_panel_needs_a_valid_content_id() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    for panel in [
        "/connect/share-panel?spaceKey=DOC",
        "/connect/share-panel?contentId=..%2F1",
    ] {
        let url = app.sandbox.iframe_url(&app.target, &site, panel, "user-1");
        assert_eq!(
            app.http.get(url).send().await.unwrap().status(),
            400,
            "{panel}"
        );
    }
}

#[tokio::test]
async fn a_bad_query_on_an_iframe_page_gets_the_html_error_page() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    // A repeated contentId: the query does not deserialise.
    let panel = "/connect/share-panel?contentId=1&contentId=2&spaceKey=DOC";
    let url = app.sandbox.iframe_url(&app.target, &site, panel, "user-1");
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(body.contains("parameter"), "{body}");
}

#[tokio::test]
async fn admin_page_asks_confluence_who_is_admin() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert("boss".into());
    });
    let calls_before = app.sandbox.verified_rest_calls();
    let admin = app
        .http
        .get(
            app.sandbox
                .iframe_url(&app.target, &site, "/connect/admin", "boss"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    assert_eq!(
        app.sandbox.verified_rest_calls(),
        calls_before + 1,
        "the app's JWT and qsh verified at the host"
    );

    let other = app
        .http
        .get(
            app.sandbox
                .iframe_url(&app.target, &site, "/connect/admin", "reader"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    assert!(
        other
            .text()
            .await
            .unwrap()
            .contains("Site administrators only")
    );
}

#[tokio::test]
async fn admin_page_fails_closed_when_confluence_is_down() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert("boss".into());
        s.down = true;
    });
    let response = app
        .http
        .get(
            app.sandbox
                .iframe_url(&app.target, &site, "/connect/admin", "boss"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("Confluence"));
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let app = spawn_app().await;
    let response = app.get("/no/such/route").await;
    assert_eq!(response.status(), 404);
    assert_eq!(crate::helpers::error_code(response).await, "not_found");
}

#[tokio::test]
async fn installations_are_kept_in_memory_and_changes_reach_them() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let open = || async {
        app.http
            .get(app.sandbox.iframe_url(&app.target, &site, PANEL, "user-1"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // Read once the change listener vouches for the cache (it does within moments of start).
    assert_eq!(open().await, 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(open().await, 200);
    // A change Postgres does not announce (triggers off in this session) is not seen: the
    // installation comes from memory.
    let mut quiet = app.pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *quiet)
        .await
        .unwrap();
    sqlx::query("UPDATE installation SET enabled = false")
        .execute(&mut *quiet)
        .await
        .unwrap();
    assert_eq!(open().await, 200, "served from memory");
    // An announced change reaches the cache at once.
    sqlx::query("UPDATE installation SET enabled = true")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE installation SET installed = false")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut status = 0;
    for _ in 0..40 {
        status = open().await;
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 401);
}

#[tokio::test]
async fn authenticated_routes_are_never_cached_errors_included() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let token = app.sandbox.context_token(&site, "user-1");
    let cases = [
        ("GET", "/api/shares?contentId=1", None, 401),
        ("GET", "/api/shares/not-a-uuid", Some(&token), 404),
        ("GET", "/api/admin/shares", None, 401),
        ("POST", "/installed", None, 400),
        ("POST", "/enabled", None, 401),
        ("GET", "/connect/admin", None, 401),
        ("GET", PANEL, None, 401),
    ];
    for (method, path, token, status) in cases {
        let mut request = app
            .http
            .request(method.parse().unwrap(), format!("{}{path}", app.address));
        if let Some(token) = token {
            request = request.header("Authorization", format!("JWT {token}"));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            response.headers()["cache-control"],
            "no-cache, no-store",
            "{method} {path}"
        );
        assert_eq!(
            response.headers()["referrer-policy"],
            "no-referrer",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn the_query_token_is_read_only_without_an_authorization_header() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let url = app.sandbox.iframe_url(&app.target, &site, PANEL, "u1");
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 200);
    for header in ["JWT not-a-token", "Bearer not-a-token", "JWT "] {
        let response = app
            .http
            .get(&url)
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header} beside a valid ?jwt=");
    }
}
