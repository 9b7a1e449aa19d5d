//! `pageshare dev`: the app and a simulated Confluence host, installed and ready to click.

use anyhow::{Context, bail};
use serde_json::json;

use crate::config::database_url::{database_name, with_database_name};
use crate::config::{ForgeSettings, Settings, env_var};
use crate::connect::allowlist::HostAllowlist;
use crate::connect::secrets::SecretMode;
use crate::db;
use crate::forge::ids::AppId;
use crate::forge::token::Environment;
use crate::sandbox::{AppTarget, FORGE_APP_ID, OpenLinks, Page, Sandbox};
use crate::share::UnlockSecret;
use crate::share::unlock::mint_unlock_token;
use crate::startup::{self, Application};

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

/// The variables `pageshare dev` does not read: it points them at the sandbox.
const SANDBOX_VARIABLES: &[&str] = &[
    "PAGESHARE_INSTALL_KEYS_URL",
    "PAGESHARE_HOST_ALLOWLIST",
    "PAGESHARE_MEDIA_HOSTS",
    "PAGESHARE_FORGE_APP_ID",
    "PAGESHARE_FORGE_JWKS_URL",
    "PAGESHARE_FORGE_API_BASE",
    "PAGESHARE_FORGE_ENVIRONMENTS",
];

/// Postgres cuts longer names short, which could make the dev name the production one.
const MAX_DATABASE_NAME_LEN: usize = 63;

/// The settings `pageshare dev` reads: the environment's, but for those it takes from the
/// sandbox; refused in app-wide mode, in which the sandbox's signed install could not verify.
fn dev_settings() -> anyhow::Result<Settings> {
    let settings = Settings::from_lookup(|name| {
        (!SANDBOX_VARIABLES.contains(&name))
            .then(|| env_var(name))
            .flatten()
    })?;
    if settings.secret_mode == SecretMode::AppWide {
        bail!(
            "pageshare dev needs PAGESHARE_SECRET_MODE per-install (the default) or migrating: the \
             sandbox's sites sign with their own shared secret, which app-wide mode does not accept; \
             unset PAGESHARE_SECRET_MODE or set it to migrating"
        );
    }
    Ok(settings)
}

/// The dev database: DATABASE_URL's name plus `_dev`, on the same server; emptied unless `keep`.
/// Its URL and name.
async fn dev_database(database_url: &str, keep: bool) -> anyhow::Result<(String, String)> {
    let name = format!("{}_dev", database_name(database_url));
    if name.len() > MAX_DATABASE_NAME_LEN {
        bail!(
            "DATABASE_URL: its database name is too long for pageshare dev, which adds `_dev` \
             (at most {MAX_DATABASE_NAME_LEN} bytes in all)"
        );
    }
    let url = with_database_name(database_url, &name);
    if !keep {
        db::drop_if_exists(&url).await?;
    }
    Ok((url, name))
}

pub async fn run(keep: bool) -> anyhow::Result<()> {
    let mut settings = dev_settings()?;
    let listener = startup::listen(&settings.bind)?;
    let (database_url, database) = dev_database(&settings.database_url, keep).await?;
    settings.database_url = database_url;
    let pool = db::connect_and_migrate(&settings.database_url).await?;
    let sandbox = Sandbox::start(&settings.app_key)?;
    settings.install_keys_url = sandbox.keys_url();
    settings.host_allowlist = HostAllowlist::parse("127.0.0.1");
    settings.all_js_url = sandbox.all_js_url();
    settings.media_hosts = sandbox.media_hosts();
    settings.personal_data_url = sandbox.personal_data_url();
    settings.forge = Some(ForgeSettings {
        app_id: AppId::parse(FORGE_APP_ID).expect("the sandbox's app id"),
        jwks_url: sandbox.forge_jwks_url(),
        api_base: sandbox.forge_api_base(),
        environments: Environment::parse_list("PRODUCTION").map_err(anyhow::Error::msg)?,
    });
    let app = Application::with_listener(settings.clone(), pool, listener, None).await?;
    let server = tokio::spawn(app.run_until_stopped());

    let target = AppTarget {
        base_url: settings.base_url.clone(),
        key: settings.app_key.clone(),
    };
    let site = sandbox.add_site("dev");
    let page = Page::sample(&site.base_url, PAGE_ID);
    sandbox.update_site("dev", |s| {
        s.pages.insert(PAGE_ID.into(), page);
        // A small guide below the page: the sample share is a tree.
        s.add_guide(PAGE_ID);
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
        .json(&json!({"contentId": PAGE_ID, "password": DEV_PASSWORD, "includeChildren": true}))
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
    let unlock_secret = UnlockSecret::from_hex(secret).context("unlock secret")?;
    let now = chrono::Utc::now().timestamp();
    let unlock = super::unlock_url::unlock_url(&settings.base_url, uuid, 60, |share| {
        mint_unlock_token(share, &unlock_secret, now, 60)
    })?;
    println!(
        "\nPageshare dev sandbox is running.\n\
         \n  app:            {base}\n  Confluence:     {site} (simulated)\
         \n  database:       {database} ({kept})\n\
         \n  share URL:      {url}\n                  (a tree: the sample page and the guide below it, e.g. {url}/pages/2003)\n  password:       {DEV_PASSWORD}\n  unlock secret:  {secret}\
         \n  unlock URL:     {unlock}\n                  (valid 60 s; mint another with the secret\
         \n                   in PAGESHARE_UNLOCK_SECRET: pageshare unlock-url --share {uuid}\
         \n                   or on stdin: pageshare unlock-url --share {uuid} --secret -)\n\
         \n  share panel:    {panel}\n  admin page:     {admin}\
         \n                  (open in a browser tab, as the page's reader and site admin)\n\
         \n  Forge site:     {forge_site} (simulated, installed through Forge)\
         \n  Forge share:    {forge_share}\
         \n  Forge panel:    {forge_panel}\n  Forge admin:    {forge_admin}\
         \n                  (the Custom UI pages, {forge_bridge})\n\
         \nPress Ctrl-C to stop.",
        kept = if keep {
            "kept from earlier runs"
        } else {
            "emptied at start; pageshare dev --keep keeps it"
        },
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
