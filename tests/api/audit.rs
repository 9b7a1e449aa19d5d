//! The audit log (`/api/admin/audit`, `/api/admin/audit.csv`): every share and credential event
//! with its actor, written with the change, read newest first with a cursor or as CSV, for site
//! admins of its own site only, and never holding a secret.

use std::time::Duration;

use pageshare::share::ShareId;
use pageshare::storage::audit::{self, Action, Actor};
use pageshare::tenant::ClientKey;
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_keys::{ADMIN, new_key, site_with_admin, text, with_key};
use crate::helpers::{EDITOR, PAGE_ID, READER, TestApp, error_code, page_shares_path, spawn_app};

/// The whole log of `site` as [`ADMIN`] reads it (newest first).
async fn whole_log(app: &TestApp, site: &pageshare::sandbox::Site) -> Vec<Value> {
    let page = app
        .api_get_json(site, ADMIN, "/api/admin/audit?limit=200")
        .await;
    assert_eq!(page["nextCursor"], Value::Null, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// `(actor, action, share)` of each entry, oldest first.
fn events(log: &[Value]) -> Vec<(String, String, String)> {
    log.iter()
        .rev()
        .map(|entry| {
            let text = |name: &str| entry[name].as_str().unwrap_or("").to_owned();
            (text("actor"), text("action"), text("share"))
        })
        .collect()
}

fn path_of(share: &Value) -> String {
    format!("/api/shares/{}", share["uuid"].as_str().unwrap())
}

/// Wait (up to 5 s) until `site`'s log holds `action`; how many such entries it holds.
async fn wait_for_action(app: &TestApp, site: &pageshare::sandbox::Site, action: &str) -> usize {
    let count = |log: Vec<Value>| log.iter().filter(|e| e["action"] == action).count();
    for _ in 0..50 {
        let found = count(whole_log(app, site).await);
        if found > 0 {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    0
}

#[tokio::test]
async fn each_share_and_key_event_is_recorded_with_its_actor_and_share() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let protected = app
        .create_share(
            &site,
            json!({"contentId": PAGE_ID, "password": "correct horse"}),
        )
        .await;
    let a = protected["uuid"].as_str().unwrap().to_owned();
    let path = path_of(&protected);
    let patch = |body: Value| app.api(&site, EDITOR, Method::PATCH, &path, Some(body));
    let changed = patch(json!({"expiresAt": "2099-01-01T00:00:00Z",
                               "frameAncestors": ["https://docs.example.com"]}));
    assert_eq!(changed.await.status(), 200);
    assert_eq!(patch(json!({"password": null})).await.status(), 200);
    assert_eq!(
        patch(json!({"password": "battery staple"})).await.status(),
        200
    );
    // Refused changes leave nothing behind.
    let refused = patch(json!({"expiresAt": "2000-01-01T00:00:00Z"})).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(app.get_share(&site, EDITOR, &a).await.status(), 200);
    // A reader who does not manage the share is not shown its secret, and nothing is recorded.
    let read = app.get_share(&site, READER, &a).await;
    assert!(
        read.json::<Value>()
            .await
            .unwrap()
            .get("unlockSecret")
            .is_none()
    );
    assert_eq!(app.rotate_secret(&site, EDITOR, &a).await.status(), 200);

    // An API key of the admin (who edits the page): created, used, first use recorded once.
    let all = [
        "shares:read",
        "shares:write",
        "unlock-secrets:read",
        "unlock-secrets:rotate",
    ];
    let created = new_key(&app, &site, &all).await;
    let key = text(&created);
    let key_id = created["id"].as_str().unwrap().to_owned();
    let by_key = format!("apikey:{key_id}");
    let list = with_key(&app, &key, Method::GET, &page_shares_path(), None).await;
    assert_eq!(
        list.status(),
        200,
        "the admin owns no share yet: no secret listed"
    );
    assert_eq!(wait_for_action(&app, &site, "api_key.first_used").await, 1);
    let got = with_key(&app, &key, Method::GET, &path, None).await;
    assert!(got.json::<Value>().await.unwrap()["unlockSecret"].is_string());
    let own = with_key(
        &app,
        &key,
        Method::POST,
        "/api/shares",
        Some(json!({"contentId": PAGE_ID})),
    )
    .await;
    assert_eq!(own.status(), 201);
    let own: Value = own.json().await.unwrap();
    let b = own["uuid"].as_str().unwrap().to_owned();
    let listed = with_key(&app, &key, Method::GET, &page_shares_path(), None).await;
    assert_eq!(
        listed.status(),
        200,
        "the list carries the secret of the key's share"
    );
    let revoked = with_key(&app, &key, Method::DELETE, &path_of(&own), None).await;
    assert_eq!(revoked.status(), 204);
    // Revoking twice records once; a change of a revoked share is refused and not recorded.
    for _ in 0..2 {
        assert_eq!(app.revoke_share(&site, EDITOR, &a).await.status(), 204);
    }
    assert_eq!(patch(json!({"password": null})).await.status(), 409);
    let key_path = format!("/api/admin/api-keys/{key_id}");
    for _ in 0..2 {
        let response = app.api(&site, ADMIN, Method::DELETE, &key_path, None).await;
        assert_eq!(response.status(), 204);
    }

    let log = whole_log(&app, &site).await;
    let row = |actor: &str, action: &str, share: &str| {
        (actor.to_owned(), action.to_owned(), share.to_owned())
    };
    let expected = vec![
        row(EDITOR, "share.created", &a),
        row(EDITOR, "password.set", &a),
        row(EDITOR, "share.changed", &a),
        row(EDITOR, "password.removed", &a),
        row(EDITOR, "password.set", &a),
        row(EDITOR, "unlock_secret.shown", &a),
        row(EDITOR, "unlock_secret.rotated", &a),
        row(ADMIN, "api_key.created", ""),
        row(&by_key, "api_key.first_used", ""),
        row(&by_key, "unlock_secret.shown", &a),
        row(&by_key, "share.created", &b),
        row(&by_key, "unlock_secret.shown", &b),
        row(&by_key, "unlock_secret.shown", &b),
        row(&by_key, "share.revoked", &b),
        row(EDITOR, "share.revoked", &a),
        row(ADMIN, "api_key.revoked", ""),
    ];
    assert_eq!(events(&log), expected);
    let detail = |action: &str| {
        log.iter()
            .rev()
            .find(|e| e["action"] == action)
            .map(|e| e["detail"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        detail("share.created"),
        "page 1234567 \"Onboarding\" in ENG"
    );
    assert_eq!(
        detail("share.changed"),
        "expiresAt: 2099-01-01T00:00:00+00:00; frameAncestors: https://docs.example.com"
    );
    assert_eq!(
        detail("api_key.created"),
        format!(
            "API key {key_id} \"ci\"; scopes: shares:read shares:write unlock-secrets:read \
             unlock-secrets:rotate; expires: never"
        )
    );
    assert_eq!(
        detail("api_key.first_used"),
        format!("API key {key_id} \"ci\"")
    );
    assert_eq!(
        detail("api_key.revoked"),
        format!("API key {key_id} \"ci\"")
    );
    assert!(log.iter().all(|e| e["at"].is_string()), "{log:?}");
}

#[tokio::test]
async fn a_keys_first_use_is_recorded_once_whichever_instances_use_it() {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let site = site_with_admin(&app, "acme").await;
    let key = text(&new_key(&app, &site, &["shares:read"]).await);
    app.let_announcements_arrive().await;
    let list = page_shares_path();
    let calls = (0..6).map(|i| {
        let address = if i % 2 == 0 { &app.address } else { &other };
        crate::api_keys::call(&app, address, &key, Method::GET, &list, None)
    });
    for response in futures_util::future::join_all(calls).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(wait_for_action(&app, &site, "api_key.first_used").await, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = whole_log(&app, &site).await;
    let firsts = log.iter().filter(|e| e["action"] == "api_key.first_used");
    assert_eq!(firsts.count(), 1, "{log:?}");
}

/// Write `count` entries of `site`'s log straight to the table, numbered in their detail from
/// `from`.
async fn add_entries(app: &TestApp, site: &pageshare::sandbox::Site, from: usize, count: usize) {
    let client_key = ClientKey::parse(&site.client_key).unwrap();
    let actor = Actor::User(pageshare::confluence::ids::AccountId::parse(EDITOR).unwrap());
    for n in from..from + count {
        let share = Some(ShareId::new());
        let detail = format!("n={n}");
        audit::record(
            &app.pool,
            &client_key,
            &actor,
            Action::ShareChanged,
            share,
            &detail,
        )
        .await
        .unwrap();
    }
}

/// Every entry's number, page after page of `limit` (the default when `None`), newest first,
/// with `between(page)` run after each page.
async fn read_in_pages(
    app: &TestApp,
    site: &pageshare::sandbox::Site,
    limit: Option<usize>,
    mut between: impl AsyncFnMut(usize),
) -> Vec<usize> {
    let mut numbers = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let mut path = String::from("/api/admin/audit?");
        if let Some(limit) = limit {
            path.push_str(&format!("limit={limit}&"));
        }
        if let Some(cursor) = &cursor {
            path.push_str(&format!("cursor={cursor}"));
        }
        let answer = app.api_get_json(site, ADMIN, &path).await;
        let items = answer["items"].as_array().unwrap();
        assert!(items.len() <= limit.unwrap_or(50), "{path}");
        numbers.extend(
            items
                .iter()
                .map(|e| e["detail"].as_str().unwrap()[2..].parse::<usize>().unwrap()),
        );
        match answer["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        between(page).await;
    }
    numbers
}

#[tokio::test]
async fn pages_cover_every_entry_once_newest_first_while_entries_arrive() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    add_entries(&app, &site, 0, 57).await;
    let all_newest_first: Vec<usize> = (0..57).rev().collect();
    for limit in [Some(1), Some(5), Some(56), Some(57), Some(200), None] {
        let read = read_in_pages(&app, &site, limit, async |_| {}).await;
        assert_eq!(read, all_newest_first, "limit {limit:?}");
    }
    // Entries written between pages come before the first page, not into the later ones.
    let mut next = 57;
    let read = read_in_pages(&app, &site, Some(10), async |_| {
        add_entries(&app, &site, next, 3).await;
        next += 3;
    })
    .await;
    assert_eq!(read, all_newest_first);
    let fresh = read_in_pages(&app, &site, Some(200), async |_| {}).await;
    assert_eq!(fresh, (0..next).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn bad_cursors_and_limits_are_refused_clearly() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    add_entries(&app, &site, 0, 3).await;
    let cases = [
        ("limit=0", 400, "invalid_query"),
        ("limit=201", 400, "invalid_query"),
        ("limit=-1", 400, "invalid_query"),
        ("limit=ten", 400, "invalid_query"),
        ("limit=", 400, "invalid_query"),
        ("cursor=2", 400, "invalid_query"),
        ("cursor=not%20a%20cursor", 400, "invalid_query"),
        ("cursor=AAAAAAAAAAA", 400, "invalid_query"),
        ("page=2", 400, "invalid_query"),
    ];
    for (query, status, code) in cases {
        let response = app
            .api(
                &site,
                ADMIN,
                Method::GET,
                &format!("/api/admin/audit?{query}"),
                None,
            )
            .await;
        assert_eq!(response.status(), status, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().len() > 10,
            "{body}"
        );
    }
    for (query, status) in [
        ("from=yesterday", 400),
        ("from=2030-01-01T00:00:00Z&to=2030-01-01T00:00:00Z", 400),
    ] {
        let response = app
            .api(
                &site,
                ADMIN,
                Method::GET,
                &format!("/api/admin/audit.csv?{query}"),
                None,
            )
            .await;
        assert_eq!(response.status(), status, "{query}");
    }
}

#[tokio::test]
async fn only_site_admins_read_their_own_sites_log() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let key = text(&new_key(&app, &site, &["shares:read", "shares:write"]).await);
    let other = site_with_admin(&app, "beta").await;
    app.create_share(&other, json!({"contentId": PAGE_ID}))
        .await;

    for path in ["/api/admin/audit", "/api/admin/audit.csv"] {
        let editor = app.api(&site, EDITOR, Method::GET, path, None).await;
        assert_eq!(editor.status(), 403, "{path}");
        assert_eq!(error_code(editor).await, "not_site_admin");
        let by_key = with_key(&app, &key, Method::GET, path, None).await;
        assert_eq!(by_key.status(), 403, "{path}");
        assert_eq!(error_code(by_key).await, "missing_scope");
        assert_eq!(app.get(path).await.status(), 401, "{path}");
    }
    // Each site sees its own entries only. (A key refused by the admin API was still a key in
    // use: its first use is recorded.)
    assert_eq!(wait_for_action(&app, &site, "api_key.first_used").await, 1);
    let mine = whole_log(&app, &site).await;
    let theirs = whole_log(&app, &other).await;
    assert_eq!(
        events(&mine).len(),
        3,
        "share created, key created and used: {mine:?}"
    );
    assert_eq!(events(&theirs).len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["actor"], EDITOR);
    let their_share = theirs[0]["share"].as_str().unwrap();
    let csv = app
        .api(&site, ADMIN, Method::GET, "/api/admin/audit.csv", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!csv.contains(their_share), "{csv}");
    assert_eq!(csv.lines().count(), 4, "{csv}");
}

#[tokio::test]
async fn forge_serves_the_log_under_forge_api() {
    let app = spawn_app().await;
    let site = app.forge_site_with_page("acme").await;
    app.sandbox.update_site("acme", |s| {
        s.admins.insert(ADMIN.into());
    });
    let share = app
        .forge_api(
            &site,
            EDITOR,
            Method::POST,
            "/api/shares",
            Some(json!({"contentId": PAGE_ID})),
        )
        .await;
    assert_eq!(share.status(), 201);
    let share: Value = share.json().await.unwrap();
    let log = app.forge_get_json(&site, ADMIN, "/api/admin/audit").await;
    assert_eq!(log["items"][0]["action"], "share.created", "{log}");
    assert_eq!(log["items"][0]["actor"], EDITOR);
    assert_eq!(log["items"][0]["share"], share["uuid"]);
    let editor = app
        .forge_api(&site, EDITOR, Method::GET, "/api/admin/audit", None)
        .await;
    assert_eq!(editor.status(), 403);
}

#[tokio::test]
async fn the_csv_export_has_a_header_quotes_its_cells_and_defuses_formulas() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let client_key = ClientKey::parse(&site.client_key).unwrap();
    let actor = Actor::User(pageshare::confluence::ids::AccountId::parse(EDITOR).unwrap());
    let share = ShareId::new();
    let details = [
        "plain",
        "a, b",
        "said \"hi\"",
        "two\nlines",
        "=HYPERLINK(\"https://evil.example\",\"x\")",
        "+1",
        "-1",
        "@SUM(A1)",
    ];
    for detail in details {
        audit::record(
            &app.pool,
            &client_key,
            &actor,
            Action::ShareChanged,
            Some(share),
            detail,
        )
        .await
        .unwrap();
    }
    let response = app
        .api(&site, ADMIN, Method::GET, "/api/admin/audit.csv", None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"pageshare-audit.csv\""
    );
    assert_eq!(response.headers()["cache-control"], "no-cache, no-store");
    let csv = response.text().await.unwrap();
    let rows: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(rows[0], "at,actor,action,share,detail");
    assert_eq!(rows.last(), Some(&""), "every row ends with CRLF");
    let expected_cells = [
        "'@SUM(A1)",
        "'-1",
        "'+1",
        "\"'=HYPERLINK(\"\"https://evil.example\"\",\"\"x\"\")\"",
        "\"two\nlines\"",
        "\"said \"\"hi\"\"\"",
        "\"a, b\"",
        "plain",
    ];
    assert_eq!(rows.len(), 1 + expected_cells.len() + 1, "{csv}");
    for (row, cell) in rows[1..].iter().zip(expected_cells) {
        let (at, rest) = row.split_once(',').unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{row}");
        assert_eq!(rest, format!("{EDITOR},share.changed,{share},{cell}"));
    }
    // From and to bound the export by time.
    sqlx::query("UPDATE audit_entry SET at = '2030-01-01T00:00:00Z' WHERE detail = 'plain'")
        .execute(&app.pool)
        .await
        .unwrap();
    let cases = [
        ("from=2030-01-01T00:00:00Z", 1),
        ("to=2030-01-01T00:00:00Z", expected_cells.len() - 1),
        ("from=2029-12-31T23:59:59Z&to=2030-01-01T00:00:01Z", 1),
        ("from=2031-01-01T00:00:00Z", 0),
    ];
    for (query, count) in cases {
        let csv = app
            .api(
                &site,
                ADMIN,
                Method::GET,
                &format!("/api/admin/audit.csv?{query}"),
                None,
            )
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(csv.split("\r\n").count() - 2, count, "{query}: {csv}");
    }
}

#[tokio::test]
async fn no_secret_the_test_used_is_in_the_log_or_any_other_table() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let password = "correct horse battery staple";
    let share = app
        .create_share(&site, json!({"contentId": PAGE_ID, "password": password}))
        .await;
    let uuid = share["uuid"].as_str().unwrap();
    let mut secrets = vec![
        password.to_owned(),
        share["unlockSecret"].as_str().unwrap().to_owned(),
    ];
    let second_password = "tr0ub4dor & 3";
    let path = path_of(&share);
    let changed = app
        .api(
            &site,
            EDITOR,
            Method::PATCH,
            &path,
            Some(json!({"password": second_password})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    secrets.push(second_password.to_owned());
    let shown: Value = app
        .get_share(&site, EDITOR, uuid)
        .await
        .json()
        .await
        .unwrap();
    secrets.push(shown["unlockSecret"].as_str().unwrap().to_owned());
    let rotated: Value = app
        .rotate_secret(&site, EDITOR, uuid)
        .await
        .json()
        .await
        .unwrap();
    secrets.push(rotated["unlockSecret"].as_str().unwrap().to_owned());
    let scopes = [
        "shares:read",
        "unlock-secrets:read",
        "unlock-secrets:rotate",
    ];
    let key = text(&new_key(&app, &site, &scopes).await);
    secrets.push(key.clone());
    let used = with_key(&app, &key, Method::GET, &path, None).await;
    let used: Value = used.json().await.unwrap();
    secrets.push(used["unlockSecret"].as_str().unwrap().to_owned());
    let by_key = with_key(
        &app,
        &key,
        Method::POST,
        &format!("{path}/unlock-secret"),
        None,
    )
    .await;
    let by_key: Value = by_key.json().await.unwrap();
    secrets.push(by_key["unlockSecret"].as_str().unwrap().to_owned());
    assert_eq!(wait_for_action(&app, &site, "api_key.first_used").await, 1);

    let log = whole_log(&app, &site).await;
    assert!(
        log.len() >= 9,
        "the test made the entries it searches: {log:?}"
    );
    let csv = app
        .api(&site, ADMIN, Method::GET, "/api/admin/audit.csv", None)
        .await
        .text()
        .await
        .unwrap();
    let json = Value::Array(log).to_string();
    for secret in &secrets {
        assert!(
            !json.contains(secret.as_str()),
            "the log's JSON holds a secret"
        );
        assert!(!csv.contains(secret.as_str()), "the CSV holds a secret");
        // The key without its prefix, and the hex in upper case, are not there either.
        let bare = secret.strip_prefix("psk_").unwrap_or(secret);
        let found = app.columns_holding(bare).await;
        assert!(found.is_empty(), "a secret is stored as text in {found:?}");
    }
}

#[tokio::test]
async fn a_change_whose_entry_cannot_be_written_does_not_happen() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let path = path_of(&share);
    let stored = async || -> (bool, bool, bool, Vec<u8>, i64, i64) {
        sqlx::query_as(
            "SELECT revoked_at IS NOT NULL, password_hash IS NOT NULL, expires_at IS NOT NULL,
                    unlock_secret,
                    (SELECT count(*) FROM shared_page), (SELECT count(*) FROM api_key)
             FROM shared_page",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let before = stored().await;
    // From now on the log refuses every entry, as a failing disk would.
    sqlx::query("ALTER TABLE audit_entry ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
        .execute(&app.pool)
        .await
        .unwrap();
    let secret = format!("{path}/unlock-secret");
    let cases = [
        (
            Method::POST,
            "/api/shares",
            Some(json!({"contentId": PAGE_ID})),
        ),
        (
            Method::PATCH,
            path.as_str(),
            Some(json!({"password": "correct horse"})),
        ),
        (
            Method::PATCH,
            path.as_str(),
            Some(json!({"expiresAt": "2099-01-01T00:00:00Z"})),
        ),
        (Method::POST, secret.as_str(), None),
        (Method::GET, path.as_str(), None),
        (Method::DELETE, path.as_str(), None),
    ];
    for (method, path, body) in cases {
        let response = app.api(&site, EDITOR, method.clone(), path, body).await;
        assert_eq!(response.status(), 500, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("unlockSecret").is_none(), "{body}");
    }
    let key = app
        .api(
            &site,
            ADMIN,
            Method::POST,
            "/api/admin/api-keys",
            Some(json!({"name": "ci", "scopes": ["shares:read"]})),
        )
        .await;
    assert_eq!(key.status(), 500);
    assert_eq!(stored().await, before, "nothing changed without its entry");
}

#[tokio::test]
async fn overlaps_and_public_unlock_keys_are_recorded_without_key_material() {
    let app = spawn_app().await;
    let site = site_with_admin(&app, "acme").await;
    let share = app.protected_share(&site).await;
    let uuid = share.id.to_string();
    let overlap = app
        .rotate_secret_with(&site, EDITOR, &uuid, json!({"graceSeconds": 3600}))
        .await;
    let until = overlap.json::<Value>().await.unwrap()["previousSecretExpiresAt"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.rotate_secret(&site, EDITOR, &uuid).await.status(), 200);
    let key = crate::test_keys::TestKey::ed25519();
    let keys = format!("/api/shares/{uuid}/unlock-keys");
    let private = json!({"jwk": key.private_jwk()});
    let refused = app
        .api(&site, EDITOR, Method::POST, &keys, Some(private))
        .await;
    assert_eq!(refused.status(), 422);
    let public = json!({"jwk": key.public_jwk()});
    let added = app
        .api(&site, EDITOR, Method::POST, &keys, Some(public))
        .await;
    let kid = added.json::<Value>().await.unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = app
        .api(
            &site,
            EDITOR,
            Method::DELETE,
            &format!("{keys}/{kid}"),
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);

    let log = whole_log(&app, &site).await;
    let recorded: Vec<(String, String)> = log
        .iter()
        .rev()
        .filter(|e| e["share"] == uuid.as_str() && e["action"] != "password.set")
        .filter(|e| e["action"] != "share.created")
        .map(|e| {
            let text = |name: &str| e[name].as_str().unwrap().to_owned();
            (text("action"), text("detail"))
        })
        .collect();
    let until = chrono::DateTime::parse_from_rfc3339(&until).unwrap();
    let row = |action: &str, detail: String| (action.to_owned(), detail);
    assert_eq!(
        recorded,
        [
            row(
                "unlock_secret.rotated",
                format!("previous secret works until {}", until.to_rfc3339())
            ),
            row(
                "unlock_secret.rotated",
                "previous secret stopped at once; sessions ended".into()
            ),
            row("unlock_key.added", format!("EdDSA key {kid}")),
            row("unlock_key.removed", format!("key {kid}; sessions ended")),
        ]
    );
    let private_d = key.private_jwk()["d"].as_str().unwrap().to_owned();
    let found = app.columns_holding(&private_d).await;
    assert!(found.is_empty(), "the private key is stored in {found:?}");
}
