//! Page-tree shares: a share made with `includeChildren` serves its page and every page below it
//! at `/content/{uuid}/pages/{pageId}`, with a navigation tree, links inside the tree rewritten,
//! one unlock for the whole tree, and the tree cached like content.

use std::time::Duration;

use pageshare::sandbox::{GUIDE_IMAGE_ID, OUTSIDE_PAGE_ID, Page, Site};
use pageshare::share::unlock::mint_unlock_token;
use pageshare::share::{ShareId, UnlockSecret};
use serde_json::{Value, json};

use crate::helpers::{PAGE_ID, TestApp, session_cookie, spawn_app, spawn_app_with};

/// The sample page with the sandbox's guide below it, and a page outside the guide.
pub async fn guide_site(app: &TestApp, name: &str) -> Site {
    app.site_with_page(name).await;
    let base_url = app.sandbox.site(name).base_url;
    app.sandbox.update_site(name, |s| {
        s.add_guide(PAGE_ID);
        let mut outside = Page::sample(&base_url, OUTSIDE_PAGE_ID);
        outside.title = "Runbook".into();
        s.pages.insert(OUTSIDE_PAGE_ID.into(), outside);
    });
    app.sandbox.site(name)
}

async fn tree_share(app: &TestApp, site: &Site, extra: Value) -> Value {
    let mut body = json!({"contentId": PAGE_ID, "includeChildren": true});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.create_share(site, body).await
}

async fn body_of(app: &TestApp, url: &str, cookie: Option<&str>) -> (u16, String) {
    let response = app.read_share(url, cookie).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The path part of the share's URL (links inside pages are written without the origin).
fn path_of(url: &str) -> String {
    url::Url::parse(url).unwrap().path().to_owned()
}

/// The URL of the first image of a page of the share at `share_url`.
fn first_image(share_url: &str, html: &str) -> String {
    let src = html.split("src=\"").nth(1).unwrap().split('"').next();
    let origin = share_url.strip_suffix(&path_of(share_url)).unwrap();
    format!("{origin}{}", src.unwrap().replace("&amp;", "&"))
}

/// Calls the app made to Confluence's descendant listing.
fn listings(app: &TestApp) -> usize {
    app.sandbox
        .signed_requests()
        .iter()
        .filter(|r| r.contains("/descendant/page"))
        .count()
}

#[tokio::test]
async fn a_tree_share_serves_its_page_and_every_page_below_and_nothing_else() {
    let app = spawn_app().await;
    let site = guide_site(&app, "acme").await;
    let share = tree_share(&app, &site, json!({})).await;
    assert_eq!(share["includeChildren"], true);
    let url = share["url"].as_str().unwrap().to_owned();
    let path = path_of(&url);
    let single = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    assert_eq!(single["includeChildren"], false);

    // Every page of the tree, each marked current in the navigation of every page.
    for (page, title) in [
        (None, "Onboarding"),
        (Some("2001"), "Getting started"),
        (Some("2002"), "Daily work"),
        (Some("2003"), "Install the tools"),
    ] {
        let page_url = page.map_or(url.clone(), |id| format!("{url}/pages/{id}"));
        let (status, html) = body_of(&app, &page_url, None).await;
        assert_eq!(status, 200, "{page_url}");
        assert!(
            html.contains(&format!("<h1 class=\"page-title\">{title}</h1>")),
            "{html}"
        );
        let current = format!(
            "<a href=\"{}\" aria-current=\"page\">{title}</a>",
            path_of(&page_url)
        );
        assert!(html.contains(&current), "{page:?}: {html}");
        assert_eq!(html.matches(" aria-current=\"page\"").count(), 1);
        for (id, title) in [("2001", "Getting started"), ("2002", "Daily work")] {
            assert!(html.contains(&format!("{path}/pages/{id}\"")) && html.contains(title));
        }
        // Nested: the grandchild's list sits inside its parent's item.
        assert!(
            html.contains(&format!(
                "Getting started</a><ul><li><a href=\"{path}/pages/2003\""
            )),
            "{html}"
        );
    }

    // Pages outside the tree, ids that are none, and a one-page share's children: 404.
    for missing in [
        format!("{url}/pages/{OUTSIDE_PAGE_ID}"),
        format!("{url}/pages/424242"),
        format!("{url}/pages/not-an-id"),
        format!("{}/pages/2001", single["url"].as_str().unwrap()),
        format!(
            "{}/pages/2003/attachments/{GUIDE_IMAGE_ID}",
            single["url"].as_str().unwrap()
        ),
    ] {
        let (status, _) = body_of(&app, &missing, None).await;
        assert_eq!(status, 404, "{missing}");
    }
    // A one-page share has no navigation, and keeps Confluence's links.
    let (_, html) = body_of(&app, single["url"].as_str().unwrap(), None).await;
    assert!(!html.contains("class=\"tree\""), "{html}");
    assert!(html.contains("/wiki/spaces/ENG/pages/98305/Runbook\" rel=\"noopener noreferrer\" target=\"_blank\">Runbook</a>"), "{html}");
}

#[tokio::test]
async fn links_inside_the_tree_lead_to_its_pages_and_links_outside_become_text() {
    let app = spawn_app().await;
    let site = guide_site(&app, "acme").await;
    let share = tree_share(&app, &site, json!({})).await;
    let url = share["url"].as_str().unwrap().to_owned();
    let path = path_of(&url);
    let page = |id: &str| format!("{url}/pages/{id}");
    // (page, what it must show, what it must not)
    let cases: [(String, Vec<String>, Vec<String>); 4] = [
        (
            page("2001"),
            vec![
                // `/spaces/KEY/pages/ID/Title`, relative to the site.
                format!("<a href=\"{path}/pages/2003\">Install the tools</a>"),
                // `viewpage.action?pageId=ID`, absolute.
                format!("<a href=\"{path}/pages/2002\">Daily work</a>"),
                // `viewpage.action` of a page outside: text.
                "See the Runbook.".into(),
            ],
            vec!["viewpage.action".into(), "98305".into()],
        ),
        (
            page("2002"),
            vec![
                // `data-linked-resource-id` of a page.
                format!("<a href=\"{path}/pages/2001\">Getting started</a>"),
                // The tree's own page: the share's URL.
                format!("<a href=\"{path}\">overview</a>"),
            ],
            vec!["/wiki/spaces".into(), "target=\"_blank\"".into()],
        ),
        (
            page("2003"),
            vec![
                "Questions go to the Runbook.".into(),
                format!("src=\"{path}/pages/2003/attachments/{GUIDE_IMAGE_ID}?exp="),
            ],
            vec!["98305".into(), "/download/attachments".into()],
        ),
        (
            url.clone(),
            // The sample page links to the Runbook with `data-linked-resource-id`.
            vec!["in the Runbook.".into()],
            vec!["98305".into()],
        ),
    ];
    for (page_url, shown, hidden) in cases {
        let (status, html) = body_of(&app, &page_url, None).await;
        assert_eq!(status, 200, "{page_url}");
        let body = html.split("<article>").nth(1).unwrap();
        for text in shown {
            assert!(body.contains(&text), "{page_url}: {text} in {body}");
        }
        for text in hidden {
            assert!(!body.contains(&text), "{page_url}: {text} in {body}");
        }
    }
    // The child page's image comes through its signed URL; not as the top page's attachment.
    let (_, html) = body_of(&app, &page("2003"), None).await;
    let image = app.read_share(&first_image(&url, &html), None).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    let top = format!("{url}/attachments/{GUIDE_IMAGE_ID}");
    assert_eq!(
        app.read_share(&top, None).await.status(),
        404,
        "not on the top page"
    );
    let elsewhere = format!("{url}/pages/2001/attachments/{GUIDE_IMAGE_ID}");
    assert_eq!(
        app.read_share(&elsewhere, None).await.status(),
        404,
        "not on page 2001"
    );
}

#[tokio::test]
async fn one_unlock_on_a_child_page_opens_the_whole_tree() {
    let app = spawn_app().await;
    let site = guide_site(&app, "acme").await;
    let share = tree_share(&app, &site, json!({"password": "correct horse battery"})).await;
    let url = share["url"].as_str().unwrap().to_owned();
    let id = ShareId::parse(share["uuid"].as_str().unwrap()).unwrap();
    let secret = UnlockSecret::from_hex(share["unlockSecret"].as_str().unwrap()).unwrap();
    let child = format!("{url}/pages/2003");
    // Without access every page of the tree, and every page outside it, is the password form:
    // the tree is not shown to those who may not read it.
    for page in [
        url.clone(),
        child.clone(),
        format!("{url}/pages/{OUTSIDE_PAGE_ID}"),
    ] {
        let (status, html) = body_of(&app, &page, None).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            html.contains("name=\"password\"") && !html.contains("class=\"tree\""),
            "{page}"
        );
    }
    let now = chrono::Utc::now().timestamp();
    let unlock = format!("{child}?unlock={}", mint_unlock_token(id, &secret, now, 60));
    let unlocked = app.read_share(&unlock, None).await;
    assert_eq!(unlocked.status(), 200);
    let cookie = session_cookie(&unlocked).expect("the share cookie");
    let html = unlocked.text().await.unwrap();
    assert!(
        html.contains("<h1 class=\"page-title\">Install the tools</h1>"),
        "{html}"
    );
    // The cookie's path is the share's: it opens every page of the tree.
    for page in [
        url.clone(),
        format!("{url}/pages/2001"),
        format!("{url}/pages/2002"),
    ] {
        let (status, html) = body_of(&app, &page, Some(&cookie)).await;
        assert_eq!(status, 200, "{page}");
        assert!(html.contains("class=\"tree\""), "{page}");
    }
    let (status, _) = body_of(
        &app,
        &format!("{url}/pages/{OUTSIDE_PAGE_ID}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, 404, "outside the tree, once in");
    // The child's image: through its signed URL without any cookie, refused without either.
    let signed = first_image(&url, &html);
    assert_eq!(app.read_share(&signed, None).await.status(), 200);
    let bare = signed.split('?').next().unwrap();
    assert_eq!(app.read_share(bare, None).await.status(), 403);
    // A token for another share does not open this one's pages.
    let other = tree_share(&app, &site, json!({"password": "correct horse battery"})).await;
    let other_id = ShareId::parse(other["uuid"].as_str().unwrap()).unwrap();
    let wrong = format!(
        "{child}?unlock={}",
        mint_unlock_token(other_id, &secret, now, 60)
    );
    assert_eq!(app.read_share(&wrong, None).await.status(), 401);
}

#[tokio::test]
async fn the_tree_is_cached_and_a_page_moved_out_stops_being_served_when_the_cache_expires() {
    let ttl = Duration::from_millis(800);
    let app = spawn_app_with(|s| s.content_ttl = ttl).await;
    let site = guide_site(&app, "acme").await;
    let share = tree_share(&app, &site, json!({})).await;
    let url = share["url"].as_str().unwrap().to_owned();
    let moved = format!("{url}/pages/2003");
    assert_eq!(app.read_share(&moved, None).await.status(), 200);
    for page in ["2001", "2002"] {
        let page = format!("{url}/pages/{page}");
        assert_eq!(app.read_share(&page, None).await.status(), 200);
    }
    assert_eq!(
        listings(&app),
        1,
        "every page of the tree read one cached listing"
    );
    // Moved under a page outside the tree: still served from the cached tree, then not.
    app.sandbox.update_site("acme", |s| {
        s.pages.get_mut("2003").unwrap().parent = Some(OUTSIDE_PAGE_ID.into());
    });
    assert_eq!(app.read_share(&moved, None).await.status(), 200, "cached");
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    assert_eq!(app.read_share(&moved, None).await.status(), 404);
    let (_, html) = body_of(&app, &url, None).await;
    assert!(
        !html.contains("Install the tools"),
        "gone from the navigation: {html}"
    );
    assert_eq!(listings(&app), 2);
}

#[tokio::test]
async fn a_tree_of_1001_pages_is_cut_to_1000_with_a_note() {
    let app = spawn_app().await;
    let site = app.site_with_page("acme").await;
    // 1,000 pages below the top page: 1,001 with it. Listed 50 at a time by the sandbox.
    app.sandbox.update_site("acme", |s| {
        for n in 0..1000 {
            let mut page = Page::sample(&site.base_url, "x");
            page.title = format!("Chapter {n}");
            page.parent = Some(PAGE_ID.into());
            s.pages.insert((10_000 + n).to_string(), page);
        }
    });
    let share = tree_share(&app, &site, json!({})).await;
    let url = share["url"].as_str().unwrap().to_owned();
    let (status, html) = body_of(&app, &url, None).await;
    assert_eq!(status, 200);
    let nav = html
        .split("<nav")
        .nth(1)
        .unwrap()
        .split("</nav>")
        .next()
        .unwrap();
    assert_eq!(
        nav.matches("<li>").count(),
        1000,
        "the top page and 999 below it"
    );
    assert!(
        nav.contains("<p class=\"tree-note\" role=\"note\">"),
        "{nav}"
    );
    assert!(nav.contains("Chapter 998<") && !nav.contains("Chapter 999<"));
    assert_eq!(
        app.read_share(&format!("{url}/pages/10998"), None)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.read_share(&format!("{url}/pages/10999"), None)
            .await
            .status(),
        404,
        "cut, never an error"
    );
    assert!(listings(&app) >= 20, "followed Confluence's pages of 50");
    // A small tree has no note.
    let small = guide_site(&app, "small").await;
    let share = tree_share(&app, &small, json!({})).await;
    let (_, html) = body_of(&app, share["url"].as_str().unwrap(), None).await;
    assert!(!html.contains("class=\"tree-note\""));
}

#[tokio::test]
async fn include_children_must_be_a_boolean_and_is_fixed_at_creation() {
    let app = spawn_app().await;
    let site = guide_site(&app, "acme").await;
    for bad in [json!("yes"), json!(1), json!(null)] {
        let response = app
            .post_share(
                &site,
                crate::helpers::EDITOR,
                json!({"contentId": PAGE_ID, "includeChildren": bad}),
            )
            .await;
        assert_eq!(response.status(), 422, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], "includeChildren", "{bad}");
    }
    assert_eq!(app.share_count().await, 0);
    let share = tree_share(&app, &site, json!({})).await;
    let patched = app
        .patch_share(
            &site,
            crate::helpers::EDITOR,
            share["uuid"].as_str().unwrap(),
            json!({"includeChildren": false}),
        )
        .await;
    assert_eq!(patched.status(), 422);
    let read = app
        .get_share(
            &site,
            crate::helpers::EDITOR,
            share["uuid"].as_str().unwrap(),
        )
        .await;
    assert_eq!(read.json::<Value>().await.unwrap()["includeChildren"], true);
}

#[tokio::test]
async fn the_password_typed_on_a_child_page_leads_back_to_it() {
    let app = spawn_app().await;
    let site = guide_site(&app, "acme").await;
    let password = "correct horse battery";
    let tree = tree_share(&app, &site, json!({"password": password})).await;
    let single = app
        .create_share(&site, json!({"contentId": PAGE_ID, "password": password}))
        .await;
    // (share, page asked for, where the right password leads)
    for (share, page, wrong_first) in [(&tree, "2003", true), (&single, "2003", false)] {
        let url = share["url"].as_str().unwrap();
        let path = path_of(url);
        let asked = if share["includeChildren"] == true {
            format!("{url}/pages/{page}")
        } else {
            url.to_owned()
        };
        let (_, html) = body_of(&app, &asked, None).await;
        let back = if share["includeChildren"] == true {
            assert!(
                html.contains(&format!("action=\"{path}/password?page={page}\"")),
                "{html}"
            );
            format!("{path}/pages/{page}")
        } else {
            path.clone()
        };
        let post = |password: &'static str, token: String| {
            app.http
                .post(format!("{url}/password?page={page}"))
                .header("Sec-Fetch-Site", "same-origin")
                .form(&[("password", password), ("form_token", &token)])
                .send()
        };
        let mut token = crate::helpers::form_token_in(&html);
        if wrong_first {
            let wrong = post("not the password", token).await.unwrap();
            assert_eq!(wrong.status(), 401);
            let html = wrong.text().await.unwrap();
            assert!(
                html.contains(&format!("password?page={page}\"")),
                "kept: {html}"
            );
            token = crate::helpers::form_token_in(&html);
        }
        let right = post(password, token).await.unwrap();
        assert_eq!(right.status(), 303);
        assert_eq!(right.headers()["location"], back.as_str());
        assert!(session_cookie(&right).is_some());
    }
}

#[tokio::test]
async fn a_warm_page_of_a_tree_asks_the_database_nothing() {
    let app = spawn_app().await;
    let site = guide_site(&app, "acme").await;
    let share = tree_share(&app, &site, json!({})).await;
    let child = format!("{}/pages/2003", share["url"].as_str().unwrap());
    app.let_announcements_arrive().await;
    assert_eq!(app.read_share_until(&child, None, 200).await.status(), 200);
    // Startup's own work settles first.
    app.committed_transactions().await;
    let single = app.create_share(&site, json!({"contentId": PAGE_ID})).await;
    let single = single["url"].as_str().unwrap().to_owned();
    assert_eq!(app.read_share_until(&single, None, 200).await.status(), 200);
    let one_page = app.transactions_while_reading(&single, 200).await;
    let tree_page = app.transactions_while_reading(&child, 200).await;
    // The counts' own queries and the change listener's heartbeat are all that may be seen:
    // far fewer than one per read, and no more than for a one-page share.
    assert!(
        tree_page <= 20 && tree_page <= one_page + 5,
        "200 reads: {tree_page} transactions for a tree page, {one_page} for a one-page share"
    );
}

#[tokio::test]
async fn tree_listings_and_their_cache_are_counted_by_route_template_without_ids() {
    use crate::metrics::{scrape, value};
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    let site = guide_site(&app, "acme").await;
    let share = tree_share(&app, &site, json!({})).await;
    let url = share["url"].as_str().unwrap();
    for page in ["2001", "2003"] {
        let page = format!("{url}/pages/{page}");
        assert_eq!(app.read_share(&page, None).await.status(), 200);
    }
    let text = scrape(&app).await;
    for (series, expected) in [
        (
            r#"pageshare_cache_lookups_total{cache="trees",outcome="miss"}"#,
            1.0,
        ),
        (
            r#"pageshare_cache_lookups_total{cache="trees",outcome="hit"}"#,
            1.0,
        ),
        (
            r#"pageshare_confluence_calls_total{kind="descendants",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"pageshare_http_requests_total{route="/content/{uuid}/pages/{page}",method="GET",status="200"}"#,
            2.0,
        ),
    ] {
        assert_eq!(value(&text, series), expected, "{series} in {text}");
    }
    assert!(
        !text.contains(share["uuid"].as_str().unwrap()),
        "no id in a label"
    );
}
