//! Keeps tool snapshots current: fetches a server's tools live, checks them against the
//! policy, diffs them against the approved baseline, and records the snapshot and health.
//! Runs on demand, when a server is (re)registered, at start-up and periodically.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use apiary_app::model::Transport;

use crate::catalog::ServerStore;
use crate::config::Runtime as RuntimeMode;
use crate::db::{Db, DbError};
use crate::runtime::cluster::{self, ClusterEndpoint};
use crate::runtime::spec::{parse_spec, LocalSpec};
use crate::runtime::ServerId;

use super::canonical::content_hash;
use super::diff::diff;
use super::fetch::{fetch_tools, FetchLimits, FetchTarget};
use super::policy::{check, Policy};
use super::store::{Recorded, SnapshotStore};
use super::tool_status::{Discovery, Seen, ToolStatusWriter};

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
        /// `initialize` plus `tools/list`, in milliseconds.
        latency_ms: u64,
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
        }
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
        let target = match self.mode {
            RuntimeMode::Local => fetch_target(&spec),
            RuntimeMode::Kubernetes => cluster_fetch_target(&ServerId::new(namespace, name), &spec),
        };
        let target = match target {
            Ok(target) => target,
            Err(reason) => return Ok((id, RefreshOutcome::Unreachable { reason })),
        };
        let snapshots = SnapshotStore::new(self.db.clone());
        let started = std::time::Instant::now();
        let fetched = match fetch_tools(&target, &self.limits).await {
            Ok(fetched) => fetched,
            Err(error) => {
                let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let text = error.to_string();
                snapshots
                    .record_health(&id, false, latency, Some(&text))
                    .await?;
                metrics::counter!("apiary_tool_fetch_total", "result" => "error").increment(1);
                tracing::warn!(server = %format!("{namespace}/{name}"), error = %text, "tool fetch failed");
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
            .record_health(&id, true, fetched.latency_ms, None)
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
        };
        Ok((id, outcome))
    }

    /// Refreshes every published, non-retired server, one after another.
    pub async fn refresh_all(&self) -> Result<usize, RefreshError> {
        let servers = ServerStore::new(self.db.clone()).published_ids().await?;
        for (namespace, name) in &servers {
            if let Err(error) = self.refresh(namespace, name).await {
                tracing::error!(%error, server = %format!("{namespace}/{name}"), "refresh failed");
            }
        }
        Ok(servers.len())
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

/// How the registry reaches a server described by `spec`: the same command the local runtime
/// runs (a short-lived process of its own), or the remote URL.
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
