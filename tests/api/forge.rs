//! Pageshare as a Forge Remote: invocation tokens, lifecycle events, the Web API under
//! `/forge/api`, app tokens for share pages, and one tenant across Connect and Forge.

use pageshare::sandbox::{Invoker, Site, new_installation_id};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    EDITOR, PAGE_ID, TestApp, add_sample_page, error_code, spawn_app, spawn_app_with,
};

async fn tenant_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM installation")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn forge_share(app: &TestApp, site: &Site, body: Value) -> Value {
    let created = app
        .forge_api(site, EDITOR, Method::POST, "/api/shares", Some(body))
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let share: Value = created.json().await.unwrap();
    assert_eq!(
        location,
        format!("/forge/api/shares/{}", share["uuid"].as_str().unwrap()),
        "the new share's address on the caller's platform"
    );
    share
}

#[tokio::test]
async fn an_install_event_creates_the_tenant_and_a_retry_changes_nothing() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let key: String = sqlx::query_scalar("SELECT client_key FROM installation")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        key, site.cloud_id,
        "a site first seen through Forge is keyed by its cloud id"
    );
    app.forge_install(&site).await;
    assert_eq!(tenant_rows(&app).await, 1);
    let (installed, installation): (bool, Option<String>) =
        sqlx::query_as("SELECT installed, forge_installation_id FROM installation")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(installed);
    assert_eq!(
        installation.as_deref(),
        Some(site.forge_installation_id.as_str())
    );
}

#[tokio::test]
async fn the_web_api_under_forge_creates_reads_changes_rotates_and_revokes() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let share = forge_share(
        &app,
        &site,
        json!({"contentId": PAGE_ID, "password": "correct horse"}),
    )
    .await;
    let uuid = share["uuid"].as_str().unwrap();
    assert_eq!(
        share["title"], "Onboarding",
        "the page came from Confluence through the gateway"
    );
    assert_eq!(
        share["createdBy"], EDITOR,
        "the user is the invocation's principal"
    );
    let list: Value = app
        .forge_list_shares(&site, EDITOR)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["uuid"], uuid);
    let path = format!("/api/shares/{uuid}");
    let read = app.forge_get_json(&site, EDITOR, &path).await;
    assert_eq!(read["unlockSecret"], share["unlockSecret"]);
    let patched = app
        .forge_api(
            &site,
            EDITOR,
            Method::PATCH,
            &path,
            Some(json!({"password": null})),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let rotated = app
        .forge_api(
            &site,
            EDITOR,
            Method::POST,
            &format!("{path}/unlock-secret"),
            None,
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let revoked = app
        .forge_api(&site, EDITOR, Method::DELETE, &path, None)
        .await;
    assert_eq!(revoked.status(), 204);
    let after = app.forge_get_json(&site, EDITOR, &path).await;
    assert_eq!(after["status"], "revoked");
}

#[tokio::test]
async fn a_forge_share_page_is_fetched_with_the_stored_app_token() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let share = forge_share(&app, &site, json!({"contentId": PAGE_ID})).await;
    let calls_before = app.sandbox.verified_rest_calls();
    let page = app.read_share(share["url"].as_str().unwrap(), None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>Onboarding</title>")
    );
    assert!(
        app.sandbox.verified_rest_calls() > calls_before,
        "the gateway verified the token"
    );
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT forge_app_token FROM installation")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let stored = stored.expect("an app token is kept");
    assert!(
        !stored.windows(10).any(|w| w.starts_with(b"eyJ")),
        "sealed, not a readable JWT"
    );
}

#[tokio::test]
async fn a_refused_or_missing_app_token_is_a_clear_page_never_a_500() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let share = forge_share(&app, &site, json!({"contentId": PAGE_ID})).await;
    let url = share["url"].as_str().unwrap();
    // Confluence stops accepting the app's tokens.
    app.sandbox.revoke_app_tokens(&site);
    let refused = app.read_share(url, None).await;
    assert_eq!(refused.status(), 502);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Confluence did not answer")
    );
    // The stored token expires.
    sqlx::query("UPDATE installation SET forge_token_expires_at = now() - interval '1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let missing = app.read_share_until(url, None, 503).await;
    assert_eq!(missing.status(), 503);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("Confluence has not been reachable for this site")
    );
}

#[tokio::test]
async fn pre_uninstall_ends_the_share_pages_and_a_reinstall_brings_them_back() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let share = forge_share(&app, &site, json!({"contentId": PAGE_ID})).await;
    let url = share["url"].as_str().unwrap();
    let gone = app
        .sandbox
        .forge_post(&app.target, &site, "/forge/pre-uninstall", &json!({}), None)
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    assert_eq!(app.read_share(url, None).await.status(), 410);
    let refused = app.forge_list_shares(&site, EDITOR).await;
    assert_eq!(
        refused.status(),
        401,
        "an uninstalled site's users are refused"
    );
    // A reinstall comes with a new installation id: the same site, the same tenant.
    app.sandbox
        .update_site("acme", |s| s.forge_installation_id = new_installation_id());
    let site = app.sandbox.site("acme");
    app.forge_install(&site).await;
    assert_eq!(app.read_share(url, None).await.status(), 200);
    assert_eq!(tenant_rows(&app).await, 1);
    let listed: Value = app
        .forge_list_shares(&site, EDITOR)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["uuid"], share["uuid"]);
}

#[tokio::test]
async fn a_connect_tenant_seen_through_forge_keeps_its_shares_links_and_secrets() {
    for names_installation in [true, false] {
        let app = spawn_app().await;
        let site = app.sandbox.add_site("acme");
        app.sandbox.update_site("acme", |s| {
            s.connect_names_installation = names_installation
        });
        let site = app.site_with_page_of(site).await;
        let connect_share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
        // The same site arrives through Forge (Connect on Forge).
        app.forge_install(&site).await;
        assert_eq!(
            tenant_rows(&app).await,
            1,
            "linked, by installation id or by cloud id"
        );
        let forge_list: Value = app
            .forge_list_shares(&site, EDITOR)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            forge_list[0]["uuid"], connect_share["uuid"],
            "{names_installation}"
        );
        assert_eq!(forge_list[0]["url"], connect_share["url"]);
        assert_eq!(forge_list[0]["unlockSecret"], connect_share["unlockSecret"]);
        let forge_made = forge_share(&app, &site, json!({"contentId": PAGE_ID})).await;
        let connect_list: Value = app.list_shares(&site, EDITOR).await.json().await.unwrap();
        let uuids: Vec<&Value> = connect_list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["uuid"])
            .collect();
        assert_eq!(uuids, [&connect_share["uuid"], &forge_made["uuid"]]);
        assert_eq!(
            app.read_share(connect_share["url"].as_str().unwrap(), None)
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn platforms_never_cross() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let fit = app.sandbox.sign_fit(
        &app.sandbox.fit_claims(
            &site,
            Invoker::User {
                account_id: EDITOR,
                content_id: None,
            },
        ),
        false,
    );
    let list = format!("/api/shares?contentId={PAGE_ID}");
    for (path, scheme) in [
        (list.as_str(), "Bearer"),
        (list.as_str(), "JWT"),
        ("/connect/admin", "JWT"),
    ] {
        let response = app
            .http
            .get(format!("{}{path}", app.address))
            .header("Authorization", format!("{scheme} {fit}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "a FIT on {path} as {scheme}");
    }
    let connect_site = app.site_with_page("connect").await;
    let context = app.sandbox.context_token(&connect_site, EDITOR);
    for (method, path) in [
        (Method::GET, format!("/forge{list}")),
        (Method::POST, "/forge/events".into()),
    ] {
        for scheme in ["Bearer", "JWT"] {
            let response = app
                .http
                .request(method.clone(), format!("{}{path}", app.address))
                .header("Authorization", format!("{scheme} {context}"))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                401,
                "a Connect JWT on {path} as {scheme}"
            );
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
    }
}

#[tokio::test]
async fn forge_routes_do_not_exist_unless_an_app_id_is_set() {
    let app = spawn_app_with(|s| s.forge = None).await;
    let response = app
        .http
        .post(format!("{}/forge/events", app.address))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
}

#[tokio::test]
async fn every_bad_invocation_token_is_a_401_with_www_authenticate_bearer() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let user = Invoker::User {
        account_id: EDITOR,
        content_id: None,
    };
    let valid = app.sandbox.fit_claims(&site, user);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        change(&mut claims);
        app.sandbox.sign_fit(&claims, false)
    };
    let without = |pointer: &'static str| {
        with(&move |claims: &mut Value| {
            let (parent, name) = pointer.rsplit_once('/').unwrap();
            claims
                .pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(name);
        })
    };
    let header = |alg: jsonwebtoken::Algorithm, kid: Option<&str>| {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = kid.map(str::to_owned);
        header
    };
    let now = chrono::Utc::now().timestamp();
    let b64 = |text: &str| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text)
    };
    let other_app = "ari:cloud:ecosystem::app/11111111-2222-4333-8444-555555555555";
    let other_cloud = "a1b2c3d4-3203-4cfa-8db5-f2587155f0dd";
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("Basic", Some("Basic YTpi".into())),
        ("not a JWT", Some("Bearer not-a-token".into())),
        (
            "alg none",
            Some(format!(
                "Bearer {}.{}.",
                b64(r#"{"alg":"none","kid":"x"}"#),
                b64(&valid.to_string())
            )),
        ),
        (
            "HS256 signed with the public key",
            Some(format!(
                "Bearer {}",
                app.sandbox.sign_hs256_with_public_key(&valid)
            )),
        ),
        (
            "RS512",
            Some(format!(
                "Bearer {}",
                app.sandbox.sign_rs256_with(
                    &header(
                        jsonwebtoken::Algorithm::RS512,
                        Some(pageshare::sandbox::FORGE_KID)
                    ),
                    &valid,
                    false
                )
            )),
        ),
        (
            "another key under the right kid",
            Some(format!("Bearer {}", app.sandbox.sign_fit(&valid, true))),
        ),
        (
            "no kid",
            Some(format!(
                "Bearer {}",
                app.sandbox.sign_rs256_with(
                    &header(jsonwebtoken::Algorithm::RS256, None),
                    &valid,
                    false
                )
            )),
        ),
        (
            "wrong iss",
            Some(format!(
                "Bearer {}",
                with(&|c| c["iss"] = json!("someone/else"))
            )),
        ),
        (
            "another app's aud",
            Some(format!("Bearer {}", with(&|c| c["aud"] = json!(other_app)))),
        ),
        (
            "app.id is not aud",
            Some(format!(
                "Bearer {}",
                with(&|c| c["app"]["id"] = json!(other_app))
            )),
        ),
        ("no exp", Some(format!("Bearer {}", without("/exp")))),
        ("no nbf", Some(format!("Bearer {}", without("/nbf")))),
        ("no iat", Some(format!("Bearer {}", without("/iat")))),
        ("no jti", Some(format!("Bearer {}", without("/jti")))),
        ("no app", Some(format!("Bearer {}", without("/app")))),
        (
            "exp as a string",
            Some(format!(
                "Bearer {}",
                with(&|c| c["exp"] = json!((now + 20).to_string()))
            )),
        ),
        (
            "expired",
            Some(format!("Bearer {}", with(&|c| c["exp"] = json!(now - 60)))),
        ),
        (
            "nbf ahead",
            Some(format!("Bearer {}", with(&|c| c["nbf"] = json!(now + 120)))),
        ),
        (
            "installationId mismatch",
            Some(format!(
                "Bearer {}",
                with(&|c| c["app"]["installation"]["id"] = json!(new_installation_id()))
            )),
        ),
        (
            "apiBaseUrl on another host",
            Some(format!(
                "Bearer {}",
                with(&|c| c["app"]["apiBaseUrl"] = json!(format!(
                    "https://evil.example.com/ex/confluence/{}",
                    c["context"]["cloudId"].as_str().unwrap()
                )))
            )),
        ),
        (
            "apiBaseUrl with a path after the cloud id",
            Some(format!(
                "Bearer {}",
                with(&|c| {
                    let base = c["app"]["apiBaseUrl"].as_str().unwrap().to_owned();
                    c["app"]["apiBaseUrl"] = json!(format!("{base}/wiki"));
                })
            )),
        ),
        (
            "context.cloudId of another site",
            Some(format!(
                "Bearer {}",
                with(&|c| c["context"]["cloudId"] = json!(other_cloud))
            )),
        ),
        (
            "the confluence context of another site",
            Some(format!(
                "Bearer {}",
                with(&|c| c["app"]["installation"]["contexts"][0]["cloudId"] = json!(other_cloud))
            )),
        ),
        (
            "DEVELOPMENT (not accepted by default)",
            Some(format!(
                "Bearer {}",
                with(&|c| c["app"]["environment"]["type"] = json!("DEVELOPMENT"))
            )),
        ),
        (
            "icLabel",
            Some(format!(
                "Bearer {}",
                with(&|c| c["icLabel"] = json!("orange"))
            )),
        ),
        (
            "no principal on /forge/api",
            Some(format!("Bearer {}", without("/principal"))),
        ),
    ];
    let url = format!("{}/forge/api/shares?contentId={PAGE_ID}", app.address);
    let ok = app
        .http
        .get(&url)
        .bearer_auth(app.sandbox.sign_fit(&valid, false))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.status(),
        200,
        "the valid token passes, so each refusal is about its token"
    );
    for (name, authorization) in cases {
        let mut request = app.http.get(&url);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{name}");
        assert_eq!(
            response.headers()["cache-control"],
            "no-cache, no-store",
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_unknown_kid_costs_exactly_one_key_set_fetch_and_cached_keys_survive_an_outage() {
    let app = spawn_app().await;
    app.sandbox.add_site("acme");
    let site = add_sample_page(&app.sandbox, "acme");
    assert_eq!(
        app.sandbox.jwks_fetches(),
        0,
        "nothing is fetched before a token needs it"
    );
    let claims = app.sandbox.fit_claims(
        &site,
        Invoker::User {
            account_id: EDITOR,
            content_id: None,
        },
    );
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("not-a-forge-kid".into());
    let unknown = app.sandbox.sign_rs256_with(&header, &claims, false);
    let url = format!("{}/forge/api/shares?contentId={PAGE_ID}", app.address);
    // The set is empty: the first unknown kid must fetch it; the next ones, within 30 s of that
    // successful fetch, are refused without asking again.
    for attempt in 1..=3 {
        let response = app
            .http
            .get(&url)
            .bearer_auth(&unknown)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "attempt {attempt}");
        assert_eq!(
            error_code(response).await,
            "unauthorized",
            "attempt {attempt}"
        );
        assert_eq!(app.sandbox.jwks_fetches(), 1, "attempt {attempt}");
    }
    // The set that fetch brought holds Forge's key: the install event verifies without a fetch.
    app.forge_install(&site).await;
    assert_eq!(app.sandbox.jwks_fetches(), 1);
    // The key server goes down: the cached key keeps working, without asking it.
    app.sandbox.set_jwks_down(true);
    let ok = app
        .http
        .get(&url)
        .bearer_auth(app.sandbox.sign_fit(&claims, false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(app.sandbox.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_key_set_that_cannot_be_fetched_is_a_503_stores_nothing_and_is_not_asked_again_for_30_s()
{
    use pageshare::sandbox::KeyServer;
    use std::time::{Duration, Instant};

    // What Forge's key server does, and the answer to the first invocation (the install event).
    let cases = [
        ("healthy", KeyServer::Normal, 204),
        ("503", KeyServer::Status(503), 503),
        ("500", KeyServer::Status(500), 503),
        ("429", KeyServer::Status(429), 503),
        ("slower than the 3 s timeout", KeyServer::Slow(5), 503),
        ("an endless body", KeyServer::Endless, 503),
        (
            "a valid set padded past 256 KB",
            KeyServer::Padded(256 * 1024),
            503,
        ),
        ("a redirect to a valid set", KeyServer::Redirect, 503),
    ];
    for (name, behaviour, status) in cases {
        let app = spawn_app().await;
        app.sandbox.add_site("acme");
        let site = add_sample_page(&app.sandbox, "acme");
        app.sandbox.set_jwks_server(behaviour);
        let install = || app.sandbox.forge_install(&app.target, &site);
        let started = Instant::now();
        let first = install().await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: the fetch gives up after 3 s ({:?})",
            started.elapsed()
        );
        assert_eq!(first.status(), status, "{name}");
        assert_eq!(
            app.sandbox.jwks_fetches(),
            1,
            "{name}: one fetch, no redirect followed"
        );
        if status == 204 {
            assert_eq!(tenant_rows(&app).await, 1, "{name}");
            continue;
        }
        assert_eq!(first.headers()["retry-after"], "5", "{name}");
        assert_eq!(error_code(first).await, "forge_keys_unavailable", "{name}");
        assert_eq!(tenant_rows(&app).await, 0, "{name}: nothing is stored");
        // Healthy again, but within 30 s of the failed fetch: not asked, still 503.
        app.sandbox.set_jwks_server(KeyServer::Normal);
        let again = install().await.unwrap();
        assert_eq!(again.status(), 503, "{name}");
        assert_eq!(error_code(again).await, "forge_keys_unavailable", "{name}");
        assert_eq!(app.sandbox.jwks_fetches(), 1, "{name}: not asked again");
        assert_eq!(tenant_rows(&app).await, 0, "{name}: nothing is stored");
    }
}

#[tokio::test]
async fn an_app_token_is_replaced_only_by_one_that_expires_later() {
    use pageshare::forge::ids::InstallationId;
    use pageshare::storage::forge_tenants::store_app_token;
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let installation = InstallationId::parse(&site.forge_installation_id).unwrap();
    let stored = || async {
        sqlx::query_as::<_, (Vec<u8>, chrono::DateTime<chrono::Utc>)>(
            "SELECT forge_app_token, forge_token_expires_at FROM installation",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let (_, first_expiry) = stored().await;
    let earlier = first_expiry - chrono::Duration::minutes(30);
    assert!(
        !store_app_token(&app.pool, &installation, b"earlier", earlier, false)
            .await
            .unwrap()
    );
    assert_eq!(stored().await.1, first_expiry);
    // Two instances storing at once: the later token stays, whichever commits last.
    let later = first_expiry + chrono::Duration::minutes(30);
    let latest = first_expiry + chrono::Duration::minutes(60);
    let (a, b) = tokio::join!(
        store_app_token(&app.pool, &installation, b"latest", latest, false),
        store_app_token(&app.pool, &installation, b"later", later, false),
    );
    assert!(a.unwrap() || b.unwrap());
    assert_eq!(stored().await, (b"latest".to_vec(), latest));
}

#[tokio::test]
async fn a_warm_invocation_asks_neither_the_key_server_nor_the_database_for_its_tenant() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    assert_eq!(app.forge_list_shares(&site, EDITOR).await.status(), 200);
    // Read again once the change listener vouches for the cache (within moments of start).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.forge_list_shares(&site, EDITOR).await.status(), 200);
    let fetches = app.sandbox.jwks_fetches();
    // The tenant comes from memory: a change the database does not announce is not seen.
    let mut quiet = app.pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *quiet)
        .await
        .unwrap();
    sqlx::query("UPDATE installation SET installed = false")
        .execute(&mut *quiet)
        .await
        .unwrap();
    assert_eq!(app.forge_list_shares(&site, EDITOR).await.status(), 200);
    assert_eq!(app.sandbox.jwks_fetches(), fetches, "the key set is cached");
}

#[tokio::test]
async fn tenants_status_tells_connect_forge_and_moved_tenants_apart() {
    let app = spawn_app().await;
    let connect_only = app.site_with_page("old").await;
    let forge_only = app.forge_site_with_page("new").await;
    forge_share(&app, &forge_only, json!({"contentId": PAGE_ID})).await;
    let moved = app.site_with_page("moved").await;
    app.forge_install(&moved).await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pageshare"))
            .args(args)
            .env("DATABASE_URL", &app.settings.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let json = run(&["tenants", "status", "--json"]);
    assert!(json.status.success(), "{json:?}");
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (
            &report["tenants"],
            &report["connectOnly"],
            &report["forgeOnly"],
            &report["both"]
        ),
        (&json!(3), &json!(1), &json!(1), &json!(1))
    );
    let row = |key: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["clientKey"] == key)
            .unwrap_or_else(|| panic!("{key} in {report}"))
            .clone()
    };
    let new = row(&forge_only.cloud_id);
    assert_eq!(new["connect"], false);
    assert_eq!(new["shares"], 1);
    assert!(new["forgeTokenExpiresAt"].is_string(), "{new}");
    let old = row(connect_only.client_key.as_str());
    assert_eq!(
        (&old["connect"], &old["forgeInstallationId"]),
        (&json!(true), &Value::Null)
    );
    assert_eq!(
        row(moved.client_key.as_str())["forgeInstallationId"],
        moved.forge_installation_id.as_str()
    );
    let table = String::from_utf8(run(&["tenants", "status"]).stdout).unwrap();
    assert!(
        table.contains("tenants: 3 (Connect only 1, Forge only 1, both 1)")
            && table.contains(&forge_only.cloud_id),
        "{table}"
    );
    // App tokens are JWTs ("eyJ…"): none is shown, sealed or not.
    for output in [table.as_str(), &String::from_utf8_lossy(&json.stdout)] {
        assert!(!output.contains("eyJ"), "{output}");
    }
}

#[tokio::test]
async fn a_moved_tenant_uses_its_forge_app_token_while_valid_then_its_connect_secret() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = share["url"].as_str().unwrap();
    app.forge_install(&site).await;
    // Confluence refuses the app token but would take the Connect secret: the page fails, so
    // the app token was the one used.
    app.sandbox.revoke_app_tokens(&site);
    assert_eq!(app.read_share(url, None).await.status(), 502);
    // Once no app token is valid, the Connect secret signs the calls.
    sqlx::query("UPDATE installation SET forge_token_expires_at = now() - interval '1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let page = app.read_share_until(url, None, 200).await;
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn an_old_key_set_is_refetched_in_the_background_and_kept_through_an_outage() {
    use pageshare::forge::keys::ForgeKeys;
    use pageshare::sandbox::FORGE_KID;
    use std::time::Duration;

    let app = spawn_app().await;
    let max_age = Duration::from_millis(200);
    let keys = ForgeKeys::with_max_age(&app.sandbox.forge_jwks_url(), max_age);
    let fetches = || app.sandbox.jwks_fetches();
    let start = fetches();
    let wait_for_fetches = |n: usize| async move {
        for _ in 0..100 {
            if fetches() >= start + n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {n} key set fetches, saw {}", fetches() - start);
    };
    assert!(keys.key(FORGE_KID).await.is_ok());
    assert_eq!(fetches(), start + 1);
    assert!(keys.key(FORGE_KID).await.is_ok());
    assert_eq!(fetches(), start + 1, "a fresh set is not fetched again");

    tokio::time::sleep(max_age).await;
    assert!(
        keys.key(FORGE_KID).await.is_ok(),
        "an old set still answers"
    );
    wait_for_fetches(2).await;

    app.sandbox.set_jwks_down(true);
    tokio::time::sleep(max_age).await;
    assert!(keys.key(FORGE_KID).await.is_ok());
    wait_for_fetches(3).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        keys.key(FORGE_KID).await.is_ok(),
        "a failed refresh keeps the cached keys"
    );
    assert_eq!(
        fetches(),
        start + 3,
        "and waits before trying again rather than on every request"
    );
}

#[tokio::test]
async fn a_forge_site_whose_cloud_id_is_another_tenants_key_is_a_409() {
    let app = spawn_app().await;
    // Connect client keys are UUIDs on Atlassian's sites, as cloud ids are.
    app.sandbox.add_site("acme");
    app.sandbox.update_site("acme", |s| {
        s.client_key = uuid::Uuid::new_v4().to_string();
    });
    let connect = app.sandbox.site("acme");
    app.install(&connect).await;
    app.sandbox.add_site("beta");
    app.sandbox
        .update_site("beta", |s| s.cloud_id = connect.client_key.clone());
    let beta = app.sandbox.site("beta");
    let response = app.sandbox.forge_install(&app.target, &beta).await.unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "tenant_conflict");
    let linked: Option<String> =
        sqlx::query_scalar("SELECT forge_installation_id FROM installation WHERE client_key = $1")
            .bind(&connect.client_key)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(linked, None, "the Connect tenant was not taken over");
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM installation")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tenants, 1);
}

#[tokio::test]
async fn forge_events_refuse_oversized_and_malformed_bodies_and_change_nothing() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let before: Vec<(String, bool)> =
        sqlx::query_as("SELECT client_key, installed FROM installation ORDER BY client_key")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let huge = format!("{{\"eventType\":\"{}\"}}", "x".repeat(65 * 1024));
    for (name, body, status, code) in [
        ("over 64 KB", huge, 413, "body_too_large"),
        ("not JSON", "{not json".to_owned(), 400, "malformed_json"),
        ("not an object", "[1, 2]".to_owned(), 400, "malformed_body"),
    ] {
        let token = app
            .sandbox
            .sign_fit(&app.sandbox.fit_claims(&site, Invoker::Trigger), false);
        let response = app
            .http
            .post(format!("{}/forge/events", app.address))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{name}");
        assert_eq!(error_code(response).await, code, "{name}");
    }
    let after: Vec<(String, bool)> =
        sqlx::query_as("SELECT client_key, installed FROM installation ORDER BY client_key")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(before, after);
}

/// A Forge Web API call as [`EDITOR`] that brings no app token of its own.
async fn forge_api_without_app_token(
    app: &TestApp,
    site: &Site,
    method: Method,
) -> reqwest::Response {
    let user = Invoker::User {
        account_id: EDITOR,
        content_id: None,
    };
    let fit = app
        .sandbox
        .sign_fit(&app.sandbox.fit_claims(site, user), false);
    app.http
        .request(method, format!("{}/forge/api/shares", app.address))
        .bearer_auth(fit)
        .json(&json!({"contentId": PAGE_ID}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn without_any_app_token_the_forge_api_is_a_503_and_never_uses_a_connect_secret() {
    let app = spawn_app_with(|s| {
        s.secret_mode = pageshare::connect::secrets::SecretMode::AppWide;
        s.app_secret = Some(pageshare::connect::secrets::SharedSecret::new(
            "app-wide-secret-0123456789abcdef0123456789abcdef",
        ));
    })
    .await;
    let site = app.forge_site_with_page("acme").await;
    sqlx::query("UPDATE installation SET forge_app_token = NULL, forge_token_expires_at = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let calls = app.sandbox.verified_rest_calls();
    let response = forge_api_without_app_token(&app, &site, Method::POST).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(error_code(response).await, "no_tenant_secret");
    assert_eq!(app.sandbox.verified_rest_calls(), calls, "no call went out");
    assert_eq!(app.share_count().await, 0);
}

#[tokio::test]
async fn the_forge_api_of_a_disabled_tenant_is_a_401() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    assert_eq!(app.forge_list_shares(&site, EDITOR).await.status(), 200);
    sqlx::query("UPDATE installation SET enabled = false")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut response = app.forge_list_shares(&site, EDITOR).await;
    for _ in 0..100 {
        if response.status() != 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        response = app.forge_list_shares(&site, EDITOR).await;
    }
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}
