//! Virtual servers as the console shows them: one endpoint with tools drawn from several
//! published servers.

use serde::{Deserialize, Serialize};

/// One virtual server with what it shows now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualServerCard {
    /// `namespace/name`.
    pub id: String,
    /// What it offers.
    pub description: String,
    /// The owning team.
    pub owner_team: String,
    /// Data sensitivity, empty when not set.
    pub sensitivity: String,
    /// Its MCP endpoint.
    pub url: String,
    /// The servers its tools come from, `namespace/name`.
    pub members: Vec<String>,
    /// The tools its clients see, in order.
    pub tools: Vec<VirtualTool>,
    /// Members that are not published now (their tools are not shown).
    pub unresolved: Vec<String>,
    /// Name conflicts that arose after it was saved (the later tool is not shown).
    pub conflicts: Vec<String>,
    /// True when `tools/list` shows only the `find_tools` finder and the pinned tools.
    pub finder: bool,
    /// Client configuration for its endpoint, one per client.
    pub snippets: Vec<super::server_detail::Snippet>,
    /// The `VirtualMCPServer` that declares it, when the cluster does (`namespace/name`).
    pub declared_by: Option<String>,
    /// Tool calls through its endpoint per sampling interval, oldest first.
    pub calls: Vec<super::server_detail::CallPoint>,
    /// Each of its tools' calls through its endpoint over the last day.
    pub tool_usage: Vec<super::server_detail::ToolUsage>,
}

/// One tool of a virtual server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualTool {
    /// The name its clients call.
    pub name: String,
    /// The description its clients see.
    pub description: String,
    /// The member server, `namespace/name`.
    pub member: String,
    /// The tool's name on the member's endpoint.
    pub member_tool: String,
}

/// The console's form for proposing a virtual server (`/virtual-servers/propose`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VirtualProposalForm {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// What it offers.
    pub description: String,
    /// The owning team, whose owners review the proposal.
    pub owner_team: String,
    /// Data sensitivity.
    pub sensitivity: String,
    /// One member per line: `namespace/name`, then globs of the tools to show, and `-glob`
    /// for tools to leave out.
    pub members: String,
    /// `prefix` (each member's tools carry its name) or `priority` (names kept; the member
    /// listed first keeps a shared name).
    pub conflicts: String,
    /// `on` to offer the `find_tools` finder.
    pub finder: String,
}
