//! Password attempts are limited per share and client IP, and the client IP is canonical: on a
//! dual-stack socket an IPv4 client is its IPv4 address, for the limit and for trusted proxies.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use crate::helpers::{PAGE_ID, TestApp, post_password_with, spawn_app_on};

const PASSWORD: &str = "correct horse battery";

/// A client whose connections come from `source` (a loopback address).
fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::from(source)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn wrong_guess(client: &reqwest::Client, share_url: &str, forwarded: Option<&str>) -> u16 {
    let headers: Vec<(&str, &str)> = forwarded
        .map(|hop| ("X-Forwarded-For", hop))
        .into_iter()
        .collect();
    post_password_with(client, share_url, "wrong guess!", &headers)
        .await
        .status()
        .as_u16()
}

async fn protected_share_url(app: &TestApp) -> String {
    let site = app.site_with_page("acme").await;
    let share = app
        .create_share(&site, json!({"contentId": PAGE_ID, "password": PASSWORD}))
        .await;
    share["url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn ipv4_clients_of_a_dual_stack_socket_are_limited_one_by_one() {
    let app = spawn_app_on("[::]:0", |_| {}).await;
    let url = protected_share_url(&app).await;
    let first = client_from([127, 0, 0, 1]);
    for attempt in 1..=5 {
        assert_eq!(
            wrong_guess(&first, &url, None).await,
            401,
            "attempt {attempt}"
        );
    }
    assert_eq!(wrong_guess(&first, &url, None).await, 429);
    let second = client_from([127, 0, 0, 2]);
    assert_eq!(
        wrong_guess(&second, &url, None).await,
        401,
        "another IPv4 client has its own count"
    );
}

#[tokio::test]
async fn a_trusted_ipv4_proxy_is_recognised_on_a_dual_stack_socket() {
    let app = spawn_app_on("[::]:0", |s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let url = protected_share_url(&app).await;
    let proxy = client_from([127, 0, 0, 1]);
    for _ in 1..=5 {
        assert_eq!(wrong_guess(&proxy, &url, Some("203.0.113.7")).await, 401);
    }
    assert_eq!(wrong_guess(&proxy, &url, Some("203.0.113.7")).await, 429);
    assert_eq!(
        wrong_guess(&proxy, &url, Some("203.0.113.8")).await,
        401,
        "the client behind the proxy is counted, not the proxy"
    );
}

#[tokio::test]
async fn wrong_guesses_alternating_between_two_instances_share_one_count() {
    let app = spawn_app_on("127.0.0.1:0", |_| {}).await;
    let other = app.second_instance().await;
    let here = protected_share_url(&app).await;
    let there = here.replacen(&app.address, &other, 1);
    assert_ne!(here, there);
    let client = client_from([127, 0, 0, 1]);
    for attempt in 1..=5 {
        let url = if attempt % 2 == 0 { &there } else { &here };
        assert_eq!(
            wrong_guess(&client, url, None).await,
            401,
            "attempt {attempt}"
        );
    }
    assert_eq!(wrong_guess(&client, &here, None).await, 429);
    assert_eq!(wrong_guess(&client, &there, None).await, 429);
}
