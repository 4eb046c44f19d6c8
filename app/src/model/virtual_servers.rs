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
