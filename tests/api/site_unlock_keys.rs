//! Site unlock keys over HTTP: site admins register public JWKs or generate HS256 secrets (shown
//! once, stored sealed); a key unlocks every share of its site (and spaces) under every unlock
//! rule, never a share of another site; removing it ends what it opened; keys reach every
//! instance's cache, and a warm unlock asks the database nothing.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pageshare::config::DataKeys;
use pageshare::data_key::DataKey;
use pageshare::sandbox::{Page, Site};
use pageshare::share::site_key::seal_secret;
use pageshare::share::unlock::{MAX_UNLOCK_TOKEN_LEN, mint_unlock_token};
use pageshare::share::{ShareId, UnlockSecret};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_keys::{ADMIN, new_key, site_with_admin, text, with_key};
use crate::helpers::{
    EDITOR, PAGE_ID, ProtectedShare, SHARE_PASSWORD, TestApp, error_code, session_cookie,
    spawn_app, spawn_app_with,
};
use crate::test_keys::{TestKey, header};
use crate::unlock_keys::{claims, unlock_status};

const PATH: &str = "/api/admin/unlock-keys";
/// The data key of the tests that seal a secret themselves.
const DATA_KEY: [u8; 32] = [0x5e; 32];
/// A page of the space OPS on the test sites (the sample page is in ENG).
const OPS_PAGE_ID: &str = "7654321";

async fn post_key(app: &TestApp, site: &Site, body: Value) -> reqwest::Response {
    app.api(site, ADMIN, Method::POST, PATH, Some(body)).await
}

/// Register `key`'s public JWK as a site key (limited to `spaces`); its `kid`.
async fn register(app: &TestApp, site: &Site, key: &TestKey, spaces: &[&str]) -> String {
    let response = post_key(
        app,
        site,
        json!({"jwk": key.public_jwk(), "spaceKeys": spaces}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["alg"], key.alg_name());
    assert!(answer.get("secret").is_none());
    answer["kid"].as_str().unwrap().to_owned()
}

/// The body adding `key`'s public JWK under the kid `kid`.
fn named(key: TestKey, kid: &str) -> Value {
    let mut jwk = key.public_jwk();
    jwk["kid"] = json!(kid);
    json!({"jwk": jwk})
}

/// A generated HS256 key (limited to `spaces`): its answer.
async fn generate(app: &TestApp, site: &Site, spaces: &[&str]) -> Value {
    let response = post_key(app, site, json!({"generate": "HS256", "spaceKeys": spaces})).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn hs256(secret_hex: &str, kid: Option<&str>, claims: &Value) -> String {
    let secret = hex::decode(secret_hex).unwrap();
    jsonwebtoken::encode(
        &header(Algorithm::HS256, kid),
        claims,
        &EncodingKey::from_secret(&secret),
    )
    .unwrap()
}

async fn stored_keys(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM site_unlock_key")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Put a page of the space OPS on the site `name`, edited by [`EDITOR`].
fn add_ops_page(app: &TestApp, name: &str) {
    let mut page = Page::sample(&app.sandbox.site(name).base_url, OPS_PAGE_ID);
    page.space_key = "OPS".into();
    app.sandbox.update_site(name, |s| {
        s.pages.insert(OPS_PAGE_ID.into(), page);
        s.add_editor(OPS_PAGE_ID, EDITOR);
    });
}

/// A password-protected share of the OPS page.
async fn ops_share(app: &TestApp, site: &Site) -> ProtectedShare {
    let json = app
        .create_share(
            site,
            json!({"contentId": OPS_PAGE_ID, "password": SHARE_PASSWORD}),
        )
        .await;
    ProtectedShare {
        id: ShareId::parse(json["uuid"].as_str().unwrap()).unwrap(),
        url: json["url"].as_str().unwrap().to_owned(),
        secret: pageshare::share::UnlockSecret::from_hex(json["unlockSecret"].as_str().unwrap())
            .unwrap(),
    }
}

/// The clock leeway of the app that checks the rules on tokens naming a site key.
const LEEWAY_SECS: u64 = 5;

/// A token naming `kid` with `alg: none` and no signature.
fn unsigned(kid: &str, claims: &Value) -> String {
    let part = |json: &Value| URL_SAFE_NO_PAD.encode(json.to_string());
    format!(
        "{}.{}.",
        part(&json!({"alg": "none", "kid": kid})),
        part(claims)
    )
}

/// The longest token `signer` makes naming `kid` within [`MAX_UNLOCK_TOKEN_LEN`] (its claims
/// padded), and the shortest beyond it.
fn padded_to_the_limit(signer: &Signer, kid: &str, share: ShareId) -> (String, String) {
    let mut claims = claims(share);
    let mut pad = 0;
    let mut within = String::new();
    loop {
        claims["pad"] = json!("x".repeat(pad));
        let token = signer.sign(Some(kid), &claims);
        if token.len() > MAX_UNLOCK_TOKEN_LEN {
            assert!(within.len() + 8 > MAX_UNLOCK_TOKEN_LEN, "{}", within.len());
            return (within, token);
        }
        // Three bytes of claims take four characters: jump close to the limit, then step.
        pad += ((MAX_UNLOCK_TOKEN_LEN - token.len()) * 3 / 4)
            .saturating_sub(3)
            .max(1);
        within = token;
    }
}

/// A site key's signer: a private key, or the generated secret.
enum Signer {
    Private(Box<TestKey>),
    Secret(String),
}

impl Signer {
    fn sign(&self, kid: Option<&str>, claims: &Value) -> String {
        match self {
            Self::Private(key) => key.sign(&header(key.alg(), kid), claims),
            Self::Secret(secret) => hs256(secret, kid, claims),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Private(key) => key.alg_name(),
            Self::Secret(_) => "HS256",
        }
    }
}

#[tokio::test]
async fn each_algorithm_unlocks_every_share_of_its_site_with_its_own_key_only() {
    let app = spawn_app_with(|s| s.unlock_leeway_secs = LEEWAY_SECS).await;
    let site = site_with_admin(&app, "acme").await;
    let shares = [
        app.protected_share(&site).await,
        app.protected_share(&site).await,
    ];
    let mut signers = Vec::new();
    for key in [TestKey::ed25519(), TestKey::p256(), TestKey::rsa(2048)] {
        let kid = register(&app, &site, &key, &[]).await;
        signers.push((kid, Signer::Private(Box::new(key))));
    }
    let generated = generate(&app, &site, &[]).await;
    assert_eq!(generated["alg"], "HS256");
    let secret = generated["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64, "32 bytes in hex");
    signers.push((
        generated["kid"].as_str().unwrap().to_owned(),
        Signer::Secret(secret),
    ));
    let strangers = [
        Signer::Private(Box::new(TestKey::ed25519())),
        Signer::Private(Box::new(TestKey::p256())),
        Signer::Private(Box::new(TestKey::rsa(2048))),
        Signer::Secret("ab".repeat(32)),
    ];
    for (i, (kid, signer)) in signers.iter().enumerate() {
        let kid = kid.as_str();
        let (_, other) = &signers[(i + 1) % signers.len()];
        for share in &shares {
            let valid = claims(share.id);
            let now = Utc::now().timestamp();
            let iss = share.id.to_string();
            let (longest, too_long) = padded_to_the_limit(signer, kid, share.id);
            // HS384 with the very secret of an HS256 key, else with the share's.
            let hs384_secret = match signer {
                Signer::Secret(secret) => secret.clone(),
                Signer::Private(_) => share.secret.to_hex(),
            };
            let leeway = LEEWAY_SECS as i64;
            let cases: Vec<(&str, String, u16)> = vec![
                ("its own key", signer.sign(Some(kid), &valid), 200),
                ("alg none naming this kid", unsigned(kid, &valid), 401),
                (
                    "HS384 naming this kid",
                    jsonwebtoken::encode(
                        &header(Algorithm::HS384, Some(kid)),
                        &valid,
                        &EncodingKey::from_secret(&hex::decode(&hs384_secret).unwrap()),
                    )
                    .unwrap(),
                    401,
                ),
                ("its key, 2 KB at most", longest, 200),
                ("its key, over 2 KB", too_long, 401),
                (
                    "nbf ahead, within the leeway",
                    signer.sign(
                        Some(kid),
                        &json!({"nbf": now + leeway - 2, "exp": now + 50, "iss": iss}),
                    ),
                    200,
                ),
                (
                    "exp passed, within the leeway",
                    signer.sign(
                        Some(kid),
                        &json!({"nbf": now - 50, "exp": now - leeway + 2, "iss": iss}),
                    ),
                    200,
                ),
                (
                    "nbf ahead, beyond the leeway",
                    signer.sign(
                        Some(kid),
                        &json!({"nbf": now + leeway + 5, "exp": now + 50, "iss": iss}),
                    ),
                    401,
                ),
                (
                    "another algorithm's key naming this kid",
                    other.sign(Some(kid), &valid),
                    401,
                ),
                (
                    "a stranger's key of the same type",
                    strangers[i].sign(Some(kid), &valid),
                    401,
                ),
                (
                    "HS256 with the share's secret naming this kid",
                    hs256(&share.secret.to_hex(), Some(kid), &valid),
                    401,
                ),
                ("its key without a kid", signer.sign(None, &valid), 401),
                (
                    "its key naming an unknown kid",
                    signer.sign(Some("unknown"), &valid),
                    401,
                ),
                (
                    "expired",
                    signer.sign(
                        Some(kid),
                        &json!({"nbf": now - 120, "exp": now - 60, "iss": iss}),
                    ),
                    401,
                ),
                (
                    "not valid yet",
                    signer.sign(
                        Some(kid),
                        &json!({"nbf": now + 30, "exp": now + 60, "iss": iss}),
                    ),
                    401,
                ),
                (
                    "valid for 61 seconds",
                    signer.sign(
                        Some(kid),
                        &json!({"nbf": now - 1, "exp": now + 60, "iss": iss}),
                    ),
                    401,
                ),
                (
                    "iss a share that does not exist",
                    signer.sign(Some(kid), &claims(ShareId::new())),
                    401,
                ),
                (
                    "no iss",
                    signer.sign(Some(kid), &json!({"nbf": now, "exp": now + 60})),
                    401,
                ),
            ];
            for (name, token, status) in cases {
                assert_eq!(
                    unlock_status(&app, share, &token).await,
                    status,
                    "{}: {name}",
                    signer.name()
                );
            }
        }
    }
    // A crit header, on a token otherwise valid.
    let (kid, signer) = &signers[0];
    let Signer::Private(key) = signer else {
        unreachable!()
    };
    let crit = key.sign(
        &Header {
            crit: Some(vec!["exp".into()]),
            ..header(key.alg(), Some(kid))
        },
        &claims(shares[0].id),
    );
    assert_eq!(unlock_status(&app, &shares[0], &crit).await, 401);
    let own = mint_unlock_token(shares[0].id, &shares[0].secret, Utc::now().timestamp(), 60);
    assert_eq!(
        unlock_status(&app, &shares[0], &own).await,
        200,
        "a token without kid still uses the share's secret"
    );
    let listed = app.api_get_json(&site, ADMIN, PATH).await;
    let listed: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|key| (key["kid"].as_str().unwrap(), key["alg"].as_str().unwrap()))
        .collect();
    let expected: Vec<(&str, &str)> = signers
        .iter()
        .map(|(kid, signer)| (kid.as_str(), signer.name()))
        .collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn a_key_limited_to_spaces_unlocks_shares_of_those_spaces_only() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    add_ops_page(&app, "acme");
    let eng = app.protected_share(&site).await;
    let ops = ops_share(&app, &site).await;
    let key = TestKey::p256();
    let ops_kid = register(&app, &site, &key, &["OPS"]).await;
    let generated = generate(&app, &site, &["ENG", "HR"]).await;
    let eng_kid = generated["kid"].as_str().unwrap();
    let eng_secret = generated["secret"].as_str().unwrap();
    assert_eq!(generated["spaceKeys"], json!(["ENG", "HR"]));
    let sign_ops = |share: &ProtectedShare| {
        key.sign(&header(Algorithm::ES256, Some(&ops_kid)), &claims(share.id))
    };
    let cases = [
        ("OPS key on the OPS share", &ops, sign_ops(&ops), 200),
        ("OPS key on the ENG share", &eng, sign_ops(&eng), 401),
        (
            "ENG key on the ENG share",
            &eng,
            hs256(eng_secret, Some(eng_kid), &claims(eng.id)),
            200,
        ),
        (
            "ENG key on the OPS share",
            &ops,
            hs256(eng_secret, Some(eng_kid), &claims(ops.id)),
            401,
        ),
    ];
    for (name, share, token, status) in cases {
        assert_eq!(unlock_status(&app, share, &token).await, status, "{name}");
    }
    let listed = app.api_get_json(&site, ADMIN, PATH).await;
    assert_eq!(listed[0]["spaceKeys"], json!(["OPS"]));
    assert_eq!(listed[1]["spaceKeys"], json!(["ENG", "HR"]));
}

#[tokio::test]
async fn a_key_limited_to_spaces_follows_the_page_into_the_space_it_was_moved_to() {
    let ttl = Duration::from_millis(800);
    let app = spawn_app_with(|s| s.content_ttl = ttl).await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let (eng, ops) = (
        generate(&app, &site, &["ENG"]).await,
        generate(&app, &site, &["OPS"]).await,
    );
    let token = |key: &Value| {
        let secret = key["secret"].as_str().unwrap();
        hs256(secret, key["kid"].as_str(), &claims(share.id))
    };
    let stored_space = || async {
        sqlx::query_scalar::<_, String>("SELECT space_key FROM shared_page")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    app.let_announcements_arrive().await;
    assert_eq!(unlock_status(&app, &share, &token(&eng)).await, 200);
    assert_eq!(unlock_status(&app, &share, &token(&ops)).await, 401);
    // The page moves from ENG to OPS in Confluence; the cached content says so once it expires.
    app.sandbox.update_site("acme", |s| {
        s.pages.get_mut(PAGE_ID).unwrap().space_key = "OPS".into();
    });
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert_eq!(stored_space().await, "ENG", "nothing read the page yet");
    // A forged token naming the ENG key is refused before the page is looked at.
    let fetches = app.sandbox.content_fetches();
    let forged = hs256(&"ab".repeat(32), eng["kid"].as_str(), &claims(share.id));
    assert_eq!(unlock_status(&app, &share, &forged).await, 401);
    assert_eq!(
        app.sandbox.content_fetches(),
        fetches,
        "no fetch for a forged token"
    );
    assert_eq!(stored_space().await, "ENG");
    assert_eq!(
        unlock_status(&app, &share, &token(&eng)).await,
        401,
        "the ENG key, while the stored space still says ENG"
    );
    assert_eq!(
        stored_space().await,
        "OPS",
        "the stored space followed the page"
    );
    app.let_announcements_arrive().await;
    let cases = [("the ENG key", &eng, 401), ("the OPS key", &ops, 200)];
    for (name, key, status) in cases {
        assert_eq!(
            unlock_status(&app, &share, &token(key)).await,
            status,
            "{name}"
        );
    }
    // Removing the OPS key now ends the share's sessions, as it covers the share's space.
    let version = || async {
        sqlx::query_scalar::<_, i32>("SELECT password_version FROM shared_page")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let before = version().await;
    let path = format!("{PATH}/{}", ops["kid"].as_str().unwrap());
    let removed = app.api(&site, ADMIN, Method::DELETE, &path, None).await;
    assert_eq!(removed.status(), 204);
    assert_eq!(version().await, before + 1, "the share's sessions ended");
}

#[tokio::test]
async fn a_key_of_another_site_unlocks_nothing_here() {
    let app = spawn_app().await;
    let acme = site_with_admin(&app, "acme").await;
    let globex = site_with_admin(&app, "globex").await;
    let share = app.protected_share(&acme).await;
    let key = TestKey::ed25519();
    let kid = register(&app, &globex, &key, &[]).await;
    let generated = generate(&app, &globex, &[]).await;
    let tokens = [
        key.sign(&header(Algorithm::EdDSA, Some(&kid)), &claims(share.id)),
        hs256(
            generated["secret"].as_str().unwrap(),
            generated["kid"].as_str(),
            &claims(share.id),
        ),
    ];
    for token in tokens {
        assert_eq!(unlock_status(&app, &share, &token).await, 401);
    }
    // The same key registered on acme too: there it unlocks.
    assert_eq!(register(&app, &acme, &key, &[]).await, kid);
    let token = key.sign(&header(Algorithm::EdDSA, Some(&kid)), &claims(share.id));
    assert_eq!(unlock_status(&app, &share, &token).await, 200);
}

#[tokio::test]
async fn bad_bodies_are_refused_with_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let public = TestKey::ed25519().public_jwk();
    let cases = [
        (
            "private Ed25519",
            json!({"jwk": TestKey::ed25519().private_jwk()}),
            "jwk.d",
        ),
        (
            "private P-256",
            json!({"jwk": TestKey::p256().private_jwk()}),
            "jwk.d",
        ),
        (
            "private RSA",
            json!({"jwk": TestKey::rsa(2048).private_jwk()}),
            "jwk.d",
        ),
        (
            "a symmetric JWK",
            json!({"jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
            "jwk.k",
        ),
        (
            "RSA of 1024 bits",
            json!({"jwk": TestKey::rsa(1024).public_jwk()}),
            "jwk.n",
        ),
        ("a key set", json!({"jwk": [public.clone()]}), "jwk"),
        ("nothing to add", json!({}), "jwk"),
        (
            "both a JWK and a secret to generate",
            json!({"jwk": public.clone(), "generate": "HS256"}),
            "jwk",
        ),
        ("HS512", json!({"generate": "HS512"}), "generate"),
        (
            "a space key with a space",
            json!({"generate": "HS256", "spaceKeys": ["EN G"]}),
            "spaceKeys",
        ),
        (
            "an empty space key",
            json!({"jwk": public.clone(), "spaceKeys": [""]}),
            "spaceKeys",
        ),
        (
            "spaceKeys not a list",
            json!({"jwk": public.clone(), "spaceKeys": "ENG"}),
            "spaceKeys",
        ),
        (
            "an unknown member",
            json!({"jwk": public.clone(), "secret": "x"}),
            "secret",
        ),
    ];
    for (name, body, field) in cases {
        let response = post_key(&app, &site, body).await;
        assert_eq!(response.status(), 422, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_field", "{name}");
        assert_eq!(body["error"]["field"], field, "{name}");
    }
    assert_eq!(stored_keys(&app).await, 0);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entry")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audited, 0, "a refusal writes nothing");
}

#[tokio::test]
async fn a_generated_secret_is_answered_once_and_stored_sealed() {
    let app = spawn_app_with(|s| s.data_key = Some(DataKeys(vec![DATA_KEY]))).await;
    let site = site_with_admin(&app, "acme").await;
    let generated = generate(&app, &site, &[]).await;
    let secret = generated["secret"].as_str().unwrap();
    let kid = generated["kid"].as_str().unwrap();
    assert_eq!(generated["createdBy"], ADMIN);
    let listed = app.api_get_json(&site, ADMIN, PATH).await;
    assert_eq!(listed[0]["kid"], kid);
    assert!(listed[0].get("secret").is_none());
    assert!(!listed.to_string().contains(secret));
    // Nowhere in the database's text: not the key's row, not the audit log.
    let bytes = hex::decode(secret).unwrap();
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT row_to_json(k)::text, sealed_secret FROM site_unlock_key k")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    let (row, sealed) = &rows[0];
    assert!(!row.to_lowercase().contains(secret), "{row}");
    assert!(!sealed.windows(32).any(|w| w == bytes.as_slice()));
    let audit: Vec<String> = sqlx::query_scalar("SELECT row_to_json(a)::text FROM audit_entry a")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!audit.is_empty() && audit.iter().all(|row| !row.contains(secret)));
    // Moved to another row, the sealed secret opens no more: it is bound to its tenant and kid.
    // Each move is announced before the one read that must be refused; resealed for the row it
    // is in now, it opens again.
    let share = app.protected_share(&site).await;
    let token = hs256(secret, Some(kid), &claims(share.id));
    assert_eq!(unlock_status(&app, &share, &token).await, 200);
    let globex = site_with_admin(&app, "globex").await;
    let globex_share = app.protected_share(&globex).await;
    let data_key = DataKey::new(&DATA_KEY);
    let unlock_secret = UnlockSecret::from_hex(secret).unwrap();
    let cases = [
        ("another kid", "acme", "moved", &share),
        (
            "another tenant, the same kid",
            "globex",
            "moved",
            &globex_share,
        ),
    ];
    for (name, site_name, new_kid, share) in cases {
        let client_key = app.sandbox.site(site_name).client_key;
        sqlx::query("UPDATE site_unlock_key SET client_key = $1, kid = $2")
            .bind(&client_key)
            .bind(new_kid)
            .execute(&app.pool)
            .await
            .unwrap();
        app.let_announcements_arrive().await;
        let token = hs256(secret, Some(new_kid), &claims(share.id));
        assert_eq!(unlock_status(&app, share, &token).await, 401, "{name}");
        let resealed = seal_secret(&data_key, &client_key, new_kid, &unlock_secret);
        sqlx::query("UPDATE site_unlock_key SET sealed_secret = $1")
            .bind(resealed)
            .execute(&app.pool)
            .await
            .unwrap();
        app.let_announcements_arrive().await;
        assert_eq!(
            unlock_status(&app, share, &token).await,
            200,
            "{name}, resealed for it"
        );
    }
}

#[tokio::test]
async fn a_kid_is_unique_across_the_sites_keys_and_its_shares_keys_and_20_keys_at_most() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let key = TestKey::ed25519();
    register(&app, &site, &key, &[]).await;
    let again = post_key(&app, &site, json!({"jwk": key.public_jwk()})).await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "unlock_key_exists");
    // A share's key and a site key never share a kid, whichever came first.
    let share_keys = format!("/api/shares/{}/unlock-keys", share.id);
    let add_to_share = |body: Value| app.api(&site, EDITOR, Method::POST, &share_keys, Some(body));
    let cases = [
        (
            "a share's key",
            add_to_share(named(TestKey::p256(), "v1")).await,
            201,
        ),
        (
            "a site key of a share key's kid",
            post_key(&app, &site, named(TestKey::ed25519(), "v1")).await,
            409,
        ),
        (
            "a site key",
            post_key(&app, &site, named(TestKey::ed25519(), "v2")).await,
            201,
        ),
        (
            "a share key of a site key's kid",
            add_to_share(named(TestKey::p256(), "v2")).await,
            409,
        ),
    ];
    for (name, response, status) in cases {
        assert_eq!(response.status(), status, "{name}");
        if status == 409 {
            assert_eq!(error_code(response).await, "unlock_key_exists", "{name}");
        }
    }
    // Another site may use the same kids.
    let globex = site_with_admin(&app, "globex").await;
    assert_eq!(register(&app, &globex, &key, &[]).await.len(), 43);
    for _ in 2..20 {
        generate(&app, &site, &[]).await;
    }
    let full = post_key(&app, &site, json!({"generate": "HS256"})).await;
    assert_eq!(full.status(), 422, "a 21st key");
    let full: Value = full.json().await.unwrap();
    assert!(full["error"]["message"].as_str().unwrap().contains("20"));
    assert_eq!(stored_keys(&app).await, 21, "20 here, one on globex");
}

#[tokio::test]
async fn a_share_key_and_a_site_key_added_at_once_never_get_the_same_kid() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let share_keys = format!("/api/shares/{}/unlock-keys", share.id);
    // Rounds of one add of each kind, sent together, for a kid neither holds yet (the site holds
    // 20 keys at most: each round's site key is removed again).
    for round in 0..30 {
        let kid = format!("race-{round}");
        let (to_share, to_site) = tokio::join!(
            app.api(
                &site,
                EDITOR,
                Method::POST,
                &share_keys,
                Some(named(TestKey::p256(), &kid))
            ),
            post_key(&app, &site, named(TestKey::ed25519(), &kid)),
        );
        let mut statuses = [to_share.status().as_u16(), to_site.status().as_u16()];
        statuses.sort();
        assert_eq!(
            statuses,
            [201, 409],
            "round {round}: {to_share:?} {to_site:?}"
        );
        if to_site.status() == 201 {
            let path = format!("{PATH}/{kid}");
            let removed = app.api(&site, ADMIN, Method::DELETE, &path, None).await;
            assert_eq!(removed.status(), 204);
        }
    }
}

#[tokio::test]
async fn removing_a_key_refuses_it_and_ends_the_sessions_of_the_shares_it_covered() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    add_ops_page(&app, "acme");
    let eng = app.protected_share(&site).await;
    let ops = ops_share(&app, &site).await;
    let generated = generate(&app, &site, &["ENG"]).await;
    let (kid, secret) = (
        generated["kid"].as_str().unwrap(),
        generated["secret"].as_str().unwrap(),
    );
    let token = hs256(secret, Some(kid), &claims(eng.id));
    let unlocked = app
        .read_share(&format!("{}?unlock={token}", eng.url), None)
        .await;
    assert_eq!(unlocked.status(), 200);
    let session = session_cookie(&unlocked).expect("the unlock opened a session");
    // A session of a share of another space, which the key could not open.
    let own = mint_unlock_token(ops.id, &ops.secret, Utc::now().timestamp(), 60);
    let ops_unlocked = app
        .read_share(&format!("{}?unlock={own}", ops.url), None)
        .await;
    let ops_session = session_cookie(&ops_unlocked).unwrap();

    let path = format!("{PATH}/{kid}");
    let removed = app.api(&site, ADMIN, Method::DELETE, &path, None).await;
    assert_eq!(removed.status(), 204);
    assert_eq!(unlock_status(&app, &eng, &token).await, 401);
    let after = app.read_share(&eng.url, Some(&session)).await;
    assert!(
        after.text().await.unwrap().contains("name=\"password\""),
        "the session the removed key could have opened has ended"
    );
    let ops_after = app.read_share(&ops.url, Some(&ops_session)).await;
    assert!(
        ops_after
            .text()
            .await
            .unwrap()
            .contains("<title>Onboarding</title>"),
        "a share of another space keeps its sessions"
    );
    let again = app.api(&site, ADMIN, Method::DELETE, &path, None).await;
    assert_eq!(again.status(), 404);
    assert_eq!(app.api_get_json(&site, ADMIN, PATH).await, json!([]));

    // A kid of every allowed sign, written as the admin page writes it (encodeURIComponent).
    let mut jwk = TestKey::ed25519().public_jwk();
    jwk["kid"] = json!("a.b_c~d-e:f@g+h=i");
    assert_eq!(
        post_key(&app, &site, json!({"jwk": jwk})).await.status(),
        201
    );
    let encoded = format!("{PATH}/a.b_c~d-e%3Af%40g%2Bh%3Di");
    let removed = app.api(&site, ADMIN, Method::DELETE, &encoded, None).await;
    assert_eq!(removed.status(), 204);
    assert_eq!(app.api_get_json(&site, ADMIN, PATH).await, json!([]));
}

#[tokio::test]
async fn only_site_admins_manage_site_keys_and_no_api_key_does() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let kid = register(&app, &site, &TestKey::ed25519(), &[]).await;
    let body = json!({"generate": "HS256"});
    let delete = format!("{PATH}/{kid}");
    let calls = [
        (Method::GET, PATH.to_owned(), None),
        (Method::POST, PATH.to_owned(), Some(body)),
        (Method::DELETE, delete, None),
    ];
    for (method, path, body) in calls.clone() {
        let response = app.api(&site, EDITOR, method.clone(), &path, body).await;
        assert_eq!(response.status(), 403, "an editor: {method} {path}");
    }
    let every_scope = [
        "shares:read",
        "shares:write",
        "unlock-secrets:read",
        "unlock-secrets:rotate",
    ];
    let key = text(&new_key(&app, &site, &every_scope).await);
    for (method, path, body) in calls {
        let response = with_key(&app, &key, method.clone(), &path, body).await;
        assert_eq!(response.status(), 403, "an API key: {method} {path}");
        assert_eq!(error_code(response).await, "missing_scope");
    }
    assert_eq!(stored_keys(&app).await, 1);
}

#[tokio::test]
async fn forge_serves_the_site_key_routes_too() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert(ADMIN.into());
        s.add_editor(PAGE_ID, ADMIN);
    });
    let uuid = app.forge_protected_share(&site).await;
    let share = ShareId::parse(&uuid).unwrap();
    let added = app
        .forge_api(
            &site,
            ADMIN,
            Method::POST,
            PATH,
            Some(json!({"generate": "HS256"})),
        )
        .await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    let kid = added["kid"].as_str().unwrap();
    let listed = app.forge_get_json(&site, ADMIN, PATH).await;
    assert_eq!(listed[0]["kid"], kid);
    let url = format!("{}/content/{uuid}", app.address);
    let token = hs256(added["secret"].as_str().unwrap(), Some(kid), &claims(share));
    let unlocked = app.read_share(&format!("{url}?unlock={token}"), None).await;
    assert_eq!(unlocked.status(), 200);
    let refused = app.forge_api(&site, EDITOR, Method::GET, PATH, None).await;
    assert_eq!(refused.status(), 403, "not a site admin");
    let removed = app
        .forge_api(&site, ADMIN, Method::DELETE, &format!("{PATH}/{kid}"), None)
        .await;
    assert_eq!(removed.status(), 204);
}

#[tokio::test]
async fn keys_reach_every_instance_within_the_cache_bound() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let on_other = ProtectedShare {
        url: format!("{other}/content/{}", share.id),
        ..share
    };
    let key = TestKey::ed25519();
    let mut jwk = key.public_jwk();
    jwk["kid"] = json!("k");
    let token = key.sign(&header(Algorithm::EdDSA, Some("k")), &claims(on_other.id));
    app.let_announcements_arrive().await;
    assert_eq!(unlock_status(&app, &on_other, &token).await, 401);
    // Added behind the instances' backs: the other one answers from its cache…
    app.change_unannounced(&format!(
        "INSERT INTO site_unlock_key (client_key, kid, alg, jwk, created_by)
         VALUES ('{}', 'k', 'EdDSA', '{}', 'someone')",
        site.client_key,
        key.public_jwk()
    ))
    .await;
    assert_eq!(unlock_status(&app, &on_other, &token).await, 401, "cached");
    // …until the notification the key's trigger sends arrives.
    app.announce_share_change(&format!("site-keys:{}", site.client_key))
        .await;
    let url = format!("{}?unlock={token}", on_other.url);
    assert_eq!(app.read_share_until(&url, None, 200).await.status(), 200);

    // Through the API, on the first instance: the other hears of it within the bound.
    let generated = generate(&app, &site, &[]).await;
    let hs = hs256(
        generated["secret"].as_str().unwrap(),
        generated["kid"].as_str(),
        &claims(on_other.id),
    );
    let url = format!("{}?unlock={hs}", on_other.url);
    assert_eq!(app.read_share_until(&url, None, 200).await.status(), 200);
    let removed = app
        .api(&site, ADMIN, Method::DELETE, &format!("{PATH}/k"), None)
        .await;
    assert_eq!(removed.status(), 204);
    let started = std::time::Instant::now();
    let url = format!("{}?unlock={token}", on_other.url);
    assert_eq!(app.read_share_until(&url, None, 401).await.status(), 401);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn adding_and_removing_a_key_is_audited_without_a_secret() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let key = TestKey::rsa(2048);
    let kid = register(&app, &site, &key, &["ENG", "OPS"]).await;
    let generated = generate(&app, &site, &[]).await;
    let hs_kid = generated["kid"].as_str().unwrap();
    let secret = generated["secret"].as_str().unwrap();
    // A share of ENG: both keys could unlock it.
    app.protected_share(&site).await;
    for kid in [kid.as_str(), hs_kid] {
        let path = format!("{PATH}/{kid}");
        let removed = app.api(&site, ADMIN, Method::DELETE, &path, None).await;
        assert_eq!(removed.status(), 204);
    }
    let log = app
        .api_get_json(&site, ADMIN, "/api/admin/audit?limit=100")
        .await;
    let entries: Vec<(String, Value, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .unwrap()
                .starts_with("site_unlock_key.")
        })
        .map(|e| {
            assert_eq!(e["actor"], ADMIN);
            (
                e["action"].as_str().unwrap().to_owned(),
                e["share"].clone(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |action: &str, detail: String| (action.to_owned(), Value::Null, detail);
    assert_eq!(
        entries,
        [
            row(
                "site_unlock_key.removed",
                format!("HS256 key {hs_kid}; spaces: all; sessions of 1 share(s) ended")
            ),
            row(
                "site_unlock_key.removed",
                format!("RS256 key {kid}; spaces: ENG OPS; sessions of 1 share(s) ended")
            ),
            row(
                "site_unlock_key.added",
                format!("HS256 key {hs_kid}; spaces: all")
            ),
            row(
                "site_unlock_key.added",
                format!("RS256 key {kid}; spaces: ENG OPS")
            ),
        ]
    );
    let csv = app
        .api(&site, ADMIN, Method::GET, "/api/admin/audit.csv", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("site_unlock_key.added") && !csv.contains(secret));
    assert!(!log.to_string().contains(secret));
    assert!(
        !log.to_string()
            .contains(&key.public_jwk()["n"].as_str().unwrap()[..40])
    );
}

#[tokio::test]
async fn a_warm_unlock_with_a_site_key_asks_the_database_nothing() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let generated = generate(&app, &site, &[]).await;
    let site_token = hs256(
        generated["secret"].as_str().unwrap(),
        generated["kid"].as_str(),
        &claims(share.id),
    );
    // A key limited to the page's space: its live space comes from the cached content.
    let eng = generate(&app, &site, &["ENG"]).await;
    let eng_token = hs256(
        eng["secret"].as_str().unwrap(),
        eng["kid"].as_str(),
        &claims(share.id),
    );
    let own_token = mint_unlock_token(share.id, &share.secret, Utc::now().timestamp(), 60);
    let site_url = format!("{}?unlock={site_token}", share.url);
    let eng_url = format!("{}?unlock={eng_token}", share.url);
    let own_url = format!("{}?unlock={own_token}", share.url);
    app.let_announcements_arrive().await;
    for url in [&site_url, &eng_url, &own_url] {
        assert_eq!(app.read_share_until(url, None, 200).await.status(), 200);
    }
    // Startup's own work settles first.
    app.committed_transactions().await;
    let with_secret = app.transactions_while_reading(&own_url, 100).await;
    let with_site_key = app.transactions_while_reading(&site_url, 100).await;
    let fetches = app.sandbox.content_fetches();
    let with_space_key = app.transactions_while_reading(&eng_url, 100).await;
    // The counts' own queries and the change listener's heartbeat are all that may be seen:
    // far fewer than one per unlock, and no more than with the share's own secret.
    for (name, transactions) in [
        ("a site key", with_site_key),
        ("an ENG key", with_space_key),
    ] {
        assert!(
            transactions <= 20 && transactions <= with_secret + 5,
            "100 unlocks: {transactions} transactions with {name}, {with_secret} with the secret"
        );
    }
    // The content cache lives 30 s: the 100 reads with the ENG key asked Confluence nothing.
    assert_eq!(app.sandbox.content_fetches(), fetches);
}

#[tokio::test]
async fn site_key_lookups_are_counted_as_cache_hits_and_misses() {
    use crate::metrics::{scrape, value};
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let generated = generate(&app, &site, &[]).await;
    let token = hs256(
        generated["secret"].as_str().unwrap(),
        generated["kid"].as_str(),
        &claims(share.id),
    );
    app.let_announcements_arrive().await;
    let url = format!("{}?unlock={token}", share.url);
    for _ in 0..3 {
        assert_eq!(app.read_share(&url, None).await.status(), 200);
    }
    assert_eq!(
        app.read_share(&share.url, None).await.status(),
        200,
        "no token, no lookup"
    );
    let text = scrape(&app).await;
    for (outcome, expected) in [("miss", 1.0), ("hit", 2.0)] {
        let series =
            format!(r#"pageshare_cache_lookups_total{{cache="site_keys",outcome="{outcome}"}}"#);
        assert_eq!(value(&text, &series), expected, "{series} in {text}");
    }
}
