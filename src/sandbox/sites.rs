//! The sandbox's Confluence sites: their secret, users and pages.

use std::collections::{HashMap, HashSet};

use rand::Rng;

use crate::connect::secrets::SharedSecret;

pub(crate) struct State {
    pub app_key: String,
    pub public_key: &'static str,
    pub sites: HashMap<String, Site>,
    pub verified_calls: usize,
}

impl State {
    pub fn new(app_key: &str, public_key: &'static str) -> Self {
        Self {
            app_key: app_key.to_owned(),
            public_key,
            sites: HashMap::new(),
            verified_calls: 0,
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
    /// The shared secret this site holds for the app: it verifies the app's calls with it and
    /// signs lifecycle and iframe tokens with it.
    pub secret: SharedSecret,
    /// Users who administer the site.
    pub admins: HashSet<String>,
    /// Content id → users allowed to read it.
    pub readers: HashMap<String, HashSet<String>>,
    pub pages: HashMap<String, Page>,
    /// When true, every REST call answers 503.
    pub down: bool,
}

/// A page as `GET /rest/api/content/{id}?expand=body.export_view,version,space` returns it.
#[derive(Debug, Clone)]
pub struct Page {
    pub title: String,
    pub space_key: String,
    pub version: u32,
    pub export_view: String,
    /// Attachment id → (media type, bytes).
    pub attachments: HashMap<String, (String, Vec<u8>)>,
}

pub fn random_secret() -> SharedSecret {
    let bytes: [u8; 32] = rand::rng().random();
    SharedSecret::new(hex::encode(bytes))
}

impl Site {
    pub fn new(name: &str, host_url: &str) -> Self {
        Self {
            name: name.to_owned(),
            client_key: format!("{name}-{}", uuid::Uuid::new_v4()),
            base_url: format!("{host_url}/{name}/wiki"),
            secret: random_secret(),
            admins: HashSet::new(),
            readers: HashMap::new(),
            pages: HashMap::new(),
            down: false,
        }
    }

    pub fn base_path(&self) -> String {
        format!("/{}/wiki", self.name)
    }

    pub fn can_read(&self, account_id: &str, content_id: &str) -> bool {
        self.readers
            .get(content_id)
            .is_some_and(|users| users.contains(account_id))
    }
}
