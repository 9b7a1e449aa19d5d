//! The `pageshare` command line (`docs/CONFIGURATION.md`).

pub mod dev;
pub mod keys;
pub mod private_key;
pub mod secrets;
pub mod tenants;
pub mod unlock_url;

use clap::{Args, Parser, Subcommand};

use crate::share::unlock::MAX_LIFETIME_SECS;

#[derive(Debug, Parser)]
#[command(
    name = "pageshare",
    version,
    about = "Share Confluence Cloud pages with people outside Confluence"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the app (the default).
    Serve,
    /// Create the database if missing and run the migrations.
    Migrate,
    /// Shared secrets: how far the move to the app-wide secret has come.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Print a ready `?unlock=` URL for a password-protected share.
    UnlockUrl(UnlockUrlArgs),
    /// The local sandbox: the app plus a simulated Confluence host, installed, with a sample
    /// password-protected share. Uses its own database: DATABASE_URL's name plus `_dev`.
    Dev {
        /// Keep the dev database of earlier runs (by default it starts empty every run).
        #[arg(long)]
        keep: bool,
    },
    /// Keys of the app itself (`PAGESHARE_DATA_KEY`, `PAGESHARE_COOKIE_KEY`) during a rotation.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Tenants: which platform (Connect, Forge) each has been seen on, and when.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Write the Forge app's Custom UI resources (all but the @forge/bridge bundle) into DIR
    /// (`forge/static`; see forge/README.md).
    ForgeUi {
        /// Where to write `panel/` and `admin/`.
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Seal every stored Forge app token under the first key of PAGESHARE_DATA_KEY (opening each
    /// with any key of the list, or the database's own), so the others can be removed.
    Reencrypt {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Each tenant with the platforms it has been seen on and when, its app token's expiry and
    /// its number of shares.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Which installations verify with which kind of secret, and which have not moved yet.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Forget every stored per-install secret; refused until every installed tenant verifies
    /// with the app-wide secret.
    ForgetPerInstall,
}

#[derive(Debug, Args)]
pub struct UnlockUrlArgs {
    /// The share's uuid.
    #[arg(long)]
    pub share: String,
    /// `-` reads the share's unlock secret (64 hex digits) from stdin. Unset: from
    /// PAGESHARE_UNLOCK_SECRET. The secret itself here shows in `ps` and shell history.
    #[arg(long, conflicts_with = "key")]
    pub secret: Option<String>,
    /// Sign with this private key instead of the unlock secret (its public key registered with
    /// the share): PKCS#8 PEM (Ed25519, P-256, RSA), PKCS#1 or SEC1 PEM, or a private JWK.
    #[arg(long, value_name = "FILE")]
    pub key: Option<std::path::PathBuf>,
    /// The `kid` of the key as registered (default: the RFC 7638 thumbprint of its public key,
    /// the `kid` Pageshare gives a key registered without one).
    #[arg(long, requires = "key")]
    pub kid: Option<String>,
    /// Seconds the token is valid (1 to 60).
    #[arg(
        long,
        default_value_t = 60,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i64).range(1..=MAX_LIFETIME_SECS as i64)
    )]
    pub ttl: i64,
    /// The app's public base URL (default: PAGESHARE_BASE_URL).
    #[arg(long)]
    pub base_url: Option<String>,
}

/// A command's report: JSON with `--json`, else its table.
fn print_report<R: serde::Serialize>(
    report: &R,
    json: bool,
    table: impl Fn(&R) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", table(report));
    }
    Ok(())
}

/// An error with its causes, each said once: sqlx repeats a cause in the message of the error
/// that wraps it.
pub fn error_message(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_message_says_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = anyhow::Error::new(io)
            .context("error communicating with database: refused")
            .context("cannot reach Postgres at DATABASE_URL");
        assert_eq!(
            error_message(&error),
            "cannot reach Postgres at DATABASE_URL: error communicating with database: refused"
        );
    }
}
