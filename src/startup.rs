//! Building and running the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use std::time::Duration;
use tokio::sync::Semaphore;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use sqlx::PgPool;

use crate::config::Settings;
use crate::confluence::client::HostClient;
use crate::connect::descriptor;
use crate::connect::signed_install::InstallKeys;
use crate::data_key::DataKey;
use crate::forge::keys::ForgeKeys;
use crate::metrics::Metrics;
use crate::share::content_cache::ContentCache;
use crate::share::readership::Readership;
use crate::share::signing::SigningKey;
use crate::storage::app_keys::shared_key;
use crate::storage::reader_cache::{self, ReaderCache};
use crate::storage::readership::CountWriter;
use crate::web::state::{AppState, ForgeRuntime};
use crate::web::{app_routes, logging};

/// How long sanitised page content is reused before Confluence is asked again.
/// Shares kept in memory; change notifications keep them fresh, the TTL is a safety net.
const READER_TTL: Duration = Duration::from_secs(60);
const READER_CAPACITY: u64 = 100_000;
/// How long requests in flight may take to finish after SIGTERM or SIGINT before they are cut
/// (under the 30 seconds a container orchestrator usually waits before it kills the process).
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 25;

/// Headers on every response: no referrer (iframe URLs carry `jwt`, share URLs `unlock`), no
/// content sniffing, and HSTS when the app is served over https.
fn security_headers(https: &bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Content-Type-Options", "nosniff"));
    if *https {
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}

/// A listener on `bind` (`PAGESHARE_BIND`), bound before the database is touched.
pub fn listen(bind: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(bind).with_context(|| format!("cannot listen on PAGESHARE_BIND={bind}"))
}

pub struct Application {
    port: u16,
    server: Server,
    pool: PgPool,
    /// `GET /metrics` on `PAGESHARE_METRICS_BIND`: its port and its server, stopped last.
    metrics: Option<(u16, ServerHandle)>,
    /// Writes readership counts; once more after draining.
    counts: Arc<CountWriter>,
}

/// The metrics listener: `GET /metrics` only, one worker, no signal handling of its own (it stops
/// when the app has drained).
fn metrics_server(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    readers: Arc<ReaderCache>,
    pool: PgPool,
) -> std::io::Result<Server> {
    let scrape = move || {
        let text = metrics.render(readers.is_trusted(), pool.size(), pool.num_idle());
        async move {
            actix_web::HttpResponse::Ok()
                .content_type("text/plain; version=0.0.4; charset=utf-8")
                .body(text)
        }
    };
    Ok(
        HttpServer::new(move || App::new().route("/metrics", web::get().to(scrape.clone())))
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run(),
    )
}

impl Application {
    /// Bind `PAGESHARE_BIND`, then connect to the database (creating and migrating it).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = listen(&settings.bind)?;
        let pool = crate::db::connect_and_migrate(&settings.database_url).await?;
        Self::with_listener(settings, pool, listener, None).await
    }

    /// Serve on an already bound listener (tests bind port 0 first to learn the base URL).
    pub async fn with_listener(
        settings: Settings,
        pool: PgPool,
        listener: TcpListener,
        workers: Option<usize>,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let signing_key = match &settings.cookie_key {
            Some(keys) => SigningKey::with_older(&keys.0[0], &keys.0[1..]),
            None => SigningKey::new(
                &shared_key(&pool, "cookie")
                    .await
                    .context("cannot load the cookie key from the database")?,
            ),
        };
        let data_key = match &settings.data_key {
            Some(keys) => DataKey::with_older(&keys.0[0], &keys.0[1..]),
            None => {
                let stored = shared_key(&pool, "data")
                    .await
                    .context("cannot load the data key from the database")?;
                if settings.forge.is_some() {
                    tracing::warn!(
                        "PAGESHARE_DATA_KEY is unset: Forge app tokens are sealed with a key kept in the \
                         database, so anyone who can read the database can read them; set \
                         PAGESHARE_DATA_KEY (64 hex digits) in production"
                    );
                }
                let key: [u8; DataKey::LEN] = stored
                    .as_slice()
                    .try_into()
                    .context("the stored data key is not 32 bytes")?;
                DataKey::new(&key)
            }
        };
        let readers = Arc::new(ReaderCache::new(READER_TTL, READER_CAPACITY));
        let readership = Arc::new(Readership::new(signing_key.clone()));
        let counts = Arc::new(CountWriter::new(pool.clone(), readership.clone()));
        tokio::spawn(counts.clone().keep_flushing(settings.readership_flush));
        tokio::spawn(crate::storage::readership::keep_forgetting_readers(
            pool.clone(),
        ));
        let metrics_listener = match &settings.metrics_bind {
            Some(bind) => Some(
                TcpListener::bind(bind)
                    .with_context(|| format!("cannot listen on PAGESHARE_METRICS_BIND={bind}"))?,
            ),
            None => None,
        };
        let metrics = metrics_listener
            .as_ref()
            .map(|_| Arc::new(Metrics::default()));
        let listen_options = match &settings.listen_database_url {
            Some(url) => Some(
                url.parse::<sqlx::postgres::PgConnectOptions>()
                    .context("PAGESHARE_LISTEN_DATABASE_URL")?,
            ),
            None => None,
        };
        // The personal data job's session lock needs a direct connection, as the listener does.
        let lock_options = match &listen_options {
            Some(options) => options.clone(),
            None => settings
                .database_url
                .parse::<sqlx::postgres::PgConnectOptions>()
                .context("DATABASE_URL")?,
        };
        tokio::spawn(reader_cache::keep_listening(
            pool.clone(),
            listen_options,
            readers.clone(),
        ));
        tokio::spawn(crate::storage::password_failures::keep_pruned(pool.clone()));
        tokio::spawn(crate::storage::shares::keep_forgetting_previous_secrets(
            pool.clone(),
        ));
        tokio::spawn(crate::storage::retention::keep_retained(
            pool.clone(),
            settings.retention_days,
        ));
        let state = web::Data::new(AppState {
            signing_key,
            readers: readers.clone(),
            readership,
            password_checks: Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            content: ContentCache::new(settings.content_ttl, settings.content_cache_bytes),
            // Trees are small beside pages: an eighth of the budget holds thousands of them.
            trees: ContentCache::new(settings.content_ttl, settings.content_cache_bytes / 8),
            verifications: Default::default(),
            api_key_usage: Default::default(),
            data_key,
            forge: settings.forge.as_ref().map(|forge| ForgeRuntime {
                keys: ForgeKeys::new(&forge.jwks_url).with_metrics(metrics.clone()),
                seen: Default::default(),
            }),
            descriptor: descriptor::render(&settings.base_url, &settings.app_key)?,
            install_keys: InstallKeys::new(&settings.install_keys_url)
                .with_metrics(metrics.clone()),
            host: HostClient::new(
                &settings.app_key,
                settings.media_hosts.clone(),
                settings.max_attachment_bytes,
            )
            .with_metrics(metrics.clone()),
            metrics: metrics.clone(),
            pool: pool.clone(),
            settings,
        });
        tokio::spawn(crate::personal_data::keep_reporting(
            state.clone().into_inner(),
            lock_options,
        ));
        let https = state.settings.base_url.starts_with("https://");
        let routes = app_routes(state.settings.base_path(), state.settings.forge.is_some());
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(security_headers(&https))
                .wrap(from_fn(logging::log_request))
                .app_data(state.clone())
                .configure(routes.clone())
        })
        .shutdown_signal(stop_requested())
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener)?;
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        let metrics = match (metrics_listener, metrics) {
            (Some(listener), Some(metrics)) => {
                let port = listener.local_addr()?.port();
                let server = metrics_server(listener, metrics, readers, pool.clone())?;
                let handle = server.handle();
                tokio::spawn(server);
                Some((port, handle))
            }
            _ => None,
        };
        Ok(Self {
            port,
            server: server.run(),
            pool,
            metrics,
            counts,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `GET /metrics`, when `PAGESHARE_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serve until SIGTERM or SIGINT; then drain (`docs/OPERATIONS.md`): the listening socket
    /// is closed at once, requests in flight get [`SHUTDOWN_TIMEOUT_SECS`] to finish, the
    /// readership counted since the last write is written, and the pool is closed last (waiting
    /// for the connections still in use to come back).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some((_, metrics)) = self.metrics {
            metrics.stop(true).await;
        }
        match self.counts.flush().await {
            Ok(views) => tracing::info!(views, "requests drained; readership counts written"),
            Err(error) => tracing::error!(%error, "requests drained; readership counts lost"),
        }
        tracing::info!("closing the database pool");
        self.pool.close().await;
        tracing::info!("stopped");
        served
    }
}

/// Resolves at the first SIGTERM or SIGINT. Both drain gracefully (actix's own handling would
/// cut requests in flight on SIGINT).
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                tracing::info!(
                    signal = name,
                    timeout_secs = SHUTDOWN_TIMEOUT_SECS,
                    "shutting down: no new connections, draining requests in flight"
                );
            }
            _ => {
                tracing::warn!(
                    "cannot listen for SIGTERM and SIGINT: they stop the process without draining"
                );
                std::future::pending::<()>().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: draining requests in flight");
    }
}
