//! Everything the server page shows about one server, prepared on the server for display.

use serde::{Deserialize, Serialize};

use super::cluster_changes::ClusterChanges;
use super::{Health, Lifecycle, Transport};

/// One server's page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerDetail {
    /// Metadata and state.
    pub overview: ServerOverview,
    /// The published tools (the approved baseline, updated by drift that broadens nothing).
    pub tools: Vec<ToolView>,
    /// Health samples, oldest first.
    pub health: Vec<HealthPoint>,
    /// Tool calls through the gateway per sampling interval, oldest first.
    pub calls: Vec<CallPoint>,
    /// Each published tool's calls through the gateway over the last day.
    pub tool_usage: Vec<ToolUsage>,
    /// Schema drift waiting for an owner's approval, if any.
    pub pending_drift: Option<PendingDrift>,
    /// Tool snapshots, newest first.
    pub history: Vec<SnapshotEntry>,
    /// Policy findings of the newest snapshot.
    pub findings: Vec<FindingView>,
    /// Client connection snippets; empty while the server is not published or cannot run.
    pub snippets: Vec<Snippet>,
    /// Why no snippets are offered for a published server (it is not running), if so.
    #[serde(default)]
    pub snippets_withheld: Option<String>,
    /// True when a tool snapshot exists, so the findings say what was checked.
    #[serde(default)]
    pub has_snapshot: bool,
    /// Whether it runs, and if not, why; `None` when the runtime was not asked.
    #[serde(default)]
    pub runtime: Option<RuntimeView>,
    /// The `MCPServer` manifest, or why there is none.
    pub manifest: Manifest,
    /// In Kubernetes mode, how the cluster compares with the approved revision; `None` in
    /// local mode.
    #[serde(default)]
    pub cluster: Option<ClusterChanges>,
}

/// A server's metadata and state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerOverview {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Owning team.
    pub owner_team: String,
    /// Category.
    pub category: String,
    /// Cost class.
    pub cost_class: String,
    /// Data sensitivity.
    pub sensitivity: String,
    /// Free tags.
    pub tags: Vec<String>,
    /// Documentation link, empty when none.
    pub docs_url: String,
    /// How clients connect.
    pub transport: Transport,
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// The `namespace/name` that replaces a deprecated server.
    pub replacement: Option<String>,
    /// Why it is deprecated or retired, in the owners' words.
    #[serde(default)]
    pub lifecycle_message: String,
    /// Whether consumers see it (registry, gateway).
    pub published: bool,
    /// How the last live fetch went.
    pub health: Health,
    /// Why the health reads as it does.
    #[serde(default)]
    pub health_reason: String,
    /// How long the server took to start the last time a fetch waited for it, in ms.
    #[serde(default)]
    pub startup_ms: Option<i64>,
    /// When the tools were last fetched, for display; `None` before the first fetch.
    pub last_fetched: Option<String>,
}

impl ServerOverview {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One published tool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolView {
    /// The tool's name.
    pub name: String,
    /// Its human-readable title, if any.
    pub title: Option<String>,
    /// What it does; empty when the server gave no description.
    pub description: String,
    /// The JSON Schema of its arguments.
    pub input_schema: serde_json::Value,
}

/// One health measurement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthPoint {
    /// When, in Unix milliseconds.
    pub at_ms: i64,
    /// When, for display.
    pub at_label: String,
    /// Whether the fetch succeeded.
    pub ok: bool,
    /// Its latency (time to failure for errors), in milliseconds.
    pub latency_ms: i64,
}

/// A newer tool snapshot that differs from the approved baseline: consumers see the baseline
/// until an owner of the server's team (or an admin) approves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDrift {
    /// The snapshot an approval makes the baseline.
    pub snapshot_id: String,
    /// When it was fetched, for display.
    pub fetched_at: String,
    /// What changed.
    pub drift: DriftView,
}

/// One sampling interval of the tool calls through the gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPoint {
    /// When, in Unix milliseconds.
    pub at_ms: i64,
    /// When, for display.
    pub at_label: String,
    /// Calls in the interval.
    pub calls: u64,
    /// Failed calls in the interval.
    pub errors: u64,
    /// Median latency, in milliseconds.
    pub p50_ms: u64,
    /// 95th percentile latency, in milliseconds.
    pub p95_ms: u64,
}

/// One tool's calls through the gateway over a span of time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolUsage {
    /// The published name.
    pub tool: String,
    /// Calls.
    pub calls: u64,
    /// Failed calls (an error, a result with `isError`, or no answer).
    pub errors: u64,
    /// Median latency, in milliseconds.
    pub p50_ms: u64,
    /// 95th percentile latency, in milliseconds.
    pub p95_ms: u64,
}

/// One stored tool snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// When it was fetched, for display.
    pub fetched: super::moment::Moment,
    /// Its canonical content hash.
    pub content_hash: String,
    /// How many tools it holds.
    pub tool_count: usize,
    /// True for the approved baseline.
    pub is_baseline: bool,
    /// True for the newest snapshot.
    pub is_latest: bool,
    /// How it differed from the baseline when it was fetched; `None` for a baseline.
    pub drift: Option<DriftView>,
}

/// A readable schema drift.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftView {
    /// Tools that appeared.
    pub tools_added: Vec<String>,
    /// Tools that disappeared.
    pub tools_removed: Vec<String>,
    /// Tools whose definition changed.
    pub tools_changed: Vec<ToolChangeView>,
}

/// How one tool changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolChangeView {
    /// The tool.
    pub tool: String,
    /// Sentences such as "properties added: limit".
    pub details: Vec<String>,
    /// True when the new schema accepts input the old one refused.
    pub broadened: bool,
}

/// One policy finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingView {
    /// `warning` or `error`.
    pub severity: String,
    /// The tool it concerns.
    pub tool: String,
    /// Where in the tool, as a JSON path.
    pub path: String,
    /// A sentence for people.
    pub message: String,
}

/// Configuration for one client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    /// The client, such as `VS Code`.
    pub client: String,
    /// Where the snippet goes, such as `.vscode/mcp.json`.
    pub file: String,
    /// The snippet text.
    pub code: String,
}

/// The `MCPServer` manifest of a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Manifest {
    /// The YAML text.
    Yaml(String),
    /// Why the server's spec has no `MCPServer` form.
    Unavailable(String),
}

/// Where a server is in its life, as the runtime reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Up and past its start-up.
    Running,
    /// Started for the first time, not yet ready.
    Starting,
    /// Started again after it stopped by itself.
    Restarting,
    /// It exited or could not start; the runtime tries again after a pause.
    Crashed,
    /// Nothing runs: unpublished, retired, or its spec cannot run here.
    #[default]
    Stopped,
    /// A remote server: Apiary does not run it.
    Remote,
}

impl RunState {
    /// The word shown.
    pub fn label(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Starting => "starting",
            RunState::Restarting => "restarting",
            RunState::Crashed => "crashed",
            RunState::Stopped => "stopped",
            RunState::Remote => "remote",
        }
    }
}

/// The runtime section of a server page: is it running, and if not, why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeView {
    /// The state.
    pub state: RunState,
    /// Why it is not running (the exit or start error, or why nothing runs), if so.
    pub reason: Option<String>,
    /// The exit code of the last exit, when it had one.
    pub exit_code: Option<i32>,
    /// How many times it was started again after stopping by itself.
    pub restarts: u32,
    /// The command line, for a process.
    pub command: Option<String>,
    /// The newest log lines (stderr and the runtime's own), oldest first, secrets redacted.
    pub logs: Vec<LogLineView>,
    /// In Kubernetes mode, the `MCPServer`'s status conditions.
    #[serde(default)]
    pub conditions: Vec<ConditionView>,
    /// In Kubernetes mode, the newest Events about the `MCPServer`, newest first.
    #[serde(default)]
    pub events: Vec<EventView>,
}

/// One status condition of an `MCPServer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionView {
    /// Such as `Ready` or `PolicyCompliant`.
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A one-word reason.
    pub reason: String,
    /// More, in words.
    pub message: String,
}

/// One Kubernetes Event about an `MCPServer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// When it last happened, for display.
    pub at_label: String,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// A one-word reason.
    pub reason: String,
    /// What happened.
    pub message: String,
}

/// One captured log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLineView {
    /// When, for display.
    pub at_label: String,
    /// The text.
    pub line: String,
}
