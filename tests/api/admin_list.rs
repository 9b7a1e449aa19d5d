//! `GET /api/admin/shares` on a large site (`docs/HTTP.md`): a page at a time with a cursor,
//! searched and filtered in the database, newest first, this site's shares only.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_ui::{ADMIN, site_with_admin};
use crate::helpers::{PAGE_ID, TestApp, spawn_app};

/// A share row written straight into the database (the list reads only the database).
pub struct Seeded<'a> {
    pub title: &'a str,
    pub space_key: &'a str,
    pub created_by: &'a str,
    /// How many minutes before now it was created.
    pub age_minutes: i32,
    pub expired: bool,
    pub revoked: bool,
}

pub async fn seed_shares(app: &TestApp, client_key: &str, rows: &[Seeded<'_>]) {
    for row in rows {
        sqlx::query(
            "INSERT INTO shared_page (uuid, client_key, content_id, space_key, title, created_by,
                                      created_at, expires_at, revoked_at, unlock_secret)
             VALUES (gen_random_uuid(), $1, '42', $2, $3, $4,
                     now() - make_interval(mins => $5),
                     CASE WHEN $6 THEN now() - interval '1 minute' END,
                     CASE WHEN $7 THEN now() END, gen_random_bytes(32))",
        )
        .bind(client_key)
        .bind(row.space_key)
        .bind(row.title)
        .bind(row.created_by)
        .bind(row.age_minutes)
        .bind(row.expired)
        .bind(row.revoked)
        .execute(&app.pool)
        .await
        .unwrap();
    }
}

fn seeded<'a>(title: &'a str, space_key: &'a str, age_minutes: i32) -> Seeded<'a> {
    Seeded {
        title,
        space_key,
        created_by: "557058:writer",
        age_minutes,
        expired: false,
        revoked: false,
    }
}

async fn list(app: &TestApp, site: &pageshare::sandbox::Site, query: &str) -> reqwest::Response {
    let path = format!("/api/admin/shares{query}");
    app.api(site, ADMIN, Method::GET, &path, None).await
}

async fn page(app: &TestApp, site: &pageshare::sandbox::Site, query: &str) -> Value {
    let response = list(app, site, query).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap().to_owned())
        .collect()
}

/// Every title the list gives for `query`, page by page (`limit` each), and the number of pages.
async fn walk(
    app: &TestApp,
    site: &pageshare::sandbox::Site,
    query: &str,
    limit: u32,
) -> (Vec<String>, usize) {
    let (mut all, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let after = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let found = page(app, site, &format!("?limit={limit}{query}{after}")).await;
        let items = titles(&found);
        assert!(items.len() <= limit as usize);
        all.extend(items);
        pages += 1;
        match found["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (all, pages),
        }
    }
}

#[tokio::test]
async fn the_list_pages_searches_and_filters_in_the_database() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let other = app.site_with_page("beta").await;
    let mut rows = vec![
        seeded("Release notes 2026", "DOC", 1),
        Seeded {
            created_by: "557058:hr-person",
            ..seeded("Holiday policy", "HR", 2)
        },
        Seeded {
            expired: true,
            ..seeded("Old onboarding", "HR", 3)
        },
        Seeded {
            revoked: true,
            ..seeded("Retired API guide", "ENG", 4)
        },
        seeded("Discount: 100% off", "SALES", 5),
        seeded("Discount: 100 items", "SALES", 6),
        seeded("snake_case guide", "ENG", 7),
        seeded("snakeXcase guide", "ENG", 8),
    ];
    let many: Vec<String> = (0..12)
        .map(|i| format!("Handbook chapter {i:02}"))
        .collect();
    rows.extend(
        many.iter()
            .enumerate()
            .map(|(i, t)| seeded(t, "DOC", 100 + i as i32)),
    );
    seed_shares(&app, &site.client_key, &rows).await;
    seed_shares(
        &app,
        &other.client_key,
        &[seeded("Handbook of beta", "DOC", 0)],
    )
    .await;
    let newest_first: Vec<String> = rows.iter().map(|r| r.title.to_owned()).collect();

    let first = page(&app, &site, "").await;
    assert_eq!(
        titles(&first),
        newest_first,
        "all 20 on one page, newest first"
    );
    assert_eq!(first["nextCursor"], Value::Null);

    for limit in [1, 3, 7, 20] {
        let (all, pages) = walk(&app, &site, "", limit).await;
        assert_eq!(
            all, newest_first,
            "limit {limit}: each share once, in order"
        );
        assert_eq!(
            pages,
            newest_first.len().div_ceil(limit as usize),
            "limit {limit}"
        );
    }

    let cases: &[(&str, &[&str])] = &[
        ("&q=RELEASE", &["Release notes 2026"]),
        ("&q=hr", &["Holiday policy", "Old onboarding"]),
        ("&q=hr-person", &["Holiday policy"]),
        ("&q=100%25", &["Discount: 100% off"]),
        ("&q=snake_case", &["snake_case guide"]),
        ("&q=%20%20policy%20", &["Holiday policy"]),
        ("&q=nothing+like+this", &[]),
        ("&status=revoked", &["Retired API guide"]),
        ("&status=expired", &["Old onboarding"]),
        (
            "&q=guide&status=active",
            &["snake_case guide", "snakeXcase guide"],
        ),
        (
            "&q=guide&status=",
            &["Retired API guide", "snake_case guide", "snakeXcase guide"],
        ),
    ];
    for (query, expected) in cases {
        let (all, _) = walk(&app, &site, query, 2).await;
        assert_eq!(&all, expected, "{query}");
    }
    let (handbook, pages) = walk(&app, &site, "&q=handbook", 5).await;
    assert_eq!(handbook, many, "another site's Handbook never shows");
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn a_cursor_holds_its_place_while_shares_are_created() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let rows: Vec<String> = (0..6).map(|i| format!("Page {i}")).collect();
    let seeded_rows: Vec<Seeded> = rows
        .iter()
        .enumerate()
        .map(|(i, t)| seeded(t, "DOC", 10 + i as i32))
        .collect();
    seed_shares(&app, &site.client_key, &seeded_rows).await;
    let first = page(&app, &site, "?limit=3").await;
    assert_eq!(titles(&first), rows[..3]);
    // A share created meanwhile is newer than everything: it does not shift the next page.
    app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = page(&app, &site, &format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(titles(&second), rows[3..]);
    assert_eq!(second["nextCursor"], Value::Null);
    let again = page(&app, &site, "?limit=3").await;
    assert_eq!(
        titles(&again)[0],
        "Onboarding",
        "the new share leads a fresh first page"
    );
}

#[tokio::test]
async fn a_bad_query_is_a_400_that_asks_confluence_nothing() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    seed_shares(&app, &site.client_key, &[seeded("Kept", "DOC", 1)]).await;
    let long = "x".repeat(201);
    let cases = [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=ten", ""),
        ("?status=gone", "status"),
        ("?status=Active", "status"),
        ("?cursor=abc", "cursor"),
        ("?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "cursor"),
        ("?q=tab%09inside", "q"),
        (&format!("?q={long}") as &str, "q"),
        ("?sort=title", ""),
    ];
    for (query, field) in cases {
        let calls = app.sandbox.verified_rest_calls();
        let response = list(&app, &site, query).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_query", "{query}: {body}");
        if !field.is_empty() {
            assert_eq!(body["error"]["field"], field, "{query}: {body}");
        }
        assert_eq!(
            app.sandbox.verified_rest_calls(),
            calls,
            "{query} asked Confluence"
        );
    }
    let limit_200 = page(&app, &site, "?limit=200&q=").await;
    assert_eq!(
        titles(&limit_200),
        ["Kept"],
        "200 and an empty search are fine"
    );
}
