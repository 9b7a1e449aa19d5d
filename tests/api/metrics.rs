//! `GET /metrics` on `PAGESHARE_METRICS_BIND` (`docs/OPERATIONS.md`, "Metrics"): each request
//! and event lands in its series, counted exactly, and no label holds a path, an id or a token.

use pageshare::share::unlock::mint_unlock_token;
use pageshare::share::{ShareId, UnlockSecret};
use serde_json::json;

use crate::helpers::{PAGE_ID, TestApp, spawn_app, spawn_app_with};

pub async fn scrape(app: &TestApp) -> String {
    let url = app.metrics_url.as_deref().expect("metrics are on");
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

/// The value of the series `name{labels}` exactly as written, or 0 when it is absent.
pub fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn each_request_and_event_lands_in_its_series_and_no_label_holds_an_id_or_token() {
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    let site = app.site_with_page("acme").await;
    let password = "correct horse battery";
    let share = app
        .create_share(&site, json!({"contentId": PAGE_ID, "password": password}))
        .await;
    let uuid = share["uuid"].as_str().unwrap();
    let url = share["url"].as_str().unwrap();
    let secret = share["unlockSecret"].as_str().unwrap();
    let id = ShareId::parse(uuid).unwrap();
    let before = scrape(&app).await;

    // The password form twice, three wrong passwords and the right one (each post reads the
    // form first, for its token), then the page twice through an unlock token.
    for _ in 0..2 {
        assert_eq!(app.read_share(url, None).await.status(), 200);
    }
    for _ in 0..3 {
        assert_eq!(app.post_password(url, "wrong guess!").await.status(), 401);
    }
    let login = app.post_password(url, password).await;
    assert_eq!(login.status(), 303);
    let token = mint_unlock_token(
        id,
        &UnlockSecret::from_hex(secret).unwrap(),
        chrono::Utc::now().timestamp(),
        60,
    );
    let unlocked = app.read_share(&format!("{url}?unlock={token}"), None).await;
    assert_eq!(unlocked.status(), 200);
    let again = app.read_share(&format!("{url}?unlock={token}"), None).await;
    assert_eq!(again.status(), 200);
    let unknown = format!("{}/content/{}", app.address, ShareId::new());
    assert_eq!(app.read_share(&unknown, None).await.status(), 404);
    assert_eq!(app.get("/no/such/route/4711").await.status(), 404);
    let after = scrape(&app).await;

    let delta = |series: &str| value(&after, series) - value(&before, series);
    let cases = [
        (
            r#"pageshare_http_requests_total{route="/content/{uuid}",method="GET",status="200"}"#,
            8.0,
        ),
        (
            r#"pageshare_http_requests_total{route="/content/{uuid}",method="GET",status="404"}"#,
            1.0,
        ),
        (
            r#"pageshare_http_requests_total{route="/content/{uuid}/password",method="POST",status="401"}"#,
            3.0,
        ),
        (
            r#"pageshare_http_requests_total{route="/content/{uuid}/password",method="POST",status="303"}"#,
            1.0,
        ),
        (
            r#"pageshare_http_requests_total{route="unmatched",method="GET",status="404"}"#,
            1.0,
        ),
        (
            r#"pageshare_http_request_duration_seconds_count{route="/content/{uuid}",method="GET"}"#,
            9.0,
        ),
        ("pageshare_password_failures_total", 3.0),
        (
            r#"pageshare_confluence_calls_total{kind="content",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"pageshare_cache_lookups_total{cache="content",outcome="miss"}"#,
            1.0,
        ),
        (
            r#"pageshare_cache_lookups_total{cache="content",outcome="hit"}"#,
            1.0,
        ),
        (
            r#"pageshare_confluence_call_duration_seconds_count{kind="content"}"#,
            1.0,
        ),
    ];
    for (series, expected) in cases {
        assert_eq!(delta(series), expected, "{series}\n{after}");
    }
    // Every request to a share page looks the share up once (a hit once the change listener
    // vouches for the cache): 9 reads and 4 password posts.
    let share_lookups = delta(r#"pageshare_cache_lookups_total{cache="shares",outcome="hit"}"#)
        + delta(r#"pageshare_cache_lookups_total{cache="shares",outcome="miss"}"#);
    assert_eq!(share_lookups, 13.0, "{after}");
    assert!(
        value(
            &after,
            r#"pageshare_key_fetches_total{kind="connect_install",outcome="ok"}"#
        ) >= 1.0,
        "{after}"
    );
    assert!(
        value(
            &after,
            r#"pageshare_confluence_calls_total{kind="permission",outcome="ok"}"#
        ) >= 1.0
    );
    assert_eq!(value(&after, "pageshare_change_listener_up"), 1.0);
    assert!(
        after.contains(r#"pageshare_db_pool_connections{state="idle"}"#),
        "{after}"
    );

    for leaked in [
        uuid,
        secret,
        &token,
        password,
        &site.client_key,
        PAGE_ID,
        "4711",
        "unlock=",
    ] {
        assert!(!after.contains(leaked), "{leaked} in the metrics:\n{after}");
    }
}

#[tokio::test]
async fn rate_limited_password_posts_are_counted() {
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    let site = app.site_with_page("acme").await;
    let share = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "password": "correct horse battery"}),
        )
        .await;
    let url = share["url"].as_str().unwrap();
    for _ in 0..5 {
        assert_eq!(app.post_password(url, "wrong guess!").await.status(), 401);
    }
    assert_eq!(app.post_password(url, "wrong guess!").await.status(), 429);
    let text = scrape(&app).await;
    assert_eq!(value(&text, "pageshare_rate_limited_total"), 1.0, "{text}");
    assert_eq!(value(&text, "pageshare_password_failures_total"), 5.0);
}

#[tokio::test]
async fn forge_key_set_fetches_are_counted() {
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    app.forge_site_with_page("acme").await;
    let text = scrape(&app).await;
    assert_eq!(
        value(
            &text,
            r#"pageshare_key_fetches_total{kind="forge_key_set",outcome="ok"}"#
        ),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn without_a_metrics_address_nothing_listens_and_the_app_serves_no_metrics() {
    let app = spawn_app().await;
    assert_eq!(app.metrics_url, None);
    assert_eq!(app.get("/metrics").await.status(), 404);
}
