//! Apiary's server: configuration, database, the web router and the background services.

pub mod api_error;
pub mod api_request;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod display_time;
pub mod gateway;
pub mod listener;
pub mod locks;
pub mod onboarding;
pub mod operator;
pub mod registry;
pub mod resources;
pub mod runtime;
pub mod servers;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod validation;
pub mod virtual_servers;
pub mod web;

use std::sync::Arc;

use crate::runtime::{AnyRuntime, LocalRuntime, LocalRuntimeConfig};

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
    /// No socket to serve on.
    #[error(transparent)]
    Listen(#[from] listener::ListenError),
    /// The web server failed while running.
    #[error("the web server stopped: {0}")]
    Serve(std::io::Error),
    /// The operator could not start.
    #[error(transparent)]
    Operator(#[from] operator::OperatorError),
    /// Sign-in could not be set up.
    #[error(transparent)]
    Auth(#[from] auth::AuthSetupError),
    /// The CRD YAML could not be written.
    #[error("cannot write the CRDs: {0}")]
    Crds(std::io::Error),
}

/// Runs the command line: loads settings, then serves until SIGTERM or Ctrl-C.
pub async fn run(cli: cli::Cli) -> Result<(), StartError> {
    let command = cli.command.unwrap_or_default();
    if let cli::Command::Crds { out } = &command {
        // Needs no settings: it only prints or writes the generated YAML.
        return crds(out.as_deref());
    }
    let mut settings = config::load(cli.config.as_deref())?;
    telemetry::init_tracing(&settings.log);
    // Installed before any task starts, so no early measurement (such as leadership) is lost.
    telemetry::metrics_handle();
    // Runs until the process ends; it holds nothing that needs a clean stop.
    let _upkeep = telemetry::spawn_metrics_upkeep();
    match command {
        cli::Command::Serve(args) => {
            if let Some(runtime) = args.runtime {
                settings.runtime = config::Runtime::parse(&runtime)?;
            }
            serve(settings).await
        }
        cli::Command::Operator { namespace } => {
            let shutdown = shutdown::on_signal();
            let namespace = namespace.or(settings.watch_namespace.clone());
            operator::run_default(
                namespace,
                settings.gateway_namespace.as_deref(),
                &settings.lease,
                shutdown,
            )
            .await?;
            Ok(())
        }
        cli::Command::Crds { out } => crds(out.as_deref()),
    }
}

/// `apiary crds`: prints the CRD YAML, or writes one file per kind into `out`.
fn crds(out: Option<&std::path::Path>) -> Result<(), StartError> {
    use std::io::Write;
    match out {
        Some(dir) => {
            for path in operator::write_crds(dir).map_err(StartError::Crds)? {
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
        None => {
            let manifests = resources::manifests::crd_manifests();
            let text = manifests
                .iter()
                .map(|(_, yaml)| yaml.as_str())
                .collect::<Vec<_>>()
                .join("---\n");
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(StartError::Crds)
        }
    }
}

/// The work done once for the whole fleet, by the replica that leads: the periodic tool
/// refresh and, in Kubernetes mode, the operator, the remote server objects and the
/// `MCPServer` deletion watch.
fn spawn_fleet_work(
    state: &web::AppState,
    kube_client: Option<kube::Client>,
    refresh_interval: std::time::Duration,
    leading: &operator::leader::Leading,
    shutdown: &tokio_util::sync::CancellationToken,
) -> Vec<(&'static str, tokio::task::JoinHandle<()>)> {
    use operator::leader::while_leading;
    let refresher = state.refresher.clone();
    let mut tasks = vec![(
        "tool refresh",
        tokio::spawn(while_leading(
            "tool refresh",
            leading.clone(),
            shutdown.clone(),
            move |token| refresher.clone().run_periodic(refresh_interval, token),
        )),
    )];
    if let Some(client) = kube_client {
        let namespace = state.settings.watch_namespace.clone();
        let (operator_client, operator_namespace) = (client.clone(), namespace.clone());
        let gateway_namespace =
            operator::gateway_namespace(state.settings.gateway_namespace.as_deref(), &client);
        tasks.push((
            "operator",
            tokio::spawn(while_leading(
                "operator",
                leading.clone(),
                shutdown.clone(),
                move |token| {
                    operator::reconcile::run(
                        operator_client.clone(),
                        operator_namespace.clone(),
                        gateway_namespace.clone(),
                        token,
                    )
                },
            )),
        ));
        let remotes = onboarding::cluster_remotes::Context {
            db: state.db.clone(),
            refresher: state.refresher.clone(),
            gateway: state.gateway.clone(),
            public_url: state.registry.public_url.clone(),
            client: client.clone(),
        };
        let virtuals = remotes.clone();
        let remotes_namespace = namespace.clone();
        tasks.push((
            "remote servers from the cluster",
            tokio::spawn(while_leading(
                "remote servers from the cluster",
                leading.clone(),
                shutdown.clone(),
                move |token| {
                    onboarding::cluster_remotes::run(
                        remotes.clone(),
                        remotes_namespace.clone(),
                        token,
                    )
                },
            )),
        ));
        let virtuals_namespace = namespace.clone();
        tasks.push((
            "virtual servers from the cluster",
            tokio::spawn(while_leading(
                "virtual servers from the cluster",
                leading.clone(),
                shutdown.clone(),
                move |token| {
                    onboarding::cluster_virtual::run(
                        virtuals.clone(),
                        virtuals_namespace.clone(),
                        token,
                    )
                },
            )),
        ));
        let db = state.db.clone();
        tasks.push((
            "MCPServer deletion watch",
            tokio::spawn(while_leading(
                "MCPServer deletion watch",
                leading.clone(),
                shutdown.clone(),
                move |token| {
                    onboarding::cluster_watch::run(
                        db.clone(),
                        client.clone(),
                        namespace.clone(),
                        token,
                    )
                },
            )),
        ));
    }
    tasks
}

/// Opens the database, builds the router and serves it until shutdown. With the Kubernetes
/// runtime the operator runs alongside, stopped by the same token.
pub async fn serve(mut settings: Settings) -> Result<(), StartError> {
    let db = db::Db::connect(&settings.database_url).await?;
    db.migrate().await?;
    let listener = listener::open(settings.listen, settings.oidc.is_none()).await?;
    // The address actually served: a passed socket's, or the port the system chose for `:0`.
    settings.listen = listener.local_addr().map_err(StartError::Serve)?;
    let shutdown = shutdown::on_signal();
    let url = format!("http://{}", settings.listen);
    // The operator runs inside the server in Kubernetes mode; local processes otherwise.
    let cluster = match settings.runtime {
        config::Runtime::Local => None,
        config::Runtime::Kubernetes => Some(operator::connect().await?),
    };
    let kube_client = cluster.as_ref().map(|(_, client)| client.clone());
    // Replicas share the fleet-wide work through a Lease; the local runtime is one process.
    let stop_election = tokio_util::sync::CancellationToken::new();
    let (leading, election) = match &cluster {
        None => (operator::leader::always_leading(), None),
        Some((config, client)) => {
            let lease = operator::lease_settings(&settings.lease, client);
            let (leading, election) =
                operator::leader::elect(config.clone(), lease, stop_election.clone());
            (leading, Some(election))
        }
    };
    let runtime = match &kube_client {
        None => AnyRuntime::Local(Arc::new(LocalRuntime::new(LocalRuntimeConfig::default()))),
        Some(client) => AnyRuntime::Cluster(Arc::new(
            operator::cluster_runtime::ClusterRuntime::new(client.clone()),
        )),
    };
    if let Some(local) = runtime.runs() {
        match runtime::desired::apply_all(&db, local).await {
            Ok(count) => {
                tracing::info!(count, "applied the published servers to the local runtime")
            }
            Err(error) => tracing::error!(%error, "cannot read the servers to run"),
        }
    }
    let refresh_interval = std::time::Duration::from_secs(settings.refresh_interval_secs);
    let auth = match settings.oidc.clone() {
        None => None,
        Some(oidc) => {
            let public_url = settings.public_url.clone().unwrap_or_else(|| url.clone());
            let auth = auth::Auth::connect(oidc, &settings.database_url, &public_url).await?;
            if let Err(error) = auth.provider.check().await {
                // Sign-in retries discovery on each attempt; serving health and the error page
                // beats crash-looping while the provider is briefly away.
                tracing::error!(%error, "the identity provider is not reachable yet");
            }
            Some(auth)
        }
    };
    let sessions_cleanup = auth.as_ref().map(|auth| {
        auth.store
            .spawn_cleanup(std::time::Duration::from_secs(600))
    });
    let mut state = web::AppState::with_runtime(settings, db, runtime.clone());
    if let Some(auth) = auth {
        state = state.with_auth(auth);
    }
    if let Some(client) = kube_client.clone() {
        state = state.with_kube(client);
    }
    let fleet_work = spawn_fleet_work(&state, kube_client, refresh_interval, &leading, &shutdown);
    let sampling = state.gateway.usage().spawn_periodic(
        state.db.clone(),
        std::time::Duration::from_secs(state.settings.gateway_sample_secs),
        shutdown.clone(),
    );
    let retention = crate::gateway::usage::retention::spawn(
        state.db.clone(),
        std::time::Duration::from_secs(
            state
                .settings
                .measurement_retention_days
                .saturating_mul(24 * 60 * 60),
        ),
        shutdown.clone(),
    );
    tracing::info!(%url, "Apiary is listening");
    let gateway = state.gateway.clone();
    let drain = async {
        shutdown.cancelled().await;
        gateway.drain();
    };
    let web = async {
        let timeouts = web::serve::ConnectionTimeouts {
            header: std::time::Duration::from_secs(state.settings.header_timeout_secs),
        };
        let serving = web::serve::serve(listener, web::router(state), timeouts, shutdown.clone());
        tokio::select! {
            () = serving => {},
            // The gateway cuts its streams within the grace period; this is the backstop for
            // anything else that holds a connection open.
            () = async {
                shutdown.cancelled().await;
                tokio::time::sleep(gateway::DRAIN_GRACE + std::time::Duration::from_secs(5)).await;
            } => {
                tracing::warn!("connections still open after the drain; stopping anyway");
            }
        };
        // Whatever stopped the web server stops the runtime and the operator too.
        shutdown.cancel();
    };
    // The runtime stops after the web server drained, so calls in flight reach their servers.
    let ((), ()) = tokio::join!(drain, web);
    runtime.shutdown().await;
    if let Err(error) = sampling.await {
        tracing::error!(%error, "the gateway sampling task panicked");
    }
    if let Err(error) = retention.await {
        tracing::error!(%error, "the measurement retention task panicked");
    }
    for (what, task) in fleet_work {
        if let Err(error) = task.await {
            tracing::error!(%error, what, "a background task panicked");
        }
    }
    // Last: the Lease is handed over only once this replica stopped reconciling.
    stop_election.cancel();
    if let Some(election) = election {
        if let Err(error) = election.await {
            tracing::error!(%error, "the leader election task panicked");
        }
    }
    if let Some(cleanup) = sessions_cleanup {
        cleanup.abort();
    }
    tracing::info!("Apiary stopped");
    Ok(())
}
