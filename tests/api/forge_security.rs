//! What a user or another tenant must not be able to do through the Forge side: reach Forge's
//! own routes from a page, plant the app token kept for later, link another site's Forge
//! installation, or pass as a Forge-only tenant over Connect. (Where a stored token may be sent
//! is tested in `tenant::tests`.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use pageshare::connect::secrets::{SecretMode, SharedSecret};
use pageshare::sandbox::Site;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    EDITOR, PAGE_ID, TestApp, error_code, page_shares_path, spawn_app, spawn_app_with,
};

async fn token_expiry(app: &TestApp) -> Option<DateTime<Utc>> {
    sqlx::query_scalar("SELECT forge_token_expires_at FROM installation")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A new share of the sample page made by [`EDITOR`] through Forge; asserts it is created (201).
async fn share_of(app: &TestApp, site: &Site) -> String {
    let created = app
        .forge_api(
            site,
            EDITOR,
            Method::POST,
            "/api/shares",
            Some(json!({"contentId": PAGE_ID})),
        )
        .await;
    assert_eq!(created.status(), 201, "create share");
    let created: Value = created.json().await.unwrap();
    created["url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_users_page_cannot_reach_forges_own_routes() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    let url = share_of(&app, &site).await;
    let event = json!({"eventType": "avi:forge:installed:app"});
    // invokeRemote from the panel puts the remote's base URL before any path the page names.
    for path in ["/pre-uninstall", "/events", "/token-sync"] {
        let refused = app
            .forge_api(&site, EDITOR, Method::POST, path, Some(event.clone()))
            .await;
        assert_eq!(refused.status(), 403, "{path}");
        assert_eq!(error_code(refused).await, "not_from_forge", "{path}");
    }
    assert_eq!(
        app.read_share(&url, None).await.status(),
        200,
        "still installed"
    );
}

/// Forge's hourly `/forge/token-sync` for `site`, bringing `app_token`; asserts it is taken (204).
async fn token_sync(app: &TestApp, site: &Site, app_token: &str) {
    let synced = app
        .sandbox
        .forge_post(
            &app.target,
            site,
            "/forge/token-sync",
            &json!({}),
            Some(app_token),
        )
        .await
        .unwrap();
    assert_eq!(synced.status(), 204);
}

/// An app token shaped like Forge's (a JWT) with this `exp`.
fn app_token_expiring(exp: i64) -> String {
    let part = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.{}",
        part(json!({"alg": "RS256"})),
        part(json!({"exp": exp})),
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    )
}

#[tokio::test]
async fn only_forges_own_invocations_bring_the_app_token_kept_for_later() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    // The stored token is due for replacement: any later one would do.
    sqlx::query("UPDATE installation SET forge_token_expires_at = now() + interval '10 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let due = token_expiry(&app).await.unwrap();
    let planted = app_token_expiring(Utc::now().timestamp() + 3 * 3600);
    let list = format!("/forge/api/shares?contentId={PAGE_ID}");
    let claims = app.sandbox.fit_claims(
        &site,
        pageshare::sandbox::Invoker::User {
            account_id: EDITOR,
            content_id: Some(PAGE_ID),
        },
    );
    let from_page = |app_token: String| {
        app.http
            .get(format!("{}{list}", app.address))
            .bearer_auth(app.sandbox.sign_fit(&claims, false))
            .header("x-forge-oauth-system", app_token)
            .send()
    };
    // The call itself uses the token it carries (docs/SECURITY.md, Forge app tokens): one the
    // gateway issued works, the planted one is refused by Confluence. Neither is kept.
    let issued = from_page(app.sandbox.issue_app_token(&site)).await.unwrap();
    assert_eq!(issued.status(), 200);
    let refused = from_page(planted).await.unwrap();
    assert_eq!(refused.status(), 502);
    assert_eq!(error_code(refused).await, "confluence_unavailable");
    assert_eq!(
        token_expiry(&app).await,
        Some(due),
        "a user's invocation changes nothing"
    );

    // The hourly sync is Forge's own: its token is kept, for at most six hours whatever it says.
    let far = app_token_expiring(Utc::now().timestamp() + 400 * 24 * 3600);
    token_sync(&app, &site, &far).await;
    let kept = token_expiry(&app).await.unwrap();
    assert!(
        kept > due && kept <= Utc::now() + Duration::hours(6),
        "{kept}"
    );
}

#[tokio::test]
async fn a_reinstall_drops_the_old_installations_token() {
    let app = spawn_app().await;
    app.forge_site_with_page("acme").await;
    let far = Utc::now() + Duration::hours(5);
    sqlx::query("UPDATE installation SET forge_token_expires_at = $1")
        .bind(far)
        .execute(&app.pool)
        .await
        .unwrap();
    // Uninstalled and installed again: Forge gives the site a new installation id.
    app.sandbox.update_site("acme", |s| {
        s.forge_installation_id = pageshare::sandbox::new_installation_id()
    });
    let site = app.sandbox.site("acme");
    app.forge_install(&site).await;
    let now = token_expiry(&app).await.unwrap();
    assert!(
        now < far - Duration::minutes(30),
        "the new installation's token replaced the old one: {now}"
    );
    let url = share_of(&app, &site).await;
    assert_eq!(app.read_share(&url, None).await.status(), 200);
}

#[tokio::test]
async fn an_unsigned_install_cannot_name_another_sites_forge_installation() {
    let app = spawn_app_with(|s| s.allow_legacy_install = true).await;
    let victim = app.sandbox.add_site("victim");
    let evil = app.sandbox.add_site("evil");
    let mut body = app.sandbox.lifecycle_body(&evil, &app.target, "installed");
    body["cloudId"] = victim.cloud_id.clone().into();
    body["installationId"] = victim.forge_installation_id.clone().into();
    let accepted = app
        .sandbox
        .post_callback(&app.target, "/installed", &body, None)
        .await
        .unwrap();
    assert_eq!(accepted.status(), 204, "a legacy first install");
    app.forge_install(&victim).await;
    let owner: String =
        sqlx::query_scalar("SELECT client_key FROM installation WHERE forge_installation_id = $1")
            .bind(&victim.forge_installation_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        owner, victim.cloud_id,
        "the victim's site is its own tenant, not the one that named it"
    );
}

#[tokio::test]
async fn a_forge_only_tenant_is_no_connect_tenant_even_with_the_app_wide_secret() {
    const APP_SECRET: &str = "app-wide-secret-0123456789abcdef0123456789abcdef";
    let app = spawn_app_with(|s| {
        s.secret_mode = SecretMode::AppWide;
        s.app_secret = Some(SharedSecret::new(APP_SECRET));
    })
    .await;
    let site = app.forge_site_with_page("acme").await;
    // A Connect token in the Forge tenant's name, signed with the app-wide secret.
    let mut posing = site.clone();
    posing.client_key = site.cloud_id.clone();
    posing.secret = SharedSecret::new(APP_SECRET);
    let token = app.sandbox.context_token(&posing, EDITOR);
    let list = app.get_with_jwt(&page_shares_path(), &token).await;
    assert_eq!(list.status(), 401);
    // Nor are calls made for it with Connect credentials (`tenant::tests`).
}

#[tokio::test]
async fn a_stored_token_that_no_longer_opens_is_replaced_by_the_next_sync() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    // Sealed with another data key, or damaged: it does not open, whatever its expiry says.
    sqlx::query(
        "UPDATE installation SET forge_app_token = '\\x00010203'::bytea,
             forge_token_expires_at = now() + interval '5 hours'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let damaged = token_expiry(&app).await.unwrap();
    let fresh = app.sandbox.issue_app_token(&site);
    token_sync(&app, &site, &fresh).await;
    assert_ne!(token_expiry(&app).await.unwrap(), damaged, "replaced");
    let url = share_of(&app, &site).await;
    assert_eq!(app.read_share(&url, None).await.status(), 200);
}
