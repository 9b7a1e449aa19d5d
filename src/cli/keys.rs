//! `pageshare keys reencrypt`: seal every stored Forge app token and generated site unlock secret
//! under the first key of `PAGESHARE_DATA_KEY`, so an older key can be removed from the list (`docs/OPERATIONS.md`,
//! "Rotating keys").

use std::fmt::Write;

use serde::Serialize;
use sqlx::PgPool;

use crate::config::{self, ConfigError, DataKeys, env_var};
use crate::data_key::DataKey;
use crate::db;
use crate::share::site_key::{open_secret, seal_secret};
use crate::storage::{app_keys, forge_tenants, site_unlock_keys};

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReencryptReport {
    /// Tokens sealed with an older key, now sealed with the first.
    pub reencrypted: usize,
    pub already_current: usize,
    /// Tokens that no key opens: useless already; the tenant's next invocation replaces them.
    pub unreadable: usize,
    /// Tokens an invocation replaced while this ran (sealed by that instance's first key).
    pub replaced_meanwhile: usize,
    /// The generated secrets of site unlock keys.
    pub site_unlock_secrets: SecretsReport,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretsReport {
    /// Sealed with an older key, now sealed with the first (a key removed meanwhile not counted).
    pub reencrypted: usize,
    pub already_current: usize,
    /// Open with none of the keys: such a key unlocks nothing until it is replaced.
    pub unreadable: usize,
}

impl ReencryptReport {
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "re-encrypted {} Forge app token(s) under the first PAGESHARE_DATA_KEY; {} already were",
            self.reencrypted, self.already_current
        );
        if self.replaced_meanwhile > 0 {
            let _ = writeln!(
                out,
                "{} token(s) were replaced by an invocation meanwhile: run this again once every \
                 instance runs with the new key first",
                self.replaced_meanwhile
            );
        }
        if self.unreadable > 0 {
            let _ = writeln!(
                out,
                "{} token(s) open with none of the keys (nor the database's own): they are \
                 replaced at their tenant's next Forge invocation",
                self.unreadable
            );
        }
        let secrets = &self.site_unlock_secrets;
        let _ = writeln!(
            out,
            "re-encrypted {} site unlock secret(s) under the first PAGESHARE_DATA_KEY; {} already were",
            secrets.reencrypted, secrets.already_current
        );
        if secrets.unreadable > 0 {
            let _ = writeln!(
                out,
                "{} site unlock secret(s) open with none of the keys: those keys unlock nothing; \
                 a site admin removes them and generates new ones",
                secrets.unreadable
            );
        }
        out
    }
}

/// Every key that may have sealed a stored token: the configured ones, then the key kept in the
/// database (what instances used while `PAGESHARE_DATA_KEY` was unset).
async fn with_stored_key(pool: &PgPool, configured: DataKeys) -> Result<DataKey, sqlx::Error> {
    let mut older = configured.0[1..].to_vec();
    if let Some(stored) = app_keys::stored_key(pool, "data").await?
        && let Ok(stored) = <[u8; DataKey::LEN]>::try_from(stored.as_slice())
    {
        older.push(stored);
    }
    Ok(DataKey::with_older(&configured.0[0], &older))
}

pub async fn reencrypt(pool: &PgPool, key: &DataKey) -> Result<ReencryptReport, sqlx::Error> {
    let mut report = ReencryptReport::default();
    for token in forge_tenants::sealed_app_tokens(pool).await? {
        let owner = token.client_key.as_bytes();
        match key.open_telling(&token.sealed, owner) {
            None => report.unreadable += 1,
            Some((_, true)) => report.already_current += 1,
            Some((plain, false)) => {
                let resealed = key.seal(&plain, owner);
                if forge_tenants::reseal_app_token(pool, &token, &resealed).await? {
                    report.reencrypted += 1;
                } else {
                    report.replaced_meanwhile += 1;
                }
            }
        }
    }
    report.site_unlock_secrets = reencrypt_site_secrets(pool, key).await?;
    Ok(report)
}

async fn reencrypt_site_secrets(
    pool: &PgPool,
    key: &DataKey,
) -> Result<SecretsReport, sqlx::Error> {
    let mut report = SecretsReport::default();
    for row in site_unlock_keys::sealed_secrets(pool).await? {
        match open_secret(key, &row.client_key, &row.kid, &row.sealed) {
            None => report.unreadable += 1,
            Some((_, true)) => report.already_current += 1,
            Some((secret, false)) => {
                let resealed = seal_secret(key, &row.client_key, &row.kid, &secret);
                if site_unlock_keys::reseal_secret(pool, &row, &resealed).await? {
                    report.reencrypted += 1;
                }
            }
        }
    }
    Ok(report)
}

/// `pageshare keys reencrypt [--json]`: reads `DATABASE_URL` and `PAGESHARE_DATA_KEY` only.
pub async fn run(json: bool) -> anyhow::Result<()> {
    let database_url = config::database_url(&env_var)?;
    let configured = config::data_keys(&env_var)?.ok_or_else(|| ConfigError {
        name: "PAGESHARE_DATA_KEY",
        problem: "must be set: `keys reencrypt` seals every stored token under its first key"
            .into(),
    })?;
    let pool = db::open_existing(&database_url).await?;
    let key = with_stored_key(&pool, configured).await?;
    super::print_report(&reencrypt(&pool, &key).await?, json, ReencryptReport::table)
}
