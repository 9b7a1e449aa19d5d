//! API keys: created by site admins (`/api/admin/api-keys`), shown once, stored as SHA-256 only,
//! and used as `Authorization: Bearer psk_…` on `/api/shares…` with their scopes.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    EDITOR, PAGE_ID, TestApp, assert_bad_json_bodies_refused, error_code, page_shares_path,
    spawn_app,
};

/// Administers the site, and edits the sample page.
pub const ADMIN: &str = "557058:site-admin";

/// A site with the sample page that [`ADMIN`] administers and edits.
pub async fn site_with_admin(app: &TestApp, name: &str) -> pageshare::sandbox::Site {
    app.site_with_page(name).await;
    app.sandbox.update_site(name, |s| {
        s.admins.insert(ADMIN.into());
        s.add_editor(PAGE_ID, ADMIN);
    });
    app.sandbox.site(name)
}

/// `POST /api/admin/api-keys` as [`ADMIN`]; the answer.
async fn post_key(
    app: &TestApp,
    site: &pageshare::sandbox::Site,
    body: Value,
) -> reqwest::Response {
    app.api(site, ADMIN, Method::POST, "/api/admin/api-keys", Some(body))
        .await
}

/// A new key with `scopes`; its JSON (with `key`).
pub async fn new_key(app: &TestApp, site: &pageshare::sandbox::Site, scopes: &[&str]) -> Value {
    let response = post_key(app, site, json!({"name": "ci", "scopes": scopes})).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

pub fn text(key: &Value) -> String {
    key["key"].as_str().expect("the new key").to_owned()
}

/// A Web API call on `address` with `Authorization: Bearer {key}`.
pub async fn call(
    app: &TestApp,
    address: &str,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, format!("{address}{path}"))
        .header("Authorization", format!("Bearer {key}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub async fn with_key(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    call(app, &app.address, key, method, path, body).await
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_key_is_shown_once_listed_without_itself_and_stored_as_its_hash_only() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let created = post_key(
        &app,
        &site,
        json!({"name": " deploy bot ",
               "scopes": ["unlock-secrets:rotate", "shares:write", "shares:read", "shares:read"],
               "expiresAt": "2099-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-cache, no-store");
    let created: Value = created.json().await.unwrap();
    let key = text(&created);
    assert!(key.starts_with("psk_") && key.len() == 47, "{key}");
    assert_eq!(created["name"], "deploy bot");
    assert_eq!(
        created["scopes"],
        json!(["shares:read", "shares:write", "unlock-secrets:rotate"])
    );
    assert_eq!(created["createdBy"], ADMIN);
    assert_eq!(created["expiresAt"], "2099-01-01T00:00:00Z");
    assert_eq!(created["lastUsedAt"], Value::Null);
    assert!(created["createdAt"].is_string() && created["id"].is_string());

    // Used, then listed: everything but the key.
    let share = with_key(
        &app,
        &key,
        Method::POST,
        "/api/shares",
        Some(json!({"contentId": PAGE_ID})),
    )
    .await;
    assert_eq!(share.status(), 201);
    let share: Value = share.json().await.unwrap();
    let listed = app
        .api(&site, ADMIN, Method::GET, "/api/admin/api-keys", None)
        .await;
    assert_eq!(listed.status(), 200);
    let listed = listed.text().await.unwrap();
    assert!(!listed.contains(&key), "the list carries the key");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], created["id"]);
    assert!(listed[0].get("key").is_none());
    // No other answer carries it either.
    for path in [
        page_shares_path(),
        format!("/api/shares/{}", share["uuid"].as_str().unwrap()),
        "/api/admin/shares".into(),
    ] {
        let body = app
            .api(&site, ADMIN, Method::GET, &path, None)
            .await
            .text()
            .await
            .unwrap();
        assert!(!body.contains(&key), "{path} carries the key");
        let body = with_key(&app, &key, Method::GET, &path, None)
            .await
            .text()
            .await
            .unwrap();
        assert!(!body.contains(&key), "{path} with the key carries it");
    }

    // Stored as its SHA-256, and nowhere as text.
    let hash: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM api_key")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(hash, Sha256::digest(key.as_bytes()).to_vec());
    let random_part = &key[4..];
    for table in ["api_key", "shared_page", "installation"] {
        let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} t WHERE position($1 in t::text) > 0 OR position($2 in t::text) > 0"
        )))
        .bind(&key)
        .bind(random_part)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(found, 0, "the key's text is in {table}");
    }
}

/// Which calls each scope opens, and which answers carry an unlock secret, one site per key:
/// the key's creator (who edits the page) owns one share and manages the editor's.
#[tokio::test]
async fn each_scope_opens_its_calls_and_only_unlock_secrets_read_shows_secrets() {
    const R: &str = "shares:read";
    const W: &str = "shares:write";
    const SECRETS: &str = "unlock-secrets:read";
    const ROTATE: &str = "unlock-secrets:rotate";
    let app = spawn_app().await;
    let keys: [(&str, &[&str]); 7] = [
        ("read", &[R]),
        ("write", &[W]),
        // What every key made before the unlock-secret scopes holds at most.
        ("read and write", &[R, W]),
        ("read with secrets", &[R, SECRETS]),
        ("write with secrets", &[W, SECRETS]),
        ("rotate alone", &[ROTATE]),
        ("all four", &[R, W, SECRETS, ROTATE]),
    ];
    for (index, (name, scopes)) in keys.into_iter().enumerate() {
        let site = site_with_admin(&app, &format!("site{index}")).await;
        let created = new_key(&app, &site, scopes).await;
        let (key, key_id) = (text(&created), created["id"].as_str().unwrap().to_owned());
        let has = |scope: &str| scopes.contains(&scope);
        let own = app
            .post_share(&site, ADMIN, json!({"contentId": PAGE_ID}))
            .await;
        assert_eq!(own.status(), 201);
        let theirs = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
        let one = format!("/api/shares/{}", theirs["uuid"].as_str().unwrap());
        // (call, body, the scope it needs, success status, whether its answer is share JSON)
        let calls = [
            (Method::GET, page_shares_path(), None, R, 200, true),
            (Method::GET, one.clone(), None, R, 200, true),
            (
                Method::POST,
                "/api/shares".to_owned(),
                Some(json!({"contentId": PAGE_ID})),
                W,
                201,
                true,
            ),
            (
                Method::PATCH,
                one.clone(),
                Some(json!({"expiresAt": "2099-01-01T00:00:00Z"})),
                W,
                200,
                true,
            ),
            (
                Method::POST,
                format!("{one}/unlock-secret"),
                None,
                ROTATE,
                200,
                false,
            ),
            (Method::DELETE, one.clone(), None, W, 204, false),
        ];
        let mut shown = 0;
        for (method, path, body, needs, status, share_json) in calls {
            let call = format!("{name}: {method} {path}");
            let response = with_key(&app, &key, method.clone(), &path, body).await;
            if !has(needs) {
                assert_eq!(response.status(), 403, "{call}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "missing_scope", "{call}");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(message.contains(&format!("`{needs}`")), "{call}: {message}");
                continue;
            }
            assert_eq!(response.status(), status, "{call}");
            if status == 204 {
                continue;
            }
            let body: Value = response.json().await.unwrap();
            if !share_json {
                // The rotation answers the new secret, which is what rotating is for.
                assert!(
                    body["unlockSecret"].as_str().is_some_and(|s| s.len() == 64),
                    "{call}"
                );
                continue;
            }
            // The list: the secret of the creator's own share only, as for the creator.
            let answered: Vec<&Value> = body.as_array().map_or(vec![&body], |l| l.iter().collect());
            for share in answered {
                let expected = has(SECRETS) && (!body.is_array() || share["createdBy"] == ADMIN);
                assert_eq!(
                    share["unlockSecret"].is_string(),
                    expected,
                    "{call}: {share}"
                );
                assert!(
                    expected || share.get("unlockSecret").is_none(),
                    "{call}: {share}"
                );
                shown += usize::from(expected);
            }
        }
        // Each answer that carried a secret was recorded as shown to the key; no other was.
        let actor = format!("apikey:{key_id}");
        let count = |action: &'static str| {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM audit_entry WHERE actor = $1 AND action = $2",
            )
            .bind(actor.clone())
            .bind(action)
            .fetch_one(&app.pool)
        };
        assert_eq!(
            count("unlock_secret.shown").await.unwrap(),
            shown as i64,
            "{name}"
        );
        let rotated = i64::from(has(ROTATE));
        assert_eq!(
            count("unlock_secret.rotated").await.unwrap(),
            rotated,
            "{name}"
        );
        // Keys open `/api` only: under `/forge/api` a Bearer header is a Forge token.
        let forge = call(
            &app,
            &app.address,
            &key,
            Method::GET,
            &format!("/forge{}", page_shares_path()),
            None,
        )
        .await;
        assert_eq!(forge.status(), 401, "{name} under /forge/api");
        assert!(!forge.text().await.unwrap().contains(&key[4..]), "{name}");
    }
    // Shares a key creates belong to the admin who created the key.
    let site = app.sandbox.site("site1");
    let shares = app.api_get_json(&site, EDITOR, &page_shares_path()).await;
    let by_admin = shares
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["createdBy"] == ADMIN);
    assert_eq!(by_admin.count(), 2, "the admin's own share and the key's");
    let both = text(&new_key(&app, &site, &[R, W, SECRETS, ROTATE]).await);
    // No key opens the site admin API, whatever its scopes.
    // A bad body changes nothing to that: the key is refused before the body is judged.
    for (method, path, body) in [
        (Method::GET, "/api/admin/api-keys", None),
        (
            Method::POST,
            "/api/admin/api-keys",
            Some(json!({"name": "x", "scopes": ["shares:read"]})),
        ),
        (
            Method::POST,
            "/api/admin/api-keys",
            Some(json!({"name": "", "scopes": ["no:such"]})),
        ),
        (Method::GET, "/api/admin/shares", None),
        (Method::GET, "/api/admin/settings", None),
        (
            Method::PUT,
            "/api/admin/settings",
            Some(json!({"defaultFrameAncestors": ["http://not-https.example"]})),
        ),
    ] {
        let response = with_key(&app, &both, method.clone(), path, body).await;
        assert_eq!(response.status(), 403, "{method} {path}");
        assert_eq!(error_code(response).await, "missing_scope");
    }
}

#[tokio::test]
async fn missing_malformed_unknown_and_expired_keys_are_refused_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let key = text(&new_key(&app, &site, &["shares:read"]).await);
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let expiring = post_key(
        &app,
        &site,
        json!({"name": "brief", "scopes": ["shares:read"], "expiresAt": soon}),
    )
    .await;
    assert_eq!(expiring.status(), 201);
    let expiring = text(&expiring.json().await.unwrap());
    assert_eq!(
        with_key(&app, &expiring, Method::GET, &page_shares_path(), None)
            .await
            .status(),
        200
    );
    let unknown = format!("psk_{}", "A".repeat(43));
    let headers: Vec<(&str, Vec<u8>)> = vec![
        ("no credentials", b"Bearer".to_vec()),
        ("empty", b"Bearer ".to_vec()),
        ("spaces", b"Bearer    ".to_vec()),
        ("unknown key", format!("Bearer {unknown}").into_bytes()),
        (
            "lower-case scheme, unknown key",
            format!("bearer {unknown}").into_bytes(),
        ),
        ("no prefix", format!("Bearer {}", &key[4..]).into_bytes()),
        ("one character more", format!("Bearer {key}A").into_bytes()),
        (
            "one character less",
            format!("Bearer {}", &key[..key.len() - 1]).into_bytes(),
        ),
        (
            "upper-case prefix",
            format!("Bearer PSK_{}", &key[4..]).into_bytes(),
        ),
        ("two keys", format!("Bearer {key} {key}").into_bytes()),
        (
            "not UTF-8",
            [b"Bearer psk_".as_slice(), &[0xff, 0xfe]].concat(),
        ),
        ("a JWT", b"Bearer eyJhbGciOiJIUzI1NiJ9.e30.x".to_vec()),
    ];
    for (case, value) in headers {
        let response = app
            .http
            .get(format!("{}{}", app.address, page_shares_path()))
            .header(
                "Authorization",
                reqwest::header::HeaderValue::from_bytes(&value).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(challenge(&response), "Bearer", "{case}");
        let body = response.text().await.unwrap();
        assert!(body.contains("\"unauthorized\""), "{case}: {body}");
        assert!(
            !body.contains(&key[4..]),
            "{case}: the answer echoes the key"
        );
    }
    // The key itself, in any case of the scheme, works.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = app
            .http
            .get(format!("{}{}", app.address, page_shares_path()))
            .header("Authorization", format!("{scheme} {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
    // Without any Authorization the Web API still asks for a Connect JWT.
    let bare = app.get(&page_shares_path()).await;
    assert_eq!(bare.status(), 401);
    assert_eq!(challenge(&bare), "JWT");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = with_key(&app, &expiring, Method::GET, &page_shares_path(), None).await;
    assert_eq!(expired.status(), 401);
    assert_eq!(challenge(&expired), "Bearer");
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["error"]["message"], "This API key has expired.");
    let listed = app.api_get_json(&site, ADMIN, "/api/admin/api-keys").await;
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "brief")
        .unwrap()
        .clone();
    assert_eq!(row["expired"], true);
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_here_and_within_seconds_on_another_instance() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = site_with_admin(&app, "acme").await;
    let created = new_key(&app, &site, &["shares:read"]).await;
    let key = text(&created);
    app.let_announcements_arrive().await;
    // Both instances know the key (and keep it in memory).
    for address in [&app.address, &other] {
        let response = call(&app, address, &key, Method::GET, &page_shares_path(), None).await;
        assert_eq!(response.status(), 200, "{address}");
    }
    let path = format!("/api/admin/api-keys/{}", created["id"].as_str().unwrap());
    let revoked = app.api(&site, ADMIN, Method::DELETE, &path, None).await;
    assert_eq!(revoked.status(), 204);
    let here = with_key(&app, &key, Method::GET, &page_shares_path(), None).await;
    assert_eq!(
        here.status(),
        401,
        "refused at once on the instance that revoked it"
    );
    assert_eq!(challenge(&here), "Bearer");
    let body: Value = here.json().await.unwrap();
    assert_eq!(body["error"]["message"], "This API key has been revoked.");
    let started = tokio::time::Instant::now();
    let mut status = 200;
    while started.elapsed() < Duration::from_secs(5) {
        status = call(&app, &other, &key, Method::GET, &page_shares_path(), None)
            .await
            .status()
            .as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status, 401,
        "the other instance still accepts the key after 5 s"
    );
    // Revoked keys leave the list; revoking again is harmless, an unknown key is 404.
    let listed = app.api_get_json(&site, ADMIN, "/api/admin/api-keys").await;
    assert_eq!(listed, json!([]));
    assert_eq!(
        app.api(&site, ADMIN, Method::DELETE, &path, None)
            .await
            .status(),
        204
    );
    for missing in [
        format!("/api/admin/api-keys/{}", uuid::Uuid::new_v4()),
        "/api/admin/api-keys/not-a-uuid".into(),
    ] {
        let response = app.api(&site, ADMIN, Method::DELETE, &missing, None).await;
        assert_eq!(response.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn a_key_of_another_site_cannot_touch_this_sites_shares() {
    let app = spawn_app().await;
    let acme = site_with_admin(&app, "acme").await;
    let globex = site_with_admin(&app, "globex").await;
    let share = app.create_share(&acme, json!({"contentId": PAGE_ID})).await;
    let uuid = share["uuid"].as_str().unwrap();
    let all = [
        "shares:read",
        "shares:write",
        "unlock-secrets:read",
        "unlock-secrets:rotate",
    ];
    let theirs = text(&new_key(&app, &globex, &all).await);
    let one = format!("/api/shares/{uuid}");
    for (method, path, body) in [
        (Method::GET, one.clone(), None),
        (Method::PATCH, one.clone(), Some(json!({"expiresAt": null}))),
        (Method::POST, format!("{one}/unlock-secret"), None),
        (Method::DELETE, one.clone(), None),
    ] {
        let response = with_key(&app, &theirs, method.clone(), &path, body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
        assert_eq!(error_code(response).await, "not_found");
    }
    let listed = with_key(&app, &theirs, Method::GET, &page_shares_path(), None).await;
    assert_eq!(
        listed.json::<Value>().await.unwrap(),
        json!([]),
        "only globex's shares"
    );
    // acme's admin cannot revoke globex's key either.
    let globex_key = app
        .api_get_json(&globex, ADMIN, "/api/admin/api-keys")
        .await;
    let path = format!(
        "/api/admin/api-keys/{}",
        globex_key[0]["id"].as_str().unwrap()
    );
    assert_eq!(
        app.api(&acme, ADMIN, Method::DELETE, &path, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        with_key(&app, &theirs, Method::GET, &page_shares_path(), None)
            .await
            .status(),
        200
    );
    // A key of an uninstalled site opens nothing.
    app.uninstall(&globex).await;
    let response = with_key(&app, &theirs, Method::GET, &page_shares_path(), None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response), "Bearer");
}

#[tokio::test]
async fn only_site_admins_manage_keys_and_bad_bodies_are_refused() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    for (method, path, body) in [
        (Method::GET, "/api/admin/api-keys".to_owned(), None),
        (
            Method::POST,
            "/api/admin/api-keys".into(),
            Some(json!({"name": "x", "scopes": ["shares:read"]})),
        ),
        (
            Method::DELETE,
            format!("/api/admin/api-keys/{}", uuid::Uuid::new_v4()),
            None,
        ),
    ] {
        let response = app.api(&site, EDITOR, method.clone(), &path, body).await;
        assert_eq!(response.status(), 403, "{method} {path}");
        assert_eq!(error_code(response).await, "not_site_admin");
    }
    let long = "n".repeat(81);
    for (case, body, field) in [
        (
            "empty name",
            json!({"name": "  ", "scopes": ["shares:read"]}),
            "name",
        ),
        (
            "long name",
            json!({"name": long, "scopes": ["shares:read"]}),
            "name",
        ),
        (
            "control character",
            json!({"name": "a\u{7}b", "scopes": ["shares:read"]}),
            "name",
        ),
        ("no scopes", json!({"name": "x", "scopes": []}), "scopes"),
        (
            "unlock-secrets:read opening nothing",
            json!({"name": "x", "scopes": ["unlock-secrets:read", "unlock-secrets:rotate"]}),
            "scopes",
        ),
        (
            "unknown scope",
            json!({"name": "x", "scopes": ["shares:admin"]}),
            "scopes",
        ),
        (
            "past expiry",
            json!({"name": "x", "scopes": ["shares:read"], "expiresAt": "2020-01-01T00:00:00Z"}),
            "expiresAt",
        ),
    ] {
        let response = post_key(&app, &site, body).await;
        assert_eq!(response.status(), 422, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_field", "{case}");
        assert_eq!(body["error"]["field"], field, "{case}");
    }
    for (case, body, field) in [
        (
            "unknown field",
            json!({"name": "x", "scopes": ["shares:read"], "key": "psk_mine"}),
            "key",
        ),
        (
            "scopes not a list",
            json!({"name": "x", "scopes": "shares:read"}),
            "scopes",
        ),
        ("no name", json!({"scopes": ["shares:read"]}), "name"),
        (
            "expiry not a date",
            json!({"name": "x", "scopes": ["shares:read"], "expiresAt": "soon"}),
            "expiresAt",
        ),
    ] {
        let response = post_key(&app, &site, body).await;
        assert_eq!(response.status(), 422, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{case}");
    }
    let token = app.sandbox.context_token(&site, ADMIN);
    assert_bad_json_bodies_refused(
        || {
            app.http
                .post(format!("{}/api/admin/api-keys", app.address))
                .header("Authorization", format!("JWT {token}"))
        },
        "{\"name\": ",
    )
    .await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM api_key")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn last_use_is_written_in_the_background_at_most_once_a_minute_and_keys_are_kept_in_memory() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let created = new_key(&app, &site, &["shares:read"]).await;
    let key = text(&created);
    app.let_announcements_arrive().await;
    let before = chrono::Utc::now();
    assert_eq!(
        with_key(&app, &key, Method::GET, &page_shares_path(), None)
            .await
            .status(),
        200
    );
    let mut last_used = Value::Null;
    for _ in 0..50 {
        let listed = app.api_get_json(&site, ADMIN, "/api/admin/api-keys").await;
        last_used = listed[0]["lastUsedAt"].clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(last_used).expect("lastUsedAt is set");
    assert!(at >= before - chrono::Duration::seconds(1) && at <= chrono::Utc::now());
    // A marker in the column: more calls within the minute write nothing over it.
    sqlx::query("UPDATE api_key SET last_used_at = '2000-01-01T00:00:00Z'")
        .execute(&app.pool)
        .await
        .unwrap();
    // And the key is read from memory: scopes changed behind the instance's back do not reach
    // it (a call asks the database nothing).
    app.change_unannounced("UPDATE api_key SET scopes = '{shares:write}'")
        .await;
    for _ in 0..20 {
        let response = with_key(&app, &key, Method::GET, &page_shares_path(), None).await;
        assert_eq!(response.status(), 200, "served from the cached key");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT last_used_at FROM api_key")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        stored.to_rfc3339(),
        "2000-01-01T00:00:00+00:00",
        "a call wrote its use again"
    );
}

#[tokio::test]
async fn a_key_has_its_creators_rights_in_confluence_and_no_more() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let key = text(
        &new_key(
            &app,
            &site,
            &["shares:read", "shares:write", "unlock-secrets:read"],
        )
        .await,
    );
    let editors_share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let one = format!("/api/shares/{}", editors_share["uuid"].as_str().unwrap());
    // The admin edits the page: the key manages the editor's share.
    let got = with_key(&app, &key, Method::GET, &one, None).await;
    let got: Value = got.json().await.unwrap();
    assert!(got["unlockSecret"].is_string(), "{got}");
    // The admin may only read the page now: the editor's share is no longer the key's to change.
    app.sandbox.update_site("acme", |s| {
        s.editors.get_mut(PAGE_ID).unwrap().remove(ADMIN);
    });
    let got = with_key(&app, &key, Method::GET, &one, None).await;
    assert_eq!(got.status(), 200);
    let got: Value = got.json().await.unwrap();
    assert!(got.get("unlockSecret").is_none(), "{got}");
    let patched = with_key(
        &app,
        &key,
        Method::PATCH,
        &one,
        Some(json!({"expiresAt": null})),
    )
    .await;
    assert_eq!(patched.status(), 403);
    assert_eq!(error_code(patched).await, "not_share_manager");
    // The admin cannot read the page: the key can neither list nor share it.
    app.sandbox.update_site("acme", |s| {
        s.readers.get_mut(PAGE_ID).unwrap().remove(ADMIN);
    });
    for (method, path, body) in [
        (Method::GET, page_shares_path(), None),
        (Method::GET, one.clone(), None),
        (
            Method::POST,
            "/api/shares".to_owned(),
            Some(json!({"contentId": PAGE_ID})),
        ),
    ] {
        let response = with_key(&app, &key, method.clone(), &path, body).await;
        assert_eq!(response.status(), 403, "{method} {path}");
        assert_eq!(
            error_code(response).await,
            "no_permission",
            "{method} {path}"
        );
    }
    // Revoking stays open to the admin's key, as to the admin (site admins revoke any share).
    let revoked = with_key(&app, &key, Method::DELETE, &one, None).await;
    assert_eq!(revoked.status(), 204);
}
