//! The Web API: `/api/shares`, behind context tokens, scoped to the tenant, asking Confluence.

use reqwest::Method;
use serde_json::{Value, json};

use pageshare::sandbox::Site;

use crate::helpers::{
    EDITOR, OUTSIDER, PAGE_ID, READER, TestApp, assert_bad_json_bodies_refused, error_code,
    spawn_app,
};

fn in_an_hour() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()
}

/// A share of the sample page as [`EDITOR`] with a password, an expiry and an embedding site.
async fn full_share(app: &TestApp, site: &Site) -> Value {
    app.create_share(
        site,
        json!({"contentId": PAGE_ID, "password": "correct horse", "expiresAt": in_an_hour(),
               "frameAncestors": ["https://docs.example.com"]}),
    )
    .await
}

fn uuid(share: &Value) -> &str {
    share["uuid"].as_str().unwrap()
}

#[tokio::test]
async fn a_new_share_carries_its_page_its_settings_and_a_fresh_unlock_secret() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = full_share(&app, &site).await;
    assert_eq!(share["contentId"], PAGE_ID);
    assert_eq!(share["title"], "Onboarding", "title from Confluence");
    assert_eq!(share["spaceKey"], "ENG");
    assert_eq!(
        share["url"],
        format!("{}/content/{}", app.address, uuid(&share))
    );
    assert_eq!(share["passwordProtected"], true);
    assert_eq!(share["status"], "active");
    assert_eq!(share["frameAncestors"], json!(["https://docs.example.com"]));
    assert_eq!(share["createdBy"], EDITOR);
    let secret = share["unlockSecret"].as_str().unwrap();
    assert!(
        secret.len() == 64
            && secret
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert!(share.get("password").is_none() && !share.to_string().contains("correct horse"));
}

#[tokio::test]
async fn the_page_lists_its_shares_and_one_share_reads_with_its_secret() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = full_share(&app, &site).await;
    let list: Value = app.list_shares(&site, EDITOR).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["uuid"], uuid(&share));
    let read = app.get_share(&site, EDITOR, uuid(&share)).await;
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["unlockSecret"], share["unlockSecret"]);
}

#[tokio::test]
async fn patch_with_null_clears_the_password_and_expiry_and_leaves_the_rest() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = full_share(&app, &site).await;
    let patched = app
        .patch_share(
            &site,
            EDITOR,
            uuid(&share),
            json!({"password": null, "expiresAt": null}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["passwordProtected"], false);
    assert_eq!(patched["expiresAt"], Value::Null);
    assert_eq!(
        patched["frameAncestors"],
        json!(["https://docs.example.com"]),
        "absent fields are left alone"
    );
}

#[tokio::test]
async fn rotating_the_unlock_secret_gives_a_new_one() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = full_share(&app, &site).await;
    let rotated = app.rotate_secret(&site, EDITOR, uuid(&share)).await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["unlockSecret"].as_str().unwrap();
    assert_eq!(new_secret.len(), 64);
    assert_ne!(new_secret, share["unlockSecret"].as_str().unwrap());
}

#[tokio::test]
async fn a_revoked_share_reads_as_revoked_and_refuses_changes() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = full_share(&app, &site).await;
    assert_eq!(
        app.revoke_share(&site, EDITOR, uuid(&share)).await.status(),
        204
    );
    let after: Value = app
        .get_share(&site, EDITOR, uuid(&share))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["status"], "revoked");
    let patch_revoked = app
        .patch_share(
            &site,
            EDITOR,
            uuid(&share),
            json!({"password": "another one"}),
        )
        .await;
    assert_eq!(patch_revoked.status(), 409);
    assert_eq!(error_code(patch_revoked).await, "share_revoked");
}

#[tokio::test]
async fn creating_needs_confluence_to_say_the_user_can_read_the_page() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let refused = app
        .post_share(&site, OUTSIDER, json!({"contentId": PAGE_ID}))
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(error_code(refused).await, "no_permission");
    let listed = app.list_shares(&site, OUTSIDER).await;
    assert_eq!(listed.status(), 403);

    app.sandbox.update_site("acme", |s| s.down = true);
    let down = app
        .post_share(&site, EDITOR, json!({"contentId": PAGE_ID}))
        .await;
    assert_eq!(down.status(), 502, "fail closed");
    assert_eq!(error_code(down).await, "confluence_unavailable");
    assert_eq!(app.share_count().await, 0);
}

#[tokio::test]
async fn a_share_is_invisible_to_another_tenant() {
    let app = spawn_app().await;
    let acme = app.site_with_page("acme").await;
    let rival = app.site_with_page("rival").await;
    let share = app.create_share(&acme, json!({"contentId": PAGE_ID})).await;
    let path = format!("/api/shares/{}", share["uuid"].as_str().unwrap());
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"expiresAt": null}))),
        (Method::DELETE, None),
    ] {
        let response = app
            .api(&rival, EDITOR, method.clone(), &path, body.clone())
            .await;
        assert_eq!(response.status(), 404, "{method}");
        let secret_path = format!("{path}/unlock-secret");
        let rotate = app
            .api(&rival, EDITOR, Method::POST, &secret_path, None)
            .await;
        assert_eq!(rotate.status(), 404);
    }
    let list: Value = app.list_shares(&rival, EDITOR).await.json().await.unwrap();
    assert_eq!(list, json!([]), "same content id, other site: nothing");
    let still = app.api_get_json(&acme, EDITOR, &path).await;
    assert_eq!(still["status"], "active");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_creates_nothing() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "bad content id",
            json!({"contentId": "12/../3"}),
            422,
            "invalid_field",
        ),
        ("missing content id", json!({}), 422, "invalid_field"),
        (
            "expiry in the past",
            json!({"contentId": PAGE_ID, "expiresAt": past}),
            422,
            "invalid_field",
        ),
        (
            "expiry not a date",
            json!({"contentId": PAGE_ID, "expiresAt": "tomorrow"}),
            422,
            "invalid_field",
        ),
        (
            "short password",
            json!({"contentId": PAGE_ID, "password": "short"}),
            422,
            "invalid_field",
        ),
        (
            "long password",
            json!({"contentId": PAGE_ID, "password": "x".repeat(129)}),
            422,
            "invalid_field",
        ),
        (
            "http origin",
            json!({"contentId": PAGE_ID, "frameAncestors": ["http://a.example.com"]}),
            422,
            "invalid_field",
        ),
        (
            "origin with path",
            json!({"contentId": PAGE_ID, "frameAncestors": ["https://a.example.com/x"]}),
            422,
            "invalid_field",
        ),
        (
            "unknown field",
            json!({"contentId": PAGE_ID, "pasword": "typo in name"}),
            422,
            "invalid_field",
        ),
        ("wrong type", json!({"contentId": 42}), 422, "invalid_field"),
        (
            "numeric password",
            json!({"contentId": PAGE_ID, "password": 987654321}),
            422,
            "invalid_field",
        ),
        (
            "page nobody may read",
            json!({"contentId": "999"}),
            403,
            "no_permission",
        ),
    ];
    for (name, body, status, code) in cases {
        let response = app.post_share(&site, EDITOR, body).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_eq!(error_code(response).await, code, "{name}");
    }
    let token = app.sandbox.context_token(&site, EDITOR);
    let url = format!("{}/api/shares", app.address);
    assert_bad_json_bodies_refused(
        || {
            app.http
                .post(&url)
                .header("Authorization", format!("JWT {token}"))
        },
        "{\"contentId\":",
    )
    .await;
    assert_eq!(app.share_count().await, 0);
    for (path, status) in [
        ("/api/shares/not-a-uuid", 404),
        ("/api/shares/00000000-0000-4000-8000-000000000000", 404),
        ("/api/shares", 400),
        ("/api/shares?contentId=a%2Fb", 422),
    ] {
        let response = app.api(&site, EDITOR, Method::GET, path, None).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
    }
}

#[tokio::test]
async fn only_context_tokens_open_the_api() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let path = format!("/api/shares?contentId={PAGE_ID}");
    let computed = app
        .sandbox
        .hs256_token(&site, &site.secret, "GET", &path, Some(EDITOR));
    let with_computed = app.get_with_jwt(&path, &computed).await;
    assert_eq!(with_computed.status(), 401);
    assert_eq!(with_computed.headers()["www-authenticate"], "JWT");
    let token = app.sandbox.context_token(&site, EDITOR);
    let in_query = app.get(&format!("{path}&jwt={token}")).await;
    assert_eq!(in_query.status(), 401, "the API takes the header only");
    assert_eq!(app.get(&path).await.status(), 401);
    let ok = app.get_with_jwt(&path, &token).await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_share_is_managed_by_its_creator_or_the_page_editors() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let (app_ref, site_ref) = (&app, &site);
    let create = |user: &'static str| async move {
        let response = app_ref
            .post_share(site_ref, user, json!({"contentId": PAGE_ID}))
            .await;
        assert_eq!(response.status(), 201, "{user} creates a share");
        response.json::<Value>().await.unwrap()
    };
    let readers = create(READER).await;
    let editors = create(EDITOR).await;
    assert!(
        readers["unlockSecret"].is_string(),
        "the creator sees the secret"
    );
    let path = |share: &Value| format!("/api/shares/{}", share["uuid"].as_str().unwrap());

    // A reader who did not create the share sees it, without its secret, and cannot change it.
    let seen = app.api_get_json(&site, READER, &path(&editors)).await;
    assert_eq!(seen["uuid"], editors["uuid"]);
    assert!(seen.get("unlockSecret").is_none());
    let attempts = [
        (
            Method::PATCH,
            path(&editors),
            Some(json!({"password": null})),
        ),
        (
            Method::POST,
            format!("{}/unlock-secret", path(&editors)),
            None,
        ),
        (Method::DELETE, path(&editors), None),
    ];
    for (method, target, body) in attempts {
        let refused = app.api(&site, READER, method.clone(), &target, body).await;
        assert_eq!(refused.status(), 403, "{method} {target}");
        assert_eq!(error_code(refused).await, "not_share_manager");
    }
    let listed: Value = app.list_shares(&site, READER).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    for share in listed.as_array().unwrap() {
        let own = share["uuid"] == readers["uuid"];
        assert_eq!(share.get("unlockSecret").is_some(), own, "{share}");
    }

    // Someone who can edit the page manages every share of it.
    let patched = app
        .api(
            &site,
            EDITOR,
            Method::PATCH,
            &path(&readers),
            Some(json!({"expiresAt": null})),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let full = app.api_get_json(&site, EDITOR, &path(&readers)).await;
    assert_eq!(full["unlockSecret"], readers["unlockSecret"]);
}

#[tokio::test]
async fn an_issuer_with_a_nul_byte_is_a_401_not_a_500() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let now = chrono::Utc::now().timestamp();
    let claims =
        json!({"iss": "a\u{0}b", "sub": EDITOR, "iat": now, "exp": now + 60, "qsh": "context-qsh"});
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(site.secret.as_bytes()),
    )
    .unwrap();
    let response = app
        .get_with_jwt(&format!("/api/shares?contentId={PAGE_ID}"), &token)
        .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_created_share_is_located_and_a_revoked_one_gets_no_new_secret() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let created = app
        .post_share(&site, EDITOR, json!({"contentId": PAGE_ID}))
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let share: Value = created.json().await.unwrap();
    let uuid = share["uuid"].as_str().unwrap();
    assert_eq!(location, format!("/api/shares/{uuid}"));
    assert_eq!(app.get_share(&site, EDITOR, uuid).await.status(), 200);

    assert_eq!(app.revoke_share(&site, EDITOR, uuid).await.status(), 204);
    assert_eq!(
        app.revoke_share(&site, EDITOR, uuid).await.status(),
        204,
        "revoking twice is harmless"
    );
    let rotated = app.rotate_secret(&site, EDITOR, uuid).await;
    assert_eq!(rotated.status(), 409);
    assert_eq!(error_code(rotated).await, "share_revoked");
    let kept = app
        .get_share(&site, EDITOR, uuid)
        .await
        .json::<Value>()
        .await;
    assert_eq!(kept.unwrap()["unlockSecret"], share["unlockSecret"]);
}
