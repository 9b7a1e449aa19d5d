//! Readership (`docs/HTTP.md#readership`): `GET /api/shares/{uuid}/stats`, a share's views per
//! day for whoever may read the share, and `GET /api/admin/stats.csv`, every share's days for
//! the site's administrators.

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use chrono::{Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::csv::write_row;
use super::shares::readable_share;
use crate::share::ShareId;
use crate::storage::readership::{self, DayCounts, SiteDay};
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, AppError};
use crate::web::permissions::require_site_admin;
use crate::web::state::AppState;

/// Days shown when the query names none: the last 30, today included.
const DEFAULT_DAYS: u64 = 30;
/// Most days one answer covers.
const MAX_DAYS: u64 = 366;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/shares/{uuid}/stats", web::get().to(share_stats))
        .route("/admin/stats.csv", web::get().to(site_csv));
}

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD`, both optional (an empty value counts as absent).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// From `from` to `to`, both included (UTC days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayRange {
    from: NaiveDate,
    to: NaiveDate,
}

fn bad(name: &'static str, message: &'static str) -> AppError {
    AppError::BadParameter { name, message }
}

fn date(name: &'static str, raw: &Option<String>) -> Result<Option<NaiveDate>, AppError> {
    let message = match name {
        "from" => "from must be a date written YYYY-MM-DD.",
        _ => "to must be a date written YYYY-MM-DD.",
    };
    match raw.as_deref().map(str::trim).filter(|raw| !raw.is_empty()) {
        None => Ok(None),
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| bad(name, message)),
    }
}

impl RangeQuery {
    /// The range asked for; without `to`, up to `today`; without `from`, the 30 days up to `to`.
    fn range(&self, today: NaiveDate) -> Result<DayRange, AppError> {
        let to = date("to", &self.to)?.unwrap_or(today);
        let from = match date("from", &self.from)? {
            Some(from) => from,
            None => to
                .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
                .ok_or(bad("to", "to is too early."))?,
        };
        if from > to {
            return Err(bad("from", "from must not be after to."));
        }
        if (to - from).num_days() >= MAX_DAYS as i64 {
            return Err(bad("to", "from and to may be at most 366 days apart."));
        }
        Ok(DayRange { from, to })
    }
}

#[derive(Serialize, Default, Clone, Copy)]
struct ByAccessJson {
    open: i64,
    password: i64,
    unlock: i64,
    cookie: i64,
}

impl From<[i64; 4]> for ByAccessJson {
    fn from([open, password, unlock, cookie]: [i64; 4]) -> Self {
        Self {
            open,
            password,
            unlock,
            cookie,
        }
    }
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct CountsJson {
    views: i64,
    unique_readers: i64,
    by_access: ByAccessJson,
}

impl CountsJson {
    fn of(counts: &DayCounts) -> Self {
        let by_access = counts.by_access();
        Self {
            views: by_access.iter().sum(),
            unique_readers: counts.unique_readers,
            by_access: by_access.into(),
        }
    }

    fn add(&mut self, other: &CountsJson) {
        self.views += other.views;
        self.unique_readers += other.unique_readers;
        let by = &mut self.by_access;
        by.open += other.by_access.open;
        by.password += other.by_access.password;
        by.unlock += other.by_access.unlock;
        by.cookie += other.by_access.cookie;
    }
}

#[derive(Serialize)]
struct DayJson {
    date: NaiveDate,
    #[serde(flatten)]
    counts: CountsJson,
}

#[derive(Serialize)]
struct StatsJson {
    from: NaiveDate,
    to: NaiveDate,
    /// Every day of the range, oldest first; days without views count zero.
    days: Vec<DayJson>,
    /// Sums over the days: a reader of two days is two of `uniqueReaders` (readers are not
    /// recognised from one day to the next).
    totals: CountsJson,
}

fn stats_json(range: DayRange, stored: &[DayCounts]) -> StatsJson {
    let mut stored = stored.iter().peekable();
    let mut totals = CountsJson::default();
    let days = range
        .from
        .iter_days()
        .take_while(|day| *day <= range.to)
        .map(|date| {
            let counts = match stored.next_if(|row| row.day == date) {
                Some(row) => CountsJson::of(row),
                None => CountsJson::default(),
            };
            totals.add(&counts);
            DayJson { date, counts }
        })
        .collect();
    StatsJson {
        from: range.from,
        to: range.to,
        days,
        totals,
    }
}

async fn share_stats(
    user: ApiUser,
    id: web::Path<ShareId>,
    query: web::Query<RangeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let range = query.range(Utc::now().date_naive())?;
    let share = readable_share(&user.0, &state, *id).await?;
    let stored = readership::share_days(&state.pool, share.id, range.from, range.to).await?;
    Ok(HttpResponse::Ok().json(stats_json(range, &stored)))
}

const CSV_HEADER: [&str; 10] = [
    "date",
    "share",
    "title",
    "space",
    "views",
    "unique_readers",
    "open",
    "password",
    "unlock",
    "cookie",
];

fn to_csv(days: &[SiteDay]) -> String {
    let mut out = String::new();
    write_row(&mut out, &CSV_HEADER);
    for day in days {
        let counts = CountsJson::of(&day.counts);
        let by = counts.by_access;
        let numbers = [
            counts.views,
            counts.unique_readers,
            by.open,
            by.password,
            by.unlock,
            by.cookie,
        ]
        .map(|n| n.to_string());
        let (date, share) = (day.counts.day.to_string(), day.share.to_string());
        let mut cells = vec![date.as_str(), share.as_str(), &day.title, &day.space_key];
        cells.extend(numbers.iter().map(String::as_str));
        write_row(&mut out, &cells);
    }
    out
}

async fn site_csv(
    user: ApiUser,
    query: web::Query<RangeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    let range = query.range(Utc::now().date_naive())?;
    require_site_admin(connect, &state).await?;
    let client_key = &connect.installation.client_key;
    let days = readership::site_days(&state.pool, client_key, range.from, range.to).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"pageshare-readership.csv\"",
        ))
        .body(to_csv(&days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_default_to_the_last_30_days_and_refuse_what_is_not_one() {
        let today = day("2026-12-07");
        let query = |from: Option<&str>, to: Option<&str>| RangeQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        };
        let range = |from, to| {
            Ok(DayRange {
                from: day(from),
                to: day(to),
            })
        };
        // from, to, and the range or the parameter refused.
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<DayRange, &'a str>);
        let cases: [Case; 11] = [
            (None, None, range("2026-11-08", "2026-12-07")),
            (Some(""), Some(" "), range("2026-11-08", "2026-12-07")),
            (None, Some("2026-01-31"), range("2026-01-02", "2026-01-31")),
            (Some("2026-12-01"), None, range("2026-12-01", "2026-12-07")),
            (
                Some("2026-12-07"),
                Some("2026-12-07"),
                range("2026-12-07", "2026-12-07"),
            ),
            (
                Some("2025-12-07"),
                Some("2026-12-07"),
                range("2025-12-07", "2026-12-07"),
            ),
            (Some("2025-12-06"), Some("2026-12-07"), Err("to")),
            (Some("2026-12-08"), Some("2026-12-07"), Err("from")),
            (Some("2026-13-01"), None, Err("from")),
            (None, Some("07/12/2026"), Err("to")),
            (Some("2026-12-01T00:00:00Z"), None, Err("from")),
        ];
        for (from, to, expected) in cases {
            let got = query(from, to).range(today).map_err(|error| match error {
                AppError::BadParameter { name, .. } => name,
                other => panic!("{other:?}"),
            });
            assert_eq!(got, expected, "{from:?} {to:?}");
        }
    }

    #[test]
    fn every_day_of_the_range_is_answered_and_totalled() {
        let counted = |date: &str, views: [i64; 4], unique_readers| DayCounts {
            day: day(date),
            open_views: views[0],
            password_views: views[1],
            unlock_views: views[2],
            cookie_views: views[3],
            unique_readers,
        };
        let stored = [
            counted("2026-12-02", [1, 0, 0, 0], 1),
            counted("2026-12-04", [0, 2, 3, 4], 3),
        ];
        let range = DayRange {
            from: day("2026-12-01"),
            to: day("2026-12-04"),
        };
        let json = serde_json::to_value(stats_json(range, &stored)).unwrap();
        let views: Vec<_> = json["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["date"].as_str().unwrap(), d["views"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            views,
            [
                ("2026-12-01", 0),
                ("2026-12-02", 1),
                ("2026-12-03", 0),
                ("2026-12-04", 9)
            ]
        );
        assert_eq!(
            json["totals"],
            serde_json::json!({
                "views": 10,
                "uniqueReaders": 4,
                "byAccess": {"open": 1, "password": 2, "unlock": 3, "cookie": 4}
            })
        );
    }
}
