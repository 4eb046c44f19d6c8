//! Keeps tool snapshots current: fetches a server's tools live, checks them against the
//! policy, diffs them against the approved baseline, and records the snapshot and health.
//! Runs on demand, when a server is (re)registered, at start-up and periodically.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use apiary_app::model::Transport;

use crate::config::Runtime as RuntimeMode;
use crate::db::{Db, DbError};
use crate::operator::cluster_runtime::{self as cluster, ClusterEndpoint};
use crate::runtime::spec::{parse_spec, LocalSpec};
use crate::runtime::ServerId;
use crate::servers::ServerStore;

use super::canonical::content_hash;
use super::diff::diff;
use super::fetch::{fetch_running, fetch_tools, FetchLimits, FetchTarget, LocalSessions};
use super::policy::{check, Policy};
use super::store::{Recorded, SnapshotStore};
use super::tool_status::{Discovery, Seen, ToolStatusWriter};

/// How many fetches a fleet-wide refresh runs at once: enough to hide each server's round
/// trip, few enough that a large fleet does not crowd the database or the machine.
pub const FLEET_CONCURRENCY: usize = 8;

/// What one refresh found.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "outcome"
)]
pub enum RefreshOutcome {
    /// The tools were fetched and recorded.
    Fetched {
        /// How many tools the server lists.
        tool_count: usize,
        /// `baseline`, `unchanged`, `drift` or `back-to-baseline`.
        snapshot: &'static str,
        /// Policy findings in this snapshot.
        findings: usize,
        /// The fetch's round trip in milliseconds: `tools/list` over the running process
        /// for a local stdio server, `initialize` plus `tools/list` otherwise.
        latency_ms: u64,
        /// How long the fetch waited for the server to start, when it did.
        #[serde(skip_serializing_if = "Option::is_none")]
        startup_ms: Option<u64>,
    },
    /// The fetch failed; a failed health sample was recorded.
    Failed {
        /// Why.
        error: String,
    },
    /// The server has no endpoint Apiary can reach from here (for example a container image
    /// outside Kubernetes mode).
    Unreachable {
        /// Why.
        reason: String,
    },
}

/// Why a refresh could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// No such server.
    #[error("no server {0}")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Fetches and records tool snapshots.
#[derive(Clone, Debug)]
pub struct Refresher {
    db: Db,
    policy: Arc<Policy>,
    limits: FetchLimits,
    mode: RuntimeMode,
    /// In Kubernetes mode, where each outcome is written to the `MCPServer` status.
    statuses: Option<ToolStatusWriter>,
    /// In local mode, sessions over the stdio processes the runtime supervises.
    sessions: Option<Arc<dyn LocalSessions>>,
}

/// How one fetch reaches its server.
enum Reach {
    /// A connection of the fetch's own (a remote URL, or a process it starts).
    Direct(FetchTarget),
    /// A session over the local process the runtime supervises.
    Running(Arc<dyn LocalSessions>),
}

impl Refresher {
    /// A refresher with the given policy and fetch limits, for servers that run in `mode`.
    pub fn new(db: Db, policy: Policy, limits: FetchLimits, mode: RuntimeMode) -> Self {
        Self {
            db,
            policy: Arc::new(policy),
            limits,
            mode,
            statuses: None,
            sessions: None,
        }
    }

    /// The same refresher, fetching local stdio servers over the processes the runtime runs
    /// (through `sessions`) instead of starting a copy of its own.
    pub fn with_local_sessions(mut self, sessions: Arc<dyn LocalSessions>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// The same refresher, writing each outcome to the server's `MCPServer` status through
    /// `client` ([`super::tool_status`]).
    pub fn with_cluster_status(mut self, client: kube::Client) -> Self {
        self.statuses = Some(ToolStatusWriter::new(client));
        self
    }

    /// Fetches `namespace/name` now and records the result (in Kubernetes mode also in its
    /// `MCPServer` status).
    pub async fn refresh(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<RefreshOutcome, RefreshError> {
        let (id, outcome) = self.fetch_and_record(namespace, name).await?;
        if let Some(statuses) = &self.statuses {
            let last = SnapshotStore::new(self.db.clone())
                .latest(&id)
                .await?
                .map(|snapshot| Seen {
                    count: snapshot.tools.len(),
                    hash: snapshot.content_hash,
                });
            let discovery = match &outcome {
                RefreshOutcome::Fetched { .. } => match last {
                    Some(seen) => Discovery::Found(seen),
                    None => Discovery::Failed {
                        error: "the fetch was recorded but no snapshot is stored".into(),
                        last: None,
                    },
                },
                RefreshOutcome::Failed { error } => Discovery::Failed {
                    error: error.clone(),
                    last,
                },
                RefreshOutcome::Unreachable { reason } => Discovery::Unreachable {
                    reason: reason.clone(),
                    last,
                },
            };
            let server = ServerId::new(namespace, name);
            // The registry has the result either way; the status is a view of it.
            if let Err(error) = statuses.write(&server, &discovery).await {
                tracing::warn!(%server, %error, "cannot write the tools to the MCPServer status");
            }
        }
        Ok(outcome)
    }

    /// Fetches `namespace/name` and records the snapshot and health; returns the server's id
    /// and the outcome.
    async fn fetch_and_record(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<(String, RefreshOutcome), RefreshError> {
        let (id, spec) = ServerStore::new(self.db.clone())
            .spec_of(namespace, name)
            .await?
            .ok_or_else(|| RefreshError::NotFound(format!("{namespace}/{name}")))?;
        let server = ServerId::new(namespace, name);
        let reach = match self.reach(&server, &spec).await {
            Ok(reach) => reach,
            Err(reason) => return Ok((id, RefreshOutcome::Unreachable { reason })),
        };
        let snapshots = SnapshotStore::new(self.db.clone());
        let started = std::time::Instant::now();
        let (result, startup) = match reach {
            Reach::Direct(target) => (fetch_tools(&target, &self.limits).await, None),
            Reach::Running(sessions) => {
                let fetched = fetch_running(sessions.as_ref(), &server, &self.limits).await;
                (fetched.result, fetched.startup)
            }
        };
        let startup_ms = startup.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let fetched = match result {
            Ok(fetched) => fetched,
            Err(error) => {
                let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let text = error.to_string();
                snapshots
                    .record_health_started(&id, false, latency, Some(&text), startup_ms)
                    .await?;
                metrics::counter!("apiary_tool_fetch_total", "result" => "error").increment(1);
                tracing::warn!(%server, error = %text, "tool fetch failed");
                return Ok((id, RefreshOutcome::Failed { error: text }));
            }
        };
        let findings = check(&self.policy, &fetched.tools);
        let hash = content_hash(&fetched.tools);
        let drift = snapshots
            .baseline(&id)
            .await?
            .map(|baseline| diff(&baseline.tools, &fetched.tools));
        let recorded = snapshots
            .record_fetch(&id, &fetched, &hash, &findings, drift)
            .await?;
        snapshots
            .record_health_started(&id, true, fetched.latency_ms, None, startup_ms)
            .await?;
        metrics::counter!("apiary_tool_fetch_total", "result" => "ok").increment(1);
        metrics::histogram!("apiary_tool_fetch_duration_seconds")
            .record(Duration::from_millis(fetched.latency_ms).as_secs_f64());
        let outcome = RefreshOutcome::Fetched {
            tool_count: fetched.tools.len(),
            snapshot: match recorded {
                Recorded::Baseline => "baseline",
                Recorded::Unchanged | Recorded::Completed => "unchanged",
                Recorded::Drift(_) => "drift",
                Recorded::BackToBaseline => "back-to-baseline",
            },
            findings: findings.len(),
            latency_ms: fetched.latency_ms,
            startup_ms,
        };
        Ok((id, outcome))
    }

    /// How to reach `server`, described by `spec`, in this refresher's mode: a local stdio
    /// server the runtime runs through its process; one it does not run (unpublished) through
    /// a short-lived process of the fetch's own.
    async fn reach(&self, server: &ServerId, spec: &serde_json::Value) -> Result<Reach, String> {
        match self.mode {
            RuntimeMode::Kubernetes => cluster_fetch_target(server, spec).map(Reach::Direct),
            RuntimeMode::Local => match (fetch_target(spec)?, &self.sessions) {
                (FetchTarget::Stdio { .. }, Some(sessions)) if sessions.runs(server).await => {
                    Ok(Reach::Running(sessions.clone()))
                }
                (target, _) => Ok(Reach::Direct(target)),
            },
        }
    }

    /// Refreshes `servers` (`namespace`, `name`), at most [`FLEET_CONCURRENCY`] at once;
    /// yields each server with its outcome as it finishes. `starting` is told each server as
    /// its fetch begins.
    pub fn refresh_each<'a>(
        &'a self,
        servers: Vec<(String, String)>,
        starting: impl Fn(&str, &str) + Send + Sync + 'a,
    ) -> impl Stream<Item = ((String, String), Result<RefreshOutcome, RefreshError>)> + Send + 'a
    {
        let starting = Arc::new(starting);
        futures::stream::iter(servers)
            .map(move |(namespace, name)| {
                let starting = starting.clone();
                async move {
                    starting(&namespace, &name);
                    let outcome = self.refresh(&namespace, &name).await;
                    ((namespace, name), outcome)
                }
            })
            .buffer_unordered(FLEET_CONCURRENCY)
    }

    /// Refreshes every published, non-retired server, a few at a time.
    pub async fn refresh_all(&self) -> Result<usize, RefreshError> {
        let servers = ServerStore::new(self.db.clone()).published_ids().await?;
        let count = servers.len();
        let mut done = std::pin::pin!(self.refresh_each(servers, |_, _| {}));
        while let Some(((namespace, name), outcome)) = done.next().await {
            if let Err(error) = outcome {
                tracing::error!(%error, server = %format!("{namespace}/{name}"), "refresh failed");
            }
        }
        Ok(count)
    }

    /// Refreshes everything now and then every `interval`, until `shutdown`.
    pub async fn run_periodic(self, interval: Duration, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A fetch in flight is dropped on shutdown, which kills its process or closes its
        // connection, so stopping Apiary never waits for a slow server.
        let run = async {
            loop {
                ticker.tick().await;
                if let Err(error) = self.refresh_all().await {
                    tracing::error!(%error, "periodic tool refresh failed");
                }
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => {},
            () = run => {},
        }
    }
}

/// How the registry reaches a server that the operator runs in the cluster: at its Service.
fn cluster_fetch_target(id: &ServerId, spec: &serde_json::Value) -> Result<FetchTarget, String> {
    match cluster::endpoint(id, spec)? {
        ClusterEndpoint::StreamableHttp(url) => Ok(FetchTarget::StreamableHttp { url, bearer: None }),
        ClusterEndpoint::Sse(url) => Ok(FetchTarget::Sse { url, bearer: None }),
        // A pod's stdin is one channel, which the gateway's bridge holds; a second attach
        // would interleave two protocol sessions on it.
        ClusterEndpoint::Attach => Err(format!(
            "{id} speaks stdio in the cluster; the registry cannot fetch its tools there yet (use streamable-http or sse)"
        )),
    }
}

/// How the registry reaches a server described by `spec` on its own: the command the local
/// runtime runs (started as a short-lived process), or the remote URL.
pub fn fetch_target(spec: &serde_json::Value) -> Result<FetchTarget, String> {
    match parse_spec(spec).map_err(|e| e.to_string())? {
        LocalSpec::Process(process) => Ok(FetchTarget::Stdio {
            command: process.program,
            args: process.args,
            env: process.env,
        }),
        LocalSpec::Remote {
            url,
            transport: Transport::Sse,
        } => Ok(FetchTarget::Sse { url, bearer: None }),
        LocalSpec::Remote { url, .. } => Ok(FetchTarget::StreamableHttp { url, bearer: None }),
    }
}
