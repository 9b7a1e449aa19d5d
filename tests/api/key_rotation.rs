//! Rotating the app's own keys without downtime (`docs/OPERATIONS.md`, "Rotating keys"):
//! `PAGESHARE_COOKIE_KEY` and `PAGESHARE_DATA_KEY` take a list whose first key signs or seals
//! and whose every key verifies or opens; `pageshare keys reencrypt` moves stored app tokens to
//! the first data key.

use pageshare::config::{CookieKeys, DataKeys};
use pageshare::data_key::DataKey;
use serde_json::{Value, json};
use sqlx::migrate::MigrateDatabase;

use crate::cli::pageshare;
use crate::helpers::{PAGE_ID, TestApp, session_cookie, spawn_app_with};

const OLD: [u8; 32] = [0x11; 32];
const NEW: [u8; 32] = [0x22; 32];

fn cookie_keys(keys: &[[u8; 32]]) -> Option<CookieKeys> {
    Some(CookieKeys(keys.iter().map(|k| k.to_vec()).collect()))
}

fn at(instance: &str, share: &Value) -> String {
    format!("{instance}/content/{}", share["uuid"].as_str().unwrap())
}

async fn opens(app: &TestApp, url: &str, cookie: &str) -> bool {
    let page = app.read_share(url, Some(cookie)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Onboarding</title>") != html.contains("name=\"password\""));
    html.contains("<title>Onboarding</title>")
}

#[tokio::test]
async fn a_cookie_signed_with_the_old_key_opens_its_share_until_that_key_is_removed() {
    let password = "correct horse battery";
    let app = spawn_app_with(|s| s.cookie_key = cookie_keys(&[OLD])).await;
    let rotated = app
        .second_instance_with(|s| s.cookie_key = cookie_keys(&[NEW, OLD]))
        .await;
    let new_only = app
        .second_instance_with(|s| s.cookie_key = cookie_keys(&[NEW]))
        .await;
    let site = app.site_with_page("acme").await;
    let share = app
        .create_share(&site, json!({"contentId": PAGE_ID, "password": password}))
        .await;

    let login = app.post_password(&at(&app.address, &share), password).await;
    let old_cookie = session_cookie(&login).expect("a session cookie");
    assert!(opens(&app, &at(&app.address, &share), &old_cookie).await);
    assert!(
        opens(&app, &at(&rotated, &share), &old_cookie).await,
        "the old key still verifies while it is in the list"
    );
    assert!(
        !opens(&app, &at(&new_only, &share), &old_cookie).await,
        "once the old key is removed its cookies end"
    );

    // The rotated instance signs with the new key: its sessions open on the new-only one.
    let login = app.post_password(&at(&rotated, &share), password).await;
    let new_cookie = session_cookie(&login).expect("a session cookie");
    assert!(opens(&app, &at(&new_only, &share), &new_cookie).await);
    assert!(
        !opens(&app, &at(&app.address, &share), &new_cookie).await,
        "an instance that does not know the new key refuses its cookies"
    );
}

async fn stored_app_token(app: &TestApp) -> (String, Vec<u8>) {
    sqlx::query_as("SELECT client_key, forge_app_token FROM installation")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn reencrypt(app: &TestApp, data_key: &str) -> crate::cli::Run {
    pageshare(
        &["keys", "reencrypt"],
        &[
            ("DATABASE_URL", &app.settings.database_url),
            ("PAGESHARE_DATA_KEY", data_key),
        ],
        None,
    )
}

#[tokio::test]
async fn reencrypt_moves_app_tokens_to_the_first_data_key_so_the_old_one_can_go() {
    let app = spawn_app_with(|s| s.data_key = Some(DataKeys(vec![OLD]))).await;
    let site = app.forge_site_with_page("acme").await;
    let share = app
        .forge_api(
            &site,
            crate::helpers::EDITOR,
            reqwest::Method::POST,
            "/api/shares",
            Some(json!({"contentId": PAGE_ID})),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let (client_key, sealed) = stored_app_token(&app).await;
    let token = DataKey::new(&OLD)
        .open(&sealed, client_key.as_bytes())
        .expect("sealed with the old key");
    let (old_hex, new_hex) = (hex::encode(OLD), hex::encode(NEW));

    let new_only = app
        .second_instance_with(|s| s.data_key = Some(DataKeys(vec![NEW])))
        .await;
    assert_eq!(
        app.read_share(&at(&new_only, &share), None).await.status(),
        503,
        "before the move, an instance with only the new key cannot call Confluence"
    );

    let run = reencrypt(&app, &format!("{new_hex},{old_hex}"));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("re-encrypted 1 Forge app token(s)")
            && run.stdout.contains("0 already were"),
        "{run:?}"
    );
    let (_, resealed) = stored_app_token(&app).await;
    assert_eq!(
        DataKey::new(&NEW).open(&resealed, client_key.as_bytes()),
        Some(token),
        "the same token, now under the new key"
    );
    let page = app.read_share(&at(&new_only, &share), None).await;
    assert_eq!(page.status(), 200, "the old key is no longer needed");

    let again = reencrypt(&app, &new_hex);
    assert!(
        again.stdout.contains("re-encrypted 0") && again.stdout.contains("1 already were"),
        "{again:?}"
    );
    let unknown = reencrypt(&app, &"33".repeat(32));
    assert_eq!(unknown.code, Some(0), "{unknown:?}");
    assert!(
        unknown
            .stdout
            .contains("1 token(s) open with none of the keys"),
        "{unknown:?}"
    );
    assert_eq!(
        stored_app_token(&app).await.1,
        resealed,
        "an unreadable token is left alone"
    );
    for run in [&run, &again, &unknown] {
        for key in [&old_hex, &new_hex] {
            assert!(!run.stdout.contains(key.as_str()) && !run.stderr.contains(key.as_str()));
        }
    }
}

#[tokio::test]
async fn reencrypt_needs_a_data_key_and_an_existing_database_and_creates_none() {
    let app = spawn_app_with(|_| {}).await;
    let cases = [
        (
            None,
            app.settings.database_url.clone(),
            "PAGESHARE_DATA_KEY: must be set",
        ),
        (
            Some("abcd".to_owned()),
            app.settings.database_url.clone(),
            "PAGESHARE_DATA_KEY: must be 32 bytes",
        ),
        (
            Some(hex::encode(NEW)),
            format!("{}_missing", app.settings.database_url),
            "does not exist",
        ),
    ];
    for (data_key, database_url, expected) in cases {
        let mut env = vec![("DATABASE_URL", database_url.as_str())];
        if let Some(key) = &data_key {
            env.push(("PAGESHARE_DATA_KEY", key));
        }
        let run = pageshare(&["keys", "reencrypt"], &env, None);
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(run.stderr.contains(expected), "{expected}: {run:?}");
        assert_eq!(
            sqlx::Postgres::database_exists(&database_url)
                .await
                .unwrap(),
            database_url == app.settings.database_url,
            "only the app's own database exists: {database_url}"
        );
    }
}

#[tokio::test]
async fn reencrypt_moves_generated_site_unlock_secrets_to_the_first_data_key_too() {
    use crate::api_keys::{ADMIN, site_with_admin};
    let app = spawn_app_with(|s| s.data_key = Some(DataKeys(vec![OLD]))).await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let generated: Value = app
        .api(
            &site,
            ADMIN,
            reqwest::Method::POST,
            "/api/admin/unlock-keys",
            Some(json!({"generate": "HS256"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = hex::decode(generated["secret"].as_str().unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(generated["kid"].as_str().unwrap().to_owned()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &json!({"nbf": now, "exp": now + 60, "iss": share.id.to_string()}),
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap();
    let new_only = app
        .second_instance_with(|s| s.data_key = Some(DataKeys(vec![NEW])))
        .await;
    let url = format!("{new_only}/content/{}?unlock={token}", share.id);
    assert_eq!(
        app.read_share(&url, None).await.status(),
        401,
        "before the move, an instance with only the new key cannot open the secret"
    );
    let (old_hex, new_hex) = (hex::encode(OLD), hex::encode(NEW));
    let run = reencrypt(&app, &format!("{new_hex},{old_hex}"));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains("re-encrypted 1 site unlock secret(s) under the first PAGESHARE_DATA_KEY; 0 already were"),
        "{run:?}"
    );
    assert_eq!(
        app.read_share_until(&url, None, 200).await.status(),
        200,
        "the old key is no longer needed"
    );
    let again = reencrypt(&app, &new_hex);
    assert!(
        again
            .stdout
            .contains("re-encrypted 0 site unlock secret(s)")
            && again.stdout.contains("; 1 already were"),
        "{again:?}"
    );
    let unknown = reencrypt(&app, &"33".repeat(32));
    assert!(
        unknown
            .stdout
            .contains("1 site unlock secret(s) open with none of the keys"),
        "{unknown:?}"
    );
    let shown = hex::encode(&secret);
    for run in [&run, &again, &unknown] {
        assert!(!run.stdout.contains(&shown) && !run.stderr.contains(&shown));
    }
}
