//! The `pageshare` command line (DESIGN §7).

pub mod secrets;

use clap::{Parser, Subcommand};

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
