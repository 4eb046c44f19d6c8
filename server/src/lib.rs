//! Apiary's server: configuration, database, the web router and the background services.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod registry;
pub mod runtime;
pub mod shutdown;
pub mod telemetry;
pub mod validation;
pub mod web;

use std::sync::Arc;

use crate::runtime::{LocalRuntime, LocalRuntimeConfig, Runtime};

pub use crate::config::Settings;

/// Errors that stop Apiary from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is missing or has a bad value.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr} (APIARY_LISTEN): {source}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The web server failed while running.
    #[error("the web server stopped: {0}")]
    Serve(std::io::Error),
}

/// Runs the command line: loads settings, then serves until SIGTERM or Ctrl-C.
pub async fn run(cli: cli::Cli) -> Result<(), StartError> {
    let settings = config::load(cli.config.as_deref())?;
    telemetry::init_tracing(&settings.log);
    match cli.command.unwrap_or_default() {
        cli::Command::Serve => serve(settings).await,
    }
}

/// Opens the database, builds the router and serves it until shutdown.
pub async fn serve(settings: Settings) -> Result<(), StartError> {
    let db = db::Db::connect(&settings.database_url).await?;
    db.migrate().await?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: settings.listen,
            source,
        })?;
    let shutdown = shutdown::on_signal();
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(StartError::Serve)?
    );
    // The local runtime is the embedded default; it is created unconditionally until the
    // settings choose between it and Kubernetes.
    let runtime: Arc<dyn Runtime> = Arc::new(LocalRuntime::new(LocalRuntimeConfig::default()));
    match runtime::desired::apply_all(&db, runtime.as_ref()).await {
        Ok(count) => tracing::info!(count, "applied the published servers to the local runtime"),
        Err(error) => tracing::error!(%error, "cannot read the servers to run"),
    }
    let refresh_interval = std::time::Duration::from_secs(settings.refresh_interval_secs);
    let state = web::AppState::with_runtime(settings, db, runtime.clone());
    let refreshing = state
        .refresher
        .clone()
        .spawn_periodic(refresh_interval, shutdown.clone());
    tracing::info!(%url, "Apiary is listening");
    let web = async {
        let served = axum::serve(listener, web::router(state))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await;
        // Whatever stopped the web server stops the runtime too.
        shutdown.cancel();
        served
    };
    let stop_runtime = async {
        shutdown.cancelled().await;
        runtime.shutdown().await;
    };
    let (served, ()) = tokio::join!(web, stop_runtime);
    if let Err(error) = refreshing.await {
        tracing::error!(%error, "the tool refresh task panicked");
    }
    served.map_err(StartError::Serve)?;
    tracing::info!("Apiary stopped");
    Ok(())
}
