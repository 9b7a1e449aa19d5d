//! The load balancer's probes and the headers every answer carries.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{PAGE_ID, error_code, spawn_app, spawn_app_with};
use crate::proxy::FreezableProxy;

#[tokio::test]
async fn liveness_and_readiness_answer_while_the_database_does() {
    let app = spawn_app().await;
    let ready = ready_within(&app.http, &app.address, Duration::from_secs(5)).await;
    assert_eq!(ready.text().await.unwrap(), "ready");
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

/// `/readyz` of the instance at `base`, asked again until it answers 200 (the change listener
/// proves itself within a second of connecting), for at most `within`; that answer.
async fn ready_within(http: &reqwest::Client, base: &str, within: Duration) -> reqwest::Response {
    let deadline = Instant::now() + within;
    loop {
        let response = http.get(format!("{base}/readyz")).send().await.unwrap();
        if response.status() == 200 {
            return response;
        }
        assert!(
            Instant::now() < deadline,
            "not ready within {within:?}: {} {}",
            response.status(),
            response.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/readyz` of the instance at `base`, asked again until it answers 503, for at most 5 s; the
/// error code of that answer.
async fn unready_code(http: &reqwest::Client, base: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = http.get(format!("{base}/readyz")).send().await.unwrap();
        if response.status() == 503 {
            assert_eq!(response.headers()["retry-after"], "5");
            return error_code(response).await;
        }
        assert!(Instant::now() < deadline, "still ready after 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn readiness_flips_when_the_database_goes_away_and_comes_back() {
    let app = spawn_app().await;
    let proxy = FreezableProxy::start(app.database_server()).await;
    let other = app.second_instance_through(&proxy).await;
    ready_within(&app.http, &other, Duration::from_secs(5)).await;

    proxy.cut();
    assert_eq!(
        unready_code(&app.http, &other).await,
        "database_unavailable"
    );
    proxy.thaw();
    // The pool reconnects at the next request, the listener within a second or two.
    ready_within(&app.http, &other, Duration::from_secs(10)).await;
    assert_eq!(app.get("/readyz").await.status(), 200, "the other instance");
}

#[tokio::test]
async fn an_instance_whose_change_listener_is_lost_is_not_ready_until_it_is_back() {
    let app = spawn_app().await;
    let proxy = FreezableProxy::start(app.database_server()).await;
    let other = app.second_instance_through(&proxy).await;
    ready_within(&app.http, &other, Duration::from_secs(5)).await;

    // The database keeps answering on the connections the instance has open, but takes no new
    // one, and the listeners' connections are closed: the listener cannot come back.
    proxy.refuse_new();
    let closed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query = 'SELECT pg_notify($1, $2)'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(closed.len() >= 2, "both instances' listeners: {closed:?}");
    assert_eq!(
        unready_code(&app.http, &other).await,
        "change_listener_unavailable",
        "the database still answers `SELECT 1`; the listener is what is missing"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        error_code(
            app.http
                .get(format!("{other}/readyz"))
                .send()
                .await
                .unwrap()
        )
        .await,
        "change_listener_unavailable",
        "it stays unready while the listener cannot reconnect"
    );
    ready_within(&app.http, &app.address, Duration::from_secs(5)).await;

    proxy.thaw();
    ready_within(&app.http, &other, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn without_its_database_an_instance_is_alive_but_not_ready() {
    let app = spawn_app().await;
    let proxy = FreezableProxy::start(app.database_server()).await;
    let other = app.second_instance_through(&proxy).await;
    let get = |path: &str| app.http.get(format!("{other}{path}")).send();
    ready_within(&app.http, &other, Duration::from_secs(5)).await;

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

#[tokio::test]
async fn with_a_listen_url_the_change_listener_connects_there_and_requests_do_not() {
    let app = spawn_app().await;
    let proxy = FreezableProxy::start(app.database_server()).await;
    let mut listen_url = url::Url::parse(&app.settings.database_url).unwrap();
    listen_url.set_port(Some(proxy.address.port())).unwrap();
    let other = app
        .second_instance_with(|s| s.listen_database_url = Some(listen_url.to_string()))
        .await;
    ready_within(&app.http, &other, Duration::from_secs(5)).await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let path = format!("/content/{}", share["uuid"].as_str().unwrap());

    // Only the listener's connection goes through the proxy: cutting it leaves the pool alone.
    proxy.cut();
    assert_eq!(
        unready_code(&app.http, &other).await,
        "change_listener_unavailable"
    );
    let page = app.read_share(&format!("{other}{path}"), None).await;
    assert_eq!(
        page.status(),
        200,
        "requests still reach the database directly"
    );
    proxy.thaw();
    ready_within(&app.http, &other, Duration::from_secs(10)).await;
}
