//! Secrets never reach the logs: the binary runs at `RUST_LOG=debug` through Connect and Forge
//! flows, and its stderr is searched for every secret and token the test handed it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pageshare::sandbox::{AppTarget, FORGE_APP_ID, Invoker, KID, Sandbox};
use pageshare::share::unlock::mint_unlock_token;
use pageshare::share::{ShareId, UnlockSecret};
use serde_json::{Value, json};

use crate::helpers::{APP_KEY, EDITOR, PAGE_ID, add_sample_page, form_token_in};

/// `pageshare serve` as a process, its stderr in `log`; killed and its database dropped at the
/// end.
pub struct Running {
    pub child: Child,
    pub log: std::path::PathBuf,
    pub database_url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let url = self.database_url.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    use sqlx::migrate::MigrateDatabase;
                    let _ = sqlx::Postgres::force_drop_database(&url).await;
                })
        })
        .join();
    }
}

/// `pageshare serve` installable from `sandbox` at `RUST_LOG=debug`, with `env` besides; the
/// process and its address.
pub fn start_binary(sandbox: &Sandbox, env: &[(&str, &str)]) -> (Running, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("http://127.0.0.1:{port}");
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/pageshare".into());
    let database_url = format!(
        "{}/pageshare_logs_{}",
        server.rsplit_once('/').unwrap().0,
        uuid::Uuid::new_v4().simple()
    );
    let log = std::env::temp_dir().join(format!("pageshare-log-{port}.txt"));
    let media = sandbox.media_url();
    let child = Command::new(env!("CARGO_BIN_EXE_pageshare"))
        .arg("serve")
        .env("DATABASE_URL", &database_url)
        .env("PAGESHARE_BIND", format!("127.0.0.1:{port}"))
        .env("PAGESHARE_BASE_URL", &address)
        .env("PAGESHARE_APP_KEY", APP_KEY)
        .env("PAGESHARE_INSTALL_KEYS_URL", sandbox.keys_url())
        .env("PAGESHARE_HOST_ALLOWLIST", "127.0.0.1")
        .env(
            "PAGESHARE_MEDIA_HOSTS",
            format!("127.0.0.1:{}", media.port().unwrap()),
        )
        .env("PAGESHARE_FORGE_APP_ID", FORGE_APP_ID)
        .env("PAGESHARE_FORGE_JWKS_URL", sandbox.forge_jwks_url())
        .env("PAGESHARE_FORGE_API_BASE", sandbox.forge_api_base())
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (
        Running {
            child,
            log,
            database_url,
        },
        address,
    )
}

pub async fn wait_for(http: &reqwest::Client, address: &str) {
    for _ in 0..100 {
        if http.get(format!("{address}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the binary did not start");
}

/// Send `request`; the JSON of its answer.
async fn json_answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_reaches_the_log_at_debug_level() {
    let sandbox = Sandbox::start(APP_KEY).unwrap();
    let (running, address) = start_binary(&sandbox, &[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    wait_for(&http, &address).await;
    let target = AppTarget {
        base_url: address.clone(),
        key: APP_KEY.into(),
    };
    let mut secrets: Vec<String> = Vec::new();

    // Connect: signed install (the shared secret in its body), an iframe page, the Web API.
    sandbox.add_site("acme");
    let site = add_sample_page(&sandbox, "acme");
    let install_claims = sandbox.install_claims(&site, &target, "/installed");
    let install_token = sandbox.sign_rs256(&install_claims, KID, false);
    let install_body = sandbox.lifecycle_body(&site, &target, "installed");
    let installed = sandbox
        .post_callback(&target, "/installed", &install_body, Some(&install_token))
        .await
        .unwrap();
    assert_eq!(installed.status(), 204);
    secrets.extend([install_token, site.secret.expose().to_owned()]);
    let iframe = sandbox.iframe_url(
        &target,
        &site,
        "/connect/share-panel?contentId=1234567",
        EDITOR,
    );
    secrets.push(iframe.split("jwt=").nth(1).unwrap().to_owned());
    assert_eq!(http.get(&iframe).send().await.unwrap().status(), 200);
    let context = sandbox.context_token(&site, EDITOR);
    secrets.push(context.clone());
    let password = "correct horse battery staple";
    secrets.push(password.to_owned());
    let share = json_answer(
        http.post(format!("{address}/api/shares"))
            .header("Authorization", format!("JWT {context}"))
            .json(&json!({"contentId": PAGE_ID, "password": password})),
    )
    .await;
    let url = share["url"].as_str().unwrap().to_owned();
    let secret_hex = share["unlockSecret"].as_str().unwrap().to_owned();
    secrets.push(secret_hex.clone());
    // A reader: an unlock token, the password form, the cookie.
    let unlock = mint_unlock_token(
        ShareId::parse(share["uuid"].as_str().unwrap()).unwrap(),
        &UnlockSecret::from_hex(&secret_hex).unwrap(),
        chrono::Utc::now().timestamp(),
        60,
    );
    secrets.push(unlock.clone());
    let unlocked = http
        .get(format!("{url}?unlock={unlock}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), 200);
    let cookie = unlocked.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    secrets.push(cookie.split_once('=').unwrap().1.to_owned());
    // An unlock token signed with another secret is refused (and its refusal logged).
    let forged = mint_unlock_token(
        ShareId::parse(share["uuid"].as_str().unwrap()).unwrap(),
        &UnlockSecret::from_hex(&"ab".repeat(32)).unwrap(),
        chrono::Utc::now().timestamp(),
        60,
    );
    secrets.push(forged.clone());
    let refused = http
        .get(format!("{url}?unlock={forged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let form = http.get(&url).send().await.unwrap().text().await.unwrap();
    let form_token = form_token_in(&form);
    secrets.push(form_token.clone());
    let login = http
        .post(format!("{url}/password"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("password", password), ("form_token", &form_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let session = login.headers()["set-cookie"].to_str().unwrap();
    let session = session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    secrets.push(session.to_owned());
    assert_eq!(
        http.get(&url)
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // API keys: created by a site admin, used, refused with a near miss, revoked, refused.
    sandbox.update_site("acme", |s| {
        s.admins.insert("557058:site-admin".into());
        s.add_editor(PAGE_ID, "557058:site-admin");
    });
    let admin_token = sandbox.context_token(&sandbox.site("acme"), "557058:site-admin");
    secrets.push(admin_token.clone());
    let created = json_answer(
        http.post(format!("{address}/api/admin/api-keys"))
            .header("Authorization", format!("JWT {admin_token}"))
            .json(&json!({"name": "ci", "scopes": ["shares:read"]})),
    )
    .await;
    let api_key = created["key"].as_str().expect("a new API key").to_owned();
    secrets.push(api_key.clone());
    // The key with its last character changed (never to itself: a key may end in `A`).
    let last = if api_key.ends_with('A') { 'B' } else { 'A' };
    let near_miss = format!("{}{last}", &api_key[..api_key.len() - 1]);
    secrets.push(near_miss.clone());
    for (key, status) in [(&api_key, 200), (&near_miss, 401)] {
        let listed = http
            .get(format!("{address}/api/shares?contentId={PAGE_ID}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), status);
    }
    let revoked = http
        .delete(format!(
            "{address}/api/admin/api-keys/{}",
            created["id"].as_str().unwrap()
        ))
        .header("Authorization", format!("JWT {admin_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let refused = http
        .get(format!("{address}/api/shares?contentId={PAGE_ID}"))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // A site unlock key: its generated secret (answered once) and a token made with it.
    let site_key = json_answer(
        http.post(format!("{address}/api/admin/unlock-keys"))
            .header("Authorization", format!("JWT {admin_token}"))
            .json(&json!({"generate": "HS256"})),
    )
    .await;
    let site_secret = site_key["secret"]
        .as_str()
        .expect("the new secret")
        .to_owned();
    secrets.push(site_secret.clone());
    let now = chrono::Utc::now().timestamp();
    let site_token = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(site_key["kid"].as_str().unwrap().to_owned()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &json!({"nbf": now, "exp": now + 60, "iss": share["uuid"]}),
        &jsonwebtoken::EncodingKey::from_secret(&hex::decode(&site_secret).unwrap()),
    )
    .unwrap();
    secrets.push(site_token.clone());
    let unlocked = http
        .get(format!("{url}?unlock={site_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), 200, "the site key unlocks");

    // Forge: the install event, the Web API, a share page with the stored app token.
    sandbox.add_site("forge");
    let forge_site = add_sample_page(&sandbox, "forge");
    let trigger = sandbox.sign_fit(&sandbox.fit_claims(&forge_site, Invoker::Trigger), false);
    let app_token = sandbox.issue_app_token(&forge_site);
    secrets.extend([trigger.clone(), app_token.clone()]);
    let installed = http
        .post(format!("{address}/forge/events"))
        .bearer_auth(&trigger)
        .header("x-forge-oauth-system", &app_token)
        .json(&json!({"eventType": "avi:forge:installed:app"}))
        .send()
        .await
        .unwrap();
    assert_eq!(installed.status(), 204);
    let user = Invoker::User {
        account_id: EDITOR,
        content_id: Some(PAGE_ID),
    };
    let fit = sandbox.sign_fit(&sandbox.fit_claims(&forge_site, user), false);
    let user_token = "forge-user-token-that-must-not-be-logged";
    secrets.extend([fit.clone(), user_token.to_owned()]);
    let forge_share = json_answer(
        http.post(format!("{address}/forge/api/shares"))
            .bearer_auth(&fit)
            .header("x-forge-oauth-user", user_token)
            .json(&json!({"contentId": PAGE_ID})),
    )
    .await;
    let page = http
        .get(forge_share["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // And refusals, whose errors are logged too.
    let stranger_fit = sandbox.sign_fit(&sandbox.fit_claims(&forge_site, user), true);
    secrets.push(stranger_fit.clone());
    let refused = http
        .get(format!("{address}/forge/api/shares?contentId={PAGE_ID}"))
        .bearer_auth(&stranger_fit)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = std::fs::read_to_string(&running.log).unwrap();
    assert!(log.contains("DEBUG"), "the log ran at debug level");
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret reached the log: {}…",
            &secret[..8]
        );
    }
    drop(running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_json_format_every_line_on_stderr_is_one_json_object() {
    let sandbox = Sandbox::start(APP_KEY).unwrap();
    let (running, address) = start_binary(&sandbox, &[("PAGESHARE_LOG_FORMAT", "json")]);
    let http = reqwest::Client::new();
    wait_for(&http, &address).await;
    // Requests that are logged, one of them refused.
    assert_eq!(
        http.get(format!("{address}/api/shares"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = std::fs::read_to_string(&running.log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 3, "{log}");
    for line in &lines {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|line| line.contains(r#""message":"serving""#)),
        "{log}"
    );
    drop(running);
}
