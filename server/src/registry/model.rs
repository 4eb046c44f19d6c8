//! The registry's data: what one live `tools/list` returned, how it differs from the approved
//! baseline, and what the schema contract policy found.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::tool::ToolDef;

/// What one successful live fetch (`initialize`, then every `tools/list` page) returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchedTools {
    /// `serverInfo.name` from `initialize`.
    pub server_name: String,
    /// `serverInfo.version` from `initialize`.
    pub server_version: String,
    /// The negotiated protocol version.
    pub protocol_version: String,
    /// The server's declared capabilities, as JSON.
    pub capabilities: Value,
    /// Every tool, in the order the server listed them.
    pub tools: Vec<ToolDef>,
    /// Time for `initialize` plus all `tools/list` pages, in milliseconds.
    pub latency_ms: u64,
}

/// How serious a policy finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Shown, does not block.
    Warning,
    /// Blocks approval unless an admin overrides it.
    Error,
}

/// One violation of the schema contract policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyFinding {
    /// The tool it concerns.
    pub tool: String,
    /// JSON path from the tool, such as `$.tools[add_user].inputSchema.properties.password`
    /// (format: `registry::policy` module documentation).
    pub path: String,
    /// The rule, such as `forbidden-property`, `schema-size`, `description-length`,
    /// `additional-properties`.
    pub rule: String,
    /// How serious it is.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
}

/// How one tool's input schema changed between two snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolChange {
    /// The tool.
    pub tool: String,
    /// Top-level input properties that appeared.
    pub properties_added: Vec<String>,
    /// Top-level input properties that disappeared.
    pub properties_removed: Vec<String>,
    /// Properties whose JSON type changed, as `name: old -> new`.
    pub properties_retyped: Vec<String>,
    /// Properties in both snapshots whose schema changed apart from `type` (description, enum,
    /// bounds, nested fields).
    #[serde(default)]
    pub properties_changed: Vec<String>,
    /// Properties that became required.
    pub required_added: Vec<String>,
    /// Properties that stopped being required.
    pub required_removed: Vec<String>,
    /// True when the description, title, annotations, output schema or a field the registry
    /// does not read (`icons`, `execution`, `_meta`, ...) changed.
    pub metadata_changed: bool,
    /// True when the new schema accepts input the old one refused (new properties, fewer
    /// required, wider types): such a change stays unpublished until approved.
    pub broadened: bool,
}

/// The structured difference between a baseline and a newer snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDiff {
    /// Tools only in the newer snapshot.
    pub tools_added: Vec<String>,
    /// Tools only in the baseline.
    pub tools_removed: Vec<String>,
    /// Tools in both whose definition changed.
    pub tools_changed: Vec<ToolChange>,
}

impl SchemaDiff {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.tools_added.is_empty()
            && self.tools_removed.is_empty()
            && self.tools_changed.is_empty()
    }
}
