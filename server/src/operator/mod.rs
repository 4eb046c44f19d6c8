//! The Kubernetes runtime: the `MCPServer` operator.
//!
//! - [`crd`]: the custom resources as Rust types, and the CRD YAML generated from them;
//! - [`render`]: validate and build, pure functions from a spec to its child objects;
//! - [`merge`]: the `podTemplateSpec` overlay;
//! - [`profile`]: permission profiles → egress;
//! - [`status`]: the status, derived from what was applied;
//! - [`reconcile`]: the controller that ties them to the cluster.

pub mod crd;
pub mod merge;
pub mod profile;
pub mod reconcile;
pub mod render;
pub mod status;

use tokio_util::sync::CancellationToken;

/// Errors that stop the operator from starting.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// No kubeconfig and no in-cluster service account, or a broken one.
    #[error("cannot build a Kubernetes client (KUBECONFIG, ~/.kube/config or in-cluster): {0}")]
    Client(#[from] kube::Error),
}

/// Connects with the default configuration (`KUBECONFIG`, `~/.kube/config`, then in-cluster)
/// and runs the operator until `shutdown` is cancelled. `namespace` limits it to one namespace.
pub async fn run_default(
    namespace: Option<String>,
    shutdown: CancellationToken,
) -> Result<(), OperatorError> {
    let client = kube::Client::try_default().await?;
    reconcile::run(client, namespace, shutdown).await;
    Ok(())
}

/// Writes the CRD manifests into `dir` (creating it), one file per kind.
pub fn write_crds(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    crd::crd_manifests()
        .into_iter()
        .map(|(file, yaml)| {
            let path = dir.join(file);
            std::fs::write(&path, yaml)?;
            Ok(path)
        })
        .collect()
}
