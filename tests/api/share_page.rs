//! What external readers get at `/content/{uuid}`: content, password, unlock tokens, cookies.

use pageshare::sandbox::Page;
use pageshare::share::unlock::mint_unlock_token;
use pageshare::share::{ShareId, UnlockSecret};
use serde_json::{Value, json};

use pageshare::share::cookie::form_token;
use pageshare::share::signing::SigningKey;

use crate::helpers::{
    EDITOR, PAGE_ID, TestApp, form_token_in, sample_image_src, session_cookie, spawn_app,
    spawn_app_with,
};

const PASSWORD: &str = "correct horse battery";

struct Shared {
    id: ShareId,
    url: String,
    secret: UnlockSecret,
}

async fn share(app: &TestApp, site: &pageshare::sandbox::Site, body: Value) -> Shared {
    let json = app.create_share(site, body).await;
    Shared {
        id: ShareId::parse(json["uuid"].as_str().unwrap()).unwrap(),
        url: json["url"].as_str().unwrap().to_owned(),
        secret: UnlockSecret::from_hex(json["unlockSecret"].as_str().unwrap()).unwrap(),
    }
}

/// A share of the sample page behind [`PASSWORD`].
async fn protected_share(app: &TestApp, site: &pageshare::sandbox::Site) -> Shared {
    share(
        app,
        site,
        json!({"contentId": PAGE_ID, "password": PASSWORD}),
    )
    .await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn unlock_url(shared: &Shared, secret: &UnlockSecret) -> String {
    format!(
        "{}?unlock={}",
        shared.url,
        mint_unlock_token(shared.id, secret, now(), 60)
    )
}

async fn post_password(app: &TestApp, shared: &Shared, password: &str) -> reqwest::Response {
    app.post_password(&shared.url, password).await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn an_open_share_shows_the_sanitised_page_and_its_image() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = share(&app, &site, json!({"contentId": PAGE_ID})).await;
    let response = app.read_share(&shared.url, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "referrer-policy"), "no-referrer");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert!(header(&response, "content-security-policy").contains("frame-ancestors *"));
    assert!(response.headers().get("x-frame-options").is_none());
    assert!(response.headers().get("set-cookie").is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Onboarding</title>"));
    assert!(html.contains("<table"), "the table survives sanitising");
    // The sample page's image points at Confluence's download URL; readers get the app's.
    assert!(!html.contains("/download/attachments/"), "{html}");
    let from_site = format!("src=\"{}", app.sandbox.url);
    assert!(
        !html.contains(&from_site),
        "nothing loads from the site: {html}"
    );
    let head = app.http.head(&shared.url).send().await.unwrap();
    assert_eq!(head.status(), 200, "HEAD answers like GET");
    let picture = app.get(&image_src(&html, &shared)).await;
    assert_eq!(picture.status(), 200);
    assert_eq!(header(&picture, "content-type"), "image/png");
    assert_eq!(header(&picture, "cache-control"), "private, max-age=3600");
    let expected = &app.sandbox.site("acme").pages[PAGE_ID].attachments[Page::SAMPLE_IMAGE_ID].1;
    assert_eq!(&picture.bytes().await.unwrap()[..], &expected[..]);
}

#[tokio::test]
async fn hostile_page_content_is_sanitised() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.pages.insert(PAGE_ID.into(), Page::hostile());
    });
    let shared = share(&app, &site, json!({"contentId": PAGE_ID})).await;
    let response = app.read_share(&shared.url, None).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap().to_lowercase();
    for bad in [
        "<script",
        "onclick",
        "onerror",
        "javascript:",
        "<iframe",
        "stolen",
        "<map",
        "<area",
        "usemap",
    ] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    for kept in [
        "harmless text before the trouble.",
        "click me",
        "a javascript link",
        "alt=\"broken\"",
        "harmless text after the trouble.",
    ] {
        assert!(html.contains(kept), "{kept} is lost: {html}");
    }
}

#[tokio::test]
async fn readers_see_a_new_version_of_the_page_within_thirty_seconds() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = share(&app, &site, json!({"contentId": PAGE_ID})).await;
    let first = app
        .read_share(&shared.url, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(first.contains("Onboarding"));
    app.sandbox.update_site("acme", |s| {
        let page = s.pages.get_mut(PAGE_ID).unwrap();
        page.version += 1;
        page.title = "Onboarding, revised".into();
        page.export_view = "<p>The second version.</p>".into();
    });
    let started = std::time::Instant::now();
    loop {
        let html = app
            .read_share(&shared.url, None)
            .await
            .text()
            .await
            .unwrap();
        if html.contains("The second version.") {
            assert!(html.contains("Onboarding, revised"));
            break;
        }
        assert!(html.contains("Onboarding"), "the old version meanwhile");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(31),
            "still the old version after 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn each_tenant_reads_its_own_page_of_the_same_id() {
    let app = spawn_app().await;
    let acme = app.site_with_page("acme").await;
    let beta = app.site_with_page("beta").await;
    app.sandbox.update_site("beta", |s| {
        let page = s.pages.get_mut(PAGE_ID).unwrap();
        page.title = "Beta's own page".into();
        page.export_view = "<p>Only beta has this.</p>".into();
    });
    let of_acme = share(&app, &acme, json!({"contentId": PAGE_ID})).await;
    let of_beta = share(&app, &beta, json!({"contentId": PAGE_ID})).await;
    let acme_html = app
        .read_share(&of_acme.url, None)
        .await
        .text()
        .await
        .unwrap();
    let beta_html = app
        .read_share(&of_beta.url, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(acme_html.contains("<title>Onboarding</title>"));
    assert!(!acme_html.contains("Only beta has this."));
    assert!(beta_html.contains("Only beta has this."));
}

#[tokio::test]
async fn password_flow_cookie_and_its_end() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;

    let form = app.read_share(&shared.url, None).await;
    assert_eq!(form.status(), 200);
    assert_eq!(header(&form, "cache-control"), "no-cache, no-store");
    let html = form.text().await.unwrap();
    assert!(html.contains("name=\"password\"") && !html.contains("Onboarding"));

    let wrong = post_password(&app, &shared, "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong.text().await.unwrap().contains("not right"));

    let right = post_password(&app, &shared, PASSWORD).await;
    assert_eq!(right.status(), 303);
    assert_eq!(
        header(&right, "location"),
        format!("/content/{}", shared.id)
    );
    let set_cookie = header(&right, "set-cookie").to_owned();
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=None",
        "Partitioned",
        &format!("Path=/content/{}", shared.id),
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    let cookie = session_cookie(&right).unwrap();
    let page = app.read_share(&shared.url, Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "cache-control"), "no-cache, no-store");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>Onboarding</title>")
    );

    let changed = app
        .patch_share(
            &site,
            EDITOR,
            &shared.id.to_string(),
            json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let after_change = app.read_share(&shared.url, Some(&cookie)).await;
    assert!(
        after_change
            .text()
            .await
            .unwrap()
            .contains("name=\"password\""),
        "a password change ends the session"
    );

    let again =
        session_cookie(&post_password(&app, &shared, "a brand new password").await).unwrap();
    assert_eq!(
        app.read_share(&shared.url, Some(&again)).await.status(),
        200
    );
    let revoked = app
        .revoke_share(&site, EDITOR, &shared.id.to_string())
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        app.read_share(&shared.url, Some(&again)).await.status(),
        404,
        "revocation ends it too"
    );
}

#[tokio::test]
async fn a_cookie_opens_only_its_own_share() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let first = protected_share(&app, &site).await;
    let second = protected_share(&app, &site).await;
    let cookie = session_cookie(&post_password(&app, &first, PASSWORD).await).unwrap();
    let other = app.read_share(&second.url, Some(&cookie)).await;
    assert!(other.text().await.unwrap().contains("name=\"password\""));
}

#[tokio::test]
async fn repeated_failures_are_limited_with_retry_after() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    for attempt in 1..=5 {
        assert_eq!(
            post_password(&app, &shared, "wrong guess!").await.status(),
            401,
            "attempt {attempt}"
        );
    }
    let limited = post_password(&app, &shared, PASSWORD).await;
    assert_eq!(limited.status(), 429, "even the right password waits");
    let retry: i64 = header(&limited, "retry-after").parse().unwrap();
    assert!((1..=15 * 60).contains(&retry));
    let other = protected_share(&app, &site).await;
    assert_eq!(
        post_password(&app, &other, PASSWORD).await.status(),
        303,
        "per share"
    );
}

#[tokio::test]
async fn password_posts_need_the_form_token_and_the_same_site() {
    let cookie_key = [7u8; 32];
    let app = spawn_app_with(|s| {
        s.cookie_key = Some(pageshare::config::CookieKeys(vec![cookie_key.to_vec()]))
    })
    .await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    let other = protected_share(&app, &site).await;
    let key = SigningKey::new(&cookie_key);
    let valid = form_token_in(
        &app.read_share(&shared.url, None)
            .await
            .text()
            .await
            .unwrap(),
    );
    // A form token lives two hours from when the form was shown.
    let expires: i64 = valid.split('.').next().unwrap().parse().unwrap();
    assert!((7190..=7210).contains(&(expires - now())), "{valid}");
    // The test client is 127.0.0.1, which the tokens are bound to.
    let expired = form_token(&key, shared.id, "127.0.0.1", now() - 1);
    let of_another_share = form_token(&key, other.id, "127.0.0.1", now() + 600);
    let of_another_client = form_token(&key, shared.id, "203.0.113.9", now() + 600);
    let same_origin = ("Sec-Fetch-Site", "same-origin");
    let null_origin = ("Origin", "null");
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Headers, &str, u16)> = vec![
        (
            "cross-site",
            vec![("Sec-Fetch-Site", "cross-site")],
            &valid,
            403,
        ),
        (
            "same-site",
            vec![("Sec-Fetch-Site", "same-site")],
            &valid,
            403,
        ),
        (
            "another origin",
            vec![("Origin", "https://evil.example.com")],
            &valid,
            403,
        ),
        ("Origin null, no token", vec![null_origin], "", 403),
        (
            "Origin null, expired token",
            vec![null_origin],
            &expired,
            403,
        ),
        (
            "Origin null, another share's token",
            vec![null_origin],
            &of_another_share,
            403,
        ),
        (
            "Origin null, a token shown to another address (its own server fetched it)",
            vec![null_origin],
            &of_another_client,
            403,
        ),
        ("same-origin, no token", vec![same_origin], "", 403),
        (
            "same-origin, forged token",
            vec![same_origin],
            "9999999999.00",
            403,
        ),
        ("neither header, no token", vec![], "", 403),
        ("neither header, expired token", vec![], &expired, 403),
        ("neither header, valid token", vec![], &valid, 303),
        ("Origin null, valid token", vec![null_origin], &valid, 303),
        (
            "own origin, valid token",
            vec![("Origin", &app.address)],
            &valid,
            303,
        ),
        ("same-origin, valid token", vec![same_origin], &valid, 303),
    ];
    for (name, headers, token, status) in cases {
        let mut request = app
            .http
            .post(format!("{}/password", shared.url))
            .form(&[("password", PASSWORD), ("form_token", token)]);
        for (header, value) in headers {
            request = request.header(header, value);
        }
        assert_eq!(
            request.send().await.unwrap().status().as_u16(),
            status,
            "{name}"
        );
    }
}

#[tokio::test]
async fn old_password_attempt_counts_are_pruned() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    for (client, age_minutes) in [("203.0.113.1", 16), ("203.0.113.2", 1)] {
        sqlx::query(
            "INSERT INTO password_failure (share_uuid, client_ip, window_start, failures)
             VALUES ($1, $2, now() - make_interval(mins => $3), 5)",
        )
        .bind(shared.id.uuid())
        .bind(client)
        .bind(age_minutes)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    // An instance prunes when it starts (and every ten minutes after).
    app.second_instance().await;
    let mut left: Vec<String> = Vec::new();
    for _ in 0..50 {
        left = sqlx::query_scalar("SELECT client_ip FROM password_failure ORDER BY client_ip")
            .fetch_all(&app.pool)
            .await
            .unwrap();
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        left,
        ["203.0.113.2"],
        "the ended window is gone, the live one stays"
    );
}

#[tokio::test]
async fn unlock_token_sets_the_cookie_and_shows_the_page_at_once() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    let response = app
        .read_share(&unlock_url(&shared, &shared.secret), None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "referrer-policy"), "no-referrer");
    assert_eq!(header(&response, "cache-control"), "no-cache, no-store");
    let cookie = session_cookie(&response).expect("the same cookie the password sets");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<title>Onboarding</title>")
    );
    assert_eq!(
        app.read_share(&shared.url, Some(&cookie)).await.status(),
        200
    );
}

#[tokio::test]
async fn refused_unlock_tokens_show_the_form_with_a_reason() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    let other = protected_share(&app, &site).await;
    let expired = mint_unlock_token(shared.id, &shared.secret, now() - 120, 60);
    let cases = [
        (
            "expired",
            format!("{}?unlock={expired}", shared.url),
            "expired",
        ),
        (
            "other share's token",
            format!(
                "{}?unlock={}",
                shared.url,
                mint_unlock_token(other.id, &other.secret, now(), 60)
            ),
            "not valid",
        ),
        (
            "signed with another secret",
            unlock_url(&shared, &other.secret),
            "not valid",
        ),
        (
            "garbage",
            format!("{}?unlock=garbage", shared.url),
            "not valid",
        ),
        (
            "over the length cap",
            format!("{}?unlock={}", shared.url, "a".repeat(4 * 1024)),
            "not valid",
        ),
    ];
    for (name, url, reason) in cases {
        let response = app.read_share(&url, None).await;
        assert_eq!(response.status(), 401, "{name}");
        assert!(response.headers().get("set-cookie").is_none(), "{name}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("name=\"password\"") && html.contains(reason),
            "{name}: {html}"
        );
    }
}

#[tokio::test]
async fn a_changed_unlock_secret_refuses_old_tokens() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    let old_url = unlock_url(&shared, &shared.secret);
    let rotated: Value = app
        .rotate_secret(&site, EDITOR, &shared.id.to_string())
        .await
        .json()
        .await
        .unwrap();
    let new_secret = UnlockSecret::from_hex(rotated["unlockSecret"].as_str().unwrap()).unwrap();
    assert_eq!(app.read_share(&old_url, None).await.status(), 401);
    assert_eq!(
        app.read_share(&unlock_url(&shared, &new_secret), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn frame_ancestors_come_from_the_share() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = share(
        &app,
        &site,
        json!({"contentId": PAGE_ID, "frameAncestors": ["https://docs.example.com", "https://*.example.org"]}),
    )
    .await;
    let response = app.read_share(&shared.url, None).await;
    let csp = header(&response, "content-security-policy");
    assert!(
        csp.contains("frame-ancestors https://docs.example.com https://*.example.org"),
        "{csp}"
    );
    assert!(response.headers().get("x-frame-options").is_none());
}

#[tokio::test]
async fn expired_revoked_and_unknown_shares() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = share(&app, &site, json!({"contentId": PAGE_ID})).await;
    sqlx::query("UPDATE shared_page SET expires_at = now() - interval '1 second' WHERE uuid = $1")
        .bind(shared.id.uuid())
        .execute(&app.pool)
        .await
        .unwrap();
    let expired = app.read_share(&shared.url, None).await;
    assert_eq!(expired.status(), 410);
    assert!(expired.text().await.unwrap().contains("expired"));
    for path in [
        format!("/content/{}", ShareId::new()),
        "/content/not-a-uuid".to_owned(),
        format!("/content/{}", shared.id.uuid().simple()),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(header(&response, "content-type").starts_with("text/html"));
    }
}

#[tokio::test]
async fn uninstalled_or_disabled_tenant_shares_are_gone_and_come_back() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = share(&app, &site, json!({"contentId": PAGE_ID})).await;
    app.uninstall(&site).await;
    assert_eq!(app.read_share(&shared.url, None).await.status(), 410);
    app.install(&site).await;
    assert_eq!(app.read_share(&shared.url, None).await.status(), 200);
    app.set_enabled(&site, false).await;
    assert_eq!(app.read_share(&shared.url, None).await.status(), 410);
    app.set_enabled(&site, true).await;
    assert_eq!(app.read_share(&shared.url, None).await.status(), 200);
}

fn image_src(html: &str, shared: &Shared) -> String {
    sample_image_src(html, shared.id)
}

#[tokio::test]
async fn protected_attachments_need_a_signature_or_the_cookie() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    let html = app
        .read_share(&unlock_url(&shared, &shared.secret), None)
        .await
        .text()
        .await
        .unwrap();
    let signed = image_src(&html, &shared);
    let picture = app.get(&signed).await;
    assert_eq!(
        picture.status(),
        200,
        "the signed URL works without the cookie"
    );
    assert_eq!(
        header(&picture, "cache-control"),
        "no-store",
        "a protected file does not outlive a password change in the browser's cache"
    );
    let other = protected_share(&app, &site).await;
    let elsewhere = signed.replace(&shared.id.to_string(), &other.id.to_string());
    assert_eq!(
        app.get(&elsewhere).await.status(),
        403,
        "bound to its share"
    );
    let bare = format!("{}/attachments/{}", shared.url, Page::SAMPLE_IMAGE_ID);
    assert_eq!(app.read_share(&bare, None).await.status(), 403);
    let forged = format!("{bare}?exp={}&sig={}", now() + 3600, "0".repeat(64));
    assert_eq!(app.read_share(&forged, None).await.status(), 403);
    let cookie = session_cookie(&post_password(&app, &shared, PASSWORD).await).unwrap();
    assert_eq!(app.read_share(&bare, Some(&cookie)).await.status(), 200);
    let unknown = format!("{}/attachments/999", shared.url);
    assert_eq!(app.read_share(&unknown, Some(&cookie)).await.status(), 404);
    // An attachment of the page that the page does not show is not served either.
    app.sandbox.update_site("acme", |s| {
        let page = s.pages.get_mut(PAGE_ID).unwrap();
        page.attachments
            .insert("777".into(), ("application/pdf".into(), b"%PDF-".to_vec()));
    });
    let hidden = format!("{}/attachments/777", shared.url);
    assert_eq!(app.read_share(&hidden, Some(&cookie)).await.status(), 404);
    // A password change ends the signed URLs handed out before it.
    let changed = app
        .patch_share(
            &site,
            EDITOR,
            &shared.id.to_string(),
            json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(app.get(&signed).await.status(), 403);
    let bad_id = format!("{}/attachments/..%2F1", shared.url);
    assert_eq!(app.read_share(&bad_id, Some(&cookie)).await.status(), 404);
}

#[tokio::test]
async fn bad_password_forms_are_4xx() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    let url = format!("{}/password", shared.url);
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "no field",
            "application/x-www-form-urlencoded",
            b"other=1".to_vec(),
            400,
        ),
        (
            "JSON",
            "application/json",
            br#"{"password":"x"}"#.to_vec(),
            400,
        ),
        (
            "oversized",
            "application/x-www-form-urlencoded",
            [b"password=".as_slice(), &vec![b'a'; 8 * 1024]].concat(),
            413,
        ),
    ];
    for (name, content_type, body, status) in cases {
        let response = app
            .http
            .post(&url)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{name}");
    }
}

#[tokio::test]
async fn an_upper_case_uuid_leads_to_the_canonical_url_but_never_moves_a_token_into_a_url() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    let upper = shared.url.replace(
        &shared.id.to_string(),
        &shared.id.to_string().to_uppercase(),
    );
    let redirect = app.read_share(&format!("{upper}?lang=en"), None).await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(
        header(&redirect, "location"),
        format!("/content/{}?lang=en", shared.id)
    );
    let unlocked = app
        .read_share(
            &unlock_url(&shared, &shared.secret).replace(&shared.url, &upper),
            None,
        )
        .await;
    assert_eq!(unlocked.status(), 200, "served where it is");
    assert!(unlocked.headers().get("location").is_none());
    assert!(
        header(&unlocked, "set-cookie").contains(&format!("Path=/content/{};", shared.id)),
        "the cookie belongs to the canonical URL"
    );
}

#[tokio::test]
async fn a_page_deleted_in_confluence_is_gone_for_readers() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = share(&app, &site, json!({"contentId": PAGE_ID})).await;
    app.sandbox.update_site("acme", |s| {
        s.pages.remove(PAGE_ID);
    });
    let gone = app.read_share(&shared.url, None).await;
    assert_eq!(gone.status(), 410);
    assert_eq!(header(&gone, "cache-control"), "no-cache, no-store");
    assert!(!gone.text().await.unwrap().contains("Onboarding"));
}

#[tokio::test]
async fn an_open_share_page_carries_the_full_policy_and_may_be_revalidated() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = share(&app, &site, json!({"contentId": PAGE_ID})).await;
    let page = app.read_share(&shared.url, None).await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        header(&page, "content-security-policy"),
        "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; \
         form-action 'self'; base-uri 'none'; frame-ancestors *"
    );
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let html = page.text().await.unwrap();
    let picture = app.get(&image_src(&html, &shared)).await;
    assert_eq!(picture.status(), 200);
    assert_eq!(
        header(&picture, "content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    );
    assert_eq!(
        header(&picture, "content-disposition"),
        "",
        "images show inline"
    );
}

#[tokio::test]
async fn cached_content_is_served_while_confluence_is_down() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = share(&app, &site, json!({"contentId": PAGE_ID})).await;
    assert_eq!(app.read_share(&shared.url, None).await.status(), 200);
    app.sandbox.update_site("acme", |s| s.down = true);
    let page = app.read_share(&shared.url, None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>Onboarding</title>")
    );
}

#[tokio::test]
async fn a_right_password_clears_the_count_of_wrong_ones() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let shared = protected_share(&app, &site).await;
    for round in 0..2 {
        for attempt in 1..=4 {
            let wrong = post_password(&app, &shared, "not the password").await;
            assert_eq!(wrong.status(), 401, "round {round}, attempt {attempt}");
        }
        let right = post_password(&app, &shared, PASSWORD).await;
        assert_eq!(right.status(), 303, "round {round}: the count starts again");
    }
}
