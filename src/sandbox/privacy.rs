//! Atlassian's personal data reporting API (`POST /app/report-accounts/` on api.atlassian.com),
//! as the sandbox plays it: a Connect JWT of an installed site (its shared secret, the app key as
//! `iss`, the request's `qsh`) or an app token the sandbox issued; at most 90 accounts, each with
//! an `accountId` and an RFC 3339 `updatedAt`; `204` when nothing changed, `200` naming the closed
//! and updated accounts, `429` with `Retry-After` when told to; `Cycle-Period: 7` always.

use std::collections::HashSet;
use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::qsh::canonical_request;
use super::rest::check_app_jwt;

/// Atlassian's documented test account that the API always reports closed.
pub const CLOSED_TEST_ACCOUNT: &str = "5be24ba3f91c106033269289";

/// The API's behaviour, and what it was told.
#[derive(Debug, Default)]
pub(crate) struct PrivacyApi {
    /// Accounts answered `closed` (besides [`CLOSED_TEST_ACCOUNT`]).
    pub closed: HashSet<String>,
    /// Accounts answered `updated`.
    pub updated: HashSet<String>,
    /// The next this many reports answer `429` with `Retry-After: {retry_after}`.
    pub rate_limit_next: usize,
    pub retry_after: u64,
    /// Accepted reports: who reported (the site's name) and the accounts, in order.
    pub reports: Vec<(String, Vec<String>)>,
    /// When each accepted report arrived, in the same order.
    pub report_times: Vec<Instant>,
    /// When each request refused with `429` arrived.
    pub rate_limited_at: Vec<Instant>,
    /// Requests answered with a [`HostileReportAnswer`].
    pub hostile_answers: usize,
    /// When set, every report is answered this way instead (after the credentials are checked).
    pub hostile: Option<HostileReportAnswer>,
}

/// What a hostile or broken reporting API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostileReportAnswer {
    /// `307` to the attacker's endpoint.
    Redirect,
    /// `200` with a valid answer closing every account of the batch, padded past 1 MB.
    Huge,
    /// `500`.
    Broken,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/report-accounts/", web::post().to(report_accounts))
        .route("/app/report-accounts", web::post().to(report_accounts));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    accounts: Vec<ReportedAccount>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReportedAccount {
    account_id: String,
    updated_at: String,
}

async fn report_accounts(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Shared>,
) -> HttpResponse {
    let Some(reporter) = reporter(&req, &state) else {
        return HttpResponse::Unauthorized().json(json!({"message": "bad or missing credentials"}));
    };
    let Ok(report) = serde_json::from_slice::<Report>(&body) else {
        return bad_request("the body is not {accounts: [{accountId, updatedAt}]}");
    };
    if report.accounts.is_empty() || report.accounts.len() > 90 {
        return bad_request("1 to 90 accounts per request");
    }
    let valid = report.accounts.iter().all(|account| {
        !account.account_id.is_empty()
            && account.account_id.len() <= 128
            && DateTime::parse_from_rfc3339(&account.updated_at).is_ok()
    });
    if !valid {
        return bad_request("each account needs an accountId and an RFC 3339 updatedAt");
    }
    let mut state = state.lock().expect("sandbox state");
    let evil = format!("{}/evil/report-accounts", state.host_url);
    let api = &mut state.privacy;
    if let Some(hostile) = api.hostile {
        api.hostile_answers += 1;
        return hostile_answer(hostile, &report, &evil);
    }
    if api.rate_limit_next > 0 {
        api.rate_limit_next -= 1;
        api.rate_limited_at.push(Instant::now());
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", api.retry_after.to_string()))
            .finish();
    }
    let ids: Vec<String> = report.accounts.into_iter().map(|a| a.account_id).collect();
    let statuses: Vec<Value> = ids
        .iter()
        .filter_map(|id| {
            let status = if id == CLOSED_TEST_ACCOUNT || api.closed.contains(id) {
                "closed"
            } else if api.updated.contains(id) {
                "updated"
            } else {
                return None;
            };
            Some(json!({"accountId": id, "status": status}))
        })
        .collect();
    api.reports.push((reporter, ids));
    api.report_times.push(Instant::now());
    let mut answer = if statuses.is_empty() {
        HttpResponse::NoContent()
    } else {
        HttpResponse::Ok()
    };
    answer.insert_header(("Cycle-Period", "7"));
    if statuses.is_empty() {
        answer.finish()
    } else {
        answer.json(json!({ "accounts": statuses }))
    }
}

fn hostile_answer(hostile: HostileReportAnswer, report: &Report, evil: &str) -> HttpResponse {
    match hostile {
        HostileReportAnswer::Redirect => HttpResponse::TemporaryRedirect()
            .insert_header(("Location", evil))
            .finish(),
        HostileReportAnswer::Broken => HttpResponse::InternalServerError().finish(),
        HostileReportAnswer::Huge => {
            let closed: Vec<Value> = report
                .accounts
                .iter()
                .map(|a| json!({"accountId": a.account_id, "status": "closed"}))
                .collect();
            let mut body = json!({ "accounts": closed }).to_string();
            body.push_str(&" ".repeat(1024 * 1024));
            HttpResponse::Ok()
                .content_type("application/json")
                .body(body)
        }
    }
}

fn bad_request(why: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "message": why }))
}

/// The name of the site whose credentials the request carries, if they are good.
fn reporter(req: &HttpRequest, state: &Shared) -> Option<String> {
    let authorization = req.headers().get("Authorization")?.to_str().ok()?;
    let state = state.lock().expect("sandbox state");
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        let (site, exp) = state.app_tokens.get(token)?;
        return (*exp > Utc::now().timestamp()).then(|| site.clone());
    }
    let token = authorization.strip_prefix("JWT ")?;
    // Confluence's computation of the request, on api.atlassian.com (no base path).
    let canonical = canonical_request(req.method().as_str(), req.path(), req.query_string(), "");
    state
        .sites
        .values()
        .find(|site| check_app_jwt(token, site, &state.app_key, &canonical).is_ok())
        .map(|site| site.name.clone())
}
