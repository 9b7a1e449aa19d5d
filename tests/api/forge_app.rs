//! The Forge app as Atlassian's tools take it and as users click through it: `forge/manifest.yml`
//! with the resources `pageshare forge-ui` writes and the `@forge/bridge` bundle
//! `forge/scripts/build.mjs` makes passes `@forge/manifest`'s full validation, and the Custom UI
//! pages work in headless Chromium on Atlassian's own bridge code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;

use crate::browser::run_browser_script;
use crate::helpers::{EDITOR, PAGE_ID, spawn_app};

const FORGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/forge");

/// A scratch directory under Cargo's target directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "forge-app-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} runs: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn node_modules_present() {
    assert!(
        Path::new(FORGE)
            .join("node_modules/@forge/manifest")
            .exists(),
        "forge/ has no node_modules: run scripts/test (or `npm ci --prefix forge`)"
    );
}

/// The Forge app folder as it is deployed: the manifest, and under `static/` the pages
/// (`pageshare forge-ui`) with the `@forge/bridge` bundle next to each.
fn forge_app() -> Scratch {
    node_modules_present();
    let app = Scratch::new();
    let forge_ui = run(Command::new(env!("CARGO_BIN_EXE_pageshare"))
        .args(["forge-ui"])
        .arg(app.0.join("static"))
        .env("RUST_LOG", "warn"));
    assert!(String::from_utf8_lossy(&forge_ui.stdout).contains("panel/index.html"));
    run(Command::new("node")
        .arg(Path::new(FORGE).join("scripts/build.mjs"))
        .arg(app.0.join("static/panel"))
        .arg(app.0.join("static/admin")));
    std::fs::copy(
        Path::new(FORGE).join("manifest.yml"),
        app.0.join("manifest.yml"),
    )
    .unwrap();
    app
}

fn validate(manifest: &Path) -> Output {
    Command::new("node")
        .arg(Path::new(FORGE).join("scripts/validate.mjs"))
        .arg(manifest)
        .env("PAGESHARE_BASE_URL", "https://pageshare.example.com")
        .output()
        .expect("node runs")
}

#[tokio::test]
async fn the_manifest_passes_atlassians_full_validation() {
    let app = tokio::task::spawn_blocking(forge_app).await.unwrap();
    let manifest = app.0.join("manifest.yml");
    let valid = validate(&manifest);
    let said = String::from_utf8_lossy(&valid.stdout).into_owned();
    assert!(valid.status.success(), "{said}");
    assert!(said.ends_with("manifest.yml: valid\n"), "{said}");

    // The validator does fail: on a resource folder that is missing, and on a route module
    // that names an endpoint nobody declared.
    std::fs::remove_dir_all(app.0.join("static/admin")).unwrap();
    let missing = validate(&manifest);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stdout).contains("static/admin"),
        "{missing:?}"
    );
    let elsewhere = Scratch::new();
    let text = std::fs::read_to_string(Path::new(FORGE).join("manifest.yml")).unwrap();
    std::fs::write(
        elsewhere.0.join("manifest.yml"),
        text.replace(
            "endpoint: pageshare-token-sync",
            "endpoint: no-such-endpoint",
        ),
    )
    .unwrap();
    let undeclared = validate(&elsewhere.0.join("manifest.yml"));
    assert!(!undeclared.status.success());
    assert!(
        String::from_utf8_lossy(&undeclared.stdout).contains("no-such-endpoint"),
        "{undeclared:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forge_pages_work_on_atlassians_bridge_and_on_the_sandboxs_stand_in() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert(EDITOR.into());
    });
    app.sandbox.open_links(&app.target, &site, EDITOR, PAGE_ID);
    let links = app.sandbox.forge_open_links(&site);
    let built = tokio::task::spawn_blocking(forge_app).await.unwrap();
    let bundle = std::fs::read_to_string(built.0.join("static/panel/forge-bridge.js")).unwrap();

    // With the sandbox's stand-in for the bridge (what `pageshare dev` uses until forge/ is
    // built): the panel lists, creates and changes links.
    let stand_in = run_browser_script(
        "forge_panel.mjs",
        json!({"panelUrl": links.share_panel, "adminUrl": links.admin, "password": "correct horse battery"}),
    )
    .await;
    assert_eq!(stand_in["problems"], json!([]), "{stand_in}");
    assert_eq!(stand_in["afterCreate"], 1, "{stand_in}");

    // With Atlassian's @forge/bridge, as deployed.
    app.sandbox.use_forge_bridge_bundle(bundle);
    let seen = run_browser_script(
        "forge_panel.mjs",
        json!({
            "panelUrl": links.share_panel,
            "adminUrl": links.admin,
            "password": "correct horse battery",
            "screenshot": crate::browser::artifact("forge-share-panel.png"),
            "full": true,
        }),
    )
    .await;
    assert_eq!(seen["problems"], json!([]), "{seen}");
    assert_eq!(
        (&seen["contentId"], &seen["space"]),
        (&json!(PAGE_ID), &json!(" in space ENG")),
        "the page's context came from view.getContext(): {seen}"
    );
    assert_eq!(
        seen["listed"], 1,
        "the stand-in run's link is listed: {seen}"
    );
    assert_eq!(seen["afterCreate"], 2);
    let origins_error = seen["originsError"].as_str().unwrap();
    assert!(
        origins_error.starts_with("Sites that may embed it: ")
            && origins_error.contains("is not an origin"),
        "a 422 reaches the page in the server's words: {origins_error}"
    );
    assert_eq!(seen["passwordShown"], "On");
    let uuid = seen["uuid"].as_str().unwrap();
    let link = seen["link"].as_str().unwrap();
    assert_eq!(link, format!("{}/content/{uuid}", app.address));
    let secret = seen["secret"].as_str().unwrap();
    assert!(
        secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()),
        "{secret}"
    );
    assert_eq!(seen["adminRows"], 2);
    assert_eq!(
        seen["auditNewest"], "Unlock secret shown",
        "the audit log reads through invokeRemote: {seen}"
    );
    assert_eq!(
        seen["auditDownloadShown"], false,
        "no CSV through invokeRemote"
    );
    assert_eq!(seen["adminStatus"], "Revoked", "{seen}");
    assert_eq!(app.read_share(link, None).await.status(), 404);
    let shares: Vec<(String, bool)> = sqlx::query_as(
        "SELECT uuid::text, revoked_at IS NOT NULL FROM shared_page ORDER BY created_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(shares.len(), 2);
    assert_eq!(shares[1], (uuid.to_owned(), true));
    assert!(!shares[0].1, "only the chosen link is revoked");
}
