use std::process::ExitCode;

use clap::Parser;
use pageshare::cli::{
    Cli, Command, SecretsCommand, TenantsCommand, error_message, secrets, tenants, unlock_url,
};
use pageshare::config::Settings;
use pageshare::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    pageshare::telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pageshare: {}", error_message(&error));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "serving");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            pageshare::db::connect_and_migrate(&settings.database_url).await?;
            println!("database migrated");
        }
        Command::Secrets(SecretsCommand::Status { json }) => {
            let pool = pageshare::db::connect_and_migrate(&settings.database_url).await?;
            let report = secrets::status(&pool, settings.secret_mode).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.table());
            }
        }
        Command::UnlockUrl {
            share,
            secret,
            ttl,
            base_url,
        } => {
            let base_url = base_url.unwrap_or_else(|| settings.base_url.clone());
            let now = chrono::Utc::now().timestamp();
            println!(
                "{}",
                unlock_url::unlock_url(&base_url, &share, &secret, ttl, now)?
            );
        }
        Command::Dev => pageshare::cli::dev::run(settings).await?,
        Command::Tenants(TenantsCommand::Status { json }) => {
            let pool = pageshare::db::connect_and_migrate(&settings.database_url).await?;
            let report = tenants::status(&pool).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.table());
            }
        }
        Command::ForgeUi { dir } => {
            for (name, contents) in pageshare::web::ui::forge_resources()? {
                let path = dir.join(&name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, contents)?;
                println!("{}", path.display());
            }
        }
        Command::Secrets(SecretsCommand::ForgetPerInstall) => {
            let pool = pageshare::db::connect_and_migrate(&settings.database_url).await?;
            return secrets::forget_per_install(&pool, settings.secret_mode).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
