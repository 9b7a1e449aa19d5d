//! `/api/admin/audit`: the site's audit log, for its site administrators only, a page at a time
//! (newest first, with an opaque cursor) or whole as CSV (`docs/HTTP.md`).

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::csv::write_row;
use crate::share::ShareId;
use crate::storage::audit::{self, Entry};
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, AppError};
use crate::web::permissions::require_site_admin;
use crate::web::state::AppState;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/audit", web::get().to(page))
        .route("/admin/audit.csv", web::get().to(csv));
}

/// An entry as the log is read, in JSON.
#[derive(Serialize)]
struct EntryJson {
    at: DateTime<Utc>,
    actor: String,
    action: String,
    share: Option<ShareId>,
    detail: String,
}

impl From<Entry> for EntryJson {
    fn from(entry: Entry) -> Self {
        Self {
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            share: entry.share,
            detail: entry.detail,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageJson {
    items: Vec<EntryJson>,
    /// Where the next page starts; `null` on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// A cursor names the last entry of a page: the next page holds the entries written before it,
/// so entries written meanwhile never shift it.
fn cursor_after(entry: &Entry) -> String {
    URL_SAFE_NO_PAD.encode(entry.id.to_be_bytes())
}

fn parse_cursor(raw: &str) -> Result<i64, AppError> {
    let refused = || AppError::BadParameter {
        name: "cursor",
        message: "cursor is not one this API gave out; leave it out to start from the newest entry.",
    };
    let bytes: [u8; 8] = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(refused)?;
    Some(i64::from_be_bytes(bytes))
        .filter(|id| *id > 0)
        .ok_or_else(refused)
}

async fn page(
    user: ApiUser,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    // The query first: a bad one costs no call to Confluence.
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::BadParameter {
            name: "limit",
            message: "limit must be from 1 to 200.",
        }
        .into());
    }
    // An empty cursor is no cursor, as in the admin share list.
    let before = (query.cursor.as_deref())
        .filter(|cursor| !cursor.is_empty())
        .map(parse_cursor)
        .transpose()?;
    require_site_admin(connect, &state).await?;
    let client_key = &connect.installation.client_key;
    // One more than asked for tells whether another page follows.
    let mut entries = audit::page(&state.pool, client_key, before, limit + 1).await?;
    let more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);
    let next_cursor = more.then(|| entries.last().map(cursor_after)).flatten();
    Ok(HttpResponse::Ok().json(PageJson {
        items: entries.into_iter().map(EntryJson::from).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

async fn csv(
    user: ApiUser,
    query: web::Query<CsvQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let connect = &user.0;
    let CsvQuery { from, to } = query.into_inner();
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(AppError::BadParameter {
            name: "to",
            message: "to must be later than from.",
        }
        .into());
    }
    require_site_admin(connect, &state).await?;
    let client_key = &connect.installation.client_key;
    let entries = audit::between(&state.pool, client_key, from, to).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"pageshare-audit.csv\"",
        ))
        .body(to_csv(&entries)))
}

const CSV_HEADER: [&str; 5] = ["at", "actor", "action", "share", "detail"];

/// The entries as CSV (RFC 4180: CRLF line ends, a header row, fields quoted where needed).
fn to_csv(entries: &[Entry]) -> String {
    let mut out = String::new();
    write_row(&mut out, &CSV_HEADER);
    for entry in entries {
        let at = entry.at.to_rfc3339();
        let share = entry.share.map(|id| id.to_string()).unwrap_or_default();
        write_row(
            &mut out,
            &[&at, &entry.actor, &entry.action, &share, &entry.detail],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let entry = |id| Entry {
            id,
            at: Utc::now(),
            actor: String::new(),
            action: String::new(),
            share: None,
            detail: String::new(),
        };
        for id in [1, 42, i64::MAX] {
            assert_eq!(parse_cursor(&cursor_after(&entry(id))).unwrap(), id);
        }
        for bad in [
            "",
            "1",
            "abc",
            "AAAAAAAAAAA",
            "AAAAAAAAAAAAAAA",
            "%%%",
            "-wAAAAAAAAA",
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
