//! Changing a share's unlock secret with an overlap: `graceSeconds`, `previousSecretExpiresAt`,
//! both secrets unlocking until the window closes, and sessions ended by an immediate change.

use chrono::{DateTime, Utc};
use pageshare::sandbox::Site;
use pageshare::share::UnlockSecret;
use pageshare::share::unlock::mint_unlock_token;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    EDITOR, ProtectedShare, TestApp, error_code, sample_image_src, session_cookie, spawn_app,
};

const DAY: i64 = 24 * 60 * 60;

pub fn unlock_url(share: &ProtectedShare, secret: &UnlockSecret) -> String {
    let now = Utc::now().timestamp();
    format!(
        "{}?unlock={}",
        share.url,
        mint_unlock_token(share.id, secret, now, 60)
    )
}

/// Rotate with `body`; the answer's new secret and `previousSecretExpiresAt`.
async fn rotate(
    app: &TestApp,
    site: &Site,
    share: &ProtectedShare,
    body: Value,
) -> (UnlockSecret, Option<DateTime<Utc>>) {
    let response = app
        .rotate_secret_with(site, EDITOR, &share.id.to_string(), body)
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    (
        UnlockSecret::from_hex(answer["unlockSecret"].as_str().unwrap()).unwrap(),
        serde_json::from_value(answer["previousSecretExpiresAt"].clone()).unwrap(),
    )
}

async fn stored_secret(app: &TestApp, share: &ProtectedShare) -> Vec<u8> {
    sqlx::query_scalar("SELECT unlock_secret FROM shared_page WHERE uuid = $1")
        .bind(share.id.uuid())
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn shows_the_page(html: &str) -> bool {
    html.contains("<title>Onboarding</title>") && !html.contains("name=\"password\"")
}

#[tokio::test]
async fn grace_seconds_must_be_whole_seconds_up_to_seven_days_and_bad_ones_change_nothing() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let uuid = share.id.to_string();
    let before = stored_secret(&app, &share).await;
    let refused = [
        json!({"graceSeconds": -1}),
        json!({"graceSeconds": 604801}),
        json!({"graceSeconds": 1.5}),
        json!({"graceSeconds": "3600"}),
        json!({"graceSeconds": true}),
        json!({"graceSeconds": [3600]}),
        json!({"graceSeconds": 3600, "colour": "red"}),
        json!([]),
    ];
    for body in refused {
        let response = app
            .rotate_secret_with(&site, EDITOR, &uuid, body.clone())
            .await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_field", "{body}");
        assert_eq!(stored_secret(&app, &share).await, before, "{body}");
    }
    let form = app
        .http
        .post(format!("{}/api/shares/{uuid}/unlock-secret", app.address))
        .header(
            "Authorization",
            format!("JWT {}", app.sandbox.context_token(&site, EDITOR)),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("graceSeconds=60")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    assert_eq!(stored_secret(&app, &share).await, before);

    let accepted = [
        (json!({}), false),
        (json!({"graceSeconds": null}), false),
        (json!({"graceSeconds": 0}), false),
        (json!({"graceSeconds": 1}), true),
        (json!({"graceSeconds": 604800}), true),
    ];
    for (body, overlap) in accepted {
        let asked_at = Utc::now();
        let (_, until) = rotate(&app, &site, &share, body.clone()).await;
        assert_eq!(until.is_some(), overlap, "{body}");
        if let Some(until) = until {
            let secs = body["graceSeconds"].as_i64().unwrap();
            let offset = (until - asked_at).num_seconds();
            assert!((secs - 2..=secs + 2).contains(&offset), "{body}: {until}");
        }
    }
    // No body at all, as before this field existed.
    assert_eq!(app.rotate_secret(&site, EDITOR, &uuid).await.status(), 200);
}

#[tokio::test]
async fn during_the_overlap_both_secrets_unlock_and_the_share_says_until_when() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let uuid = share.id.to_string();
    let (new_secret, until) = rotate(&app, &site, &share, json!({"graceSeconds": DAY})).await;
    let until = until.expect("an overlap");
    let read = app
        .api_get_json(&site, EDITOR, &format!("/api/shares/{uuid}"))
        .await;
    let shown: DateTime<Utc> =
        serde_json::from_value(read["previousSecretExpiresAt"].clone()).unwrap();
    assert_eq!(shown, until);
    for (name, secret) in [("old", &share.secret), ("new", &new_secret)] {
        let response = app.read_share(&unlock_url(&share, secret), None).await;
        assert_eq!(response.status(), 200, "{name}");
        assert!(session_cookie(&response).is_some(), "{name}");
        assert!(shows_the_page(&response.text().await.unwrap()), "{name}");
    }
    let stranger = UnlockSecret::generate();
    let refused = app.read_share(&unlock_url(&share, &stranger), None).await;
    assert_eq!(refused.status(), 401, "only those two");
}

/// The window's end `T` is set in the database (so the test needs no sleep): the old secret
/// unlocks a second before `T` and not at `T`; the new one all along.
#[tokio::test]
async fn the_old_secret_works_until_the_end_of_the_window_and_not_from_it() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let (new_secret, _) = rotate(&app, &site, &share, json!({"graceSeconds": DAY})).await;
    let set_end = |end: &'static str| {
        let sql = format!(
            "UPDATE shared_page SET previous_secret_expires_at = {end} WHERE uuid = '{}'
             RETURNING previous_secret_expires_at",
            share.id
        );
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, DateTime<Utc>>(sqlx::AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // T is now: the change reaches the share cache within moments, and the old secret is refused.
    set_end("now()").await;
    let at_t = app
        .read_share_until(&unlock_url(&share, &share.secret), None, 401)
        .await;
    assert_eq!(at_t.status(), 401);
    let new = app.read_share(&unlock_url(&share, &new_secret), None).await;
    assert_eq!(new.status(), 200, "the new secret is unaffected");

    // T is two seconds away: the old secret unlocks again, before T.
    let end = set_end("now() + interval '2 seconds'").await;
    let before_t = app
        .read_share_until(&unlock_url(&share, &share.secret), None, 200)
        .await;
    let answered = Utc::now();
    assert_eq!(before_t.status(), 200);
    assert!(
        answered < end && end - answered <= chrono::Duration::seconds(2),
        "answered in the last two seconds before T"
    );

    let read = app
        .api_get_json(&site, EDITOR, &format!("/api/shares/{}", share.id))
        .await;
    assert!(read["previousSecretExpiresAt"].is_string());
    tokio::time::sleep((end - Utc::now()).to_std().unwrap_or_default()).await;
    let after = app
        .read_share(&unlock_url(&share, &share.secret), None)
        .await;
    assert_eq!(
        after.status(),
        401,
        "refused from T on, with no change announced"
    );
    let read = app
        .api_get_json(&site, EDITOR, &format!("/api/shares/{}", share.id))
        .await;
    assert!(
        read["previousSecretExpiresAt"].is_null(),
        "a closed window is not shown"
    );
}

/// An unlocked reader: the session cookie and the signed URL of the page's image.
async fn unlocked(app: &TestApp, share: &ProtectedShare) -> (String, String) {
    let response = app
        .read_share(&unlock_url(share, &share.secret), None)
        .await;
    assert_eq!(response.status(), 200);
    let cookie = session_cookie(&response).unwrap();
    let image = sample_image_src(&response.text().await.unwrap(), share.id);
    let image = format!("{}{image}", app.address);
    assert_eq!(app.read_share(&image, None).await.status(), 200);
    (cookie, image)
}

#[tokio::test]
async fn an_immediate_change_ends_open_sessions_and_signed_urls_an_overlapping_one_does_not() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let (cookie, image) = unlocked(&app, &share).await;

    rotate(&app, &site, &share, json!({"graceSeconds": 3600})).await;
    let page = app.read_share(&share.url, Some(&cookie)).await;
    assert!(
        shows_the_page(&page.text().await.unwrap()),
        "the session lives on"
    );
    assert_eq!(app.read_share(&image, None).await.status(), 200);

    let (new_secret, until) = rotate(&app, &site, &share, json!({})).await;
    assert_eq!(until, None);
    let page = app.read_share(&share.url, Some(&cookie)).await;
    assert!(
        page.text().await.unwrap().contains("name=\"password\""),
        "the session ended"
    );
    assert_eq!(
        app.read_share(&image, None).await.status(),
        403,
        "the signed URL ended"
    );
    assert_eq!(
        app.read_share(&unlock_url(&share, &share.secret), None)
            .await
            .status(),
        401,
        "the old secret stopped at once"
    );
    let again = app.read_share(&unlock_url(&share, &new_secret), None).await;
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn the_last_change_decides_which_previous_secret_unlocks() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app.protected_share(&site).await;
    let (second, _) = rotate(&app, &site, &share, json!({"graceSeconds": DAY})).await;
    let (third, until) = rotate(&app, &site, &share, json!({"graceSeconds": 60})).await;
    assert!(until.unwrap() < Utc::now() + chrono::Duration::seconds(62));
    let status = async |secret: &UnlockSecret| {
        let url = unlock_url(&share, secret);
        app.read_share(&url, None).await.status()
    };
    assert_eq!(status(&share.secret).await, 401, "one previous secret only");
    assert_eq!(status(&second).await, 200);
    assert_eq!(status(&third).await, 200);
    rotate(&app, &site, &share, json!({"graceSeconds": 0})).await;
    assert_eq!(
        status(&second).await,
        401,
        "an immediate change closes the window"
    );
    assert_eq!(status(&third).await, 401);
}

#[tokio::test]
async fn forge_rotates_with_an_overlap_too() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let uuid = app.forge_protected_share(&site).await;
    let path = format!("/api/shares/{}/unlock-secret", uuid);
    let rotated = app
        .forge_api(
            &site,
            EDITOR,
            Method::POST,
            &path,
            Some(json!({"graceSeconds": 3600})),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    assert!(rotated["previousSecretExpiresAt"].is_string());
    let bad = app
        .forge_api(
            &site,
            EDITOR,
            Method::POST,
            &path,
            Some(json!({"graceSeconds": -5})),
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(error_code(bad).await, "invalid_field");
}

#[tokio::test]
async fn a_closed_overlap_is_erased_and_an_open_one_kept() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let closed = app.protected_share(&site).await;
    let open = app.protected_share(&site).await;
    for share in [&closed, &open] {
        rotate(&app, &site, share, json!({"graceSeconds": DAY})).await;
    }
    sqlx::query(
        "UPDATE shared_page SET previous_secret_expires_at = now() - interval '1 second'
         WHERE uuid = $1",
    )
    .bind(closed.id.uuid())
    .execute(&app.pool)
    .await
    .unwrap();
    let erased = pageshare::storage::shares::forget_previous_secrets(&app.pool)
        .await
        .unwrap();
    assert_eq!(erased, Some(1));
    let previous = |share: &ProtectedShare| {
        sqlx::query_scalar::<_, Option<Vec<u8>>>(
            "SELECT previous_unlock_secret FROM shared_page WHERE uuid = $1",
        )
        .bind(share.id.uuid())
        .fetch_one(&app.pool)
    };
    assert_eq!(previous(&closed).await.unwrap(), None, "erased");
    assert_eq!(
        previous(&open).await.unwrap().as_deref(),
        Some(&open.secret.as_bytes()[..]),
        "still in its window"
    );
    let url = unlock_url(&open, &open.secret);
    assert_eq!(app.read_share(&url, None).await.status(), 200);
}
