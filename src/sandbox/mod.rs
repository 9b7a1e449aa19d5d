//! A simulated Confluence Cloud host, for the tests and `pageshare dev` (`docs/ARCHITECTURE.md`).
//!
//! It behaves like Atlassian where the app can tell: lifecycle callbacks signed with RS256 by its
//! own key, served by a key server at `{url}/keys/{kid}`; Connect JWTs minted like the ones an
//! iframe gets (computed qsh) or `AP.context.getToken()` returns (context qsh); and the REST
//! calls the app makes, each of which must carry a valid app JWT (an `iat`, at most 180 s of life)
//! whose `qsh` is the one the sandbox computes with its own canonicaliser ([`qsh`]), not the app's
//! (which also computes the `qsh` of the tokens the sandbox mints).

mod ap;
mod forge;
mod forge_ui;
pub mod keys;
mod privacy;
pub(crate) mod qsh;
mod rest;
mod sites;

use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use chrono::Utc;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

pub use forge::{FORGE_APP_ID, FORGE_KID, Invoker};
pub use privacy::{CLOSED_TEST_ACCOUNT, HostileReportAnswer};
pub use sites::{
    GUIDE, GUIDE_IMAGE_ID, Hostility, KeyServer, OUTSIDE_PAGE_ID, Page, Site, new_installation_id,
    random_secret,
};

use crate::confluence::redirects::MediaHosts;
use crate::connect::canonical::CONTEXT_QSH;
use crate::connect::secrets::SharedSecret;
use crate::connect::token::{OutgoingClaims, sign};

/// The `kid` under which the sandbox's install key is served.
pub const KID: &str = "sandbox/install-key-1";

/// The app as the sandbox sees it: where to send callbacks, and its key.
#[derive(Debug, Clone)]
pub struct AppTarget {
    pub base_url: String,
    pub key: String,
}

pub(crate) type Shared = Arc<Mutex<sites::State>>;

pub struct Sandbox {
    pub url: String,
    state: Shared,
    http: reqwest::Client,
}

impl Sandbox {
    /// Start the simulated host on `127.0.0.1:0` in the background.
    pub fn start(app_key: &str) -> anyhow::Result<Self> {
        Self::start_on("127.0.0.1:0", app_key)
    }

    /// Start on `bind`. Atlassian's own services (install keys, `all.js`, Forge's keys and
    /// gateway) answer there; each site gets an origin of its own on the same address
    /// ([`Sandbox::add_site`]), and the media host one on the next loopback address (`127.0.0.2`
    /// when `bind` is `127.0.0.1`), as Atlassian's media host is not the site.
    pub fn start_on(bind: &str, app_key: &str) -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind(bind).with_context(|| format!("sandbox cannot listen on {bind}"))?;
        let address = listener.local_addr()?;
        let media_ip = match address.ip() {
            std::net::IpAddr::V4(ip) if ip == std::net::Ipv4Addr::LOCALHOST => {
                std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2))
            }
            other => other,
        };
        let media_listener = TcpListener::bind((media_ip, 0))
            .with_context(|| format!("the sandbox's media host cannot listen on {media_ip}"))?;
        let url = format!("http://{address}");
        let mut state = sites::State::new(app_key, &keys::sandbox().public_pem);
        state.media_url = format!("http://{}", media_listener.local_addr()?);
        state.host_url = url.clone();
        let state: Shared = Arc::new(Mutex::new(state));
        serve(listener, state.clone(), |cfg| {
            cfg.configure(rest::routes)
                .configure(ap::routes)
                .configure(forge::routes)
                .configure(forge_ui::routes)
                .configure(privacy::routes);
        })?;
        serve(media_listener, state.clone(), rest::media_routes)?;
        Ok(Self {
            url,
            state,
            http: reqwest::Client::new(),
        })
    }

    /// `http://127.0.0.1:{port}` of the simulated media host.
    /// The base URL of the sandbox's personal data reporting API (`PAGESHARE_PERSONAL_DATA_URL`).
    pub fn personal_data_url(&self) -> String {
        self.url.clone()
    }

    /// From now on the personal data API reports `account_id` closed.
    pub fn close_account(&self, account_id: &str) {
        self.lock().privacy.closed.insert(account_id.to_owned());
    }

    /// From now on the personal data API reports `account_id` updated.
    pub fn update_account(&self, account_id: &str) {
        self.lock().privacy.updated.insert(account_id.to_owned());
    }

    /// The next `reports` personal data reports answer `429` with `Retry-After: {seconds}`.
    pub fn rate_limit_reports(&self, reports: usize, seconds: u64) {
        let mut state = self.lock();
        state.privacy.rate_limit_next = reports;
        state.privacy.retry_after = seconds;
    }

    /// From now on every personal data report is answered `hostile` (`None`: normally again).
    pub fn answer_reports(&self, hostile: Option<HostileReportAnswer>) {
        self.lock().privacy.hostile = hostile;
    }

    /// The personal data reports accepted so far: the reporting site's name and the accounts.
    pub fn personal_data_reports(&self) -> Vec<(String, Vec<String>)> {
        self.lock().privacy.reports.clone()
    }

    /// When the personal data reports answered `429` arrived, and when the accepted ones did.
    pub fn personal_data_report_times(&self) -> (Vec<std::time::Instant>, Vec<std::time::Instant>) {
        let state = self.lock();
        (
            state.privacy.rate_limited_at.clone(),
            state.privacy.report_times.clone(),
        )
    }

    /// Personal data reports answered with a hostile answer so far.
    pub fn hostile_report_answers(&self) -> usize {
        self.lock().privacy.hostile_answers
    }

    pub fn media_url(&self) -> url::Url {
        url::Url::parse(&self.lock().media_url).expect("the media host's URL")
    }

    /// How many requests reached the attacker's endpoint (`/evil/...`) on any origin.
    pub fn evil_hits(&self) -> usize {
        self.lock().evil_hits
    }

    /// `PAGESHARE_MEDIA_HOSTS` for an app that fetches from this host's media host.
    pub fn media_hosts(&self) -> MediaHosts {
        let media = self.media_url();
        MediaHosts::parse(&format!(
            "{}:{}",
            media.host_str().unwrap_or_default(),
            media.port().unwrap_or_default()
        ))
        .expect("an exact host and port")
    }

    /// `PAGESHARE_INSTALL_KEYS_URL` for an app that trusts this host.
    pub fn keys_url(&self) -> String {
        format!("{}/keys", self.url)
    }

    fn lock(&self) -> MutexGuard<'_, sites::State> {
        self.state.lock().expect("sandbox state lock")
    }

    /// A new Confluence site at `http://{ip}:{port}/{name}/wiki` on an origin of its own (its own
    /// port, on this host's address), holding a fresh shared secret. Its origin serves the
    /// site's REST API and the pages that open the app, as `{name}.atlassian.net` does.
    pub fn add_site(&self, name: &str) -> Site {
        let address = url::Url::parse(&self.url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .expect("the sandbox's host");
        let listener = TcpListener::bind(format!("{address}:0")).expect("a site's own port");
        let origin = format!("http://{}", listener.local_addr().expect("a bound port"));
        let own = [format!("/{name}/"), format!("/dev/{name}/")];
        serve(listener, self.state.clone(), move |cfg| {
            // Another site's paths are not found here, as on another site's host.
            let own = own.clone();
            let mine = actix_web::guard::fn_guard(move |ctx| {
                let path = ctx.head().uri.path();
                own.iter().any(|prefix| path.starts_with(prefix.as_str()))
                    || ["/hop/", "/evil/", "/ap/"]
                        .iter()
                        .any(|shared| path.starts_with(shared))
            });
            cfg.service(
                web::scope("")
                    .guard(mine)
                    .configure(rest::site_routes)
                    .configure(ap::routes)
                    .configure(forge_ui::routes),
            );
        })
        .expect("a site's server starts");
        let site = Site::new(name, &origin);
        self.lock().sites.insert(name.to_owned(), site.clone());
        site
    }

    pub fn site(&self, name: &str) -> Site {
        self.lock()
            .sites
            .get(name)
            .cloned()
            .expect("known sandbox site")
    }

    /// Change a site in place (its users, pages, secret, availability).
    pub fn update_site(&self, name: &str, change: impl FnOnce(&mut Site)) {
        change(self.lock().sites.get_mut(name).expect("known sandbox site"));
    }

    /// Make the install key server behave like this from now on.
    pub fn set_key_server(&self, behaviour: KeyServer) {
        self.lock().key_server = behaviour;
    }

    /// How many key fetches the install key server answered.
    pub fn key_fetches(&self) -> usize {
        self.lock().key_fetches
    }

    /// How many REST calls the app made to this host that verified.
    pub fn verified_rest_calls(&self) -> usize {
        self.lock().verified_calls
    }

    /// The canonical request, as Confluence computes it, of each Connect call of the app that
    /// verified, in order.
    pub fn signed_requests(&self) -> Vec<String> {
        self.lock().signed_requests.clone()
    }

    /// How many verified `GET /rest/api/content/{id}` calls the app made (to prove caching).
    pub fn content_fetches(&self) -> usize {
        self.lock().content_fetches
    }

    /// The body Atlassian posts to `/installed` (or `/uninstalled`).
    pub fn lifecycle_body(&self, site: &Site, app: &AppTarget, event: &str) -> Value {
        let mut body = json!({
            "key": app.key,
            "clientKey": site.client_key,
            "sharedSecret": site.secret.expose(),
            "baseUrl": site.base_url,
            "displayUrl": site.display_url,
            "productType": "confluence",
            "description": "Atlassian Confluence (sandbox)",
            "serverVersion": "6452",
            "pluginsVersion": "1001.0.0",
            "eventType": event,
            "cloudId": site.cloud_id,
        });
        if site.connect_names_installation {
            body["installationId"] = site.forge_installation_id.clone().into();
        }
        body
    }

    /// The claims of a signed-install token for `path` (`/installed` or `/uninstalled`).
    pub fn install_claims(&self, site: &Site, app: &AppTarget, path: &str) -> Value {
        let now = Utc::now().timestamp();
        let qsh = qsh::qsh_of(&qsh::canonical_request("POST", path, "", ""));
        json!({
            "iss": site.client_key,
            "aud": [app.base_url],
            "iat": now,
            "exp": now + 180,
            "qsh": qsh,
            "context": {},
        })
    }

    /// Sign claims with RS256 under `kid`, with the sandbox's key (or a key nobody serves).
    pub fn sign_rs256(&self, claims: &Value, kid: &str, stranger: bool) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        self.sign_rs256_with(&header, claims, stranger)
    }

    /// Sign claims with RS256 under a header of the caller's making.
    pub fn sign_rs256_with(&self, header: &Header, claims: &Value, stranger: bool) -> String {
        let key = if stranger {
            keys::stranger()
        } else {
            keys::sandbox()
        };
        jsonwebtoken::encode(header, claims, &key.encoding).expect("RS256 signing works")
    }

    /// POST a lifecycle callback to the app.
    pub async fn post_callback(
        &self,
        app: &AppTarget,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.http.post(format!("{}{path}", app.base_url)).json(body);
        if let Some(token) = token {
            request = request.header("Authorization", format!("JWT {token}"));
        }
        Ok(request.send().await?)
    }

    /// Install the app on the site the way Atlassian does (signed install).
    pub async fn install(&self, app: &AppTarget, site: &Site) -> anyhow::Result<reqwest::Response> {
        self.signed_callback(app, site, "/installed", "installed")
            .await
    }

    /// Uninstall the app from the site (signed).
    pub async fn uninstall(
        &self,
        app: &AppTarget,
        site: &Site,
    ) -> anyhow::Result<reqwest::Response> {
        self.signed_callback(app, site, "/uninstalled", "uninstalled")
            .await
    }

    async fn signed_callback(
        &self,
        app: &AppTarget,
        site: &Site,
        path: &str,
        event: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let token = self.sign_rs256(&self.install_claims(site, app, path), KID, false);
        self.post_callback(
            app,
            path,
            &self.lifecycle_body(site, app, event),
            Some(&token),
        )
        .await
    }

    /// The 2018 secret change: an `installed` callback carrying `new_secret`, signed HS256 with
    /// the secret the site held until now. On success the site holds the new secret.
    pub async fn legacy_reinstall(
        &self,
        app: &AppTarget,
        site: &Site,
        new_secret: &SharedSecret,
    ) -> anyhow::Result<reqwest::Response> {
        let mut body = self.lifecycle_body(site, app, "installed");
        body["sharedSecret"] = new_secret.expose().into();
        let token = self.hs256_token(site, &site.secret, "POST", "/installed", None);
        let response = self
            .post_callback(app, "/installed", &body, Some(&token))
            .await?;
        if response.status().is_success() {
            self.update_site(&site.name, |s| s.secret = new_secret.clone());
        }
        Ok(response)
    }

    /// `/enabled` or `/disabled`, signed with the site's secret and a computed qsh.
    pub async fn set_enabled(
        &self,
        app: &AppTarget,
        site: &Site,
        enabled: bool,
    ) -> anyhow::Result<reqwest::Response> {
        let (path, event) = if enabled {
            ("/enabled", "enabled")
        } else {
            ("/disabled", "disabled")
        };
        let token = self.hs256_token(site, &site.secret, "POST", path, None);
        self.post_callback(
            app,
            path,
            &self.lifecycle_body(site, app, event),
            Some(&token),
        )
        .await
    }

    /// A Connect JWT for `method path_and_query` of the app, as Confluence puts in an iframe URL.
    pub fn hs256_token(
        &self,
        site: &Site,
        secret: &SharedSecret,
        method: &str,
        path_and_query: &str,
        account_id: Option<&str>,
    ) -> String {
        computed_qsh_token(site, secret, method, path_and_query, account_id)
    }

    /// The token `AP.context.getToken()` returns to the app's front-end.
    pub fn context_token(&self, site: &Site, account_id: &str) -> String {
        connect_token(site, &site.secret, CONTEXT_QSH.to_owned(), Some(account_id))
    }

    /// The URL Confluence would load in an iframe for `path_and_query` of the app.
    pub fn iframe_url(
        &self,
        app: &AppTarget,
        site: &Site,
        path_and_query: &str,
        account_id: &str,
    ) -> String {
        iframe_url(&app.base_url, site, path_and_query, account_id)
    }

    /// The stand-in for Atlassian's `all.js` this host serves (`Settings::all_js_url`).
    pub fn all_js_url(&self) -> String {
        format!("{}/ap/all.js", self.url)
    }

    /// Links that open the app's share panel (of `content_id`) and admin page in a plain browser
    /// tab as `account_id`; each visit redirects to a fresh iframe URL, so they never expire.
    pub fn open_links(
        &self,
        app: &AppTarget,
        site: &Site,
        account_id: &str,
        content_id: &str,
    ) -> OpenLinks {
        let opener = ap::Opener {
            app_base_url: app.base_url.clone(),
            account_id: account_id.to_owned(),
            content_id: content_id.to_owned(),
        };
        self.lock().openers.insert(site.name.clone(), opener);
        let open = format!("{}/dev/{}/open", site.host_url(), site.name);
        OpenLinks {
            share_panel: format!("{open}?page=share-panel"),
            admin: format!("{open}?page=admin"),
        }
    }
}

/// Serve `routes` over `state` on `listener`, in the background.
fn serve(
    listener: TcpListener,
    state: Shared,
    routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<()> {
    let data = web::Data::new(state);
    let server =
        HttpServer::new(move || App::new().app_data(data.clone()).configure(routes.clone()))
            .listen(listener)?
            .workers(1)
            .disable_signals()
            .run();
    tokio::spawn(server);
    Ok(())
}

/// See [`Sandbox::open_links`].
#[derive(Debug, Clone)]
pub struct OpenLinks {
    pub share_panel: String,
    pub admin: String,
}

fn computed_qsh_token(
    site: &Site,
    secret: &SharedSecret,
    method: &str,
    path_and_query: &str,
    account_id: Option<&str>,
) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let qsh = qsh::qsh_of(&qsh::canonical_request(method, path, query, ""));
    connect_token(site, secret, qsh, account_id)
}

/// A Connect JWT from the site, valid for three minutes, like Confluence's.
fn connect_token(
    site: &Site,
    secret: &SharedSecret,
    qsh: String,
    account_id: Option<&str>,
) -> String {
    let now = Utc::now().timestamp();
    let claims = OutgoingClaims {
        iss: site.client_key.clone(),
        iat: now,
        exp: now + 180,
        qsh,
        sub: account_id.map(str::to_owned),
        aud: None,
    };
    sign(&claims, secret)
}

fn iframe_url(app_base_url: &str, site: &Site, path_and_query: &str, account_id: &str) -> String {
    let token = computed_qsh_token(site, &site.secret, "GET", path_and_query, Some(account_id));
    let separator = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{app_base_url}{path_and_query}{separator}jwt={token}")
}
