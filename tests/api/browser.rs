//! Headless Chromium (Debian's `chromium`, driven by `playwright-core`): a customer's site on
//! another origin embeds a password-protected share and unlocks it with `?unlock=`.

use pageshare::share::unlock::mint_unlock_token;
use pageshare::share::{ShareId, UnlockSecret};
use serde_json::{Value, json};

use crate::helpers::{PAGE_ID, spawn_app};

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

fn artifact(name: &str) -> String {
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
    let id = ShareId::parse(share["uuid"].as_str().unwrap()).unwrap();
    let secret = UnlockSecret::from_hex(share["unlockSecret"].as_str().unwrap()).unwrap();
    let share_url = share["url"].as_str().unwrap();

    for (block, name) in [(false, "allowed"), (true, "blocked")] {
        let now = chrono::Utc::now().timestamp();
        let unlock_url = format!(
            "{share_url}?unlock={}",
            mint_unlock_token(id, &secret, now, 60)
        );
        let seen = run_browser_script(
            "embed.mjs",
            json!({
                "unlockUrl": unlock_url,
                "shareUrl": share_url,
                "blockThirdPartyCookies": block,
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
    }
}
