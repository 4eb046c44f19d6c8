//! The data behind one server's page: metadata, published tools, health samples, the calls
//! through the gateway, snapshot history, policy findings, connection snippets and the
//! manifest.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::Row;

use apiary_app::model::server_detail::{
    HealthPoint, RunState, ServerDetail, ServerOverview, ToolView,
};
use apiary_app::model::{Health, HealthEvidence, Lifecycle, Transport};
use apiary_app::services::{ServerPageService, ServiceError};

use crate::config::Runtime as RuntimeMode;
use crate::db::{json_column, Db, DbError};
use crate::gateway::usage::view::{self as usage_view, CHART_SAMPLES};
use crate::gateway::usage::{self, store::Owner};
use crate::onboarding::cluster_changes;
use crate::registry::curation::{self, curated_tools};
use crate::registry::export::{fleet_litellm_name, labelled_snippets};
use crate::registry::store::{SnapshotStore, StoredSnapshot, GATEWAY_HEALTH_WINDOW_MS};
use crate::registry::RegistrySettings;
use crate::runtime::{Reach, ServerId};

use super::manifest::render_manifest;
use super::snapshot_view::{finding_view, pending_drift, snapshot_entry};
use super::{cluster_runtime_view, runtime_view};
use crate::display_time::display_time;

/// Reads server pages from the database.
#[derive(Clone)]
pub struct ServerPages {
    db: Db,
    slow_ms: i64,
    public_url: String,
    cluster: Option<kube::Client>,
    runtime: Option<(Arc<dyn Reach>, RuntimeMode)>,
}

/// The `servers` row of one server, with its snapshot pointers.
struct ServerRow {
    id: String,
    overview: ServerOverview,
    spec: Value,
    baseline_id: Option<String>,
    latest_id: Option<String>,
}

impl ServerPages {
    /// Pages over `db`, with the health threshold and gateway URL of `registry`.
    pub fn new(db: Db, registry: &RegistrySettings) -> Self {
        Self {
            db,
            slow_ms: registry.slow_ms,
            public_url: registry.public_url.clone(),
            cluster: None,
            runtime: None,
        }
    }

    /// The same pages comparing each server with the cluster (Kubernetes mode; `None` keeps
    /// the comparison off).
    pub fn with_cluster(mut self, client: Option<kube::Client>) -> Self {
        self.cluster = client;
        self
    }

    /// The same pages with the runtime's status and logs of each server (`mode` says where
    /// servers run).
    pub fn with_runtime(mut self, runtime: Arc<dyn Reach>, mode: RuntimeMode) -> Self {
        self.runtime = Some((runtime, mode));
        self
    }

    /// Everything the page of `namespace/name` shows, or `None` when there is no such server.
    pub async fn load(&self, namespace: &str, name: &str) -> Result<Option<ServerDetail>, DbError> {
        let Some(mut server) = self.server_row(namespace, name).await? else {
            return Ok(None);
        };
        let snapshots = SnapshotStore::new(self.db.clone());
        let history = snapshots.history(&server.id).await?;
        let samples = snapshots.health_history(&server.id, CHART_SAMPLES).await?;
        let mut evidence = HealthEvidence {
            slow_ms: self.slow_ms,
            ..HealthEvidence::default()
        };
        if let Some(last) = samples.last() {
            evidence.fetch = Some((last.ok, last.latency_ms));
            server.overview.last_fetched = Some(display_time(last.at));
        }
        server.overview.startup_ms = samples.iter().rev().find_map(|s| s.startup_ms);
        let now = crate::db::now_millis();
        let calls =
            usage::store::recent_totals(&self.db, Owner::Server, &server.id, CHART_SAMPLES).await?;
        if let Some(last) = calls
            .last()
            .filter(|last| last.at >= now - GATEWAY_HEALTH_WINDOW_MS)
        {
            evidence.calls = last.calls;
            evidence.errors = last.errors;
            evidence.p95_ms = last.p95_ms;
        }
        server.overview.health = evidence.health();
        server.overview.health_reason = evidence.reason();
        let tool_usage = usage_view::tool_usage(&self.db, Owner::Server, &server.id).await?;
        let find = |id: &Option<String>| -> Option<&StoredSnapshot> {
            let id = id.as_deref()?;
            history.iter().find(|s| s.id == id)
        };
        let baseline = find(&server.baseline_id);
        let latest = find(&server.latest_id);
        let curation = curation::store::load(&self.db, &server.id).await?;
        let tools = baseline
            .map(|b| {
                curated_tools(
                    &b.tools,
                    latest.map(|l| l.tools.as_slice()),
                    latest.and_then(|l| l.drift.as_ref()),
                    &curation,
                )
                .tools
            })
            .unwrap_or_default();
        let pending_drift = match (baseline, latest) {
            (Some(b), Some(l)) if b.id != l.id => l
                .drift
                .as_ref()
                .and_then(|d| pending_drift(&l.id, l.fetched_at, d)),
            _ => None,
        };
        let cluster = match &self.cluster {
            Some(client) => {
                Some(cluster_changes::check(&self.db, client, &server.id, namespace, name).await?)
            }
            None => None,
        };
        let runtime = match &self.runtime {
            Some((runtime, mode)) => {
                let id = ServerId::new(namespace, name);
                let mut view = runtime_view::load(runtime.as_ref(), *mode, &self.db, &id).await?;
                if let (Some(view), Some(client)) = (view.as_mut(), &self.cluster) {
                    (view.conditions, view.events) =
                        cluster_runtime_view::load(client, namespace, name).await;
                }
                view
            }
            None => None,
        };
        let overview = server.overview;
        let offered = overview.published && overview.lifecycle != Lifecycle::Retired;
        let withheld = runtime
            .as_ref()
            .filter(|r| offered && matches!(r.state, RunState::Crashed | RunState::Stopped))
            .map(|r| {
                format!(
                    "{} is {}, so the gateway cannot serve it: {}",
                    overview.id(),
                    r.state.label(),
                    r.reason.as_deref().unwrap_or("see Runtime above")
                )
            });
        Ok(Some(ServerDetail {
            runtime,
            has_snapshot: latest.is_some(),
            cluster,
            tools: tools
                .into_iter()
                .map(|t| ToolView {
                    name: t.name,
                    title: t.title,
                    description: t.description.unwrap_or_default(),
                    input_schema: t.input_schema,
                })
                .collect(),
            health: samples
                .iter()
                .map(|s| HealthPoint {
                    at_ms: s.at,
                    at_label: display_time(s.at),
                    ok: s.ok,
                    latency_ms: s.latency_ms,
                })
                .collect(),
            calls: usage_view::call_points(&calls),
            pending_drift,
            tool_usage,
            history: history
                .iter()
                .map(|s| {
                    snapshot_entry(
                        s,
                        server.baseline_id.as_deref(),
                        server.latest_id.as_deref(),
                    )
                })
                .collect(),
            findings: latest
                .map(|l| l.findings.iter().map(finding_view).collect())
                .unwrap_or_default(),
            snippets: if offered && withheld.is_none() {
                let litellm =
                    fleet_litellm_name(&self.db, &overview.namespace, &overview.name).await?;
                labelled_snippets(
                    &overview.namespace,
                    &overview.name,
                    &self.public_url,
                    litellm,
                )
            } else {
                Vec::new()
            },
            snippets_withheld: withheld,
            manifest: render_manifest(&overview, &server.spec),
            overview,
        }))
    }

    async fn server_row(&self, namespace: &str, name: &str) -> Result<Option<ServerRow>, DbError> {
        let row = sqlx::query(
            "SELECT id, namespace, name, description, owner_team, category, cost_class, \
             sensitivity, tags, docs_url, transport, spec, lifecycle, replacement, lifecycle_message, \
             CAST(CASE WHEN published THEN 1 ELSE 0 END AS BIGINT) AS published, \
             baseline_snapshot_id, latest_snapshot_id \
             FROM servers WHERE namespace = $1 AND name = $2",
        )
        .bind(namespace)
        .bind(name)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let transport: String = row.try_get("transport")?;
        let lifecycle: String = row.try_get("lifecycle")?;
        Ok(Some(ServerRow {
            id: row.try_get("id")?,
            overview: ServerOverview {
                namespace: row.try_get("namespace")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                owner_team: row.try_get("owner_team")?,
                category: row.try_get("category")?,
                cost_class: row.try_get("cost_class")?,
                sensitivity: row.try_get("sensitivity")?,
                tags: json_column(&row, "tags")?.unwrap_or_default(),
                docs_url: row.try_get("docs_url")?,
                transport: Transport::parse(&transport).unwrap_or(Transport::Stdio),
                lifecycle: Lifecycle::parse(&lifecycle).unwrap_or_default(),
                replacement: row.try_get("replacement")?,
                lifecycle_message: row.try_get("lifecycle_message")?,
                published: row.try_get::<i64, _>("published")? != 0,
                health: Health::Unknown,
                health_reason: String::new(),
                startup_ms: None,
                last_fetched: None,
            },
            spec: json_column(&row, "spec")?.unwrap_or_default(),
            baseline_id: row.try_get("baseline_snapshot_id")?,
            latest_id: row.try_get("latest_snapshot_id")?,
        }))
    }
}

#[async_trait]
impl ServerPageService for ServerPages {
    async fn server_detail(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServerDetail>, ServiceError> {
        self.load(namespace, name).await.map_err(|error| {
            tracing::error!(%error, namespace, name, "loading a server page failed");
            ServiceError("this server's page is unavailable; try again shortly".into())
        })
    }
}
