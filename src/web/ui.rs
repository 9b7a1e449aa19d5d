//! The admin UI pages (the share panel of a page, the site admin page), one markup for both
//! platforms: served by the app in Connect iframes ([`super::iframe`]), and written out as
//! static Forge Custom UI resources (`pageshare forge-ui DIR`), where the transport is
//! `@forge/bridge` and the page's context comes from Forge at run time.

use askama::Template;

use super::assets;
use crate::config::Settings;

/// What the layout loads: the stylesheet, the platform's script (Atlassian's `all.js`, or the
/// `@forge/bridge` bundle), and the page's scripts.
pub struct PageAssets {
    stylesheet: String,
    all_js: Option<String>,
    forge_bridge: Option<String>,
    common_js: String,
    page_js: String,
}

/// The Forge bundle of `@forge/bridge` (`forge/scripts/build.mjs`) next to each page.
pub const FORGE_BRIDGE_JS: &str = "forge-bridge.js";

/// What the Forge pages put before `/api/...` in `invokeRemote` paths: the Web API under `/forge`.
const FORGE_API_BASE: &str = "/forge";

impl PageAssets {
    /// Served by this app, with Atlassian's `all.js`.
    pub fn connect(settings: &Settings, page_js: &str) -> Self {
        let base = &settings.base_url;
        Self {
            stylesheet: assets::url(base, assets::STYLESHEET),
            all_js: Some(settings.all_js_url.clone()),
            forge_bridge: None,
            common_js: assets::url(base, assets::COMMON_JS),
            page_js: assets::url(base, page_js),
        }
    }

    /// Files next to the page, as a Forge resource folder holds them.
    fn forge(page_js: &str) -> Self {
        Self {
            stylesheet: assets::STYLESHEET.to_owned(),
            all_js: None,
            forge_bridge: Some(FORGE_BRIDGE_JS.to_owned()),
            common_js: assets::COMMON_JS.to_owned(),
            page_js: page_js.to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/share_panel.html")]
pub struct SharePanel<'a> {
    pub assets: PageAssets,
    /// `connect` or `forge`: how the page's script reaches the Web API.
    pub platform: &'static str,
    pub api_base: &'a str,
    pub content_id: &'a str,
    pub space_key: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "ui/admin.html")]
pub struct AdminPage<'a> {
    pub assets: PageAssets,
    pub platform: &'static str,
    pub api_base: &'a str,
}

/// The Forge Custom UI resources: `(path, contents)` of every file but the bridge bundle, under
/// `panel/` (the byline share panel) and `admin/` (the global settings page).
pub fn forge_resources() -> Result<Vec<(String, String)>, askama::Error> {
    let panel = SharePanel {
        assets: PageAssets::forge(assets::PANEL_JS),
        platform: "forge",
        api_base: FORGE_API_BASE,
        content_id: "",
        space_key: None,
    }
    .render()?;
    let admin = AdminPage {
        assets: PageAssets::forge(assets::ADMIN_JS),
        platform: "forge",
        api_base: FORGE_API_BASE,
    }
    .render()?;
    let mut files = Vec::new();
    for (folder, html, page_js) in [
        ("panel", panel, assets::PANEL_JS),
        ("admin", admin, assets::ADMIN_JS),
    ] {
        files.push((format!("{folder}/index.html"), html));
        for name in [assets::STYLESHEET, assets::COMMON_JS, page_js] {
            files.push((format!("{folder}/{name}"), assets::body(name).to_owned()));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forge_pages_load_the_bridge_and_their_files_from_their_own_folder() {
        let files = forge_resources().unwrap();
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "panel/index.html",
                "panel/pageshare.css",
                "panel/common.js",
                "panel/panel.js",
                "admin/index.html",
                "admin/pageshare.css",
                "admin/common.js",
                "admin/admin.js"
            ]
        );
        let panel = &files[0].1;
        assert!(panel.contains(r#"data-platform="forge" data-api="/forge""#));
        let scripts: Vec<&str> = panel
            .match_indices("<script src=\"")
            .map(|(at, found)| {
                let rest = &panel[at + found.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert_eq!(scripts, ["forge-bridge.js", "common.js", "panel.js"]);
        assert!(
            !panel.contains("all.js")
                && !panel.contains("src=\"http")
                && !panel.contains("href=\"http"),
            "nothing is loaded from elsewhere: {panel}"
        );
    }
}
