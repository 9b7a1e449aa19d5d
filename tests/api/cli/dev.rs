//! `pageshare dev`: its own database (DATABASE_URL's name plus `_dev`), emptied every run unless
//! `--keep`, said in the banner; the banner's unlock-url hint keeps the secret off the command
//! line; app-wide mode is refused with what to set.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::{Database, Running, command, database_exists, free_port, pageshare};

/// Run `pageshare dev` until its banner is out; the banner, and the process (killed on drop).
fn start_dev(db: &Database, extra_args: &[&str]) -> (String, Running) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let base_url = format!("http://127.0.0.1:{port}");
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("PAGESHARE_BIND", &bind),
        ("PAGESHARE_BASE_URL", &base_url),
        // Ignored by dev, which points it at the sandbox.
        ("PAGESHARE_HOST_ALLOWLIST", "https://not-a-pattern/"),
        ("RUST_LOG", "warn"),
    ];
    let args: Vec<&str> = ["dev"].iter().chain(extra_args).copied().collect();
    let mut child = command(&args, &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (lines, banner) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            text.push_str(&line);
            text.push('\n');
            if line.starts_with("Press Ctrl-C") {
                let _ = lines.send(text.clone());
            }
        }
    });
    let banner = banner
        .recv_timeout(Duration::from_secs(90))
        .expect("pageshare dev printed its banner");
    (banner, running)
}

async fn tenants_in(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let count = sqlx::query_scalar("SELECT count(*) FROM installation")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}

#[tokio::test]
async fn dev_uses_its_own_database_emptied_each_run_unless_kept() {
    let db = Database::unused();
    let dev_database = format!("{}_dev", db.name());
    // (arguments, what the banner says of the database, tenants after the run)
    let runs: [(&[&str], &str, i64); 3] = [
        (&[], "(emptied at start; pageshare dev --keep keeps it)", 2),
        (&[], "(emptied at start; pageshare dev --keep keeps it)", 2),
        (&["--keep"], "(kept from earlier runs)", 4),
    ];
    for (args, said, tenants) in runs {
        let (banner, running) = start_dev(&db, args);
        assert!(
            banner.contains(&format!("  database:       {dev_database} {said}")),
            "{banner}"
        );
        assert!(
            !db.exists().await,
            "dev left DATABASE_URL's own database alone"
        );
        assert_eq!(tenants_in(&db.dev_url()).await, tenants, "{args:?}");
        // The hint to mint another unlock URL never puts the secret on a command line.
        let secret = banner
            .lines()
            .find_map(|line| line.trim().strip_prefix("unlock secret:"))
            .unwrap()
            .trim();
        assert_eq!(secret.len(), 64, "{banner}");
        assert_eq!(banner.matches(secret).count(), 1, "{banner}");
        assert!(banner.contains("--secret -)"), "{banner}");
        assert!(banner.contains("in PAGESHARE_UNLOCK_SECRET: pageshare unlock-url --share "));
        // The sample share is a tree: its unlock URL's token opens a page of the guide below it.
        let unlock = banner
            .lines()
            .find_map(|line| line.trim().strip_prefix("unlock URL:"))
            .unwrap()
            .trim();
        let (url, token) = unlock.split_once('?').unwrap();
        let child = reqwest::get(format!("{url}/pages/2003?{token}"))
            .await
            .unwrap();
        assert_eq!(child.status(), 200, "{banner}");
        let html = child.text().await.unwrap();
        assert!(
            html.contains("<h1 class=\"page-title\">Install the tools</h1>"),
            "{html}"
        );
        assert!(
            html.contains("aria-current=\"page\">Install the tools</a>"),
            "{html}"
        );
        drop(running);
    }
}

#[tokio::test]
async fn dev_refuses_app_wide_mode_and_says_what_to_set() {
    let db = Database::unused();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("PAGESHARE_SECRET_MODE", "app-wide"),
        (
            "PAGESHARE_APP_SECRET",
            "an-app-wide-secret-of-32-bytes-at-least",
        ),
    ];
    let run = pageshare(&["dev"], &env, None);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with(
            "pageshare: pageshare dev needs PAGESHARE_SECRET_MODE per-install (the default) or migrating"
        ) && run.stderr.contains("unset PAGESHARE_SECRET_MODE or set it to migrating"),
        "{run:?}"
    );
    assert!(!db.exists().await);
    assert!(!database_exists(&db.dev_url()).await);
}
