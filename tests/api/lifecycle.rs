//! `/installed`, `/uninstalled`, `/enabled`, `/disabled`.

use pageshare::connect::secrets::SharedSecret;
use pageshare::sandbox::{KID, KeyServer};
use serde_json::json;

use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn descriptor_carries_configured_base_url_and_key() {
    let app = spawn_app().await;
    let response = app.get("/atlassian-connect.json").await;
    assert_eq!(response.status(), 200);
    let descriptor: serde_json::Value = response.json().await.unwrap();
    assert_eq!(descriptor["baseUrl"], app.address.as_str());
    assert_eq!(descriptor["key"], "pageshare-test");
    assert_eq!(descriptor["authentication"]["type"], "jwt");
    assert_eq!(descriptor["apiMigrations"]["signed-install"], true);
    assert_eq!(descriptor["apiMigrations"]["context-qsh"], true);
    assert_eq!(descriptor["scopes"], json!(["READ"]));
    for event in ["installed", "uninstalled", "enabled", "disabled"] {
        assert_eq!(descriptor["lifecycle"][event], format!("/{event}"));
    }
    assert_eq!(
        descriptor["modules"]["contentBylineItems"][0]["url"],
        "/connect/share-panel?contentId={content.id}&spaceKey={space.key}"
    );
    assert_eq!(
        descriptor["modules"]["adminPages"][0]["url"],
        "/connect/admin"
    );
}

#[tokio::test]
async fn signed_install_stores_the_tenant() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    assert_eq!(app.installation_count(&site.client_key).await, 1);
    assert_eq!(
        app.stored_secret(&site.client_key).await.as_deref(),
        Some(site.secret.expose())
    );
    let (base_url, cloud_id): (String, Option<String>) =
        sqlx::query_as("SELECT base_url, cloud_id FROM installation WHERE client_key = $1")
            .bind(&site.client_key)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(base_url, site.base_url);
    assert_eq!(cloud_id.as_deref(), Some(site.cloud_id.as_str()));
    let payload: serde_json::Value =
        sqlx::query_scalar("SELECT payload FROM installation WHERE client_key = $1")
            .bind(&site.client_key)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(payload["eventType"], "installed");
    assert!(
        payload.get("sharedSecret").is_none(),
        "the secret is not kept in the payload copy"
    );
}

/// Atlassian's migration check, HS256 flavour: the new secret arrives signed with the old one.
#[tokio::test]
async fn reinstall_signed_with_old_secret_replaces_it() {
    let app = spawn_app_with(|s| s.allow_legacy_install = true).await;
    let site = app.installed_site("acme").await;
    let secret_a = site.secret.clone();
    app.uninstall(&site).await;

    let secret_b = SharedSecret::new("secret-b-0123456789abcdef0123456789abcdef");
    let response = app
        .sandbox
        .legacy_reinstall(&app.target, &site, &secret_b)
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    assert_eq!(app.installation_count(&site.client_key).await, 1);
    assert_eq!(
        app.stored_secret(&site.client_key).await.as_deref(),
        Some(secret_b.expose())
    );

    let site = app.sandbox.site("acme");
    let with_b = app
        .sandbox
        .hs256_token(&site, &secret_b, "POST", "/enabled", None);
    let with_a = app
        .sandbox
        .hs256_token(&site, &secret_a, "POST", "/enabled", None);
    let refused = app.post_lifecycle(&site, "enabled", Some(&with_a)).await;
    assert_eq!(refused.status(), 401);
    let accepted = app.post_lifecycle(&site, "enabled", Some(&with_b)).await;
    assert_eq!(accepted.status(), 204);
}

/// The same check with signed install: the new secret is in the RS256-signed body.
#[tokio::test]
async fn signed_reinstall_with_new_secret_replaces_it() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let secret_a = site.secret.clone();
    app.uninstall(&site).await;

    let secret_b = SharedSecret::new("secret-b-rs256-0123456789abcdef0123456789");
    app.sandbox
        .update_site("acme", |s| s.secret = secret_b.clone());
    let site = app.sandbox.site("acme");
    app.install(&site).await;
    assert_eq!(app.installation_count(&site.client_key).await, 1);
    assert_eq!(
        app.stored_secret(&site.client_key).await.as_deref(),
        Some(secret_b.expose())
    );

    let admin = "/connect/admin";
    let with_a = app
        .sandbox
        .hs256_token(&site, &secret_a, "GET", admin, Some("u1"));
    assert_eq!(
        app.get(&format!("{admin}?jwt={with_a}")).await.status(),
        401
    );
    let with_b = app
        .sandbox
        .hs256_token(&site, &secret_b, "GET", admin, Some("u1"));
    // Authenticated now; u1 is not a site admin, so Confluence's answer makes it 403.
    assert_eq!(
        app.get(&format!("{admin}?jwt={with_b}")).await.status(),
        403
    );
}

#[tokio::test]
async fn twenty_concurrent_installs_leave_one_row() {
    let app = spawn_app().await;
    let site = app.sandbox.add_site("busy");
    let calls = (0..20).map(|_| app.sandbox.install(&app.target, &site));
    for response in futures_util::future::join_all(calls).await {
        assert_eq!(response.unwrap().status(), 204);
    }
    assert_eq!(app.installation_count(&site.client_key).await, 1);
}

#[tokio::test]
async fn uninstall_keeps_the_row_and_reinstall_brings_it_back() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    app.uninstall(&site).await;
    let installed: bool =
        sqlx::query_scalar("SELECT installed FROM installation WHERE client_key = $1")
            .bind(&site.client_key)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!installed);
    assert_eq!(app.installation_count(&site.client_key).await, 1);
    app.install(&site).await;
    let (installed, enabled): (bool, bool) =
        sqlx::query_as("SELECT installed, enabled FROM installation WHERE client_key = $1")
            .bind(&site.client_key)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(installed && enabled);
}

#[tokio::test]
async fn disabled_then_enabled_flips_the_flag_and_blocks_iframes_meanwhile() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let panel = "/connect/share-panel?contentId=123&spaceKey=DOC";
    app.set_enabled(&site, false).await;
    let url = app.sandbox.iframe_url(&app.target, &site, panel, "u1");
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);
    app.set_enabled(&site, true).await;
    let url = app.sandbox.iframe_url(&app.target, &site, panel, "u1");
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 200);
}

type Tweak = Box<dyn FnOnce(&mut serde_json::Value)>;

/// Post `/installed` for a new site, signed RS256 under `kid` (by a key nobody serves when
/// `stranger`), claims and body changed by the tweaks; a refused install must store nothing.
async fn install_tweaked(
    app: &crate::helpers::TestApp,
    kid: &str,
    stranger: bool,
    tweak_claims: impl FnOnce(&mut serde_json::Value),
    tweak_body: impl FnOnce(&mut serde_json::Value),
) -> reqwest::Response {
    let site = app.sandbox.add_site("tweaked");
    let mut claims = app.sandbox.install_claims(&site, &app.target, "/installed");
    tweak_claims(&mut claims);
    let token = app.sandbox.sign_rs256(&claims, kid, stranger);
    let mut body = app.sandbox.lifecycle_body(&site, &app.target, "installed");
    tweak_body(&mut body);
    let response = app
        .sandbox
        .post_callback(&app.target, "/installed", &body, Some(&token))
        .await
        .unwrap();
    if !response.status().is_success() {
        assert_eq!(
            app.installation_count(&site.client_key).await,
            0,
            "a refused install stores nothing"
        );
    }
    response
}

/// An install whose claims `tweak` changes.
async fn install_with(
    app: &crate::helpers::TestApp,
    tweak: impl FnOnce(&mut serde_json::Value),
    kid: &str,
    stranger: bool,
) -> reqwest::Response {
    install_tweaked(app, kid, stranger, tweak, |_| {}).await
}

#[tokio::test]
async fn signed_install_rejection_paths() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Tweak, &str, bool, u16)> = vec![
        (
            "unknown kid",
            Box::new(|_| {}),
            "sandbox/no-such-key",
            false,
            401,
        ),
        (
            "signed by a key the server does not serve",
            Box::new(|_| {}),
            KID,
            true,
            401,
        ),
        (
            "wrong aud",
            Box::new(|c| c["aud"] = json!(["https://evil.example.com"])),
            KID,
            false,
            401,
        ),
        (
            "missing aud",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            KID,
            false,
            401,
        ),
        (
            "iss is not the body's clientKey",
            Box::new(|c| c["iss"] = json!("someone-else")),
            KID,
            false,
            401,
        ),
        (
            "qsh of another path",
            Box::new(|c| {
                c["qsh"] = json!(pageshare::connect::canonical::qsh_of("POST&/uninstalled&"))
            }),
            KID,
            false,
            401,
        ),
        (
            "expired",
            Box::new(|c| c["exp"] = json!(chrono::Utc::now().timestamp() - 120)),
            KID,
            false,
            401,
        ),
    ];
    for (name, tweak, kid, stranger, status) in cases {
        let response = install_with(&app, tweak, kid, stranger).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        let headers = response.headers().clone();
        assert_eq!(error_code(response).await, "unauthorized", "{name}");
        assert_eq!(headers["www-authenticate"], "JWT", "{name}");
    }
}

#[tokio::test]
async fn a_kid_that_would_walk_the_key_server_is_refused_without_asking_it() {
    let app = spawn_app().await;
    // Each of these resolves to the served key's URL if it were put in a path as it is.
    for kid in [
        "sandbox/../sandbox/install-key-1",
        "sandbox/./install-key-1",
        "./sandbox/install-key-1",
        "sandbox//install-key-1",
    ] {
        let fetches = app.sandbox.key_fetches();
        let response = install_with(&app, |_| {}, kid, false).await;
        assert_eq!(response.status(), 401, "{kid}");
        assert_eq!(
            app.sandbox.key_fetches(),
            fetches,
            "{kid} reached the key server"
        );
    }
    let fetches = app.sandbox.key_fetches();
    assert_eq!(install_with(&app, |_| {}, KID, false).await.status(), 204);
    assert_eq!(
        app.sandbox.key_fetches(),
        fetches + 1,
        "the served kid is fetched"
    );
}

#[tokio::test]
async fn an_install_token_with_a_crit_header_is_refused() {
    let app = spawn_app().await;
    let site = app.sandbox.add_site("critical");
    let claims = app.sandbox.install_claims(&site, &app.target, "/installed");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KID.into());
    header.crit = Some(vec!["exp".into()]);
    let token = app.sandbox.sign_rs256_with(&header, &claims, false);
    let response = app.post_lifecycle(&site, "installed", Some(&token)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.installation_count(&site.client_key).await, 0);
}

#[tokio::test]
async fn aud_with_trailing_slash_is_accepted() {
    let app = spawn_app().await;
    let site = app.sandbox.add_site("slash");
    let mut claims = app.sandbox.install_claims(&site, &app.target, "/installed");
    claims["aud"] = json!(format!("{}/", app.address));
    let token = app.sandbox.sign_rs256(&claims, KID, false);
    let response = app.post_lifecycle(&site, "installed", Some(&token)).await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.installation_count(&site.client_key).await, 1);
}

#[tokio::test]
async fn key_server_down_is_a_503_and_stores_nothing() {
    let app = spawn_app_with(|s| s.install_keys_url = "http://127.0.0.1:9/keys".into()).await;
    let response = install_with(&app, |_| {}, KID, false).await;
    assert_eq!(response.status(), 503);
    assert_eq!(error_code(response).await, "install_keys_unavailable");
}

#[tokio::test]
async fn an_unknown_kid_is_fetched_once_and_then_remembered() {
    let app = spawn_app().await;
    for _ in 0..3 {
        let response = install_with(&app, |_| {}, "sandbox/no-such-key", false).await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(app.sandbox.key_fetches(), 1);
}

#[tokio::test]
async fn an_unwell_key_server_is_a_503_and_is_asked_again_later() {
    let app = spawn_app().await;
    let cases = [
        ("5xx", KeyServer::Status(500)),
        ("429", KeyServer::Status(429)),
        ("slower than the timeout", KeyServer::Slow(5)),
    ];
    for (name, behaviour) in cases {
        app.sandbox.set_key_server(behaviour);
        let response = install_with(&app, |_| {}, KID, false).await;
        assert_eq!(response.status(), 503, "{name}");
        assert_eq!(
            error_code(response).await,
            "install_keys_unavailable",
            "{name}"
        );
    }
    app.sandbox.set_key_server(KeyServer::Normal);
    let site = app.sandbox.add_site("recovered");
    app.install(&site).await;
}

#[tokio::test]
async fn a_redirected_or_oversized_key_is_refused_and_remembered() {
    let cases = [
        ("a redirect to the key", KeyServer::Redirect),
        ("the key padded past 16 KB", KeyServer::Padded(16 * 1024)),
    ];
    for (name, behaviour) in cases {
        let app = spawn_app().await;
        let site = app.sandbox.add_site("acme");
        app.sandbox.set_key_server(behaviour);
        let refused = app.sandbox.install(&app.target, &site).await.unwrap();
        assert_eq!(refused.status(), 401, "{name}");
        assert_eq!(app.sandbox.key_fetches(), 1, "{name}: no redirect followed");
        // Remembered for 60 s: a healthy key server is not asked again meanwhile.
        app.sandbox.set_key_server(KeyServer::Normal);
        let again = app.sandbox.install(&app.target, &site).await.unwrap();
        assert_eq!(again.status(), 401, "{name}");
        assert_eq!(app.sandbox.key_fetches(), 1, "{name}: remembered");
        assert_eq!(app.installation_count(&site.client_key).await, 0, "{name}");
    }
}

#[tokio::test]
async fn an_endless_key_is_cut_at_the_cap() {
    let app = spawn_app().await;
    app.sandbox.set_key_server(KeyServer::Endless);
    let started = std::time::Instant::now();
    let response = install_with(&app, |_| {}, KID, false).await;
    assert_eq!(response.status(), 401);
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn hs256_install_without_legacy_flag_is_refused() {
    let app = spawn_app().await;
    let site = app.sandbox.add_site("legacy");
    let token = app
        .sandbox
        .hs256_token(&site, &site.secret, "POST", "/installed", None);
    let response = app.post_lifecycle(&site, "installed", Some(&token)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.installation_count(&site.client_key).await, 0);
}

#[tokio::test]
async fn unsigned_install_only_first_time_and_only_with_legacy_flag() {
    let strict = spawn_app().await;
    let site = strict.sandbox.add_site("dev");
    let response = strict.post_lifecycle(&site, "installed", None).await;
    assert_eq!(response.status(), 401);

    let legacy = spawn_app_with(|s| s.allow_legacy_install = true).await;
    let site = legacy.sandbox.add_site("dev");
    let first = legacy.post_lifecycle(&site, "installed", None).await;
    assert_eq!(first.status(), 204);
    let mut hijack = legacy
        .sandbox
        .lifecycle_body(&site, &legacy.target, "installed");
    hijack["sharedSecret"] = json!("attacker-chosen-secret");
    let second = legacy
        .sandbox
        .post_callback(&legacy.target, "/installed", &hijack, None)
        .await
        .unwrap();
    assert_eq!(second.status(), 401);
    assert_eq!(
        legacy.stored_secret(&site.client_key).await.as_deref(),
        Some(site.secret.expose())
    );
}

#[tokio::test]
async fn host_not_on_the_allowlist_is_refused() {
    let app = spawn_app_with(|s| {
        s.host_allowlist = pageshare::connect::allowlist::HostAllowlist::parse("*.atlassian.net")
    })
    .await;
    let site = app.sandbox.add_site("outsider");
    let response = app.sandbox.install(&app.target, &site).await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "host_not_allowed");
    assert_eq!(app.installation_count(&site.client_key).await, 0);
}

/// A signed install whose body `tweak` changes (the signature covers the request line).
async fn install_body(
    app: &crate::helpers::TestApp,
    tweak: impl FnOnce(&mut serde_json::Value),
) -> reqwest::Response {
    install_tweaked(app, KID, false, |_| {}, tweak).await
}

#[tokio::test]
async fn bad_install_bodies_are_refused_and_store_nothing() {
    let app = spawn_app_with(|s| {
        s.host_allowlist =
            pageshare::connect::allowlist::HostAllowlist::parse("*.atlassian.net, 127.0.0.1")
    })
    .await;
    let cases: Vec<(&str, Tweak, u16, &str)> = vec![
        (
            "a NUL in the description",
            Box::new(|b| b["description"] = json!("Atlassian\u{0}Confluence")),
            400,
            "malformed_body",
        ),
        (
            "a NUL in a field Pageshare does not know",
            Box::new(|b| b["extra"] = json!({"nested": ["\u{0}"]})),
            400,
            "malformed_body",
        ),
        (
            "another app's key",
            Box::new(|b| b["key"] = json!("someone-elses-app")),
            400,
            "wrong_app_key",
        ),
        (
            "an http baseUrl matched only by a wildcard",
            Box::new(|b| b["baseUrl"] = json!("http://acme.atlassian.net/wiki")),
            403,
            "host_not_allowed",
        ),
    ];
    for (name, tweak, status, code) in cases {
        let response = install_body(&app, tweak).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_eq!(error_code(response).await, code, "{name}");
    }
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_4xx() {
    let app = spawn_app().await;
    let site = app.sandbox.add_site("acme");
    let token = app.sandbox.sign_rs256(
        &app.sandbox.install_claims(&site, &app.target, "/installed"),
        KID,
        false,
    );
    let url = format!("{}/installed", app.address);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "not JSON",
            b"this is not json".to_vec(),
            400,
            "malformed_body",
        ),
        (
            "JSON without the fields",
            br#"{"hello":"world"}"#.to_vec(),
            400,
            "malformed_body",
        ),
        ("empty", Vec::new(), 400, "malformed_body"),
        ("oversized", vec![b' '; 70 * 1024], 413, "body_too_large"),
    ];
    for (name, body, status, code) in cases {
        let response = app
            .http
            .post(&url)
            .header("Authorization", format!("JWT {token}"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_eq!(error_code(response).await, code, "{name}");
    }
}

#[tokio::test]
async fn uninstall_must_be_signed_too() {
    let app = spawn_app().await;
    let site = app.installed_site("acme").await;
    let unsigned = app.post_lifecycle(&site, "uninstalled", None).await;
    assert_eq!(unsigned.status(), 401);
    // A token made for /installed does not uninstall (qsh names the path).
    let token = app.sandbox.sign_rs256(
        &app.sandbox.install_claims(&site, &app.target, "/installed"),
        KID,
        false,
    );
    let replayed = app.post_lifecycle(&site, "uninstalled", Some(&token)).await;
    assert_eq!(replayed.status(), 401);
    let installed: bool =
        sqlx::query_scalar("SELECT installed FROM installation WHERE client_key = $1")
            .bind(&site.client_key)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(installed);
}

#[tokio::test]
async fn an_oversized_install_token_is_refused_before_it_is_read() {
    let app = spawn_app().await;
    let site = app.sandbox.add_site("acme");
    let huge = format!("{}.e30.c2ln", "a".repeat(9 * 1024));
    let refused = app.post_lifecycle(&site, "installed", Some(&huge)).await;
    assert_eq!(refused.status(), 401);
    let text = refused.text().await.unwrap();
    assert!(text.contains("longer than 8192 bytes"), "{text}");
    assert_eq!(app.installation_count(&site.client_key).await, 0);
}

#[tokio::test]
async fn a_flood_of_new_kids_waits_briefly_for_a_key_fetch_then_is_told_to_retry() {
    let app = spawn_app().await;
    app.sandbox.set_key_server(KeyServer::Slow(5));
    let started = std::time::Instant::now();
    // Four fetches at a time, each cut at 3 s: twelve would take three rounds in a queue.
    let installs = (0..12).map(|i| {
        let app = &app;
        async move { install_with(app, |_| {}, &format!("sandbox/flood-{i}"), false).await }
    });
    let answers = futures_util::future::join_all(installs).await;
    for answer in answers {
        assert_eq!(answer.status(), 503);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn uninstalling_a_site_never_installed_is_a_404_and_stores_nothing() {
    let app = spawn_app().await;
    let site = app.sandbox.add_site("stranger");
    let claims = app
        .sandbox
        .install_claims(&site, &app.target, "/uninstalled");
    let token = app.sandbox.sign_rs256(&claims, KID, false);
    let response = app.post_lifecycle(&site, "uninstalled", Some(&token)).await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
    assert_eq!(app.installation_count(&site.client_key).await, 0);
}
