//! The load benchmark's fixture (`scripts/bench-load` runs it; not part of the app).
//!
//! `bench_fixture serve --bind ADDR --app URL --out FILE`: runs the simulated Confluence host,
//! waits for the app, installs a site, creates an open and a password-protected share, times a
//! burst of 1,000 signed `installed` callbacks for distinct tenants, writes what the load
//! generator needs to FILE as JSON, then keeps serving the host until killed.
//!
//! `bench_fixture tokens --share UUID --secret HEX --count N`: prints N distinct unlock tokens.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use pageshare::connect::canonical::{RequestParts, qsh};
use pageshare::connect::token::{OutgoingClaims, sign};
use pageshare::sandbox::{AppTarget, Invoker, KID, Page, Sandbox};
use pageshare::share::unlock::mint_unlock_token;
use pageshare::share::{ShareId, UnlockSecret};
use serde_json::json;

const PAGE_ID: &str = "65537";
const USER: &str = "557058:bench-user";
const PASSWORD: &str = "bench-password";
const INSTALLS: usize = 1_000;
const CONCURRENCY: usize = 64;

fn arg(args: &[String], name: &str) -> anyhow::Result<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .with_context(|| format!("missing {name}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => {
            serve(
                &arg(&args, "--bind")?,
                &arg(&args, "--app")?,
                &arg(&args, "--out")?,
            )
            .await
        }
        Some("tokens") => {
            let share = ShareId::parse(&arg(&args, "--share")?).context("--share")?;
            let secret = UnlockSecret::from_hex(&arg(&args, "--secret")?).context("--secret")?;
            let count: i64 = arg(&args, "--count")?.parse()?;
            let now = chrono::Utc::now().timestamp();
            // Distinct tokens: each starts a second earlier (all still valid for a while).
            for i in 0..count {
                println!("{}", mint_unlock_token(share, &secret, now - (i % 30), 60));
            }
            Ok(())
        }
        _ => bail!(
            "usage: bench_fixture serve --bind ADDR --app URL --out FILE | tokens --share UUID --secret HEX --count N"
        ),
    }
}

async fn serve(bind: &str, app_url: &str, out: &str) -> anyhow::Result<()> {
    let sandbox = Sandbox::start_on(bind, "pageshare")?;
    let http = reqwest::Client::new();
    wait_for(&http, &format!("{app_url}/healthz")).await?;
    let app = AppTarget {
        base_url: app_url.to_owned(),
        key: "pageshare".into(),
    };
    let site = sandbox.add_site("bench");
    let page = Page::sample(&site.base_url, PAGE_ID);
    sandbox.update_site("bench", |s| {
        s.pages.insert(PAGE_ID.into(), page);
        s.add_editor(PAGE_ID, USER);
        s.add_guide(PAGE_ID);
    });
    let installed = sandbox.install(&app, &site).await?;
    if !installed.status().is_success() {
        bail!("install failed: {}", installed.text().await?);
    }
    let create = |body: serde_json::Value| {
        let request = http
            .post(format!("{app_url}/api/shares"))
            .header(
                "Authorization",
                format!("JWT {}", sandbox.context_token(&site, USER)),
            )
            .json(&body);
        async move {
            let share: serde_json::Value = request.send().await?.error_for_status()?.json().await?;
            anyhow::Ok(share)
        }
    };
    let open = create(json!({"contentId": PAGE_ID})).await?;
    let protected = create(json!({"contentId": PAGE_ID, "password": PASSWORD})).await?;
    let tree = create(json!({"contentId": PAGE_ID, "includeChildren": true})).await?;
    let protected_url = protected["url"].as_str().context("url")?;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let form = browser.get(protected_url).send().await?.text().await?;
    let form_token = form
        .split(r#"name="form_token" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the password form carries no form token")?;
    let login = browser
        .post(format!("{protected_url}/password"))
        .form(&[("password", PASSWORD), ("form_token", form_token)])
        .send()
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("password login set no cookie")?
        .to_owned();
    let forge = forge_site(&sandbox, &app).await?;
    let installs = install_burst(&sandbox, &app).await?;
    let fixture = json!({
        "openUrl": open["url"],
        "treeUrl": tree["url"],
        "protectedUrl": protected_url,
        "protectedUuid": protected["uuid"],
        "unlockSecret": protected["unlockSecret"],
        "cookie": cookie,
        "apiPath": format!("/api/shares?contentId={PAGE_ID}"),
        "contextToken": sandbox.context_token(&site, USER),
        "panelUrl": panel_url(&site, app_url),
        "forgeApiPath": format!("/forge/api/shares?contentId={PAGE_ID}"),
        "forgeFit": forge.0,
        "forgeAppToken": forge.1,
        "installs": installs,
    });
    std::fs::write(out, serde_json::to_string_pretty(&fixture)?)?;
    eprintln!("bench_fixture: ready ({out})");
    std::future::pending::<()>().await;
    Ok(())
}

/// A site installed through Forge with a share of the page; an invocation token valid for five
/// minutes (Forge's live 25 seconds: the benchmark reuses one) and an app token.
async fn forge_site(sandbox: &Sandbox, app: &AppTarget) -> anyhow::Result<(String, String)> {
    let (site, _) = sandbox
        .forge_site_with_share(app, "bench-forge", PAGE_ID, USER)
        .await?;
    let mut claims = sandbox.fit_claims(
        &site,
        Invoker::User {
            account_id: USER,
            content_id: Some(PAGE_ID),
        },
    );
    claims["exp"] = json!(chrono::Utc::now().timestamp() + 300);
    Ok((
        sandbox.sign_fit(&claims, false),
        sandbox.issue_app_token(&site),
    ))
}

/// The share panel's iframe URL with a token valid for 50 minutes (Confluence's live 3): the
/// load benchmark reuses one URL for the whole run.
fn panel_url(site: &pageshare::sandbox::Site, app_url: &str) -> String {
    let path = "/connect/share-panel";
    let query = format!("contentId={PAGE_ID}&spaceKey=ENG");
    let now = chrono::Utc::now().timestamp();
    let claims = OutgoingClaims {
        iss: site.client_key.clone(),
        iat: now,
        exp: now + 50 * 60,
        qsh: qsh(
            RequestParts {
                method: "GET",
                path,
                query: &query,
            },
            "",
        ),
        sub: Some(USER.into()),
        aud: None,
    };
    format!(
        "{app_url}{path}?{query}&jwt={}",
        sign(&claims, &site.secret)
    )
}

async fn wait_for(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer")
}

/// 1,000 signed `installed` callbacks for distinct tenants, 64 at a time; signing happens first.
async fn install_burst(sandbox: &Sandbox, app: &AppTarget) -> anyhow::Result<serde_json::Value> {
    let mut calls = Vec::with_capacity(INSTALLS);
    for i in 0..INSTALLS {
        let site = sandbox.add_site(&format!("tenant{i}"));
        let token = sandbox.sign_rs256(
            &sandbox.install_claims(&site, app, "/installed"),
            KID,
            false,
        );
        calls.push((sandbox.lifecycle_body(&site, app, "installed"), token));
    }
    let http = reqwest::Client::new();
    let url = format!("{}/installed", app.base_url);
    let started = Instant::now();
    let results: Vec<(Duration, bool)> = futures_util::stream::iter(calls)
        .map(|(body, token)| {
            let request = http
                .post(&url)
                .header("Authorization", format!("JWT {token}"))
                .json(&body);
            async move {
                let sent = Instant::now();
                let ok = request
                    .send()
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 204);
                (sent.elapsed(), ok)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let failures = results.iter().filter(|(_, ok)| !ok).count();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(latency, _)| latency).collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Ok(json!({
        "requests": INSTALLS,
        "failures": failures,
        "seconds": elapsed.as_secs_f64(),
        "requestsPerSecond": INSTALLS as f64 / elapsed.as_secs_f64(),
        "p50Ms": percentile(0.50).as_secs_f64() * 1000.0,
        "p99Ms": percentile(0.99).as_secs_f64() * 1000.0,
    }))
}
