//! The sandbox's Confluence sites: their secret, users and pages.

use std::collections::{HashMap, HashSet};

use rand::Rng;

use crate::connect::secrets::SharedSecret;

pub(crate) struct State {
    pub app_key: String,
    pub public_key: &'static str,
    pub sites: HashMap<String, Site>,
    pub verified_calls: usize,
    /// The canonical requests (as Confluence computes them) of the Connect calls that verified.
    pub signed_requests: Vec<String>,
    /// Verified `GET /rest/api/content/{id}` calls.
    pub content_fetches: usize,
    /// Media token → the attachment it opens, like the tokens Atlassian's media host checks.
    pub media_tokens: HashMap<String, MediaGrant>,
    /// Site name → who `/dev/{site}/open` opens the app's pages as.
    pub openers: HashMap<String, super::ap::Opener>,
    /// How the install key server behaves, and the key fetches it answered.
    pub key_server: KeyServer,
    pub key_fetches: usize,
    /// `http://127.0.0.1:{port}` of the media host, which has its own port like Atlassian's.
    pub media_url: String,
    /// The sandbox's own URL.
    pub host_url: String,
    /// Requests the attacker's endpoint (`/evil/...`) received.
    pub evil_hits: usize,
    /// Forge's key set: how it behaves, and the fetches it answered.
    pub jwks_server: KeyServer,
    pub jwks_fetches: usize,
    /// App tokens issued to the app: token → the site it opens and its expiry.
    pub app_tokens: HashMap<String, (String, i64)>,
    /// The app's bundle of `@forge/bridge` the Custom UI pages load, when one was given; else
    /// the sandbox's own stand-in for it.
    pub forge_bridge_bundle: Option<String>,
    /// Atlassian's personal data reporting API.
    pub privacy: super::privacy::PrivacyApi,
}

/// How a key server behaves (the install key server, or Forge's key set), for tests of an unwell
/// or hostile one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyServer {
    #[default]
    Normal,
    /// Every fetch answers this status.
    Status(u16),
    /// Every fetch waits this many seconds first.
    Slow(u64),
    /// Every fetch answers 200 with an endless stream of bytes.
    Endless,
    /// Every fetch answers the healthy answer followed by this many spaces: still a valid key
    /// (or key set) to a reader that takes it all.
    Padded(usize),
    /// Every fetch answers `302 Found` to an address that serves the healthy answer.
    Redirect,
}

/// What one media token lets its holder download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaGrant {
    pub site: String,
    pub page: String,
    pub attachment: String,
}

impl State {
    pub fn new(app_key: &str, public_key: &'static str) -> Self {
        Self {
            app_key: app_key.to_owned(),
            public_key,
            sites: HashMap::new(),
            verified_calls: 0,
            signed_requests: Vec::new(),
            content_fetches: 0,
            media_tokens: HashMap::new(),
            openers: HashMap::new(),
            key_server: KeyServer::Normal,
            key_fetches: 0,
            media_url: String::new(),
            host_url: String::new(),
            evil_hits: 0,
            jwks_server: KeyServer::Normal,
            jwks_fetches: 0,
            app_tokens: HashMap::new(),
            forge_bridge_bundle: None,
            privacy: Default::default(),
        }
    }
}

/// One simulated Confluence site.
#[derive(Debug, Clone)]
pub struct Site {
    pub name: String,
    pub client_key: String,
    /// `{sandbox}/{name}/wiki`, like `https://acme.atlassian.net/wiki`.
    pub base_url: String,
    /// The `displayUrl` of the install payload: where users see the site (a custom domain).
    pub display_url: String,
    /// The shared secret this site holds for the app: it verifies the app's calls with it and
    /// signs lifecycle and iframe tokens with it.
    pub secret: SharedSecret,
    /// Users who administer the site.
    pub admins: HashSet<String>,
    /// Content id → users allowed to read it.
    pub readers: HashMap<String, HashSet<String>>,
    /// Content id → users allowed to edit it (they need to be readers too, as in Confluence).
    pub editors: HashMap<String, HashSet<String>>,
    pub pages: HashMap<String, Page>,
    /// When true, every REST call answers 503.
    pub down: bool,
    /// How this site misbehaves, for tests of hostile answers.
    pub hostile: Hostility,
    /// The site's cloud id, as Forge names it.
    pub cloud_id: String,
    /// The app's Forge installation on this site (`ari:cloud:ecosystem::installation/<uuid>`);
    /// a reinstall gets a new one.
    pub forge_installation_id: String,
    /// Whether the Connect `installed` body names the Forge installation (the app is registered
    /// with Forge: Connect on Forge).
    pub connect_names_installation: bool,
    /// The Forge environment type its invocations carry.
    pub forge_environment: String,
}

/// A Confluence that answers what the network or an attacker could: redirects, huge bodies.
#[derive(Debug, Clone, Default)]
pub struct Hostility {
    /// Every JSON REST call answers `307 Temporary Redirect` to this URL.
    pub redirect_json_to: Option<String>,
    /// Attachment downloads redirect here instead of to the media host.
    pub redirect_download_to: Option<String>,
    /// Extra redirects (on the site's own origin) before the media host.
    pub download_hops: usize,
    /// Content answers are padded to at least this many bytes.
    pub pad_content_to: Option<usize>,
    /// Content answers are an endless stream.
    pub endless_content: bool,
    /// Every JSON REST call waits [`STALL`] before it answers, longer than any client waits.
    pub stall: bool,
    /// Every JSON REST call waits this long before it answers: a slow Confluence, within the
    /// app's timeouts.
    pub delay: Option<std::time::Duration>,
}

/// How long a stalled call waits.
pub const STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// A page as `GET /rest/api/content/{id}?expand=body.export_view,version,space` returns it.
#[derive(Debug, Clone)]
pub struct Page {
    pub title: String,
    pub space_key: String,
    pub version: u32,
    pub export_view: String,
    /// Attachment id → (media type, bytes).
    pub attachments: HashMap<String, (String, Vec<u8>)>,
    /// The page it sits under, if any.
    pub parent: Option<String>,
}

/// The pages [`Site::add_guide`] puts below a page: id, parent (`None`: the page itself), title.
/// Three levels with the page; they link to each other in each of Confluence's link forms, to a
/// page outside the tree, and the deepest shows an attached image ([`GUIDE_IMAGE_ID`]).
pub const GUIDE: [(&str, Option<&str>, &str); 3] = [
    ("2001", None, "Getting started"),
    ("2002", None, "Daily work"),
    ("2003", Some("2001"), "Install the tools"),
];
/// The image attached to the guide's page 2003.
pub const GUIDE_IMAGE_ID: &str = "2900003";
/// A page of the site outside any guide, which guide pages link to.
pub const OUTSIDE_PAGE_ID: &str = "98305";

const SAMPLE_PAGE: &str = include_str!("sample_page.html");
const HOSTILE_PAGE: &str = include_str!("hostile_page.html");
const SAMPLE_PNG: &[u8] = include_bytes!("sample.png");

impl Page {
    /// The attachment id of the image on the [`Page::sample`] page.
    pub const SAMPLE_IMAGE_ID: &'static str = "1900545";

    /// A page like Confluence's `export_view` of a real one: headings, a panel, a table with a
    /// merged cell, a link to another page, an attached PNG image (id
    /// [`Page::SAMPLE_IMAGE_ID`]), a code block and a list. `base_url` is the tenant's, e.g.
    /// `https://acme.atlassian.net/wiki`.
    pub fn sample(base_url: &str, page_id: &str) -> Self {
        let base_path = url::Url::parse(base_url)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let export_view = SAMPLE_PAGE
            .replace("{base_url}", base_url)
            .replace("{base_path}", &base_path)
            .replace("{page_id}", page_id)
            .replace("{image_id}", Self::SAMPLE_IMAGE_ID);
        let attachments = HashMap::from([(
            Self::SAMPLE_IMAGE_ID.to_owned(),
            ("image/png".to_owned(), SAMPLE_PNG.to_vec()),
        )]);
        Self {
            title: "Onboarding".to_owned(),
            space_key: "ENG".to_owned(),
            version: 7,
            export_view,
            attachments,
            parent: None,
        }
    }

    /// A page whose body tries a `<script>`, an `onclick` handler, a `javascript:` link, an
    /// `onerror` image and an iframe, for the sanitiser's tests.
    pub fn hostile() -> Self {
        Self {
            title: "Notes".to_owned(),
            space_key: "ENG".to_owned(),
            version: 1,
            export_view: HOSTILE_PAGE.to_owned(),
            attachments: HashMap::new(),
            parent: None,
        }
    }
}

pub fn random_secret() -> SharedSecret {
    let bytes: [u8; 32] = rand::rng().random();
    SharedSecret::new(hex::encode(bytes))
}

/// A fresh Forge installation id.
pub fn new_installation_id() -> String {
    format!("ari:cloud:ecosystem::installation/{}", uuid::Uuid::new_v4())
}

impl Site {
    pub fn new(name: &str, host_url: &str) -> Self {
        let base_url = format!("{host_url}/{name}/wiki");
        Self {
            name: name.to_owned(),
            client_key: format!("{name}-{}", uuid::Uuid::new_v4()),
            display_url: base_url.clone(),
            base_url,
            secret: random_secret(),
            admins: HashSet::new(),
            readers: HashMap::new(),
            editors: HashMap::new(),
            pages: HashMap::new(),
            down: false,
            hostile: Hostility::default(),
            cloud_id: uuid::Uuid::new_v4().to_string(),
            forge_installation_id: new_installation_id(),
            connect_names_installation: false,
            forge_environment: "PRODUCTION".to_owned(),
        }
    }

    pub fn base_path(&self) -> String {
        format!("/{}/wiki", self.name)
    }

    /// The sandbox's own URL.
    pub fn host_url(&self) -> &str {
        self.base_url
            .strip_suffix(&self.base_path())
            .unwrap_or(&self.base_url)
    }

    pub fn can_read(&self, account_id: &str, content_id: &str) -> bool {
        self.readers
            .get(content_id)
            .is_some_and(|users| users.contains(account_id))
    }

    pub fn can_update(&self, account_id: &str, content_id: &str) -> bool {
        self.can_read(account_id, content_id)
            && self
                .editors
                .get(content_id)
                .is_some_and(|users| users.contains(account_id))
    }

    /// Put the [`GUIDE`] pages below `root` (a page of the site), bodies in `export_view`'s
    /// forms: a `/spaces/KEY/pages/ID/Title` link, a `viewpage.action?pageId=ID` link, a link
    /// with `data-linked-resource-id`, a link outside the guide, and an attached image.
    pub fn add_guide(&mut self, root: &str) {
        let base_url = self.base_url.clone();
        let base_path = self.base_path();
        let body = |id: &str| match id {
            "2001" => format!(
                r#"<p>Start with <a href="{base_path}/spaces/ENG/pages/2003/Install+the+tools">Install the tools</a>, then read <a href="{base_url}/pages/viewpage.action?pageId=2002&amp;src=contextnavpagetreemode">Daily work</a>.</p><p>On call? See the <a href="{base_path}/pages/viewpage.action?pageId={OUTSIDE_PAGE_ID}">Runbook</a>.</p>"#
            ),
            "2002" => format!(
                r#"<p>Back to <a href="{base_path}/spaces/ENG/pages/2001" data-linked-resource-id="2001" data-linked-resource-type="page">Getting started</a> or the <a href="{base_path}/spaces/ENG/pages/{root}/Onboarding">overview</a>.</p>"#
            ),
            _ => format!(
                r#"<p>Install these tools:</p><p><img class="confluence-embedded-image" src="{base_url}/download/attachments/2003/tools.png?api=v2" data-linked-resource-id="{GUIDE_IMAGE_ID}" data-linked-resource-type="attachment" alt="tools.png"></p><p>Questions go to <a href="{base_path}/spaces/OPS/pages/{OUTSIDE_PAGE_ID}/Runbook" data-linked-resource-id="{OUTSIDE_PAGE_ID}" data-linked-resource-type="page">the Runbook</a>.</p>"#
            ),
        };
        for (id, parent, title) in GUIDE {
            let mut attachments = HashMap::new();
            if id == "2003" {
                let image = ("image/png".to_owned(), SAMPLE_PNG.to_vec());
                attachments.insert(GUIDE_IMAGE_ID.to_owned(), image);
            }
            let page = Page {
                title: title.to_owned(),
                space_key: "ENG".to_owned(),
                version: 1,
                export_view: body(id),
                attachments,
                parent: Some(parent.unwrap_or(root).to_owned()),
            };
            self.pages.insert(id.to_owned(), page);
        }
    }

    /// The pages below `root`, depth first, children in the order of their ids (numerically),
    /// each with its ancestors from the top of the space down to its parent.
    pub fn descendants(&self, root: &str) -> Vec<(String, Vec<String>)> {
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for (id, page) in &self.pages {
            if let Some(parent) = &page.parent {
                children
                    .entry(parent.as_str())
                    .or_default()
                    .push(id.as_str());
            }
        }
        for list in children.values_mut() {
            list.sort_by_key(|id| (id.len(), *id));
        }
        let ancestors_of = |id: &str| {
            let mut chain = Vec::new();
            let mut at = self.pages.get(id).and_then(|p| p.parent.clone());
            while let Some(parent) = at {
                if chain.len() > self.pages.len() {
                    break; // a loop of parents: not a tree
                }
                at = self.pages.get(&parent).and_then(|p| p.parent.clone());
                chain.push(parent);
            }
            chain.reverse();
            chain
        };
        let mut found = Vec::new();
        let mut stack: Vec<&str> = children.get(root).cloned().unwrap_or_default();
        stack.reverse();
        while let Some(id) = stack.pop() {
            found.push((id.to_owned(), ancestors_of(id)));
            if let Some(below) = children.get(id) {
                stack.extend(below.iter().rev());
            }
        }
        found
    }

    /// Let `account_id` read and edit `content_id`.
    pub fn add_editor(&mut self, content_id: &str, account_id: &str) {
        for users in [&mut self.readers, &mut self.editors] {
            users
                .entry(content_id.to_owned())
                .or_default()
                .insert(account_id.to_owned());
        }
    }
}
