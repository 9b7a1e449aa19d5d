//! Atlassian's personal data reporting API, as the app calls it (`docs/OPERATIONS.md`):
//! `POST {PAGESHARE_PERSONAL_DATA_URL}/app/report-accounts/` with at most 90
//! `{accountId, updatedAt}`; `204` when no account needs anything, `200` with the accounts that
//! were `closed` or `updated`, `429` with `Retry-After` when the app must slow down. The answer
//! may carry `Cycle-Period`: how many days to wait before reporting an account again.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::outgoing::read_capped;

/// The API's path under its base URL.
pub const PATH: &str = "/app/report-accounts/";
/// Accounts in one request, at most.
pub const BATCH: usize = 90;
/// Largest answer read: 90 accounts fit in a few kilobytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Longest wait a `Retry-After` may ask for before the next try; a longer one waits this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Cycle periods outside 1 to 90 days are not believed.
const MAX_CYCLE_DAYS: u64 = 90;

/// One account as reported: its id and when Pageshare last stored something about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub account_id: String,
    #[serde(serialize_with = "rfc3339_millis")]
    pub updated_at: DateTime<Utc>,
}

fn rfc3339_millis<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// What the API answered about one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// Accounts of the batch that were closed: everything about them must be erased.
    pub closed: Vec<String>,
    /// Accounts of the batch whose profile changed (Pageshare keeps no profile data: nothing to
    /// refresh).
    pub updated: usize,
    /// The cycle the API asks for, when it said.
    pub cycle: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// `429`: try again after this long.
    #[error("rate limited; retrying in {} s", .0.as_secs())]
    RateLimited(Duration),
    #[error("the personal data reporting API could not be reached")]
    Unreachable,
    #[error("the personal data reporting API answered with status {0}")]
    Status(u16),
    #[error("the personal data reporting API answered something Pageshare does not understand")]
    BadAnswer,
}

pub struct ReportingApi {
    http: reqwest::Client,
    url: String,
}

#[derive(Deserialize)]
struct AnswerBody {
    accounts: Vec<AccountStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountStatus {
    account_id: String,
    status: String,
}

impl ReportingApi {
    /// The API at `base_url` (e.g. `https://api.atlassian.com`, no trailing `/`).
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("static reqwest configuration is valid");
        Self {
            http,
            url: format!("{base_url}{PATH}"),
        }
    }

    /// Report `accounts` (at most [`BATCH`]) with the `Authorization` header value
    /// `authorization`. Accounts the answer names that were not in the batch are ignored.
    pub async fn report(
        &self,
        authorization: &str,
        accounts: &[Account],
    ) -> Result<Answer, ReportError> {
        debug_assert!(!accounts.is_empty() && accounts.len() <= BATCH);
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&serde_json::json!({ "accounts": accounts }))
            .send()
            .await
            .map_err(|_| ReportError::Unreachable)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let cycle = header("Cycle-Period").as_deref().and_then(cycle_period);
        match status {
            204 => Ok(Answer {
                cycle,
                ..Answer::default()
            }),
            200 => {
                let body = read_capped(response, MAX_ANSWER_BYTES)
                    .await
                    .map_err(|_| ReportError::BadAnswer)?;
                let body: AnswerBody =
                    serde_json::from_slice(&body).map_err(|_| ReportError::BadAnswer)?;
                Ok(answer(accounts, body, cycle))
            }
            429 => Err(ReportError::RateLimited(retry_after(
                header("Retry-After").as_deref(),
                Utc::now(),
            ))),
            other => Err(ReportError::Status(other)),
        }
    }
}

/// The closed accounts of the batch (each once) and the count of updated ones.
fn answer(batch: &[Account], body: AnswerBody, cycle: Option<Duration>) -> Answer {
    let mut out = Answer {
        cycle,
        ..Answer::default()
    };
    for status in body.accounts {
        if !batch.iter().any(|a| a.account_id == status.account_id) {
            continue;
        }
        match status.status.as_str() {
            "closed" if !out.closed.contains(&status.account_id) => {
                out.closed.push(status.account_id)
            }
            "updated" => out.updated += 1,
            _ => {}
        }
    }
    out
}

/// How long `Retry-After` asks to wait: whole seconds or an HTTP date, at least a second and at
/// most a day; a minute when it is missing or unreadable.
pub fn retry_after(value: Option<&str>, now: DateTime<Utc>) -> Duration {
    let asked = value.map(str::trim).and_then(|value| {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = DateTime::parse_from_rfc2822(value).ok()?;
        Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
    });
    asked
        .unwrap_or(Duration::from_secs(60))
        .clamp(Duration::from_secs(1), MAX_RETRY_AFTER)
}

/// `Cycle-Period`: a number of days (`7`) or an ISO 8601 period of days (`P7D`), 1 to 90.
pub fn cycle_period(value: &str) -> Option<Duration> {
    let value = value.trim();
    let days = value
        .strip_prefix('P')
        .and_then(|rest| rest.strip_suffix('D'))
        .unwrap_or(value);
    if days.is_empty() || !days.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let days: u64 = days.parse().ok()?;
    (1..=MAX_CYCLE_DAYS)
        .contains(&days)
        .then(|| Duration::from_secs(days * 24 * 60 * 60))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const DAY: u64 = 24 * 60 * 60;

    #[test]
    fn retry_after_reads_seconds_and_dates_within_bounds() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cases = [
            (Some("30"), 30),
            (Some(" 5 "), 5),
            (Some("0"), 1),
            (Some("999999999"), DAY),
            (Some("Mon, 07 Dec 2026 10:02:00 GMT"), 120),
            (Some("Mon, 07 Dec 2026 09:00:00 GMT"), 1),
            (Some("-3"), 60),
            (Some("soon"), 60),
            (None, 60),
        ];
        for (value, seconds) in cases {
            assert_eq!(
                retry_after(value, now),
                Duration::from_secs(seconds),
                "{value:?}"
            );
        }
    }

    #[test]
    fn cycle_periods_are_days_from_one_to_ninety() {
        let cases = [
            ("7", Some(7)),
            ("P7D", Some(7)),
            ("P14D", Some(14)),
            ("90", Some(90)),
            ("0", None),
            ("91", None),
            ("P", None),
            ("PD", None),
            ("P1W", None),
            ("-7", None),
            ("", None),
        ];
        for (value, days) in cases {
            assert_eq!(
                cycle_period(value),
                days.map(|d| Duration::from_secs(d * DAY)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn only_accounts_of_the_batch_are_taken_from_an_answer() {
        let account = |id: &str| Account {
            account_id: id.to_owned(),
            updated_at: Utc::now(),
        };
        let batch = [account("a"), account("b"), account("c")];
        let body: AnswerBody = serde_json::from_value(serde_json::json!({"accounts": [
            {"accountId": "a", "status": "closed"},
            {"accountId": "a", "status": "closed"},
            {"accountId": "stranger", "status": "closed"},
            {"accountId": "b", "status": "updated"},
            {"accountId": "c", "status": "something new"},
        ]}))
        .unwrap();
        let answer = answer(&batch, body, None);
        assert_eq!(answer.closed, ["a"]);
        assert_eq!(answer.updated, 1);
    }

    #[test]
    fn accounts_are_sent_with_rfc3339_times() {
        let account = Account {
            account_id: "5be24ad8b1653240376955d2".into(),
            updated_at: DateTime::parse_from_rfc3339("2026-12-01T08:30:00.250Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        assert_eq!(
            serde_json::to_value(&account).unwrap(),
            serde_json::json!({"accountId": "5be24ad8b1653240376955d2",
                               "updatedAt": "2026-12-01T08:30:00.250Z"})
        );
    }

    proptest! {
        #[test]
        fn header_parsers_never_panic_and_stay_in_bounds(value in ".{0,40}") {
            let wait = retry_after(Some(&value), Utc::now());
            prop_assert!(wait >= Duration::from_secs(1) && wait <= MAX_RETRY_AFTER);
            if let Some(cycle) = cycle_period(&value) {
                prop_assert!(cycle >= Duration::from_secs(DAY));
                prop_assert!(cycle <= Duration::from_secs(MAX_CYCLE_DAYS * DAY));
            }
        }
    }
}
