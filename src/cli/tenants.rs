//! `pageshare tenants status`: which tenants have been seen through which platform, and when,
//! so an operator can tell who has moved from Connect to Forge.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::config::{self, env_var};
use crate::db;
use crate::storage::forge_tenants::{self, TenantStatusRow};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantsReport {
    pub tenants: usize,
    pub connect_only: usize,
    pub forge_only: usize,
    pub both: usize,
    pub rows: Vec<TenantStatusRow>,
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

impl TenantsReport {
    pub fn new(rows: Vec<TenantStatusRow>) -> Self {
        let forge = |row: &TenantStatusRow| row.forge_installation_id.is_some();
        Self {
            tenants: rows.len(),
            connect_only: rows.iter().filter(|r| r.connect && !forge(r)).count(),
            forge_only: rows.iter().filter(|r| !r.connect && forge(r)).count(),
            both: rows.iter().filter(|r| r.connect && forge(r)).count(),
            rows,
        }
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tenants: {} (Connect only {}, Forge only {}, both {})",
            self.tenants, self.connect_only, self.forge_only, self.both
        );
        let _ = writeln!(
            out,
            "  {:<40} {:<9} {:<20} {:<20} {:<20} {:>6}  site",
            "client key", "state", "Connect seen", "Forge seen", "app token until", "shares"
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "  {:<40} {:<9} {:<20} {:<20} {:<20} {:>6}  {}",
                row.client_key,
                if row.installed {
                    "installed"
                } else {
                    "removed"
                },
                if row.connect {
                    when(row.connect_seen_at)
                } else {
                    "never".into()
                },
                if row.forge_installation_id.is_some() {
                    when(row.forge_seen_at)
                } else {
                    "never".into()
                },
                when(row.forge_token_expires_at),
                row.shares,
                row.base_url
            );
        }
        out
    }
}

pub async fn status(pool: &PgPool) -> anyhow::Result<TenantsReport> {
    Ok(TenantsReport::new(forge_tenants::status(pool).await?))
}

/// `pageshare tenants status [--json]`: reads `DATABASE_URL` only.
pub async fn run(json: bool) -> anyhow::Result<()> {
    let pool = db::open_existing(&config::database_url(&env_var)?).await?;
    super::print_report(&status(&pool).await?, json, TenantsReport::table)
}
