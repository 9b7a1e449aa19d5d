//! The load balancer's probes and the headers every answer carries.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{PAGE_ID, error_code, spawn_app, spawn_app_with};
use crate::proxy::FreezableProxy;

#[tokio::test]
async fn liveness_and_readiness_answer_while_the_database_does() {
    let app = spawn_app().await;
    for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), body, "{path}");
    }
}

#[tokio::test]
async fn without_its_database_an_instance_is_alive_but_not_ready() {
    let app = spawn_app().await;
    let proxy = FreezableProxy::start(app.database_server()).await;
    let other = app.second_instance_through(&proxy).await;
    let get = |path: &str| app.http.get(format!("{other}{path}")).send();
    assert_eq!(get("/readyz").await.unwrap().status(), 200);

    proxy.cut();
    let asked = Instant::now();
    let response = get("/readyz").await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(error_code(response).await, "database_unavailable");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the pool gives up within its acquire timeout"
    );
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_database_error_on_the_api_is_a_503_not_a_500() {
    let app = spawn_app().await;
    let proxy = FreezableProxy::start(app.database_server()).await;
    let other = app.second_instance_through(&proxy).await;
    let site = app.site_with_page("acme").await;
    proxy.cut();
    let token = app.sandbox.context_token(&site, crate::helpers::EDITOR);
    let response = app
        .http
        .post(format!("{other}/api/shares"))
        .header("Authorization", format!("JWT {token}"))
        .json(&json!({"contentId": PAGE_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(error_code(response).await, "database_unavailable");
    assert_eq!(app.share_count().await, 0);
}

#[tokio::test]
async fn a_share_page_the_instance_cannot_look_up_is_a_503_page_to_try_again() {
    let app = spawn_app().await;
    let proxy = FreezableProxy::start(app.database_server()).await;
    let other = app.second_instance_through(&proxy).await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    proxy.cut();
    let url = format!("{other}/content/{}", share["uuid"].as_str().unwrap());
    let page = app.read_share(&url, None).await;
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "5");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!page.text().await.unwrap().contains("Onboarding"));
}

#[tokio::test]
async fn hsts_is_sent_only_when_the_base_url_is_https() {
    let plain = spawn_app().await;
    let secure = spawn_app_with(|s| s.base_url = "https://pageshare.example.com".into()).await;
    for path in [
        "/healthz",
        "/atlassian-connect.json",
        "/content/not-a-share",
    ] {
        let response = plain.get(path).await;
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "{path} over http"
        );
        let response = secure.get(path).await;
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path} over https"
        );
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
}
