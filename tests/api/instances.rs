//! Several instances on one database: what one changes, the others honour at once (each keeps
//! shares in memory, kept fresh by Postgres notifications).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{EDITOR, PAGE_ID, session_cookie, spawn_app};
use crate::proxy::FreezableProxy;

fn on(instance: &str, share: &Value) -> String {
    format!("{instance}/content/{}", share["uuid"].as_str().unwrap())
}

#[tokio::test]
async fn a_revocation_on_one_instance_ends_the_share_on_the_others() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = on(&other, &share);
    // Read twice on the other instance: it now holds the share in memory.
    app.let_announcements_arrive().await;
    for _ in 0..2 {
        assert_eq!(app.read_share(&url, None).await.status(), 200);
    }
    let uuid = share["uuid"].as_str().unwrap();
    // Revoked behind the instances' backs: the other one still serves it from memory…
    app.change_unannounced(&format!(
        "UPDATE shared_page SET revoked_at = now() WHERE uuid = '{uuid}'"
    ))
    .await;
    for _ in 0..3 {
        assert_eq!(app.read_share(&url, None).await.status(), 200, "cached");
    }
    // …until the notification the revocation's trigger sends arrives.
    app.announce_share_change(uuid).await;
    assert_eq!(app.read_share_until(&url, None, 404).await.status(), 404);
}

#[tokio::test]
async fn a_revocation_through_the_api_reaches_the_other_instances() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = on(&other, &share);
    assert_eq!(app.read_share(&url, None).await.status(), 200);
    let uuid = share["uuid"].as_str().unwrap();
    assert_eq!(app.revoke_share(&site, EDITOR, uuid).await.status(), 204);
    assert_eq!(app.read_share_until(&url, None, 404).await.status(), 404);
}

#[tokio::test]
async fn a_password_change_on_one_instance_ends_sessions_on_the_others() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = app.site_with_page("acme").await;
    let password = "correct horse battery";
    let share = app
        .create_share(&site, json!({"contentId": PAGE_ID, "password": password}))
        .await;
    let url = on(&other, &share);
    let login = app.post_password(&url, password).await;
    let cookie = session_cookie(&login).unwrap();
    assert_eq!(app.read_share(&url, Some(&cookie)).await.status(), 200);
    let uuid = share["uuid"].as_str().unwrap();
    app.let_announcements_arrive().await;
    assert_eq!(app.read_share(&url, Some(&cookie)).await.status(), 200);
    // The other instance holds the share: a password dropped behind its back goes unseen.
    app.change_unannounced(&format!(
        "UPDATE shared_page SET password_hash = NULL WHERE uuid = '{uuid}'"
    ))
    .await;
    let stale = app.read_share(&url, None).await.text().await.unwrap();
    assert!(
        stale.contains("name=\"password\""),
        "served from its cache: {stale}"
    );
    let changed = app
        .patch_share(&site, EDITOR, uuid, json!({"password": "a new password!"}))
        .await;
    assert_eq!(changed.status(), 200);
    let mut form_shown = false;
    for _ in 0..40 {
        let body = app
            .read_share(&url, Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        if body.contains("name=\"password\"") {
            form_shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        form_shown,
        "the old session still opened the page on the other instance"
    );
}

#[tokio::test]
async fn a_change_made_directly_in_the_database_is_honoured_too() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = on(&app.address, &share);
    app.let_announcements_arrive().await;
    for _ in 0..2 {
        assert_eq!(app.read_share(&url, None).await.status(), 200);
    }
    let expire = format!(
        "UPDATE shared_page SET expires_at = now() - interval '1 second' WHERE uuid = '{}'",
        share["uuid"].as_str().unwrap()
    );
    // Unannounced, the change is not seen: the share is served from memory…
    app.change_unannounced(&expire).await;
    assert_eq!(app.read_share(&url, None).await.status(), 200, "cached");
    // …and the same change made plainly is announced by the table's trigger.
    sqlx::query(sqlx::AssertSqlSafe(expire))
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.read_share_until(&url, None, 410).await.status(), 410);
    sqlx::query("UPDATE installation SET enabled = false")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE shared_page SET expires_at = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.read_share_until(&url, None, 410).await.status(),
        410,
        "tenant disabled"
    );
}

#[tokio::test]
async fn a_silently_dead_listener_stops_the_cache_within_five_seconds() {
    let app = spawn_app().await;
    let proxy = FreezableProxy::start(app.database_server()).await;
    let other = app.second_instance_through(&proxy).await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = on(&other, &share);
    app.let_announcements_arrive().await;
    assert_eq!(app.read_share_until(&url, None, 200).await.status(), 200);
    // The other instance serves the share from memory: embedding sites changed unannounced are
    // not seen.
    app.change_unannounced(&format!(
        "UPDATE shared_page SET frame_ancestors = '{{https://quiet.example.com}}' WHERE uuid = '{}'",
        share["uuid"].as_str().unwrap()
    ))
    .await;
    let cached = app.read_share(&url, None).await;
    let policy = cached.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        policy.contains("frame-ancestors *"),
        "served from its cache: {policy}"
    );

    // The network between the other instance and Postgres goes quiet: nothing is closed.
    proxy.freeze();
    let uuid = share["uuid"].as_str().unwrap();
    assert_eq!(app.revoke_share(&site, EDITOR, uuid).await.status(), 204);
    let revoked_at = tokio::time::Instant::now();
    tokio::time::sleep_until(revoked_at + Duration::from_secs(5)).await;
    let late = app
        .http
        .get(&url)
        .timeout(Duration::from_secs(4))
        .send()
        .await;
    assert!(
        late.as_ref().map_or(true, |r| r.status() != 200),
        "5 s after the revocation the other instance still served the share: {late:?}"
    );

    // The network comes back: the revocation is honoured, nothing stale is served.
    proxy.thaw();
    let mut seen = 0;
    for _ in 0..150 {
        seen = app.read_share(&url, None).await.status().as_u16();
        if seen == 404 {
            break;
        }
        assert_ne!(
            seen, 200,
            "the revoked share was served after the network came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 404);
    for _ in 0..5 {
        assert_eq!(app.read_share(&url, None).await.status(), 404);
    }
}

#[tokio::test]
async fn a_session_begun_on_one_instance_opens_the_share_on_the_others() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = app.site_with_page("acme").await;
    let password = "correct horse battery";
    let share = app
        .create_share(&site, json!({"contentId": PAGE_ID, "password": password}))
        .await;
    let login = app.post_password(&on(&app.address, &share), password).await;
    assert_eq!(login.status(), 303);
    let cookie = session_cookie(&login).unwrap();
    let there = app.read_share(&on(&other, &share), Some(&cookie)).await;
    assert_eq!(there.status(), 200);
    assert!(
        there
            .text()
            .await
            .unwrap()
            .contains("<title>Onboarding</title>")
    );
    let without = app.read_share(&on(&other, &share), None).await;
    assert!(without.text().await.unwrap().contains("name=\"password\""));
}
