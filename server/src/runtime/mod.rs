//! Runtimes: where the desired servers actually run.
//!
//! Two traits, split by what callers need: [`Reach`] (a server's status, its logs and its
//! stdio), which every runtime gives, and [`Runtime`] (run and stop servers), which only
//! [`LocalRuntime`], the embedded default, has: it runs the desired state as supervised local
//! processes (`npx://`, `uvx://`, a `command`) or records a remote `url`. In Kubernetes mode
//! the operator runs servers from their `MCPServer` resources, and Apiary only reaches them
//! (`operator::cluster_runtime`). [`AnyRuntime`] is the one Apiary has.
//!
//! A stdio MCP server's stdout is its protocol channel, so a runtime never reads it for logs.
//! Instead [`Reach::open_stdio`] hands out the connected pair as one [`StdioHandle`], at most
//! once per process start; see [`stdio`] for the life cycle.

pub mod desired;
mod local;
mod logs;
mod process_group;
pub mod redact;
pub mod spec;
pub mod stdio;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

pub use local::{LocalRuntime, LocalRuntimeConfig};
pub use logs::LogLine;
pub use spec::{parse_spec, LocalSpec, ProcessSpec};
pub use stdio::StdioHandle;

/// A server's identity: its namespace and name, shown as `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ServerId {
    /// The namespace.
    pub namespace: String,
    /// The name within the namespace.
    pub name: String,
}

impl ServerId {
    /// The id `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One server as it should run: its id and what to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredServer {
    /// Which server.
    pub id: ServerId,
    /// What to run, parsed from the server's spec.
    pub spec: LocalSpec,
}

impl DesiredServer {
    /// Parses the spec JSON stored for `id` (the `servers.spec` column).
    pub fn from_spec(
        id: ServerId,
        spec: &serde_json::Value,
    ) -> Result<Self, crate::validation::FieldError> {
        Ok(Self {
            id,
            spec: parse_spec(spec)?,
        })
    }
}

/// Where a server is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum RuntimeState {
    /// The process was started and has not yet been up long enough to count as ready.
    Starting,
    /// The process has stayed up past the readiness delay, or the server is remote.
    Ready,
    /// The process exited or could not start; the supervisor retries after a backoff.
    Failed {
        /// What happened, in words.
        reason: String,
        /// The exit code, when the process exited with one (not when killed by a signal).
        #[serde(rename = "exitCode")]
        exit_code: Option<i32>,
    },
    /// The server was removed or the runtime shut down; nothing runs.
    Stopped,
}

/// What a runtime reports about one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeStatus {
    /// The current state.
    #[serde(flatten)]
    pub state: RuntimeState,
    /// The process id of the running process (also its process group id), if any.
    pub pid: Option<u32>,
    /// How many times the process was started again after it stopped by itself.
    pub restarts: u32,
    /// The remote URL for a `url` server.
    pub url: Option<String>,
    /// The command line, for a process server.
    pub command: Option<String>,
}

/// Why a runtime could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime is shutting down or has shut down.
    #[error("the runtime is shut down")]
    ShutDown,
    /// No such server runs in this runtime.
    #[error("{0} is not running in this runtime")]
    NotFound(ServerId),
    /// The server has no stdio channel (a remote `url` server).
    #[error("{0} is a remote server; connect to its url instead of stdio")]
    NotStdio(ServerId),
    /// The stdio channel of the current process is already handed out, or the process is not
    /// running right now.
    #[error("the stdio channel of {0} is not available (in use, or the process is restarting)")]
    StdioUnavailable(ServerId),
    /// The cluster refused or could not do what was asked; the text says what and why.
    #[error("{0}")]
    Cluster(String),
}

/// What Apiary sees and reaches of a server wherever it runs. Implementations are cheap to
/// share (`Arc<dyn Reach>`).
#[async_trait]
pub trait Reach: Send + Sync {
    /// The server's status, or `None` when the runtime does not know it.
    async fn status(&self, id: &ServerId) -> Option<RuntimeStatus>;

    /// The server's most recent log lines (stderr for a process), oldest first.
    async fn logs(&self, id: &ServerId) -> Vec<LogLine>;

    /// Takes the stdio MCP channel of the server's current process; see [`stdio`].
    async fn open_stdio(&self, id: &ServerId) -> Result<StdioHandle, RuntimeError>;
}

/// A place that runs desired servers itself (`Arc<dyn Runtime>`).
#[async_trait]
pub trait Runtime: Reach {
    /// Makes `server` run as described, starting it or replacing a different running version.
    /// Applying the same spec again leaves a running server alone.
    async fn apply(&self, server: &DesiredServer) -> Result<(), RuntimeError>;

    /// Stops and forgets a server. Removing an unknown server is not an error.
    async fn remove(&self, id: &ServerId) -> Result<(), RuntimeError>;

    /// Stops every server and waits for them to be gone. Later calls to `apply` fail.
    async fn shutdown(&self);
}

/// The runtime Apiary has: one that runs its servers (local mode), or one that only reaches
/// the servers the operator runs (Kubernetes mode).
#[derive(Clone)]
pub enum AnyRuntime {
    /// Runs the servers.
    Local(Arc<dyn Runtime>),
    /// Reaches the servers the cluster runs.
    Cluster(Arc<dyn Reach>),
}

impl AnyRuntime {
    /// What every runtime gives: status, logs and stdio.
    pub fn reach(&self) -> Arc<dyn Reach> {
        match self {
            AnyRuntime::Local(runtime) => runtime.clone(),
            AnyRuntime::Cluster(reach) => reach.clone(),
        }
    }

    /// The runtime that runs servers, in local mode.
    pub fn runs(&self) -> Option<&dyn Runtime> {
        match self {
            AnyRuntime::Local(runtime) => Some(runtime.as_ref()),
            AnyRuntime::Cluster(_) => None,
        }
    }

    /// Stops every server this runtime runs.
    pub async fn shutdown(&self) {
        if let Some(runtime) = self.runs() {
            runtime.shutdown().await;
        }
    }
}
