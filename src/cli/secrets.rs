//! `pageshare secrets status` and `pageshare secrets forget-per-install`.

use std::fmt::Write;
use std::process::ExitCode;

use serde::Serialize;
use sqlx::PgPool;

use super::SecretsCommand;
use crate::config::{self, env_var};
use crate::connect::secrets::{SecretKind, SecretMode};
use crate::db;
use crate::storage::installations::{self, SecretStatusRow};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub mode: &'static str,
    /// The kind of secret every tenant should verify with in this mode.
    pub target: &'static str,
    pub installations: usize,
    pub last_verified_per_install: usize,
    pub last_verified_app_wide: usize,
    pub never_verified: usize,
    /// Installed tenants whose last verification was not with the target kind.
    pub not_moved: Vec<SecretStatusRow>,
}

pub fn report(mode: SecretMode, rows: Vec<SecretStatusRow>) -> StatusReport {
    let target = match mode {
        SecretMode::PerInstall => SecretKind::PerInstall,
        SecretMode::AppWide | SecretMode::Migrating => SecretKind::AppWide,
    };
    let count = |kind: Option<&str>| {
        rows.iter()
            .filter(|r| r.last_secret_kind.as_deref() == kind)
            .count()
    };
    StatusReport {
        mode: mode.as_str(),
        target: target.as_str(),
        installations: rows.len(),
        last_verified_per_install: count(Some(SecretKind::PerInstall.as_str())),
        last_verified_app_wide: count(Some(SecretKind::AppWide.as_str())),
        never_verified: count(None),
        not_moved: rows
            .into_iter()
            .filter(|r| r.last_secret_kind.as_deref() != Some(target.as_str()))
            .collect(),
    }
}

impl StatusReport {
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "secret mode: {} (tenants should verify with the {} secret)",
            self.mode, self.target
        );
        let _ = writeln!(out, "installed tenants:            {}", self.installations);
        let _ = writeln!(
            out,
            "  last verified per-install:  {}",
            self.last_verified_per_install
        );
        let _ = writeln!(
            out,
            "  last verified app-wide:     {}",
            self.last_verified_app_wide
        );
        let _ = writeln!(out, "  never verified:             {}", self.never_verified);
        if self.not_moved.is_empty() {
            let _ = writeln!(
                out,
                "every installed tenant verifies with the {} secret",
                self.target
            );
            return out;
        }
        let _ = writeln!(out, "not moved yet ({}):", self.not_moved.len());
        let _ = writeln!(
            out,
            "  {:<40} {:<12} {:<25} {:<14} base URL",
            "client key", "last kind", "last verified", "stored secret"
        );
        for row in &self.not_moved {
            let last_at = row.per_install_verified_at.max(row.app_wide_verified_at);
            let _ = writeln!(
                out,
                "  {:<40} {:<12} {:<25} {:<14} {}",
                row.client_key,
                row.last_secret_kind.as_deref().unwrap_or("never"),
                last_at.map_or_else(
                    || "-".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                ),
                if row.has_stored_secret {
                    "kept"
                } else {
                    "none"
                },
                row.base_url
            );
        }
        let without_secret = self
            .not_moved
            .iter()
            .filter(|r| !r.has_stored_secret)
            .count();
        if without_secret > 0 {
            let consequence = if self.target == SecretKind::PerInstall.as_str() {
                "they cannot verify in per-install mode until they install the app again"
            } else {
                "they can verify only with the app-wide secret"
            };
            let _ = writeln!(
                out,
                "{without_secret} of them hold no stored per-install secret (`secrets forget-per-install` \
                 deleted it): {consequence}"
            );
        }
        out
    }
}

pub async fn status(pool: &PgPool, mode: SecretMode) -> anyhow::Result<StatusReport> {
    Ok(report(mode, installations::secret_status(pool).await?))
}

/// `pageshare secrets status|forget-per-install`: reads `DATABASE_URL` and
/// `PAGESHARE_SECRET_MODE` only.
pub async fn run(command: SecretsCommand) -> anyhow::Result<ExitCode> {
    let database_url = config::database_url(&env_var)?;
    let mode = config::secret_mode(&env_var)?;
    match command {
        SecretsCommand::Status { json } => {
            let pool = db::open_existing(&database_url).await?;
            super::print_report(&status(&pool, mode).await?, json, StatusReport::table)?;
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::ForgetPerInstall if mode == SecretMode::PerInstall => {
            eprintln!(
                "refused: PAGESHARE_SECRET_MODE is per-install, which verifies with the stored secrets; \
                 run this with PAGESHARE_SECRET_MODE=migrating (or app-wide) once `pageshare secrets status` \
                 shows every tenant on the app-wide secret"
            );
            Ok(ExitCode::from(2))
        }
        SecretsCommand::ForgetPerInstall => {
            forget_per_install(&db::open_existing(&database_url).await?, mode).await
        }
    }
}

/// Delete the stored per-install secrets, or refuse (exit code 2) while a tenant needs its own.
async fn forget_per_install(pool: &PgPool, mode: SecretMode) -> anyhow::Result<ExitCode> {
    match installations::forget_per_install_secrets(pool).await? {
        Some(forgotten) => {
            println!("forgot {forgotten} stored per-install secret(s)");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let report = status(pool, mode).await?;
            eprintln!(
                "refused: {} installed tenant(s) have not verified with the app-wide secret yet",
                report.not_moved.len()
            );
            eprint!("{}", report.table());
            Ok(ExitCode::from(2))
        }
    }
}
