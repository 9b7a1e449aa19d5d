//! Building and running the HTTP server.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use sqlx::PgPool;

use crate::config::Settings;
use crate::connect::descriptor;
use crate::connect::host_client::HostClient;
use crate::connect::signed_install::InstallKeys;
use crate::web::state::AppState;
use crate::web::{configure, logging};

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connect to the database (creating and migrating it) and bind `PAGESHARE_BIND`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = crate::db::connect_and_migrate(&settings.database_url).await?;
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on PAGESHARE_BIND={}", settings.bind))?;
        Self::with_listener(settings, pool, listener, None)
    }

    /// Serve on an already bound listener (tests bind port 0 first to learn the base URL).
    pub fn with_listener(
        settings: Settings,
        pool: PgPool,
        listener: TcpListener,
        workers: Option<usize>,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            descriptor: descriptor::render(&settings.base_url, &settings.app_key)?,
            install_keys: InstallKeys::new(&settings.install_keys_url),
            host: HostClient::new(&settings.app_key),
            pool,
            settings,
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(logging::log_request))
                .app_data(state.clone())
                .configure(configure)
        })
        .listen(listener)?;
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
