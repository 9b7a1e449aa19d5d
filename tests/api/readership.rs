//! Readership: every view of a share's page (root or child of a tree) is counted per share and
//! day, with unique readers and how they got in, in memory and written in the background; the
//! stats API, the CSV export, and that no address or user agent is ever stored.

use std::time::{Duration, Instant};

use pageshare::config::Settings;
use pageshare::sandbox::{Sandbox, Site};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_keys::{ADMIN, new_key, site_with_admin, text, with_key};
use crate::browser::unlock_url_of;
use crate::helpers::{
    APP_KEY, EDITOR, OUTSIDER, PAGE_ID, READER, SHARE_PASSWORD, TestApp, error_code, form_token_in,
    sample_image_src, spawn_app_with,
};
use crate::logs::{start_binary, wait_for};
use crate::page_trees::guide_site;
use crate::shutdown::{exit_within_10_seconds, installed_share, send_signal};
use crate::unlock_rotation::unlock_url;

/// Short enough for tests to see counts written at once.
const FLUSH: Duration = Duration::from_millis(100);

/// Clients arrive through a proxy on 127.0.0.1, which says who they are.
fn counting_quickly(settings: &mut Settings) {
    settings.readership_flush = FLUSH;
    settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

/// A reader: the address the proxy forwards, and a user agent.
#[derive(Clone, Copy)]
struct Reader(&'static str, &'static str);

const ANNA: Reader = Reader("203.0.113.10", "Firefox/140 anna");
const BORIS: Reader = Reader("203.0.113.11", "Firefox/140 anna");
const CHEN: Reader = Reader("203.0.113.10", "Safari/18 chen");
const DANA: Reader = Reader("2001:db8:5:6::1", "Edge/140 dana");
/// Another address of Dana's /64: the same reader.
const DANA_AGAIN: Reader = Reader("2001:db8:5:6::2", "Edge/140 dana");

impl Reader {
    async fn get(self, app: &TestApp, address_of: &str, url: &str, cookie: Option<&str>) -> u16 {
        let url = url.replacen(&app.address, address_of, 1);
        let mut request = app
            .http
            .get(url)
            .header("X-Forwarded-For", self.0)
            .header("User-Agent", self.1);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn read(self, app: &TestApp, url: &str) -> u16 {
        self.get(app, &app.address, url, None).await
    }
}

async fn stats_as(app: &TestApp, site: &Site, user: &str, path: &str) -> reqwest::Response {
    app.api(site, user, Method::GET, path, None).await
}

fn stats_path(share: &Value) -> String {
    format!("/api/shares/{}/stats", share["uuid"].as_str().unwrap())
}

/// The stats `ask` answers once they count `views` views (the background flush), or after 10 s.
async fn once_counted<F: Future<Output = reqwest::Response>>(
    views: i64,
    ask: impl Fn() -> F,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = ask().await;
        assert_eq!(response.status(), 200);
        let stats: Value = response.json().await.unwrap();
        if stats["totals"]["views"] == views || Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The share's stats once `views` views are written, for at most 10 s.
pub async fn stats_once_written(app: &TestApp, site: &Site, share: &Value, views: i64) -> Value {
    let path = stats_path(share);
    once_counted(views, || stats_as(app, site, EDITOR, &path)).await
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// Today's entry of `stats`: the last day of the default range.
fn today_of(stats: &Value) -> &Value {
    let days = stats["days"].as_array().unwrap();
    let last = days.last().unwrap();
    assert_eq!(last["date"], today());
    last
}

/// Every `Set-Cookie` of `response`, as a browser sends them back.
fn cookies(response: &reqwest::Response) -> String {
    let pairs: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| {
            value
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    pairs.join("; ")
}

#[tokio::test]
async fn views_readers_and_access_are_counted_and_attachments_and_forms_are_not() {
    let app = spawn_app_with(counting_quickly).await;
    let site = guide_site(&app, "acme").await;

    // An open tree share: 7 views of the root and a child page by 4 readers (Dana twice, from
    // two addresses of one /64), a HEAD, an attachment and a page outside the tree.
    let open = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "includeChildren": true}),
        )
        .await;
    let url = open["url"].as_str().unwrap().to_owned();
    let child = format!("{url}/pages/2001");
    for (reader, page) in [
        (ANNA, &url),
        (ANNA, &child),
        (BORIS, &url),
        (CHEN, &child),
        (DANA, &url),
        (DANA_AGAIN, &child),
        (ANNA, &url),
    ] {
        assert_eq!(reader.read(&app, page).await, 200);
    }
    let html = app.read_share(&url, None).await.text().await.unwrap();
    let uuid = pageshare::share::ShareId::parse(open["uuid"].as_str().unwrap()).unwrap();
    let image = format!("{}{}", app.address, sample_image_src(&html, uuid));
    assert_eq!(ANNA.read(&app, &image).await, 200, "an attachment");
    let head = app.http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200, "a HEAD");
    assert_eq!(ANNA.read(&app, &format!("{url}/pages/9999")).await, 404);

    // 8 views: the seven and the plain read above (no proxy header: the peer, a fifth reader).
    let stats = stats_once_written(&app, &site, &open, 8).await;
    let day = today_of(&stats);
    assert_eq!(day["views"], 8, "{stats}");
    assert_eq!(day["uniqueReaders"], 5, "{stats}");
    assert_eq!(
        day["byAccess"],
        json!({"open": 8, "password": 0, "unlock": 0, "cookie": 0})
    );

    // A protected share: its form and a wrong password are no views; the right one's page is
    // a `password` view, the next with its cookie a `cookie` one; an unlock token an `unlock`.
    let protected = app.protected_share(&site).await;
    let purl = protected.url.clone();
    let form = app
        .http
        .get(&purl)
        .header("X-Forwarded-For", ANNA.0)
        .header("User-Agent", ANNA.1)
        .send()
        .await
        .unwrap();
    let token = form_token_in(&form.text().await.unwrap());
    let post = |password: &'static str| {
        app.http
            .post(format!("{purl}/password"))
            .header("Sec-Fetch-Site", "same-origin")
            .header("X-Forwarded-For", ANNA.0)
            .header("User-Agent", ANNA.1)
            .form(&[("password", password), ("form_token", &token)])
            .send()
    };
    assert_eq!(post("wrong").await.unwrap().status(), 401);
    let right = post(SHARE_PASSWORD).await.unwrap();
    assert_eq!(right.status(), 303);
    let both = cookies(&right);
    assert!(both.contains("pageshare_via=password"), "{both}");
    let session = both.split("; ").next().unwrap().to_owned();
    assert_eq!(ANNA.get(&app, &app.address, &purl, Some(&both)).await, 200);
    assert_eq!(
        ANNA.get(&app, &app.address, &purl, Some(&session)).await,
        200
    );
    let unlock = unlock_url(&protected, &protected.secret);
    assert_eq!(BORIS.read(&app, &unlock).await, 200);
    assert_eq!(CHEN.read(&app, &purl).await, 200, "the form again");

    let shown = json!({"uuid": protected.id.to_string()});
    let stats = stats_once_written(&app, &site, &shown, 3).await;
    let day = today_of(&stats);
    assert_eq!(
        day["byAccess"],
        json!({"open": 0, "password": 1, "unlock": 1, "cookie": 1}),
        "{stats}"
    );
    assert_eq!(day["uniqueReaders"], 2);
    assert_eq!(stats["totals"]["views"], 3);
}

#[tokio::test]
async fn two_instances_counting_the_same_share_add_up() {
    let app = spawn_app_with(counting_quickly).await;
    let site = app.site_with_page("acme").await;
    let second = app.second_instance().await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = share["url"].as_str().unwrap().to_owned();
    app.let_announcements_arrive().await;

    // 10 views on each instance by the same three readers.
    for round in 0..10 {
        let reader = [ANNA, BORIS, CHEN][round % 3];
        assert_eq!(reader.get(&app, &app.address, &url, None).await, 200);
        assert_eq!(reader.get(&app, &second, &url, None).await, 200);
    }
    let stats = stats_once_written(&app, &site, &share, 20).await;
    let day = today_of(&stats);
    assert_eq!(day["views"], 20, "{stats}");
    assert_eq!(
        day["uniqueReaders"], 3,
        "a reader of both instances is one reader"
    );
}

#[tokio::test]
async fn no_address_or_user_agent_is_stored_anywhere() {
    let app = spawn_app_with(counting_quickly).await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let protected = app.protected_share(&site).await;
    let url = share["url"].as_str().unwrap();
    let unlock = unlock_url(&protected, &protected.secret);
    let readers = [ANNA, BORIS, CHEN, DANA];
    for reader in readers {
        assert_eq!(reader.read(&app, url).await, 200);
        assert_eq!(reader.read(&app, &unlock).await, 200);
    }
    stats_once_written(&app, &site, &share, 4).await;

    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text
         FROM information_schema.columns
         WHERE table_schema = 'public'
           AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea', 'ARRAY')",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(columns.len() > 10, "{columns:?}");
    let probes: Vec<String> = [
        "203.0.113.1",
        "2001:db8:5:6",
        "Firefox",
        "Safari",
        "Edge/140",
    ]
    .iter()
    .map(|probe| format!("%{probe}%"))
    .collect();
    for (table, column, kind) in columns {
        // Bytes are searched as bytes; everything else as its text.
        let text = match kind.as_str() {
            "bytea" => format!("encode(\"{column}\", 'escape')"),
            _ => format!("\"{column}\"::text"),
        };
        let sql = format!("SELECT count(*) FROM \"{table}\" WHERE {text} ILIKE ANY($1)");
        let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&probes)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(found, 0, "{table}.{column} holds an address or user agent");
    }
    let hashes: i64 = sqlx::query_scalar("SELECT count(*) FROM share_daily_reader")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(hashes, 8, "four readers of two shares, as 16-byte hashes");
}

#[tokio::test]
async fn the_stats_api_answers_ranges_and_refuses_bad_ones_changing_nothing() {
    let app = spawn_app_with(counting_quickly).await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let url = share["url"].as_str().unwrap();
    assert_eq!(ANNA.read(&app, url).await, 200);
    let before = stats_once_written(&app, &site, &share, 1).await;
    assert_eq!(
        before["days"].as_array().unwrap().len(),
        30,
        "the last 30 days"
    );
    assert_eq!(before["to"], today());

    let path = stats_path(&share);
    let today = today();
    for (query, days, views) in [
        (format!("from={today}&to={today}"), 1, 1),
        ("from=2026-01-01&to=2026-01-31".to_owned(), 31, 0),
        ("from=2025-01-01&to=2025-12-31".to_owned(), 365, 0),
        (format!("to={today}"), 30, 1),
    ] {
        let stats: Value = stats_as(&app, &site, EDITOR, &format!("{path}?{query}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stats["days"].as_array().unwrap().len(), days, "{query}");
        assert_eq!(stats["totals"]["views"], views, "{query}");
    }

    for query in [
        "from=2026-13-01",
        "from=yesterday",
        "to=2026-12-07T00:00:00Z",
        "from=2026-12-08&to=2026-12-07",
        "from=2024-01-01&to=2026-01-01",
        "days=7",
        "from=2026-01-01&from=2026-01-02",
    ] {
        let response = stats_as(&app, &site, EDITOR, &format!("{path}?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(error_code(response).await, "invalid_query", "{query}");
        let response = app
            .api(
                &site,
                ADMIN,
                Method::GET,
                &format!("/api/admin/stats.csv?{query}"),
                None,
            )
            .await;
        assert_eq!(response.status(), 400, "CSV {query}");
    }
    let after = stats_once_written(&app, &site, &share, 1).await;
    assert_eq!(after, before, "refused queries change nothing");
}

#[tokio::test]
async fn stats_take_the_share_reading_permission_the_key_scope_and_work_under_forge() {
    let app = spawn_app_with(counting_quickly).await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    assert_eq!(ANNA.read(&app, share["url"].as_str().unwrap()).await, 200);
    stats_once_written(&app, &site, &share, 1).await;
    let path = stats_path(&share);

    let reader = stats_as(&app, &site, READER, &path).await;
    assert_eq!(reader.status(), 200, "whoever may read the page");
    let outsider = stats_as(&app, &site, OUTSIDER, &path).await;
    assert_eq!(outsider.status(), 403);
    assert_eq!(error_code(outsider).await, "no_permission");
    let other_site = app.site_with_page("globex").await;
    let elsewhere = stats_as(&app, &other_site, EDITOR, &path).await;
    assert_eq!(elsewhere.status(), 404, "another site's share");
    let unknown = format!("/api/shares/{}/stats", uuid::Uuid::new_v4());
    assert_eq!(stats_as(&app, &site, EDITOR, &unknown).await.status(), 404);

    let reading = text(&new_key(&app, &site, &["shares:read"]).await);
    let response = with_key(&app, &reading, Method::GET, &path, None).await;
    assert_eq!(response.status(), 200);
    let by_key: Value = response.json().await.unwrap();
    assert_eq!(by_key["totals"]["views"], 1);
    let writing = text(&new_key(&app, &site, &["shares:write"]).await);
    let response = with_key(&app, &writing, Method::GET, &path, None).await;
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "missing_scope");
    let csv = with_key(&app, &reading, Method::GET, "/api/admin/stats.csv", None).await;
    assert_eq!(csv.status(), 403, "the export is for site administrators");

    let forge = app.forge_site_with_page("initech").await;
    let forge_share = app
        .forge_create_share(&forge, json!({"contentId": PAGE_ID}))
        .await;
    assert_eq!(
        CHEN.read(&app, forge_share["url"].as_str().unwrap()).await,
        200
    );
    let forge_path = stats_path(&forge_share);
    let stats = once_counted(1, || {
        app.forge_api(&forge, EDITOR, Method::GET, &forge_path, None)
    })
    .await;
    assert_eq!(stats["totals"]["uniqueReaders"], 1, "{stats}");
}

#[tokio::test]
async fn the_csv_export_lists_each_share_per_day_for_site_administrators() {
    let app = spawn_app_with(counting_quickly).await;
    let site = site_with_admin(&app, "acme").await;
    let first = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "password": SHARE_PASSWORD}),
        )
        .await;
    let second = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let unread = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    assert_eq!(ANNA.read(&app, &unlock_url_of(&first, "")).await, 200);
    for reader in [ANNA, BORIS, ANNA] {
        assert_eq!(
            reader.read(&app, second["url"].as_str().unwrap()).await,
            200
        );
    }
    stats_once_written(&app, &site, &second, 3).await;
    stats_once_written(&app, &site, &first, 1).await;

    let response = app
        .api(&site, ADMIN, Method::GET, "/api/admin/stats.csv", None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    let mut lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines.pop(), Some(""), "every line ends with CRLF");
    assert_eq!(
        lines[0],
        "date,share,title,space,views,unique_readers,open,password,unlock,cookie"
    );
    let mut rows = lines[1..].to_vec();
    rows.sort();
    let today = today();
    let row = |share: &Value, numbers: &str| {
        format!(
            "{today},{},{},{},{numbers}",
            share["uuid"].as_str().unwrap(),
            share["title"].as_str().unwrap(),
            share["spaceKey"].as_str().unwrap()
        )
    };
    let mut expected = vec![row(&first, "1,1,0,0,1,0"), row(&second, "3,2,3,0,0,0")];
    expected.sort();
    assert_eq!(rows, expected, "{csv}");
    assert!(
        !csv.contains(unread["uuid"].as_str().unwrap()),
        "no views, no row"
    );

    let past = app
        .api(
            &site,
            ADMIN,
            Method::GET,
            "/api/admin/stats.csv?from=2026-01-01&to=2026-01-31",
            None,
        )
        .await;
    assert_eq!(
        past.text().await.unwrap().split("\r\n").count(),
        2,
        "header only"
    );
    let editor = app
        .api(&site, EDITOR, Method::GET, "/api/admin/stats.csv", None)
        .await;
    assert_eq!(editor.status(), 403);
    assert_eq!(error_code(editor).await, "not_site_admin");

    let listed: Value = app
        .api(&site, ADMIN, Method::GET, "/api/admin/shares", None)
        .await
        .json()
        .await
        .unwrap();
    let views: Vec<(String, i64)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let uuid = item["uuid"].as_str().unwrap().to_owned();
            (uuid, item["viewsLast30Days"].as_i64().unwrap())
        })
        .collect();
    for (share, count) in [(&first, 1), (&second, 3), (&unread, 0)] {
        let uuid = share["uuid"].as_str().unwrap().to_owned();
        assert!(views.contains(&(uuid, count)), "{views:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_counted_before_sigterm_are_written_before_the_process_exits() {
    let sandbox = Sandbox::start(APP_KEY).unwrap();
    let (mut running, address) = start_binary(&sandbox, &[("RUST_LOG", "info")]);
    let http = reqwest::Client::new();
    wait_for(&http, &address).await;
    let url = installed_share(&sandbox, &http, &address).await;
    for agent in ["a", "b", "a", "c", "a"] {
        let response = http.get(&url).header("User-Agent", agent).send().await;
        assert_eq!(response.unwrap().status(), 200);
    }
    send_signal(&running.child, "TERM");
    let exit = exit_within_10_seconds(&mut running.child, "SIGTERM").await;
    assert_eq!(exit.code(), Some(0));
    let log = std::fs::read_to_string(&running.log).unwrap();
    assert!(log.contains("readership counts written"), "{log}");

    let pool = sqlx::PgPool::connect(&running.database_url).await.unwrap();
    let (views, readers): (i64, i64) = sqlx::query_as(
        "SELECT sum(open_views)::bigint, sum(unique_readers)::bigint FROM share_daily_views",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!((views, readers), (5, 3), "nothing counted is lost");
}

#[tokio::test]
async fn the_job_deletes_reader_hashes_of_days_before_yesterday_and_keeps_the_counts() {
    let app = spawn_app_with(counting_quickly).await;
    let site = app.site_with_page("acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let uuid = share["uuid"].as_str().unwrap();
    for days_ago in 0..4 {
        sqlx::query(
            "INSERT INTO share_daily_reader (share_uuid, day, reader)
             VALUES ($1::uuid, current_date - $2::int, $3)",
        )
        .bind(uuid)
        .bind(days_ago)
        .bind(vec![days_ago as u8; 16])
        .execute(&app.pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO share_daily_views (share_uuid, day, open_views, unique_readers)
         VALUES ($1::uuid, current_date - 3, 5, 1)",
    )
    .bind(uuid)
    .execute(&app.pool)
    .await
    .unwrap();

    // Another instance running the job: this one skips it.
    let mut other = app.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(pageshare::storage::jobs::Job::ForgetReaders.lock_key())
        .execute(&mut *other)
        .await
        .unwrap();
    let skipped = pageshare::storage::readership::forget_readers(&app.pool).await;
    assert_eq!(skipped.unwrap(), None);
    other.rollback().await.unwrap();

    let deleted = pageshare::storage::readership::forget_readers(&app.pool).await;
    assert_eq!(deleted.unwrap(), Some(2));
    let kept: Vec<i32> =
        sqlx::query_scalar("SELECT current_date - day FROM share_daily_reader ORDER BY day DESC")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(kept, [0, 1], "today's and yesterday's");
    let stats: Value = stats_as(&app, &site, EDITOR, &stats_path(&share))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["totals"]["views"], 5, "the counts stay");
}

#[test]
fn counts_are_written_every_10_seconds_unless_a_test_says_otherwise() {
    let settings = Settings::from_lookup(|_| None).unwrap();
    assert_eq!(settings.readership_flush, Duration::from_secs(10));
}
