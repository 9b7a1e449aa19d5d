//! `PAGESHARE_BASE_URL` with a path: the app serves every route under it (a proxy passes the
//! path on unchanged), so the descriptor, the Connect callbacks, iframe pages, the Web API and
//! share links all work there.

use std::process::Stdio;
use std::time::Duration;

use pageshare::sandbox::{AppTarget, Sandbox};
use serde_json::{Value, json};

use super::{Database, Running, command, free_port};
use crate::helpers::{APP_KEY, EDITOR, PAGE_ID, add_sample_page};

/// `pageshare serve` at `base_url`, listening on `port`, installable from `sandbox`.
async fn serve(db: &Database, sandbox: &Sandbox, port: u16, base_url: &str) -> Running {
    let bind = format!("127.0.0.1:{port}");
    let keys_url = sandbox.keys_url();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("PAGESHARE_BIND", &bind),
        ("PAGESHARE_BASE_URL", base_url),
        ("PAGESHARE_APP_KEY", APP_KEY),
        ("PAGESHARE_INSTALL_KEYS_URL", &keys_url),
        ("PAGESHARE_HOST_ALLOWLIST", "127.0.0.1"),
        ("RUST_LOG", "warn"),
    ];
    let server = Running(
        command(&["serve"], &env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if reqwest::get(format!("{base_url}/healthz")).await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pageshare serve did not answer at {base_url}");
}

#[tokio::test]
async fn the_app_is_served_under_the_path_of_its_base_url() {
    let db = Database::unused();
    let sandbox = Sandbox::start(APP_KEY).unwrap();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let base_url = format!("{origin}/pageshare");
    let _server = serve(&db, &sandbox, port, &base_url).await;
    let http = reqwest::Client::new();
    let get = |url: String| http.get(url).send();

    let descriptor = get(format!("{base_url}/atlassian-connect.json"))
        .await
        .unwrap();
    assert_eq!(descriptor.status(), 200);
    let descriptor: Value = descriptor.json().await.unwrap();
    assert_eq!(descriptor["baseUrl"], base_url.as_str());
    for outside in ["/atlassian-connect.json", "/healthz", "/pageshareX/healthz"] {
        let response = get(format!("{origin}{outside}")).await.unwrap();
        assert_eq!(response.status(), 404, "{outside}");
    }

    let target = AppTarget {
        base_url: base_url.clone(),
        key: APP_KEY.into(),
    };
    sandbox.add_site("acme");
    let site = add_sample_page(&sandbox, "acme");
    let installed = sandbox.install(&target, &site).await.unwrap();
    assert_eq!(installed.status(), 204, "signed install under the path");
    let panel = sandbox.iframe_url(
        &target,
        &site,
        &format!("/connect/share-panel?contentId={PAGE_ID}"),
        EDITOR,
    );
    let panel = get(panel).await.unwrap();
    assert_eq!(panel.status(), 200, "iframe page (qsh)");
    let html = panel.text().await.unwrap();
    let stylesheet = html
        .split(r#"rel="stylesheet" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert!(
        stylesheet.starts_with(&format!("{base_url}/static/")),
        "{stylesheet}"
    );
    assert_eq!(get(stylesheet.to_owned()).await.unwrap().status(), 200);
    let created = http
        .post(format!("{base_url}/api/shares"))
        .header(
            "Authorization",
            format!("JWT {}", sandbox.context_token(&site, EDITOR)),
        )
        .json(&json!({"contentId": PAGE_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        created.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/pageshare/api/shares/")
    );
    let share: Value = created.json().await.unwrap();
    let link = share["url"].as_str().unwrap();
    assert!(link.starts_with(&format!("{base_url}/content/")), "{link}");
    assert_eq!(get(link.to_owned()).await.unwrap().status(), 200);
}
