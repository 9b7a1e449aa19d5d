//! `pageshare dev`: the app and a simulated Confluence host, installed and ready to click.

use anyhow::{Context, bail};
use serde_json::json;

use crate::config::Settings;
use crate::connect::allowlist::HostAllowlist;
use crate::sandbox::{AppTarget, Page, Sandbox};
use crate::startup::Application;

/// The sample share's password, printed for the newcomer.
pub const DEV_PASSWORD: &str = "pageshare-demo";
const PAGE_ID: &str = "65537";
const USER: &str = "557058:dev-user";

pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(&settings.app_key)?;
    settings.install_keys_url = sandbox.keys_url();
    settings.host_allowlist = HostAllowlist::parse("127.0.0.1");
    settings.all_js_url = sandbox.all_js_url();
    settings.media_hosts = sandbox.media_hosts();
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
    let uuid = share["uuid"].as_str().context("share uuid")?;
    let secret = share["unlockSecret"].as_str().context("unlock secret")?;
    let unlock = super::unlock_url::unlock_url(
        &settings.base_url,
        uuid,
        secret,
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
         \nPress Ctrl-C to stop.",
        panel = links.share_panel,
        admin = links.admin,
        base = settings.base_url,
        site = site.base_url,
        url = share["url"].as_str().unwrap_or_default(),
    );
    server.await??;
    Ok(())
}
