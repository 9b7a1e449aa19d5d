//! A Confluence (or a network) that answers what it should not: redirects on JSON calls,
//! downloads sent elsewhere, huge and endless bodies. Pageshare believes none of it, serves none
//! of it, and keeps its memory.

use pageshare::confluence::redirects::MediaHosts;
use pageshare::sandbox::{Hostility, Page};
use serde_json::{Value, json};

use crate::helpers::{
    OUTSIDER, PAGE_ID, TestApp, error_code, spawn_app, spawn_app_configured, spawn_app_with,
};

/// The signed URL of the sample image on a share page (as the page's HTML carries it).
async fn image_url(app: &TestApp, share: &Value) -> String {
    let html = app
        .read_share(share["url"].as_str().unwrap(), None)
        .await
        .text()
        .await
        .unwrap();
    let start = html
        .find("/attachments/")
        .expect("the image goes through the app");
    let start = html[..start].rfind('"').unwrap() + 1;
    let end = start + html[start..].find('"').unwrap();
    format!("{}{}", app.address, html[start..end].replace("&amp;", "&"))
}

/// GET the sample image of the share page, as a browser showing the page does.
async fn get_image(app: &TestApp, share: &Value) -> reqwest::Response {
    let url = image_url(app, share).await;
    app.http.get(url).send().await.unwrap()
}

async fn open_share(app: &TestApp) -> Value {
    let site = app.site_with_page("acme").await;
    app.create_share(&site, json!({"contentId": PAGE_ID})).await
}

fn hostile(app: &TestApp, hostility: Hostility) {
    app.sandbox.update_site("acme", |s| s.hostile = hostility);
}

#[tokio::test]
async fn a_redirected_permission_check_is_not_believed() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    hostile(
        &app,
        Hostility {
            redirect_json_to: Some(format!("{}/evil/permission", app.sandbox.url)),
            ..Hostility::default()
        },
    );
    let response = app
        .post_share(&site, OUTSIDER, json!({"contentId": PAGE_ID}))
        .await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "confluence_unavailable");
    assert_eq!(app.share_count().await, 0);
    assert_eq!(app.sandbox.evil_hits(), 0, "the redirect was not followed");
}

#[tokio::test]
async fn a_redirected_content_call_is_a_502_page() {
    let app = spawn_app().await;
    let share = open_share(&app).await;
    hostile(
        &app,
        Hostility {
            redirect_json_to: Some(format!("{}/evil/content", app.sandbox.url)),
            ..Hostility::default()
        },
    );
    let page = app.read_share(share["url"].as_str().unwrap(), None).await;
    assert_eq!(page.status(), 502);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Confluence did not answer")
    );
    assert_eq!(app.sandbox.evil_hits(), 0, "the redirect was not followed");
}

#[tokio::test]
async fn downloads_follow_at_most_two_redirects_to_allowed_hosts_only() {
    let app = spawn_app().await;
    let share = open_share(&app).await;
    // Places that would serve an image, and count who asks: an address nobody listed, and
    // another port of the media host's address.
    let unlisted = Decoy::start("127.0.0.3").await;
    let media_ip = app.sandbox.media_url().host_str().unwrap().to_owned();
    let other_port = Decoy::start(&media_ip).await;
    let cases: Vec<(&str, Hostility, u16)> = vec![
        ("the media host", Hostility::default(), 200),
        (
            "one extra hop on the site's origin",
            Hostility {
                download_hops: 1,
                ..Hostility::default()
            },
            200,
        ),
        (
            "two extra hops (three redirects)",
            Hostility {
                download_hops: 2,
                ..Hostility::default()
            },
            502,
        ),
        (
            "an IP literal nobody listed",
            Hostility {
                redirect_download_to: Some(format!("{}/file.png", unlisted.url)),
                ..Hostility::default()
            },
            502,
        ),
        (
            "another port of the media host",
            Hostility {
                redirect_download_to: Some(format!("{}/file.png", other_port.url)),
                ..Hostility::default()
            },
            502,
        ),
        (
            "https to a host nobody listed",
            Hostility {
                redirect_download_to: Some("https://evil.example.com/file".into()),
                ..Hostility::default()
            },
            502,
        ),
    ];
    for (name, hostility, status) in cases {
        hostile(&app, hostility);
        let image = get_image(&app, &share).await;
        assert_eq!(image.status().as_u16(), status, "{name}");
        if status == 200 {
            assert!(
                image.bytes().await.unwrap().starts_with(b"\x89PNG"),
                "{name}"
            );
        }
        assert_eq!(unlisted.visits(), 0, "{name}: the app went there");
        assert_eq!(other_port.visits(), 0, "{name}: the app went there");
    }
}

/// A server that answers every request with a small PNG and counts the connections it got.
struct Decoy {
    url: String,
    visits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Decoy {
    async fn start(ip: &str) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let visits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = visits.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let answer = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 8\r\n\r\n\x89PNG\r\n\x1a\n";
                let _ = stream.write_all(answer).await;
            }
        });
        Self { url, visits }
    }

    fn visits(&self) -> usize {
        self.visits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_media_host_outside_the_setting_is_not_followed() {
    let app =
        spawn_app_with(|s| s.media_hosts = MediaHosts::parse("api.media.atlassian.com").unwrap())
            .await;
    let share = open_share(&app).await;
    let image = get_image(&app, &share).await;
    assert_eq!(image.status(), 502);
}

#[tokio::test]
async fn a_listed_media_name_that_resolves_to_a_private_address_is_not_followed() {
    let app = spawn_app_configured(|s, sandbox| {
        let port = sandbox.media_url().port().unwrap();
        s.media_hosts = MediaHosts::parse(&format!("localhost:{port}")).unwrap();
    })
    .await;
    let share = open_share(&app).await;
    let media = app.sandbox.media_url();
    hostile(
        &app,
        Hostility {
            redirect_download_to: Some(format!(
                "http://localhost:{}/media/acme/{PAGE_ID}/{}",
                media.port().unwrap(),
                Page::SAMPLE_IMAGE_ID
            )),
            ..Hostility::default()
        },
    );
    let image = get_image(&app, &share).await;
    assert_eq!(
        image.status(),
        502,
        "localhost is listed but resolves to a loopback address"
    );
}

#[tokio::test]
async fn huge_and_endless_json_answers_are_cut_at_5_mb() {
    let app = spawn_app().await;
    let share = open_share(&app).await;
    for (name, hostility) in [
        (
            "6 MB",
            Hostility {
                pad_content_to: Some(6 * 1024 * 1024),
                ..Hostility::default()
            },
        ),
        (
            "endless",
            Hostility {
                endless_content: true,
                ..Hostility::default()
            },
        ),
    ] {
        hostile(&app, hostility);
        let started = std::time::Instant::now();
        let page = app.read_share(share["url"].as_str().unwrap(), None).await;
        assert_eq!(page.status(), 502, "{name}");
        assert!(page.text().await.unwrap().contains("Too large"), "{name}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{name}"
        );
    }
    hostile(
        &app,
        Hostility {
            pad_content_to: Some(4 * 1024 * 1024),
            ..Hostility::default()
        },
    );
    let page = app.read_share(share["url"].as_str().unwrap(), None).await;
    assert_eq!(page.status(), 200, "4 MB is within the cap");
}

#[tokio::test]
async fn an_attachment_over_the_cap_is_a_502_page() {
    let app = spawn_app_with(|s| s.max_attachment_bytes = 1024 * 1024).await;
    let share = open_share(&app).await;
    let image = image_url(&app, &share).await;
    assert_eq!(app.http.get(&image).send().await.unwrap().status(), 200);
    app.sandbox.update_site("acme", |s| {
        let page = s.pages.get_mut(PAGE_ID).unwrap();
        let file = page.attachments.get_mut(Page::SAMPLE_IMAGE_ID).unwrap();
        file.1 = vec![0; 2 * 1024 * 1024];
    });
    let response = app.http.get(&image).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("Too large"));
}

#[tokio::test]
async fn twenty_concurrent_first_reads_fetch_the_page_exactly_once() {
    let app = spawn_app().await;
    let share = open_share(&app).await;
    let url = share["url"].as_str().unwrap().to_owned();
    let before = app.sandbox.content_fetches();
    let reads = (0..20).map(|_| {
        let http = app.http.clone();
        let url = url.clone();
        tokio::spawn(async move { http.get(url).send().await.unwrap().status().as_u16() })
    });
    for read in reads.collect::<Vec<_>>() {
        assert_eq!(read.await.unwrap(), 200);
    }
    assert_eq!(app.sandbox.content_fetches() - before, 1);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        app.sandbox.content_fetches() - before,
        1,
        "later readers are served warm"
    );
}

#[tokio::test]
async fn a_confluence_that_does_not_answer_is_a_502_page_after_ten_seconds() {
    let app = spawn_app().await;
    let share = open_share(&app).await;
    hostile(
        &app,
        Hostility {
            stall: true,
            ..Hostility::default()
        },
    );
    let asked = std::time::Instant::now();
    let page = app.read_share(share["url"].as_str().unwrap(), None).await;
    let waited = asked.elapsed();
    assert_eq!(page.status(), 502);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Confluence did not answer")
    );
    assert!(
        (9..20).contains(&waited.as_secs()),
        "gave up after {waited:?}, not at its 10 s timeout"
    );
}

#[tokio::test]
async fn a_confluence_that_refuses_connections_is_a_502_page_and_a_502_for_the_api() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    // Nothing listens on the discard port: every connection is refused.
    sqlx::query("UPDATE installation SET base_url = 'http://127.0.0.1:9/acme/wiki'")
        .execute(&app.pool)
        .await
        .unwrap();
    let page = app
        .read_share_until(share["url"].as_str().unwrap(), None, 502)
        .await;
    assert_eq!(page.status(), 502);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Confluence did not answer")
    );
    let refused = app
        .post_share(&site, crate::helpers::EDITOR, json!({"contentId": PAGE_ID}))
        .await;
    assert_eq!(refused.status(), 502);
    assert_eq!(error_code(refused).await, "confluence_unavailable");
    assert_eq!(app.share_count().await, 1);
}
