//! Headless Chromium (Debian's `chromium`, driven by `playwright-core`): a customer's site on
//! another origin embeds a password-protected share and unlocks it with `?unlock=`; the share
//! panel and the site admin page inside Confluence, as a user clicks through them.

use pageshare::confluence::ids::AccountId;
use pageshare::share::unlock::mint_unlock_token;
use pageshare::share::{ShareId, UnlockSecret};
use pageshare::storage::audit::{self, Action, Actor};
use serde_json::{Value, json};

use crate::admin_list::{Seeded, seed_shares};
use crate::helpers::{EDITOR, OUTSIDER, PAGE_ID, TestApp, spawn_app};
use crate::test_keys::TestKey;

/// Run `tests/browser/<script>` with one JSON argument; its one JSON line of output.
pub async fn run_browser_script(script: &str, config: Value) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    assert!(
        std::path::Path::new(dir)
            .join("node_modules/playwright-core")
            .exists(),
        "tests/browser has no node_modules: run scripts/test (or `npm ci --prefix tests/browser`)"
    );
    let script = format!("{dir}/{script}");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(config.to_string())
            .output()
            .expect("node runs (scripts/test installs what the browser tests need)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser script failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
}

pub fn artifact(name: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts");
    std::fs::create_dir_all(dir).unwrap();
    format!("{dir}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_share_unlocks_with_and_without_third_party_cookies() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    let share = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "password": "correct horse battery"}),
        )
        .await;
    let share_url = share["url"].as_str().unwrap();
    // Another share that only https://docs.example.com may embed: not the customer's site.
    let elsewhere = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "frameAncestors": ["https://docs.example.com"]}),
        )
        .await;
    let unlisted_url = elsewhere["url"].as_str().unwrap();

    for (block, name) in [(false, "allowed"), (true, "blocked")] {
        let unlock_url = unlock_url_of(&share, "");
        let seen = run_browser_script(
            "embed.mjs",
            json!({
                "unlockUrl": unlock_url,
                "shareUrl": share_url,
                "blockThirdPartyCookies": block,
                "unlistedUrl": unlisted_url,
                "screenshot": artifact(&format!("embed-third-party-cookies-{name}.png")),
            }),
        )
        .await;
        assert_eq!(seen["title"], "Onboarding", "{name}: {seen}");
        assert_eq!(seen["passwordForm"], false, "{name}: {seen}");
        assert_eq!(seen["imageLoaded"], true, "{name}: {seen}");
        // The run really is in the mode it claims: an ordinary third-party cookie is kept
        // only when third-party cookies are allowed.
        assert_eq!(seen["thirdPartyCookieKept"], !block, "{name}: {seen}");
        // The share cookie is Partitioned, so it keeps the reader in either way.
        assert_eq!(seen["reopenedWithoutToken"], true, "{name}: {seen}");
        // A site the share does not list cannot frame it.
        assert_eq!(seen["unlistedRefused"], true, "{name}: {seen}");
        assert_eq!(seen["unlistedShown"], false, "{name}: {seen}");
    }
}

/// `{the share's URL}{suffix}?unlock=…` with a fresh token signed with its unlock secret.
pub fn unlock_url_of(share: &Value, suffix: &str) -> String {
    let id = ShareId::parse(share["uuid"].as_str().unwrap()).unwrap();
    let secret = UnlockSecret::from_hex(share["unlockSecret"].as_str().unwrap()).unwrap();
    let token = mint_unlock_token(id, &secret, chrono::Utc::now().timestamp(), 60);
    format!("{}{suffix}?unlock={token}", share["url"].as_str().unwrap())
}

/// A protected tree share embedded in a narrow cross-site iframe of a browser that blocks
/// third-party cookies: unlocked with `?unlock=` on a child page, then read page after page
/// through the navigation and the links inside the pages, kept in by the partitioned cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_tree_is_read_page_after_page_without_third_party_cookies() {
    let app = spawn_app().await;
    let site = crate::page_trees::guide_site(&app, "acme").await;
    let share = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "password": "correct horse battery", "includeChildren": true}),
        )
        .await;
    let share_url = share["url"].as_str().unwrap();
    let unlock_url = unlock_url_of(&share, "/pages/2003");
    let seen = run_browser_script(
        "embed.mjs",
        json!({
            "unlockUrl": unlock_url,
            "shareUrl": share_url,
            "blockThirdPartyCookies": true,
            "frameWidth": 360,
            "navigate": [
                {"link": "Daily work", "in": "tree"},
                {"link": "Getting started", "in": "content"},
                {"link": "Daily work", "in": "content"},
                {"link": "overview", "in": "content"},
                {"link": "Install the tools", "in": "tree"},
            ],
            "screenshot": artifact("embed-tree-narrow.png"),
        }),
    )
    .await;
    assert_eq!(seen["thirdPartyCookieKept"], false, "{seen}");
    let visited = seen["visited"].as_array().unwrap();
    let titles: Vec<&str> = visited
        .iter()
        .map(|v| v["title"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        titles,
        [
            "Install the tools",
            "Daily work",
            "Getting started",
            "Daily work",
            "Onboarding",
            "Install the tools"
        ],
        "{seen}"
    );
    for page in visited {
        assert_eq!(page["passwordForm"], false, "{page}");
        assert_eq!(
            page["current"], page["title"],
            "the page read is marked: {page}"
        );
        assert_eq!(page["treeVisible"], true, "{page}");
        assert_eq!(
            page["fitsWidth"], true,
            "nothing scrolls sideways at 360 px: {page}"
        );
    }
    // The images of the child page and of the top page, through their signed URLs.
    assert_eq!(visited[0]["imageLoaded"], true, "{seen}");
    assert_eq!(visited[4]["imageLoaded"], true, "{seen}");
    assert_eq!(visited[5]["imageLoaded"], true, "{seen}");
    assert_eq!(seen["reopenedWithoutToken"], true, "{seen}");
}

const PANEL: &str = "/connect/share-panel?contentId=1234567&spaceKey=ENG";

/// Run a snippet the panel shows with `env` (the unlock secret, or a key file and its kid); what
/// it printed.
fn run_snippet(program: &str, flag: &str, code: &str, env: &[(&str, &str)]) -> String {
    let output = std::process::Command::new(program)
        .arg(flag)
        .arg(code)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|error| panic!("{program} runs: {error}"));
    assert!(
        output.status.success(),
        "{program} snippet failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// What the panel showed of the share's public unlock keys, and its key snippets run for real
/// with a key of each type (the Ed25519 one added in the browser, the others through the API).
async fn check_unlock_keys_in_the_panel(
    app: &TestApp,
    site: &pageshare::sandbox::Site,
    seen: &Value,
    ed25519: &TestKey,
    uuid: &str,
) {
    let refusal = seen["privateKeyError"].as_str().unwrap();
    let d = ed25519.private_jwk()["d"].as_str().unwrap().to_owned();
    assert!(
        refusal.contains("private key (it has \"d\")") && !refusal.contains(&d),
        "{refusal}"
    );
    // Refused in the browser: the private key was never sent, only the two public ones.
    let sent = seen["keysSent"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "{seen}");
    assert!(sent.iter().all(|body| !body.as_str().unwrap().contains(&d)));
    let required = ed25519.public_jwk().as_object().unwrap().clone();
    let kid = pageshare::share::unlock_key::thumbprint(&required);
    let listed = seen["keysListed"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{seen}");
    assert!(
        listed[0].as_str().unwrap().contains(&kid) && listed[0].as_str().unwrap().contains("EdDSA"),
        "{listed:?}"
    );
    assert!(listed[1].as_str().unwrap().contains("ES256"), "{listed:?}");
    assert_eq!(seen["keysAfterRemove"], json!([kid]));
    let stored: Vec<String> = sqlx::query_scalar("SELECT kid FROM share_unlock_key")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        std::slice::from_ref(&kid),
        "the removed key is gone"
    );
    assert_eq!(
        seen["snippetClipboard"], seen["keySnippets"]["node"],
        "Copy copies the snippet"
    );

    let share = ShareId::parse(uuid).unwrap();
    let link = format!("{}/content/{uuid}", app.address);
    let mut keys = vec![(kid, ed25519.pkcs8_pem())];
    for key in [TestKey::p256(), TestKey::rsa(2048)] {
        let path = format!("/api/shares/{share}/unlock-keys");
        let body = json!({"jwk": key.public_jwk()});
        let added = app
            .api(site, EDITOR, reqwest::Method::POST, &path, Some(body))
            .await;
        assert_eq!(added.status(), 201);
        let answer: Value = added.json().await.unwrap();
        keys.push((answer["kid"].as_str().unwrap().to_owned(), key.pkcs8_pem()));
    }
    let dir = std::env::temp_dir().join(format!("pageshare-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (kid, pem)) in keys.iter().enumerate() {
        let file = dir.join(format!("key-{i}.pem"));
        std::fs::write(&file, pem).unwrap();
        let file = file.to_str().unwrap();
        for (program, flag, name) in [
            ("python3", "-c", "python"),
            ("node", "-e", "node"),
            ("bash", "-c", "shell"),
        ] {
            let code = seen["keySnippets"][name].as_str().unwrap();
            let env = |kid| {
                [
                    ("PAGESHARE_UNLOCK_KEY", file),
                    ("PAGESHARE_UNLOCK_KID", kid),
                ]
            };
            let printed = run_snippet(program, flag, code, &env(kid));
            assert!(
                printed.starts_with(&format!("{link}?unlock=")),
                "{name}: {printed}"
            );
            assert_eq!(
                unlock_status(app, &printed).await,
                200,
                "{name} key snippet unlocks with key {i}"
            );
            let wrong_kid = run_snippet(program, flag, code, &env("not-registered"));
            assert_eq!(
                unlock_status(app, &wrong_kid).await,
                401,
                "{name} unknown kid"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn unlock_status(app: &TestApp, url: &str) -> u16 {
    app.read_share(url, None).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_panel_creates_protects_rotates_the_secret_and_revokes_in_chromium() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert(EDITOR.into());
    });
    let panel_url = || app.sandbox.iframe_url(&app.target, &site, PANEL, EDITOR);
    // Older entries of the audit log, more than its first page holds.
    let client_key = pageshare::tenant::ClientKey::parse(&site.client_key).unwrap();
    let actor = Actor::User(AccountId::parse(OUTSIDER).unwrap());
    for n in 0..60 {
        let detail = format!("older entry {n}");
        audit::record(
            &app.pool,
            &client_key,
            &actor,
            Action::ShareChanged,
            None,
            &detail,
        )
        .await
        .unwrap();
    }
    // A page of the site that frames the app's pages, as Confluence's pages do.
    let host_page = || format!("{}/dev/{}/frame", site.host_url(), site.name);

    let ed25519 = TestKey::ed25519();
    let mut other_jwk = TestKey::p256().public_jwk();
    other_jwk["alg"] = json!("ES256");
    let seen = run_browser_script(
        "panel.mjs",
        json!({
            "phase": "edit",
            "includeChildren": true,
            "hostPage": host_page(),
            "panelUrl": panel_url(),
            "origin": app.address,
            "siteOrigin": site.host_url(),
            "password": "correct horse battery",
            "privateJwk": ed25519.private_jwk(),
            "jwk": ed25519.public_jwk(),
            "otherJwk": other_jwk,
            "screenshot": artifact("share-panel.png"),
        }),
    )
    .await;
    assert_eq!(seen["problems"], json!([]), "{seen}");
    assert_eq!(
        seen["expectedErrors"],
        json!([1, 0]),
        "one 422 (an origin; the private key is refused before it is sent): {seen}"
    );
    assert!(
        seen["framedUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/connect/share-panel", app.address)),
        "the panel ran inside the site's page: {seen}"
    );
    let uuid = seen["uuid"].as_str().unwrap();
    let link = format!("{}/content/{uuid}", app.address);
    assert_eq!(seen["link"], link.as_str());
    assert_eq!(seen["pagesShown"], "This page and the pages below it");
    let stored: bool =
        sqlx::query_scalar("SELECT include_children FROM shared_page WHERE uuid = $1::uuid")
            .bind(uuid)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(stored, "the panel's checkbox made a tree share");
    assert_eq!(seen["passwordShown"], "On");
    let origins_error = seen["originsError"].as_str().unwrap();
    assert!(
        origins_error.starts_with("Sites that may embed it: ")
            && origins_error.contains("http://docs.example.com")
            && origins_error.contains("is not an origin"),
        "the server's words after the UI's label of the field: {origins_error}"
    );
    assert_eq!(seen["originsShown"], "https://docs.example.com");
    assert!(
        seen["expiryShown"].as_str().unwrap().contains("2099"),
        "{seen}"
    );
    assert_eq!(seen["expiryCleared"], "Never");
    assert_eq!(
        seen["secretBeforeAsking"], "",
        "the secret shows only when asked"
    );
    let old_secret = seen["oldSecret"].as_str().unwrap();
    let new_secret = seen["newSecret"].as_str().unwrap();
    assert_eq!(
        seen["clipboard"], old_secret,
        "Copy put the hex on the clipboard"
    );
    assert!(
        seen["confirmation"]
            .as_str()
            .unwrap()
            .contains("stop working at once")
    );
    let overlap_secret = seen["overlapSecret"].as_str().unwrap();
    assert_eq!(new_secret.len(), 64);
    assert!(
        new_secret != old_secret && overlap_secret != old_secret && new_secret != overlap_secret
    );
    let overlap_shown = seen["overlapShown"].as_str().unwrap();
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    assert!(
        overlap_shown.starts_with("The previous unlock secret keeps working until ")
            && overlap_shown.contains(&tomorrow.format("%Y").to_string())
            && overlap_shown.contains(&tomorrow.format("%-d").to_string()),
        "{overlap_shown}"
    );
    assert_eq!(seen["overlapShownAfterChangeNow"], false);

    let id = ShareId::parse(uuid).unwrap();
    let now = chrono::Utc::now().timestamp();
    let signed_with = |hex: &str| {
        let secret = UnlockSecret::from_hex(hex).unwrap();
        format!("{link}?unlock={}", mint_unlock_token(id, &secret, now, 60))
    };
    assert_eq!(unlock_status(&app, &signed_with(old_secret)).await, 401);
    assert_eq!(
        unlock_status(&app, &signed_with(overlap_secret)).await,
        401,
        "Change now ended the overlap"
    );
    assert_eq!(unlock_status(&app, &signed_with(new_secret)).await, 200);
    for (program, flag, name) in [
        ("python3", "-c", "python"),
        ("node", "-e", "node"),
        ("bash", "-c", "shell"),
    ] {
        let code = seen["snippets"][name].as_str().unwrap();
        let printed = run_snippet(
            program,
            flag,
            code,
            &[("PAGESHARE_UNLOCK_SECRET", new_secret)],
        );
        assert!(
            printed.starts_with(&format!("{link}?unlock=")),
            "{name}: {printed}"
        );
        assert_eq!(
            unlock_status(&app, &printed).await,
            200,
            "{name} snippet unlocks"
        );
        let with_old = run_snippet(
            program,
            flag,
            code,
            &[("PAGESHARE_UNLOCK_SECRET", old_secret)],
        );
        assert_eq!(
            unlock_status(&app, &with_old).await,
            401,
            "{name} with the old secret"
        );
    }

    check_unlock_keys_in_the_panel(&app, &site, &seen, &ed25519, uuid).await;

    // Fifty older, expired links: the admin page shows them a page of 50 at a time.
    let archived: Vec<String> = (1..=50).map(|i| format!("Archived guide {i}")).collect();
    let rows: Vec<Seeded> = archived
        .iter()
        .enumerate()
        .map(|(i, title)| Seeded {
            title,
            space_key: "DOC",
            created_by: EDITOR,
            age_minutes: 60 + i as i32,
            expired: true,
            revoked: false,
        })
        .collect();
    seed_shares(&app, &site.client_key, &rows).await;
    let seen = run_browser_script(
        "panel.mjs",
        json!({
            "phase": "revoke",
            "hostPage": host_page(),
            "panelUrl": panel_url(),
            "adminUrl": app.sandbox.iframe_url(&app.target, &site, "/connect/admin", EDITOR),
            "outsiderAdminUrl": app.sandbox.iframe_url(&app.target, &site, "/connect/admin", OUTSIDER),
            "screenshot": artifact("share-panel-revoked.png"),
            "adminScreenshot": artifact("admin-page.png"),
            "defaultOrigins": ["https://Docs.Example.com", "https://*.example.org"],
        }),
    )
    .await;
    assert_eq!(seen["problems"], json!([]), "{seen}");
    assert_eq!(seen["expectedErrors"], json!([0, 1]), "one 403: {seen}");
    assert_eq!(
        seen["passwordShown"], "On",
        "a reloaded panel lists the share"
    );
    assert_eq!(seen["secretBeforeAsking"], "");
    assert_eq!(seen["status"], "Revoked");
    assert_eq!(unlock_status(&app, &signed_with(new_secret)).await, 404);
    assert_eq!(seen["adminRows"], 50, "the first page");
    assert_eq!(seen["adminStatus"], "Revoked", "newest first");
    assert_eq!(seen["adminRowsAfterMore"], 51, "Load more appends the rest");
    assert_eq!(seen["adminMoreHidden"], true, "nothing more to load");
    assert_eq!(seen["adminActiveRows"], 0, "the status filter");
    assert_eq!(
        seen["adminSearchTitle"], "Archived guide 7",
        "the server's search"
    );
    assert_eq!(seen["adminSearchRows"], 0, "the text filter");
    assert_eq!(seen["defaultsBefore"], "");
    assert_eq!(
        seen["defaultsShown"], "https://docs.example.com\nhttps://*.example.org",
        "the page shows what the server stored"
    );
    // The API key the admin page created: shown once, then listed without itself, and revoked.
    assert_eq!(seen["keyRowsBefore"], 0);
    let key = seen["newKey"].as_str().unwrap();
    assert!(key.starts_with("psk_") && key.len() == 47, "{key}");
    assert_eq!(seen["keyRowsAfterCreate"], 1);
    assert_eq!(
        seen["keyScopes"], "shares:read shares:write unlock-secrets:read",
        "the scopes ticked, unticked ones left out"
    );
    assert_eq!(seen["keyRowsAfterReload"], 1);
    assert_eq!(seen["keyInPageAfterReload"], false, "the key shown again");
    assert_eq!(seen["keyNewShownAfterReload"], false);
    // The audit log as the page showed it before the key was revoked: its first page, then
    // everything, newest first, and the same as CSV.
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entry")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let shown = logged as u64 - 1;
    assert_eq!(seen["auditFirstPage"], 50);
    assert_eq!(seen["auditMoreShown"], true);
    assert_eq!(seen["auditNewest"], "API key created");
    assert_eq!(seen["auditNewestActor"], EDITOR);
    assert_eq!(seen["auditAll"], shown, "{seen}");
    assert_eq!(seen["auditMoreAtEnd"], false);
    let details = seen["auditDetails"].as_array().unwrap();
    assert_eq!(details.last().unwrap(), "older entry 0", "oldest last");
    assert!(
        details
            .iter()
            .any(|d| d.as_str().unwrap().starts_with("API key "))
    );
    assert_eq!(seen["auditCsvName"], "pageshare-audit.csv");
    let csv = seen["auditCsv"].as_str().unwrap();
    assert!(csv.starts_with("at,actor,action,share,detail\r\n"), "{csv}");
    assert_eq!(csv.matches("\r\n").count() as u64, shown + 1, "{csv}");
    assert!(!csv.contains(new_secret) && !csv.contains(key), "{csv}");
    assert_eq!(seen["keyRowsAfterRevoke"], 0);
    assert_eq!(seen["keyCount"], "This site has no API keys.");
    let revoked: (Option<chrono::DateTime<chrono::Utc>>, Vec<u8>) =
        sqlx::query_as("SELECT revoked_at, key_hash FROM api_key")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(revoked.0.is_some(), "revoked in the database");
    use sha2::Digest;
    assert_eq!(revoked.1, sha2::Sha256::digest(key.as_bytes()).to_vec());
    let refused = app
        .http
        .get(format!("{}/api/shares?contentId={PAGE_ID}", app.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "the revoked key opens nothing");
    let plain = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let page = app.read_share(plain["url"].as_str().unwrap(), None).await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.ends_with("frame-ancestors https://docs.example.com https://*.example.org"),
        "a new share without sites of its own follows the default the admin page set: {csp}"
    );
    assert_eq!(seen["outsiderStatus"], 403);
    let refusal = seen["outsiderText"].as_str().unwrap();
    assert!(refusal.contains("Site administrators only"), "{refusal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_unlock_keys_are_added_generated_and_removed_on_the_admin_page_in_chromium() {
    use crate::api_keys::{ADMIN, site_with_admin};
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let key = TestKey::p256();
    let seen = run_browser_script(
        "admin_site_keys.mjs",
        json!({
            "hostPage": format!("{}/dev/{}/frame", site.host_url(), site.name),
            "adminUrl": app.sandbox.iframe_url(&app.target, &site, "/connect/admin", ADMIN),
            "origin": app.address,
            "siteOrigin": site.host_url(),
            "privateJwk": key.private_jwk(),
            "jwk": key.public_jwk(),
        }),
    )
    .await;
    assert_eq!(seen["problems"], json!([]), "{seen}");
    let refused = seen["privateRefused"].as_str().unwrap();
    assert!(
        refused.contains("private key") && refused.contains("\"d\""),
        "{refused}"
    );
    // The private key never left the browser: the page sent the public key and the request to
    // generate, nothing else.
    let sent = seen["sent"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "{seen}");
    assert!(!sent[0].as_str().unwrap().contains("\"d\""), "{seen}");
    assert!(sent[1].as_str().unwrap().contains("\"generate\":\"HS256\""));
    assert_eq!(seen["errorHiddenAfterAdd"], true);
    assert_eq!(seen["warningHiddenAtFirst"], true, "{seen}");
    assert_eq!(
        seen["lowerCaseWarning"],
        "Confluence space keys are upper case: eng, Hr would unlock nothing. Did you mean ENG, HR?",
        "{seen}"
    );
    assert_eq!(seen["warningHiddenWhenUpperCase"], true, "{seen}");
    let public_kid = seen["publicRow"][0].as_str().unwrap();
    assert_eq!(public_kid.len(), 43, "the thumbprint: {seen}");
    assert_eq!(seen["publicRow"][1], "ES256");
    assert_eq!(seen["publicRow"][2], "ENG, OPS");
    assert!(seen["publicRow"][3].as_str().unwrap().ends_with(ADMIN));
    let generated_kid = seen["generatedRow"][0].as_str().unwrap();
    assert!(generated_kid.starts_with("hs256-"), "{seen}");
    assert_eq!(seen["generatedRow"][1], "HS256");
    assert_eq!(seen["generatedRow"][2], "All spaces");
    let secret = seen["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 64);
    assert_eq!(seen["copied"], secret, "Copy copies the secret");
    assert_eq!(seen["rowsAfterReload"], 2);
    assert_eq!(seen["secretInPageAfterReload"], false);
    assert_eq!(seen["secretShownAfterReload"], false);
    assert_eq!(seen["rowsAfterRemove"], 1);
    assert_eq!(seen["remainingAlg"], "HS256");
    let stored: Vec<String> = sqlx::query_scalar("SELECT kid FROM site_unlock_key")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, [generated_kid]);
    // The snippet the page showed, run for real, prints a link its key unlocks.
    let snippet = seen["snippet"].as_str().unwrap();
    assert!(snippet.contains(generated_kid), "{snippet}");
    let printed = std::process::Command::new("node")
        .args(["-e", snippet, &share.url])
        .env("PAGESHARE_SITE_SECRET", secret)
        .output()
        .expect("node runs");
    assert!(printed.status.success(), "{printed:?}");
    let link = String::from_utf8(printed.stdout).unwrap();
    assert!(
        link.starts_with(&format!("{}?unlock=", share.url)),
        "{link}"
    );
    assert_eq!(app.read_share(link.trim(), None).await.status(), 200);
}

/// Four views by three readers: the panel's last 30 days show them, as numbers and as the
/// tallest of 30 bars (today's), and the admin page shows the share's views.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_shows_a_shares_readers_and_the_admin_page_its_views_in_chromium() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.readership_flush = std::time::Duration::from_millis(100);
    })
    .await;
    let site = app.site_with_page("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert(EDITOR.into());
    });
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = share["url"].as_str().unwrap();
    for agent in ["reader a", "reader b", "reader a", "reader c"] {
        let response = app.http.get(url).header("User-Agent", agent).send().await;
        assert_eq!(response.unwrap().status(), 200);
    }
    crate::readership::stats_once_written(&app, &site, &share, 4).await;

    let seen = run_browser_script(
        "panel.mjs",
        json!({
            "phase": "readership",
            "hostPage": format!("{}/dev/{}/frame", site.host_url(), site.name),
            "panelUrl": app.sandbox.iframe_url(&app.target, &site, PANEL, EDITOR),
            "adminUrl": app.sandbox.iframe_url(&app.target, &site, "/connect/admin", EDITOR),
            "screenshot": artifact("share-panel-readership.png"),
        }),
    )
    .await;
    assert_eq!(seen["problems"], json!([]), "{seen}");
    assert_eq!(seen["views"], "4", "{seen}");
    assert_eq!(seen["readers"], "3", "{seen}");
    assert_eq!(seen["byAccess"], "open 4, password 0, unlock 0, cookie 0");
    assert_eq!(seen["bars"], 30, "one a day");
    assert_eq!(seen["chartVisible"], true, "{seen}");
    assert_eq!(seen["lastBarViews"], "4", "today's bar");
    assert_eq!(seen["lastBarHeight"], 60, "the tallest: {seen}");
    assert_eq!(seen["firstBarHeight"], 0, "{seen}");
    assert_eq!(seen["adminViews"], json!([["Onboarding", "4"]]), "{seen}");
}
