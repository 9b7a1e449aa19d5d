//! The sandbox playing Forge: a key set (JWKS) with its own RSA key, invocation tokens minted
//! with the claims Forge documents, app tokens (opaque JWTs with an `exp`) that Confluence's API
//! gateway under `/ex/confluence/{cloudId}/wiki` accepts for their own site only, the install
//! event, the hourly token sync and `preUninstall`. The Custom UI host is in [`super::forge_ui`].

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use super::sites::Site;
use super::{AppTarget, KeyServer, Sandbox, Shared, keys};

/// The Forge app id the sandbox's invocations are for (`PAGESHARE_FORGE_APP_ID` of an app that
/// trusts this host).
pub const FORGE_APP_ID: &str = "ari:cloud:ecosystem::app/5d3b2b52-0c7d-4a35-9f84-6c6b9d5e3f10";
/// The `kid` of the sandbox's Forge key.
pub const FORGE_KID: &str = "sandbox/forge-invocation-1";
/// How long the app tokens it issues live (Forge's: 2 to 4 hours).
const APP_TOKEN_TTL_SECS: i64 = 3 * 60 * 60;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/forge/jwks.json", web::get().to(jwks));
}

async fn jwks(req: HttpRequest, state: web::Data<Shared>) -> HttpResponse {
    let behaviour = {
        let mut state = state.lock().expect("sandbox state");
        state.jwks_fetches += 1;
        state.jwks_server
    };
    let key = keys::sandbox();
    let set = json!({"keys": [{
        "kty": "RSA", "kid": FORGE_KID, "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(&key.modulus), "e": URL_SAFE_NO_PAD.encode(&key.exponent),
    }]});
    super::rest::serve_key(&req, behaviour, "application/json", Some(set.to_string())).await
}

/// Who invokes: a user of a UI module, or Forge itself (a trigger).
#[derive(Debug, Clone, Copy)]
pub enum Invoker<'a> {
    User {
        account_id: &'a str,
        content_id: Option<&'a str>,
    },
    Trigger,
}

impl Sandbox {
    /// `PAGESHARE_FORGE_JWKS_URL` of an app that trusts this host.
    pub fn forge_jwks_url(&self) -> String {
        format!("{}/forge/jwks.json", self.url)
    }

    /// `PAGESHARE_FORGE_API_BASE` of an app that trusts this host.
    pub fn forge_api_base(&self) -> String {
        format!("{}/ex/confluence/", self.url)
    }

    /// How often Forge's key set was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.lock().jwks_fetches
    }

    /// Make Forge's key set behave like this from now on.
    pub fn set_jwks_server(&self, behaviour: KeyServer) {
        self.lock().jwks_server = behaviour;
    }

    /// Make Forge's key set answer 503 (or answer again).
    pub fn set_jwks_down(&self, down: bool) {
        self.set_jwks_server(if down {
            KeyServer::Status(503)
        } else {
            KeyServer::Normal
        });
    }

    /// The claims of an invocation token for `site`, as Forge mints them (its documented shape).
    pub fn fit_claims(&self, site: &Site, invoker: Invoker<'_>) -> Value {
        let now = Utc::now().timestamp();
        let api_base_url = format!("{}{}", self.forge_api_base(), site.cloud_id);
        let mut claims = json!({
            "app": {
                "id": FORGE_APP_ID,
                "version": "3",
                "appVersion": "3.1.0",
                "installationId": site.forge_installation_id,
                "apiBaseUrl": api_base_url,
                "installation": {
                    "id": site.forge_installation_id,
                    "contexts": [{"name": "confluence", "apiBaseUrl": api_base_url, "cloudId": site.cloud_id}],
                },
                "environment": {
                    "type": site.forge_environment,
                    "id": "ari:cloud:ecosystem::environment/5d3b2b52-0c7d-4a35-9f84-6c6b9d5e3f10/9b0c7d21-7a43-4d3f-8a61-0e4fd0d3c2aa",
                },
                "module": {"type": "core:endpoint", "key": "pageshare-events"},
            },
            "aud": FORGE_APP_ID,
            "iss": "forge/invocation-token",
            "iat": now, "nbf": now, "exp": now + 25,
            "jti": hex::encode(rand::random::<[u8; 20]>()),
        });
        match invoker {
            Invoker::User {
                account_id,
                content_id,
            } => {
                let site_url = site.base_url.trim_end_matches("/wiki");
                claims["principal"] = account_id.into();
                claims["app"]["module"] =
                    json!({"type": "confluence:contentBylineItem", "key": "pageshare-share"});
                claims["context"] = json!({
                    "localId": "pageshare-share-1",
                    "cloudId": site.cloud_id,
                    "moduleKey": "pageshare-share",
                    "siteUrl": site_url,
                    "extension": {"type": "confluence:contentBylineItem", "content": {"id": content_id}},
                });
            }
            Invoker::Trigger => {
                claims["context"] =
                    json!({"cloudId": site.cloud_id, "moduleKey": "pageshare-events"});
            }
        }
        claims
    }

    /// Sign invocation claims as Forge does (RS256 under [`FORGE_KID`]), or with a key nobody
    /// serves.
    pub fn sign_fit(&self, claims: &Value, stranger: bool) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(FORGE_KID.to_owned());
        self.sign_rs256_with(&header, claims, stranger)
    }

    /// Claims signed HS256 with the sandbox's *public* key as the secret: the algorithm confusion
    /// a verifier must refuse.
    pub fn sign_hs256_with_public_key(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(FORGE_KID.to_owned());
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_secret(keys::sandbox().public_pem.as_bytes()),
        )
        .expect("HS256 signing works")
    }

    /// A fresh app token for `site`: a JWT-shaped opaque token with an `exp`, which the API
    /// gateway accepts for this site only.
    pub fn issue_app_token(&self, site: &Site) -> String {
        let exp = Utc::now().timestamp() + APP_TOKEN_TTL_SECS;
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(
                json!({"exp": exp, "jti": hex::encode(rand::random::<[u8; 12]>())}).to_string()
            ),
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        );
        self.lock()
            .app_tokens
            .insert(token.clone(), (site.name.clone(), exp));
        token
    }

    /// Forget every app token issued for `site` (Confluence refuses them from now on).
    pub fn revoke_app_tokens(&self, site: &Site) {
        self.lock()
            .app_tokens
            .retain(|_, (name, _)| *name != site.name);
    }

    /// POST to the app's Forge route `path` as Forge does: the invocation token, the app token
    /// (when `app_token`), and `body`.
    pub async fn forge_post(
        &self,
        app: &AppTarget,
        site: &Site,
        path: &str,
        body: &Value,
        app_token: Option<&str>,
    ) -> anyhow::Result<reqwest::Response> {
        let fit = self.sign_fit(&self.fit_claims(site, Invoker::Trigger), false);
        let mut request = self
            .http
            .post(format!("{}{path}", app.base_url))
            .bearer_auth(fit)
            .json(body);
        if let Some(token) = app_token {
            request = request.header("x-forge-oauth-system", token);
        }
        Ok(request.send().await?)
    }

    /// A new site with a sample page `page_id` that `editor` may edit, installed through Forge,
    /// and a share of the page made by `editor` through the Forge Web API: the site and the share.
    pub async fn forge_site_with_share(
        &self,
        app: &AppTarget,
        name: &str,
        page_id: &str,
        editor: &str,
    ) -> anyhow::Result<(Site, Value)> {
        let site = self.add_site(name);
        let page = super::Page::sample(&site.base_url, page_id);
        self.update_site(name, |s| {
            s.pages.insert(page_id.into(), page);
            s.add_editor(page_id, editor);
        });
        let installed = self.forge_install(app, &site).await?;
        if !installed.status().is_success() {
            anyhow::bail!("Forge install failed: {}", installed.text().await?);
        }
        let share = self
            .forge_api(
                app,
                &site,
                editor,
                reqwest::Method::POST,
                "/api/shares",
                Some(&json!({"contentId": page_id})),
            )
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok((self.site(name), share))
    }

    /// The `avi:forge:installed:app` event for `site`, with a fresh app token.
    pub async fn forge_install(
        &self,
        app: &AppTarget,
        site: &Site,
    ) -> anyhow::Result<reqwest::Response> {
        let body = json!({
            "eventType": "avi:forge:installed:app",
            "id": site.forge_installation_id.rsplit('/').next(),
            "context": format!("ari:cloud:confluence::site/{}", site.cloud_id),
            "installerAccountId": "557058:installer",
            "app": {"id": FORGE_APP_ID.rsplit('/').next(), "version": "3.1.0", "name": "Pageshare"},
            "environment": {"id": "9b0c7d21-7a43-4d3f-8a61-0e4fd0d3c2aa"},
        });
        let token = self.issue_app_token(site);
        self.forge_post(app, site, "/forge/events", &body, Some(&token))
            .await
    }

    /// A call of the Forge Web API as `account_id` through the Custom UI (`invokeRemote`).
    pub async fn forge_api(
        &self,
        app: &AppTarget,
        site: &Site,
        account_id: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let claims = self.fit_claims(
            site,
            Invoker::User {
                account_id,
                content_id: None,
            },
        );
        let mut request = self
            .http
            .request(method, format!("{}/forge{path}", app.base_url))
            .bearer_auth(self.sign_fit(&claims, false))
            .header("x-forge-oauth-system", self.issue_app_token(site));
        if let Some(body) = body {
            request = request.json(body);
        }
        Ok(request.send().await?)
    }

    /// Links that open the app's Forge share panel and admin page in a plain browser tab, as the
    /// user of [`Sandbox::open_links`] for `site`.
    pub fn forge_open_links(&self, site: &Site) -> super::OpenLinks {
        let base = format!("{}/dev/{}/forge", site.host_url(), site.name);
        super::OpenLinks {
            share_panel: format!("{base}/panel/"),
            admin: format!("{base}/admin/"),
        }
    }
}
