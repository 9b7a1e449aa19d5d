//! One harness for every integration test: a fresh database, the simulated Confluence host, and
//! the app on port 0, talking over real HTTP.

use std::net::TcpListener;

use pageshare::config::Settings;
use pageshare::sandbox::{AppTarget, Sandbox, Site};
use pageshare::startup::Application;
use reqwest::Method;
use sqlx::PgPool;
use sqlx::migrate::MigrateDatabase;

pub const APP_KEY: &str = "pageshare-test";

pub struct TestApp {
    pub address: String,
    pub target: AppTarget,
    pub sandbox: Sandbox,
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub settings: Settings,
    /// `http://127.0.0.1:PORT/metrics` when the settings asked for metrics.
    pub metrics_url: Option<String>,
    database_url: String,
}

/// The server every test database lives on.
fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/pageshare".into())
}

pub fn fresh_database_url() -> String {
    let server = server_url();
    let (prefix, _) = server
        .rsplit_once('/')
        .expect("DATABASE_URL has a database name");
    format!("{prefix}/pageshare_test_{}", uuid::Uuid::new_v4().simple())
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on("127.0.0.1:0", configure).await
}

/// The app listening on `bind` (`[::]:0` for a dual-stack socket); reached at 127.0.0.1.
pub async fn spawn_app_on(bind: &str, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(bind, |settings, _| configure(settings)).await
}

/// The app, with settings that depend on the sandbox (its ports).
pub async fn spawn_app_configured(configure: impl FnOnce(&mut Settings, &Sandbox)) -> TestApp {
    spawn("127.0.0.1:0", configure).await
}

async fn spawn(bind: &str, configure: impl FnOnce(&mut Settings, &Sandbox)) -> TestApp {
    // Logs only when asked for (`TEST_LOG=1 cargo test`): they would drown the test output.
    if std::env::var_os("TEST_LOG").is_some() {
        pageshare::telemetry::init(pageshare::telemetry::LogFormat::Text);
    }
    let sandbox = Sandbox::start(APP_KEY).expect("sandbox starts");
    let listener = TcpListener::bind(bind).expect("bind port 0");
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let database_url = fresh_database_url();

    let mut settings = Settings::from_lookup(|_| None).expect("default settings");
    settings.database_url = database_url.clone();
    settings.base_url = address.clone();
    settings.app_key = APP_KEY.into();
    settings.install_keys_url = sandbox.keys_url();
    settings.host_allowlist = pageshare::connect::allowlist::HostAllowlist::parse("127.0.0.1");
    settings.all_js_url = sandbox.all_js_url();
    settings.media_hosts = sandbox.media_hosts();
    settings.personal_data_url = sandbox.personal_data_url();
    settings.forge = Some(pageshare::config::ForgeSettings {
        app_id: pageshare::forge::ids::AppId::parse(pageshare::sandbox::FORGE_APP_ID).unwrap(),
        jwks_url: sandbox.forge_jwks_url(),
        api_base: sandbox.forge_api_base(),
        environments: pageshare::forge::token::Environment::parse_list("PRODUCTION").unwrap(),
    });
    configure(&mut settings, &sandbox);

    let pool = pageshare::db::connect_and_migrate(&database_url)
        .await
        .expect("test database");
    let app = Application::with_listener(settings.clone(), pool.clone(), listener, Some(1))
        .await
        .expect("app builds");
    let metrics_url = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}/metrics"));
    tokio::spawn(app.run_until_stopped());
    TestApp {
        target: AppTarget {
            base_url: address.clone(),
            key: APP_KEY.into(),
        },
        address,
        sandbox,
        pool,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        settings,
        metrics_url,
        database_url,
    }
}

impl TestApp {
    /// Another instance of the app on the same database (as behind a load balancer); its
    /// address. It has its own pool and its own in-memory caches.
    pub async fn second_instance(&self) -> String {
        self.second_instance_on(&self.database_url, |_| {}).await
    }

    /// Another instance on the same database whose settings `configure` changes (another key).
    pub async fn second_instance_with(&self, configure: impl FnOnce(&mut Settings)) -> String {
        self.second_instance_on(&self.database_url, configure).await
    }

    /// A second instance whose every database connection goes through `proxy`.
    pub async fn second_instance_through(&self, proxy: &crate::proxy::FreezableProxy) -> String {
        let mut url = url::Url::parse(&self.database_url).expect("a database URL");
        url.set_port(Some(proxy.address.port())).unwrap();
        self.second_instance_on(url.as_str(), |_| {}).await
    }

    /// Run `sql` with the database's triggers off (`session_replication_role = replica`), so no
    /// instance hears of the change: what they serve afterwards comes from their caches.
    pub async fn change_unannounced(&self, sql: &str) {
        let mut transaction = self.pool.begin().await.unwrap();
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *transaction)
            .await
            .unwrap();
        let changed = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut *transaction)
            .await
            .unwrap();
        assert!(changed.rows_affected() > 0, "{sql} changed nothing");
        transaction.commit().await.unwrap();
    }

    /// Wait until what the database announced so far (a share's creation, say) has reached every
    /// instance, so a cache filled afterwards is not emptied by a late announcement.
    pub async fn let_announcements_arrive(&self) {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    /// Send the notification the triggers send when a share (or, with `*`, anything) changed.
    pub async fn announce_share_change(&self, payload: &str) {
        sqlx::query("SELECT pg_notify('pageshare_share_changed', $1)")
            .bind(payload)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// Transactions the test's database has committed (every statement outside one is one),
    /// once Postgres has published them: it does so at most once a second.
    pub async fn committed_transactions(&self) -> i64 {
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        sqlx::query_scalar(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// The transactions committed while `url` was read `reads` times (each answered 200).
    pub async fn transactions_while_reading(&self, url: &str, reads: usize) -> i64 {
        let before = self.committed_transactions().await;
        for _ in 0..reads {
            assert_eq!(self.read_share(url, None).await.status(), 200);
        }
        self.committed_transactions().await - before
    }

    /// Where the test databases' server listens.
    pub fn database_server(&self) -> std::net::SocketAddr {
        let url = url::Url::parse(&self.database_url).expect("a database URL");
        let host = url.host_str().expect("a host");
        let port = url.port().unwrap_or(5432);
        format!("{host}:{port}")
            .parse()
            .expect("an IP address and port")
    }

    async fn second_instance_on(
        &self,
        database_url: &str,
        configure: impl FnOnce(&mut Settings),
    ) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let mut settings = self.settings.clone();
        settings.base_url = address.clone();
        configure(&mut settings);
        let pool = pageshare::db::connect_and_migrate(database_url)
            .await
            .expect("test database");
        let app = Application::with_listener(settings, pool, listener, Some(1))
            .await
            .expect("second instance builds");
        tokio::spawn(app.run_until_stopped());
        address
    }

    /// A site on the sandbox with the app installed (signed install).
    pub async fn installed_site(&self, name: &str) -> Site {
        let site = self.sandbox.add_site(name);
        self.install(&site).await;
        site
    }

    /// A signed install of `site`, as its host sends it; asserts the app accepts it (204).
    pub async fn install(&self, site: &Site) {
        let response = self.sandbox.install(&self.target, site).await.unwrap();
        assert_eq!(
            response.status(),
            204,
            "install of {}: {}",
            site.name,
            response.text().await.unwrap()
        );
    }

    /// A signed uninstall of `site`; asserts the app accepts it (204).
    pub async fn uninstall(&self, site: &Site) {
        let response = self.sandbox.uninstall(&self.target, site).await.unwrap();
        assert_eq!(response.status(), 204);
    }

    /// `/enabled` (or `/disabled`) for `site`; asserts the app accepts it (204).
    pub async fn set_enabled(&self, site: &Site, enabled: bool) {
        let response = self
            .sandbox
            .set_enabled(&self.target, site, enabled)
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    /// Forge's install event for `site`; asserts the app accepts it (204).
    pub async fn forge_install(&self, site: &Site) {
        let response = self
            .sandbox
            .forge_install(&self.target, site)
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            204,
            "Forge install of {}: {}",
            site.name,
            response.text().await.unwrap()
        );
    }

    /// The `/{event}` lifecycle callback for `site` with its usual body, under `token` if any.
    pub async fn post_lifecycle(
        &self,
        site: &Site,
        event: &str,
        token: Option<&str>,
    ) -> reqwest::Response {
        let body = self.sandbox.lifecycle_body(site, &self.target, event);
        self.sandbox
            .post_callback(&self.target, &format!("/{event}"), &body, token)
            .await
            .unwrap()
    }

    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path_and_query}", self.address))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_with_jwt(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .header("Authorization", format!("JWT {token}"))
            .send()
            .await
            .unwrap()
    }

    pub async fn installation_count(&self, client_key: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM installation WHERE client_key = $1")
            .bind(client_key)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn stored_secret(&self, client_key: &str) -> Option<String> {
        sqlx::query_scalar("SELECT shared_secret FROM installation WHERE client_key = $1")
            .bind(client_key)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Every table and column (but binary ones) holding `needle` as text: `table.column`.
    pub async fn columns_holding(&self, needle: &str) -> Vec<String> {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type <> 'bytea'",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let mut found = Vec::new();
        for (table, column) in columns {
            let sql = format!(
                "SELECT count(*) FROM \"{table}\" WHERE strpos(lower(\"{column}\"::text), lower($1)) > 0"
            );
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(needle)
                .fetch_one(&self.pool)
                .await
                .unwrap();
            if count > 0 {
                found.push(format!("{table}.{column}"));
            }
        }
        found
    }

    /// How many shares are stored, of every tenant.
    pub async fn share_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM shared_page")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The `{"error": {"code": ...}}` of a JSON error answer.
pub async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let url = self.database_url.clone();
        // Drop runs inside the test's runtime: clean up on a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let _ = sqlx::Postgres::force_drop_database(&url).await;
            });
        })
        .join();
    }
}

/// The page every share test uses, and the users of its site.
pub const PAGE_ID: &str = "1234567";
/// Can read and edit the page in Confluence.
pub const EDITOR: &str = "557058:editor";
/// Can read the page, not edit it.
pub const READER: &str = "557058:reader";
/// Cannot read the page.
pub const OUTSIDER: &str = "557058:outsider";

impl TestApp {
    /// An installed site with the sample page: [`EDITOR`] edits it, [`READER`] reads it.
    pub async fn site_with_page(&self, name: &str) -> Site {
        let site = self.sandbox.add_site(name);
        self.site_with_page_of(site).await
    }

    /// [`TestApp::site_with_page`] for a site already on the sandbox.
    pub async fn site_with_page_of(&self, site: Site) -> Site {
        self.install(&site).await;
        add_sample_page(&self.sandbox, &site.name)
    }

    /// A Web API call as `user` of `site`, with a context token like `AP.context.getToken()`.
    pub async fn api(
        &self,
        site: &Site,
        user: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let token = self.sandbox.context_token(site, user);
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.address))
            .header("Authorization", format!("JWT {token}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// `POST /api/shares` with `body` as `user`, whatever the answer.
    pub async fn post_share(
        &self,
        site: &Site,
        user: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.api(site, user, Method::POST, "/api/shares", Some(body))
            .await
    }

    /// Create a share of [`PAGE_ID`] as [`EDITOR`]; the share's JSON.
    pub async fn create_share(&self, site: &Site, body: serde_json::Value) -> serde_json::Value {
        let response = self.post_share(site, EDITOR, body).await;
        assert_eq!(response.status(), 201, "create share");
        response.json().await.unwrap()
    }

    /// A Forge Web API call (`/forge{path}`) as `user` of `site`, through the Custom UI.
    pub async fn forge_api(
        &self,
        site: &Site,
        user: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        self.sandbox
            .forge_api(&self.target, site, user, method, path, body.as_ref())
            .await
            .unwrap()
    }

    /// A site on the sandbox with the app installed through Forge, and the sample page.
    pub async fn forge_site_with_page(&self, name: &str) -> Site {
        self.sandbox.add_site(name);
        let site = add_sample_page(&self.sandbox, name);
        self.forge_install(&site).await;
        site
    }

    /// `GET /api/shares?contentId=PAGE_ID` as `user`.
    pub async fn list_shares(&self, site: &Site, user: &str) -> reqwest::Response {
        self.api(site, user, Method::GET, &page_shares_path(), None)
            .await
    }

    /// `GET /forge/api/shares?contentId=PAGE_ID` as `user`, through the Custom UI.
    pub async fn forge_list_shares(&self, site: &Site, user: &str) -> reqwest::Response {
        self.forge_api(site, user, Method::GET, &page_shares_path(), None)
            .await
    }

    /// The JSON answer to `GET {path}` as `user` of `site`.
    pub async fn api_get_json(&self, site: &Site, user: &str, path: &str) -> serde_json::Value {
        let response = self.api(site, user, Method::GET, path, None).await;
        response.json().await.unwrap()
    }

    /// The JSON answer to `GET /forge{path}` as `user`, through the Custom UI.
    pub async fn forge_get_json(&self, site: &Site, user: &str, path: &str) -> serde_json::Value {
        let response = self.forge_api(site, user, Method::GET, path, None).await;
        response.json().await.unwrap()
    }

    /// `GET /api/shares/{uuid}` as `user`.
    pub async fn get_share(&self, site: &Site, user: &str, uuid: &str) -> reqwest::Response {
        self.api(site, user, Method::GET, &share_path(uuid), None)
            .await
    }

    /// `PATCH /api/shares/{uuid}` with `body` as `user`.
    pub async fn patch_share(
        &self,
        site: &Site,
        user: &str,
        uuid: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.api(site, user, Method::PATCH, &share_path(uuid), Some(body))
            .await
    }

    /// `POST /api/shares/{uuid}/unlock-secret` as `user`.
    pub async fn rotate_secret(&self, site: &Site, user: &str, uuid: &str) -> reqwest::Response {
        let path = format!("{}/unlock-secret", share_path(uuid));
        self.api(site, user, Method::POST, &path, None).await
    }

    /// `POST /api/shares/{uuid}/unlock-secret` with `body` as `user`.
    pub async fn rotate_secret_with(
        &self,
        site: &Site,
        user: &str,
        uuid: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        let path = format!("{}/unlock-secret", share_path(uuid));
        self.api(site, user, Method::POST, &path, Some(body)).await
    }

    /// `DELETE /api/shares/{uuid}` as `user`.
    pub async fn revoke_share(&self, site: &Site, user: &str, uuid: &str) -> reqwest::Response {
        self.api(site, user, Method::DELETE, &share_path(uuid), None)
            .await
    }

    /// GET `/content/{uuid}` plus `suffix`, with an optional `Cookie` header.
    pub async fn read_share(&self, url: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        request.send().await.unwrap()
    }

    /// [`TestApp::read_share`] again until it answers `status` (caches follow the database within
    /// seconds), for at most 7.5 s; the last answer.
    pub async fn read_share_until(
        &self,
        url: &str,
        cookie: Option<&str>,
        status: u16,
    ) -> reqwest::Response {
        let mut response = self.read_share(url, cookie).await;
        for _ in 0..150 {
            if response.status() == status {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            response = self.read_share(url, cookie).await;
        }
        response
    }
}

/// The password of the shares [`TestApp::protected_share`] creates.
pub const SHARE_PASSWORD: &str = "correct horse battery";

/// A password-protected share: its id, URL and unlock secret.
pub struct ProtectedShare {
    pub id: pageshare::share::ShareId,
    pub url: String,
    pub secret: pageshare::share::UnlockSecret,
}

impl TestApp {
    /// A share of [`PAGE_ID`] behind [`SHARE_PASSWORD`], created by [`EDITOR`].
    pub async fn protected_share(&self, site: &Site) -> ProtectedShare {
        let json = self
            .create_share(
                site,
                serde_json::json!({"contentId": PAGE_ID, "password": SHARE_PASSWORD}),
            )
            .await;
        ProtectedShare {
            id: pageshare::share::ShareId::parse(json["uuid"].as_str().unwrap()).unwrap(),
            url: json["url"].as_str().unwrap().to_owned(),
            secret: pageshare::share::UnlockSecret::from_hex(
                json["unlockSecret"].as_str().unwrap(),
            )
            .unwrap(),
        }
    }

    /// The same through Forge's `/forge/api`; the share's uuid.
    pub async fn forge_protected_share(&self, site: &Site) -> String {
        let body = serde_json::json!({"contentId": PAGE_ID, "password": SHARE_PASSWORD});
        let share = self.forge_create_share(site, body).await;
        share["uuid"].as_str().unwrap().to_owned()
    }

    /// `POST /forge/api/shares` with `body` as [`EDITOR`]; the new share's JSON.
    pub async fn forge_create_share(
        &self,
        site: &Site,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let created = self
            .forge_api(site, EDITOR, Method::POST, "/api/shares", Some(body))
            .await;
        assert_eq!(created.status(), 201);
        created.json().await.unwrap()
    }
}

/// The Web API path of the share `uuid`.
fn share_path(uuid: &str) -> String {
    format!("/api/shares/{uuid}")
}

/// The Web API path listing the shares of [`PAGE_ID`].
pub fn page_shares_path() -> String {
    format!("/api/shares?contentId={PAGE_ID}")
}

/// Put the sample page on the sandbox site `name`: [`EDITOR`] edits it, [`READER`] reads it; the
/// site as it is now.
pub fn add_sample_page(sandbox: &Sandbox, name: &str) -> Site {
    let page = pageshare::sandbox::Page::sample(&sandbox.site(name).base_url, PAGE_ID);
    sandbox.update_site(name, |s| {
        s.pages.insert(PAGE_ID.into(), page);
        s.add_editor(PAGE_ID, EDITOR);
        s.readers
            .entry(PAGE_ID.into())
            .or_default()
            .insert(READER.into());
    });
    sandbox.site(name)
}

/// The `form_token` of a password form page.
pub fn form_token_in(html: &str) -> String {
    let start = html
        .find(r#"name="form_token" value=""#)
        .expect("a password form with its token")
        + r#"name="form_token" value=""#.len();
    let len = html[start..].find('"').expect("the token's closing quote");
    html[start..start + len].to_owned()
}

/// POST the password form of the share at `share_url` as its page does: the form's own token,
/// `Sec-Fetch-Site: same-origin`, from `client`; `extra_headers` (a proxy's `X-Forwarded-For`)
/// go with both requests, as a proxy adds them to both.
pub async fn post_password_with(
    client: &reqwest::Client,
    share_url: &str,
    password: &str,
    extra_headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut get = client.get(share_url);
    for (name, value) in extra_headers {
        get = get.header(*name, *value);
    }
    let form = get.send().await.unwrap();
    let token = form_token_in(&form.text().await.unwrap());
    let mut request = client
        .post(format!("{share_url}/password"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("password", password), ("form_token", &token)]);
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

impl TestApp {
    /// POST the password form of the share at `share_url` as its page does.
    pub async fn post_password(&self, share_url: &str, password: &str) -> reqwest::Response {
        post_password_with(&self.http, share_url, password, &[]).await
    }
}

/// The `src` of the sample page's image on the share page `html` of `share` (a path), as a
/// browser would request it.
pub fn sample_image_src(html: &str, share: pageshare::share::ShareId) -> String {
    let image = format!(
        "/content/{share}/attachments/{}?exp=",
        pageshare::sandbox::Page::SAMPLE_IMAGE_ID
    );
    let start = html.find(&image).expect("the image goes through the app");
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

/// `name=value` of the response's `Set-Cookie`, as a browser would send it back.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    let set_cookie = response.headers().get("set-cookie")?.to_str().ok()?;
    Some(set_cookie.split(';').next()?.to_owned())
}

/// Bodies a JSON route must refuse, each with its status and error code: malformed JSON,
/// not JSON, oversized, a form instead of JSON. `start` is a JSON prefix the route would accept.
pub async fn assert_bad_json_bodies_refused(
    request: impl Fn() -> reqwest::RequestBuilder,
    start: &str,
) {
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed JSON",
            "application/json",
            start.as_bytes().to_vec(),
            400,
            "malformed_json",
        ),
        (
            "not JSON at all",
            "application/json",
            b"hello".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "oversized",
            "application/json",
            vec![b' '; 20 * 1024],
            413,
            "body_too_large",
        ),
        (
            "form body",
            "application/x-www-form-urlencoded",
            b"a=1".to_vec(),
            415,
            "unsupported_media_type",
        ),
    ];
    for (name, content_type, body, status, code) in cases {
        let response = request()
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_eq!(error_code(response).await, code, "{name}");
    }
}
