//! Public unlock keys over HTTP: registering JWKs (and refusing private, weak or malformed ones),
//! tokens verified with the key their `kid` names and that key's algorithm only, every unlock
//! rule unchanged, and keys reaching every instance's cache.

use chrono::Utc;
use jsonwebtoken::Algorithm;
use pageshare::sandbox::Site;
use pageshare::share::ShareId;
use pageshare::share::unlock::mint_unlock_token;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    EDITOR, ProtectedShare, READER, TestApp, error_code, session_cookie, spawn_app,
};
use crate::test_keys::{TestKey, header};

fn keys_path(share: ShareId) -> String {
    format!("/api/shares/{share}/unlock-keys")
}

async fn add_key(app: &TestApp, site: &Site, share: ShareId, jwk: Value) -> reqwest::Response {
    app.api(
        site,
        EDITOR,
        Method::POST,
        &keys_path(share),
        Some(json!({"jwk": jwk})),
    )
    .await
}

/// Register `key`'s public JWK; its `kid` as answered.
async fn register(app: &TestApp, site: &Site, share: ShareId, key: &TestKey) -> String {
    let response = add_key(app, site, share, key.public_jwk()).await;
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["alg"], key.alg_name());
    answer["kid"].as_str().unwrap().to_owned()
}

/// Claims valid now for `share`.
pub fn claims(share: ShareId) -> Value {
    let now = Utc::now().timestamp();
    json!({"nbf": now, "exp": now + 60, "iss": share.to_string()})
}

/// The status of `share`'s page opened with `?unlock={token}`.
pub async fn unlock_status(app: &TestApp, share: &ProtectedShare, token: &str) -> u16 {
    let url = format!("{}?unlock={token}", share.url);
    app.read_share(&url, None).await.status().as_u16()
}

async fn stored_keys(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM share_unlock_key")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_algorithm_unlocks_with_its_own_key_and_nothing_else() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let keys = [TestKey::ed25519(), TestKey::p256(), TestKey::rsa(2048)];
    let strangers = [TestKey::ed25519(), TestKey::p256(), TestKey::rsa(2048)];
    let mut kids = Vec::new();
    for key in &keys {
        kids.push(register(&app, &site, share.id, key).await);
    }
    let valid = claims(share.id);
    for (i, key) in keys.iter().enumerate() {
        let kid = kids[i].as_str();
        let other = &keys[(i + 1) % keys.len()];
        let now = Utc::now().timestamp();
        let with = |claims: Value| key.sign(&header(key.alg(), Some(kid)), &claims);
        let cases: Vec<(&str, String, u16)> = vec![
            ("its own key", with(valid.clone()), 200),
            (
                "another algorithm's key naming this kid",
                other.sign(&header(other.alg(), Some(kid)), &valid),
                401,
            ),
            (
                "a stranger's key of the same type",
                strangers[i].sign(&header(key.alg(), Some(kid)), &valid),
                401,
            ),
            (
                "HS256 with the share's secret naming this kid (algorithm confusion)",
                jsonwebtoken::encode(
                    &header(Algorithm::HS256, Some(kid)),
                    &valid,
                    &jsonwebtoken::EncodingKey::from_secret(share.secret.as_bytes()),
                )
                .unwrap(),
                401,
            ),
            (
                "HS256 keyed with the public JWK's text naming this kid",
                jsonwebtoken::encode(
                    &header(Algorithm::HS256, Some(kid)),
                    &valid,
                    &jsonwebtoken::EncodingKey::from_secret(
                        key.public_jwk().to_string().as_bytes(),
                    ),
                )
                .unwrap(),
                401,
            ),
            (
                "its key without a kid",
                key.sign(&header(key.alg(), None), &valid),
                401,
            ),
            (
                "its key naming an unknown kid",
                key.sign(&header(key.alg(), Some("unknown")), &valid),
                401,
            ),
            (
                "expired",
                with(json!({"nbf": now - 120, "exp": now - 60, "iss": share.id.to_string()})),
                401,
            ),
            (
                "not valid yet",
                with(json!({"nbf": now + 30, "exp": now + 60, "iss": share.id.to_string()})),
                401,
            ),
            (
                "valid for 61 seconds",
                with(json!({"nbf": now - 1, "exp": now + 60, "iss": share.id.to_string()})),
                401,
            ),
            (
                "iss another share",
                with(json!({"nbf": now, "exp": now + 60, "iss": ShareId::new().to_string()})),
                401,
            ),
            ("no iss", with(json!({"nbf": now, "exp": now + 60})), 401),
            (
                "crit header",
                key.sign(
                    &jsonwebtoken::Header {
                        crit: Some(vec!["exp".into()]),
                        ..header(key.alg(), Some(kid))
                    },
                    &valid,
                ),
                401,
            ),
        ];
        for (name, token, status) in cases {
            assert_eq!(
                unlock_status(&app, &share, &token).await,
                status,
                "{}: {name}",
                key.alg_name()
            );
        }
    }
    let hs256 = mint_unlock_token(share.id, &share.secret, Utc::now().timestamp(), 60);
    assert_eq!(
        unlock_status(&app, &share, &hs256).await,
        200,
        "a token without kid still uses the secret"
    );
    let listed = app.api_get_json(&site, EDITOR, &keys_path(share.id)).await;
    let listed: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|key| (key["kid"].as_str().unwrap(), key["alg"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            (kids[0].as_str(), "EdDSA"),
            (kids[1].as_str(), "ES256"),
            (kids[2].as_str(), "RS256")
        ]
    );
}

#[tokio::test]
async fn a_key_answers_with_its_kid_alg_and_creator_and_its_own_kid_wins() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let key = TestKey::p256();
    let response = add_key(&app, &site, share.id, key.public_jwk()).await;
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    let mut fields: Vec<&String> = answer.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["alg", "createdAt", "createdBy", "kid"]);
    assert_eq!(answer["createdBy"], EDITOR);
    let required = key.public_jwk().as_object().unwrap().clone();
    assert_eq!(
        answer["kid"],
        pageshare::share::unlock_key::thumbprint(&required),
        "no kid: the RFC 7638 thumbprint"
    );
    let mut named = key.public_jwk();
    named["kid"] = json!("deploy-2026:blue");
    named["alg"] = json!("ES256");
    named["use"] = json!("sig");
    let other = app.protected_share(&site).await;
    let response = add_key(&app, &site, other.id, named).await;
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["kid"], "deploy-2026:blue");
    let token = key.sign(
        &header(Algorithm::ES256, Some("deploy-2026:blue")),
        &claims(other.id),
    );
    assert_eq!(unlock_status(&app, &other, &token).await, 200);
}

#[tokio::test]
async fn private_weak_and_malformed_jwks_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let ed = TestKey::ed25519();
    let rsa_2047 = TestKey::rsa(2047);
    let mut with_d = ed.public_jwk();
    with_d["d"] = json!("AAAA");
    let mut wrong_alg = ed.public_jwk();
    wrong_alg["alg"] = json!("RS256");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("an Ed25519 private JWK", ed.private_jwk(), "jwk.d"),
        (
            "a P-256 private JWK",
            TestKey::p256().private_jwk(),
            "jwk.d",
        ),
        (
            "an RSA private JWK",
            TestKey::rsa(2048).private_jwk(),
            "jwk.d",
        ),
        ("a public JWK with d added", with_d, "jwk.d"),
        (
            "a symmetric key",
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            "jwk.k",
        ),
        ("a 2047-bit RSA key", rsa_2047.public_jwk(), "jwk.n"),
        ("alg of another key type", wrong_alg, "jwk.alg"),
        (
            "P-384",
            json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            "jwk.crv",
        ),
        ("a key set", json!({"keys": [ed.public_jwk()]}), "jwk.kty"),
        ("a string", json!("ssh-ed25519 AAAA"), "jwk"),
    ];
    for (name, jwk, field) in cases {
        let response = add_key(&app, &site, share.id, jwk).await;
        assert_eq!(response.status(), 422, "{name}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_field", "{name}");
        assert_eq!(error["error"]["field"], field, "{name}: {error}");
        assert_eq!(stored_keys(&app).await, 0, "{name}: nothing stored");
    }
    let no_jwk = app
        .api(
            &site,
            EDITOR,
            Method::POST,
            &keys_path(share.id),
            Some(json!({})),
        )
        .await;
    assert_eq!(no_jwk.status(), 422);
    // The private value is in no error: the member is named, never its value.
    let mut leaky = ed.public_jwk();
    leaky["d"] = json!("private-value-never-echoed");
    let response = add_key(&app, &site, share.id, leaky).await;
    assert!(!response.text().await.unwrap().contains("private-value"));
    assert_eq!(stored_keys(&app).await, 0);
}

#[tokio::test]
async fn a_kid_is_unique_per_share_and_a_share_holds_at_most_20_keys() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let key = TestKey::ed25519();
    register(&app, &site, share.id, &key).await;
    let again = add_key(&app, &site, share.id, key.public_jwk()).await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "unlock_key_exists");
    let mut same_kid = TestKey::ed25519().public_jwk();
    same_kid["kid"] = json!("k1");
    let mut also_k1 = TestKey::p256().public_jwk();
    also_k1["kid"] = json!("k1");
    assert_eq!(add_key(&app, &site, share.id, same_kid).await.status(), 201);
    assert_eq!(add_key(&app, &site, share.id, also_k1).await.status(), 409);
    for _ in 2..20 {
        register(&app, &site, share.id, &TestKey::ed25519()).await;
    }
    let full = add_key(&app, &site, share.id, TestKey::ed25519().public_jwk()).await;
    assert_eq!(full.status(), 422);
    assert_eq!(stored_keys(&app).await, 20);
    // The same key on another share is another share's key.
    let other = app.protected_share(&site).await;
    register(&app, &site, other.id, &key).await;
}

#[tokio::test]
async fn a_key_of_another_share_does_not_unlock_and_a_removed_key_stops_at_once() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let other = app.protected_share(&site).await;
    let key = TestKey::rsa(2048);
    let kid = register(&app, &site, share.id, &key).await;
    let for_other = key.sign(&header(Algorithm::RS256, Some(&kid)), &claims(other.id));
    assert_eq!(unlock_status(&app, &other, &for_other).await, 401);
    let token = key.sign(&header(Algorithm::RS256, Some(&kid)), &claims(share.id));
    let unlocked = app
        .read_share(&format!("{}?unlock={token}", share.url), None)
        .await;
    assert_eq!(unlocked.status(), 200);
    let session = session_cookie(&unlocked).expect("the unlock opened a session");
    let page = app.read_share(&share.url, Some(&session)).await;
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>Onboarding</title>")
    );

    // A key is removed because its private half may have leaked: what it opened ends with it.
    let path = format!("{}/{kid}", keys_path(share.id));
    let removed = app.api(&site, EDITOR, Method::DELETE, &path, None).await;
    assert_eq!(removed.status(), 204);
    assert_eq!(unlock_status(&app, &share, &token).await, 401);
    let after = app.read_share(&share.url, Some(&session)).await;
    assert!(
        after.text().await.unwrap().contains("name=\"password\""),
        "the session the removed key opened has ended"
    );
    let again = app.api(&site, EDITOR, Method::DELETE, &path, None).await;
    assert_eq!(again.status(), 404);
    let listed = app.api_get_json(&site, EDITOR, &keys_path(share.id)).await;
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn only_those_who_manage_the_share_manage_its_keys() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let kid = register(&app, &site, share.id, &TestKey::ed25519()).await;
    let jwk = json!({"jwk": TestKey::ed25519().public_jwk()});
    let delete = format!("{}/{kid}", keys_path(share.id));
    let calls = [
        (Method::GET, keys_path(share.id), None),
        (Method::POST, keys_path(share.id), Some(jwk.clone())),
        (Method::DELETE, delete.clone(), None),
    ];
    for (method, path, body) in calls.clone() {
        let response = app.api(&site, READER, method.clone(), &path, body).await;
        assert_eq!(response.status(), 403, "{method} {path}");
    }
    let elsewhere = app.site_with_page("globex").await;
    for (method, path, body) in calls {
        let response = app
            .api(&elsewhere, EDITOR, method.clone(), &path, body)
            .await;
        assert_eq!(response.status(), 404, "another tenant: {method} {path}");
    }
    assert_eq!(stored_keys(&app).await, 1);
}

#[tokio::test]
async fn keys_come_from_the_share_cache_and_reach_every_instance() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let on_other = ProtectedShare {
        url: format!("{other}/content/{}", share.id),
        ..share
    };
    let key = TestKey::ed25519();
    let token = |kid: &str| key.sign(&header(Algorithm::EdDSA, Some(kid)), &claims(share.id));
    app.let_announcements_arrive().await;
    assert_eq!(unlock_status(&app, &on_other, &token("k")).await, 401);
    // Added behind the instances' backs: the other one answers from its cache…
    let mut jwk = key.public_jwk();
    jwk.as_object_mut()
        .unwrap()
        .insert("kid".into(), json!("k"));
    app.change_unannounced(&format!(
        "INSERT INTO share_unlock_key (share_uuid, kid, alg, jwk, created_by)
         VALUES ('{}', 'k', 'EdDSA', '{}', 'someone')",
        share.id,
        key.public_jwk()
    ))
    .await;
    assert_eq!(
        unlock_status(&app, &on_other, &token("k")).await,
        401,
        "cached"
    );
    // …until the notification the key's trigger sends arrives.
    app.announce_share_change(&share.id.to_string()).await;
    let url = format!("{}?unlock={}", on_other.url, token("k"));
    assert_eq!(app.read_share_until(&url, None, 200).await.status(), 200);

    // Through the API, on the first instance: the other hears of it.
    let kid = register(&app, &site, share.id, &TestKey::p256()).await;
    let removed = app
        .api(
            &site,
            EDITOR,
            Method::DELETE,
            &format!("{}/k", keys_path(share.id)),
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let url = format!("{}?unlock={}", on_other.url, token("k"));
    assert_eq!(app.read_share_until(&url, None, 401).await.status(), 401);
    assert!(!kid.is_empty());
}

#[tokio::test]
async fn forge_manages_unlock_keys_too() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let uuid = app.forge_protected_share(&site).await;
    let path = format!("/api/shares/{}/unlock-keys", uuid);
    let key = TestKey::ed25519();
    let added = app
        .forge_api(
            &site,
            EDITOR,
            Method::POST,
            &path,
            Some(json!({"jwk": key.public_jwk()})),
        )
        .await;
    assert_eq!(added.status(), 201);
    let kid = added.json::<Value>().await.unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = app.forge_get_json(&site, EDITOR, &path).await;
    assert_eq!(listed[0]["kid"], kid.as_str());
    let removed = app
        .forge_api(
            &site,
            EDITOR,
            Method::DELETE,
            &format!("{path}/{kid}"),
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
}

#[tokio::test]
async fn api_keys_list_keys_with_shares_read_and_change_them_with_unlock_secrets_rotate() {
    use crate::api_keys::{new_key, site_with_admin, text, with_key};
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let path = keys_path(share.id);
    let kid = register(&app, &site, share.id, &TestKey::ed25519()).await;
    let reader = text(&new_key(&app, &site, &["shares:read"]).await);
    let writer = text(&new_key(&app, &site, &["shares:write"]).await);
    let rotator = text(&new_key(&app, &site, &["unlock-secrets:rotate"]).await);
    let listed = with_key(&app, &reader, Method::GET, &path, None).await;
    assert_eq!(listed.status(), 200);
    let jwk = json!({"jwk": TestKey::p256().public_jwk()});
    let remove = format!("{path}/{kid}");
    for (method, path, body) in [
        (Method::POST, &path, Some(jwk.clone())),
        (Method::DELETE, &remove, None),
    ] {
        for (key, scope) in [(&reader, "shares:read"), (&writer, "shares:write")] {
            let refused = with_key(&app, key, method.clone(), path, body.clone()).await;
            assert_eq!(refused.status(), 403, "{method} with {scope}");
            assert_eq!(error_code(refused).await, "missing_scope");
        }
        let done = with_key(&app, &rotator, method.clone(), path, body).await;
        assert!(
            done.status().is_success(),
            "{method} with unlock-secrets:rotate"
        );
    }
    let listed = with_key(&app, &rotator, Method::GET, &path, None).await;
    assert_eq!(listed.status(), 403, "listing needs shares:read");
    let created_by: Vec<String> = sqlx::query_scalar("SELECT created_by FROM share_unlock_key")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        created_by,
        [crate::api_keys::ADMIN],
        "a key acts for its creator"
    );
}
