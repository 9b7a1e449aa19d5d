//! The admin list on a large site (`scripts/bench-admin-list` runs it; not part of the app).
//!
//! `bench_admin_list DATABASE_URL`: migrates the (throwaway) database, seeds one site with
//! 100,000 shares and 1,000 other sites with 100 each, then times `GET /api/admin/shares`'s query
//! (`share_overview::page_for_tenant`, the server's whole database work for the route) for pages
//! of 50 under several filters and prints a markdown table of the median and 95th percentile.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use pageshare::share::ShareStatus;
use pageshare::storage::share_overview::{Filter, page_for_tenant};
use pageshare::tenant::ClientKey;

const RUNS: usize = 200;
const BIG_SITE_SHARES: i64 = 100_000;

const SEED: &str = "
INSERT INTO installation (client_key, app_key, base_url)
SELECT 'site-' || s, 'bench', 'https://site-' || s || '.example/wiki' FROM generate_series(0, 1000) s;
INSERT INTO shared_page (uuid, client_key, content_id, space_key, title, created_by, created_at,
                         unlock_secret, expires_at, revoked_at)
SELECT gen_random_uuid(),
       CASE WHEN i <= $1 THEN 'site-0' ELSE 'site-' || (1 + i % 1000) END,
       (100000 + i)::text,
       (ARRAY['DOC', 'ENG', 'HR', 'SALES', 'OPS', 'SUPPORT'])[1 + i % 6],
       (ARRAY['Onboarding', 'Release notes', 'Handbook', 'API guide', 'FAQ', 'Runbook',
              'Pricing', 'Roadmap'])[1 + i % 8] || ' ' || (ARRAY['for partners', 'v2', 'draft',
              'customers', 'internal', 'archive'])[1 + (i / 8) % 6] || ' ' || i,
       '557058:' || md5((i % 400)::text),
       now() - make_interval(secs => i),
       gen_random_bytes(32),
       CASE WHEN i % 10 = 0 THEN now() - interval '1 day' END,
       CASE WHEN i % 17 = 0 THEN now() END
FROM generate_series(1, $1 * 2) i;
ANALYZE installation;
ANALYZE shared_page;
";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .context("usage: bench_admin_list DATABASE_URL")?;
    let pool = pageshare::db::connect_and_migrate(&url).await?;
    let started = Instant::now();
    let seed = SEED.replace("$1", &BIG_SITE_SHARES.to_string());
    for statement in seed.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&pool)
            .await?;
    }
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());

    let site = ClientKey::parse("site-0").unwrap();
    let now = Utc::now();
    // A cursor in the middle of the site's shares (page 1,000 of 2,000).
    let middle = page_for_tenant(&pool, &site, &Filter::default(), 50_000, now).await?;
    let middle = middle.last().context("seeded shares")?.position();
    let scenarios: [(&str, Filter); 8] = [
        ("first page, no filter", Filter::default()),
        (
            "page 1,000 (cursor)",
            Filter {
                after: Some(middle),
                ..Filter::default()
            },
        ),
        (
            "text in many titles (`handbook`)",
            Filter {
                text: Some("handbook"),
                ..Filter::default()
            },
        ),
        (
            "text in one title (`runbook v2 99977`)",
            Filter {
                text: Some("v2 99977"),
                ..Filter::default()
            },
        ),
        (
            "text in no title (`zebra`)",
            Filter {
                text: Some("zebra"),
                ..Filter::default()
            },
        ),
        (
            "two letters in no title (`qz`)",
            Filter {
                text: Some("qz"),
                ..Filter::default()
            },
        ),
        (
            "status revoked",
            Filter {
                status: Some(ShareStatus::Revoked),
                ..Filter::default()
            },
        ),
        (
            "text and status (`partners`, expired)",
            Filter {
                text: Some("partners"),
                status: Some(ShareStatus::Expired),
                ..Filter::default()
            },
        ),
    ];
    println!(
        "| query (page of 50, site of {BIG_SITE_SHARES} shares) | rows | median ms | p95 ms |"
    );
    println!("|---|---|---|---|");
    for (name, filter) in scenarios {
        let mut times = Vec::with_capacity(RUNS);
        let mut rows = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            rows = page_for_tenant(&pool, &site, &filter, 51, now)
                .await?
                .len()
                .min(50);
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "| {name} | {rows} | {:.2} | {:.2} |",
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    Ok(())
}
