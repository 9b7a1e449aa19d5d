//! `pageshare dev`: the app and a simulated Confluence host, installed and ready to click.

use anyhow::{Context, bail};
use serde_json::json;

use crate::config::{ForgeSettings, Settings};
use crate::connect::allowlist::HostAllowlist;
use crate::forge::ids::AppId;
use crate::forge::token::Environment;
use crate::sandbox::{AppTarget, FORGE_APP_ID, OpenLinks, Page, Sandbox};
use crate::share::UnlockSecret;
use crate::startup::Application;

/// The sample share's password, printed for the newcomer.
pub const DEV_PASSWORD: &str = "pageshare-demo";
const PAGE_ID: &str = "65537";
const USER: &str = "557058:dev-user";

/// The sandbox's Forge site, installed, with a sample share and links to its Custom UI.
struct ForgeDev {
    site: String,
    share_url: String,
    links: OpenLinks,
    /// Which `@forge/bridge` the pages run on.
    bridge: &'static str,
}

/// The app's own bundle of `@forge/bridge`, once `forge/` is built (`forge/README.md`).
const BUILT_BRIDGE: &str = "forge/static/panel/forge-bridge.js";

async fn forge_site(sandbox: &Sandbox, target: &AppTarget) -> anyhow::Result<ForgeDev> {
    let (site, share) = sandbox
        .forge_site_with_share(target, "forge-dev", PAGE_ID, USER)
        .await
        .context("installing the Forge sample site failed")?;
    sandbox.update_site("forge-dev", |s| {
        s.admins.insert(USER.into());
    });
    sandbox.open_links(target, &site, USER, PAGE_ID);
    let bridge = match std::fs::read_to_string(BUILT_BRIDGE) {
        Ok(bundle) => {
            sandbox.use_forge_bridge_bundle(bundle);
            "on Atlassian's @forge/bridge, as built in forge/"
        }
        Err(_) => "on the sandbox's stand-in for @forge/bridge",
    };
    Ok(ForgeDev {
        bridge,
        site: site.base_url.clone(),
        share_url: share["url"].as_str().unwrap_or_default().to_owned(),
        links: sandbox.forge_open_links(&site),
    })
}

pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(&settings.app_key)?;
    settings.install_keys_url = sandbox.keys_url();
    settings.host_allowlist = HostAllowlist::parse("127.0.0.1");
    settings.all_js_url = sandbox.all_js_url();
    settings.media_hosts = sandbox.media_hosts();
    settings.forge = Some(ForgeSettings {
        app_id: AppId::parse(FORGE_APP_ID).expect("the sandbox's app id"),
        jwks_url: sandbox.forge_jwks_url(),
        api_base: sandbox.forge_api_base(),
        environments: Environment::parse_list("PRODUCTION").map_err(anyhow::Error::msg)?,
    });
    let app = Application::build(settings.clone()).await?;
    let server = tokio::spawn(app.run_until_stopped());

    let target = AppTarget {
        base_url: settings.base_url.clone(),
        key: settings.app_key.clone(),
    };
    let site = sandbox.add_site("dev");
    let page = Page::sample(&site.base_url, PAGE_ID);
    sandbox.update_site("dev", |s| {
        s.pages.insert(PAGE_ID.into(), page);
        s.add_editor(PAGE_ID, USER);
        s.admins.insert(USER.into());
    });
    let installed = sandbox
        .install(&target, &site)
        .await
        .context("the sandbox could not reach the app at PAGESHARE_BASE_URL")?;
    if !installed.status().is_success() {
        bail!(
            "install failed: {}",
            installed.text().await.unwrap_or_default()
        );
    }
    let share: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/shares", settings.base_url))
        .header(
            "Authorization",
            format!("JWT {}", sandbox.context_token(&site, USER)),
        )
        .json(&json!({"contentId": PAGE_ID, "password": DEV_PASSWORD}))
        .send()
        .await?
        .error_for_status()
        .context("creating the sample share failed")?
        .json()
        .await?;
    let links = sandbox.open_links(&target, &site, USER, PAGE_ID);
    let forge = forge_site(&sandbox, &target).await?;
    let uuid = share["uuid"].as_str().context("share uuid")?;
    let secret = share["unlockSecret"].as_str().context("unlock secret")?;
    let unlock = super::unlock_url::unlock_url(
        &settings.base_url,
        uuid,
        &UnlockSecret::from_hex(secret).context("unlock secret")?,
        60,
        chrono::Utc::now().timestamp(),
    )?;
    println!(
        "\nPageshare dev sandbox is running.\n\
         \n  app:            {base}\n  Confluence:     {site} (simulated)\n\
         \n  share URL:      {url}\n  password:       {DEV_PASSWORD}\n  unlock secret:  {secret}\
         \n  unlock URL:     {unlock}\n                  (valid 60 s; mint another with\
         \n                   pageshare unlock-url --share {uuid} --secret {secret})\n\
         \n  share panel:    {panel}\n  admin page:     {admin}\
         \n                  (open in a browser tab, as the page's reader and site admin)\n\
         \n  Forge site:     {forge_site} (simulated, installed through Forge)\
         \n  Forge share:    {forge_share}\
         \n  Forge panel:    {forge_panel}\n  Forge admin:    {forge_admin}\
         \n                  (the Custom UI pages, {forge_bridge})\n\
         \nPress Ctrl-C to stop.",
        forge_site = forge.site,
        forge_share = forge.share_url,
        forge_panel = forge.links.share_panel,
        forge_admin = forge.links.admin,
        forge_bridge = forge.bridge,
        panel = links.share_panel,
        admin = links.admin,
        base = settings.base_url,
        site = site.base_url,
        url = share["url"].as_str().unwrap_or_default(),
    );
    server.await??;
    Ok(())
}
