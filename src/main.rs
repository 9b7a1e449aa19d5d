use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use pageshare::cli::{
    Cli, Command, KeysCommand, TenantsCommand, dev, error_message, keys, secrets, tenants,
    unlock_url,
};
use pageshare::config::{self, Settings};
use pageshare::startup::Application;
use pageshare::telemetry::LogFormat;

#[tokio::main]
async fn main() -> ExitCode {
    match LogFormat::from_lookup(config::env_var) {
        Ok(format) => pageshare::telemetry::init(format),
        Err(error) => {
            eprintln!("pageshare: {error}");
            return ExitCode::FAILURE;
        }
    }
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pageshare: {}", error_message(&error));
            ExitCode::FAILURE
        }
    }
}

/// Each command reads only the settings it uses, all checked before the database is touched.
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(Settings::from_env()?).await?;
            tracing::info!(port = app.port(), "serving");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            pageshare::db::connect_and_migrate(&config::database_url(&config::env_var)?).await?;
            println!("database migrated");
        }
        Command::Secrets(command) => return secrets::run(command).await,
        Command::Tenants(TenantsCommand::Status { json }) => tenants::run(json).await?,
        Command::Keys(KeysCommand::Reencrypt { json }) => keys::run(json).await?,
        Command::UnlockUrl(args) => unlock_url::run(args)?,
        Command::Dev { keep } => dev::run(keep).await?,
        Command::ForgeUi { dir } => write_forge_ui(&dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `pageshare forge-ui DIR`: needs no setting.
fn write_forge_ui(dir: &Path) -> anyhow::Result<()> {
    for (name, contents) in pageshare::web::ui::forge_resources()? {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
        println!("{}", path.display());
    }
    Ok(())
}
