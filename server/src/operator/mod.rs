//! The Kubernetes runtime: the `MCPServer` operator. The resources it reconciles, and what
//! Apiary can honour of them, are [`crate::resources`].
//!
//! - [`render`]: validate and build, pure functions from a spec to its child objects;
//! - [`merge`]: the `podTemplateSpec` overlay;
//! - [`profile`]: permission profiles → egress;
//! - [`drift`]: live children against rendered ones, and taking back foreign fields;
//! - [`repair`]: applies the children, taking back drifted fields;
//! - [`cache`]: the trimmed reflector caches, and which children need no apply;
//! - [`status`]: the status, derived from the live children;
//! - [`external_auth`]: the status of MCPExternalAuthConfigs, which Apiary does not act on;
//! - [`reconcile`]: the controller that ties them to the cluster;
//! - [`leader`]: which replica reconciles, through a Lease.

pub mod cache;
pub mod cluster_runtime;
pub mod drift;
pub mod external_auth;
pub mod leader;
pub mod merge;
pub mod profile;
pub mod reconcile;
pub mod render;
pub mod repair;
pub mod status;

use tokio_util::sync::CancellationToken;

/// Errors that stop the operator from starting.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// No kubeconfig and no in-cluster service account, or a broken one.
    #[error("cannot build a Kubernetes client (KUBECONFIG, ~/.kube/config or in-cluster): {0}")]
    Client(#[from] kube::Error),
    /// The kubeconfig or in-cluster configuration could not be read.
    #[error(
        "cannot read the Kubernetes configuration (KUBECONFIG, ~/.kube/config or in-cluster): {0}"
    )]
    Config(#[from] kube::config::InferConfigError),
}

/// The cluster connection from the default configuration (`KUBECONFIG`, `~/.kube/config`,
/// then in-cluster): its configuration, for clients with other timeouts, and a client.
pub async fn connect() -> Result<(kube::Config, kube::Client), OperatorError> {
    let config = kube::Config::infer().await?;
    let client = kube::Client::try_from(config.clone())?;
    Ok((config, client))
}

/// The Lease this process competes for: `settings`, with the client's namespace by default.
pub fn lease_settings(
    settings: &crate::config::LeaseConfig,
    client: &kube::Client,
) -> leader::LeaseSettings {
    leader::LeaseSettings {
        name: settings.name.clone(),
        namespace: settings
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned()),
        identity: leader::LeaseSettings::identity_for_this_process(),
        duration: std::time::Duration::from_secs(settings.duration_secs),
    }
}

/// The namespace of Apiary's gateway, which every server's NetworkPolicy admits: `setting`
/// (`APIARY_GATEWAY_NAMESPACE`), else the client's namespace (in the cluster, the pod's own).
pub fn gateway_namespace(setting: Option<&str>, client: &kube::Client) -> String {
    setting
        .unwrap_or_else(|| client.default_namespace())
        .to_owned()
}

/// `apiary operator`: connects with the default configuration and reconciles while this
/// process holds the Lease, until `shutdown` is cancelled. `namespace` limits it to one
/// namespace; `gateway_namespace` is the setting of [`gateway_namespace`].
pub async fn run_default(
    namespace: Option<String>,
    gateway_namespace: Option<&str>,
    lease: &crate::config::LeaseConfig,
    shutdown: CancellationToken,
) -> Result<(), OperatorError> {
    let (config, client) = connect().await?;
    let gateway_namespace = self::gateway_namespace(gateway_namespace, &client);
    let stop_election = CancellationToken::new();
    let (leading, election) = leader::elect(
        config,
        lease_settings(lease, &client),
        stop_election.clone(),
    );
    leader::while_leading("operator", leading, shutdown, move |token| {
        reconcile::run(
            client.clone(),
            namespace.clone(),
            gateway_namespace.clone(),
            token,
        )
    })
    .await;
    // Reconciling has stopped: clear the Lease.
    stop_election.cancel();
    if let Err(error) = election.await {
        tracing::error!(%error, "the leader election task panicked");
    }
    Ok(())
}

/// Writes the CRD manifests into `dir` (creating it), one file per kind.
pub fn write_crds(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    crate::resources::manifests::crd_manifests()
        .into_iter()
        .map(|(file, yaml)| {
            let path = dir.join(file);
            std::fs::write(&path, yaml)?;
            Ok(path)
        })
        .collect()
}
