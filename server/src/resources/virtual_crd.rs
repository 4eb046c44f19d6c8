//! ToolHive's two kinds for aggregation, as Rust types: `MCPGroup` (a named set of servers
//! that point at it with `groupRef`) and `VirtualMCPServer` (ToolHive's vMCP: one endpoint
//! over a group). Apiary runs no pod for either: a `VirtualMCPServer` becomes an Apiary
//! virtual server served by the gateway ([`crate::onboarding::cluster_virtual`]).
//!
//! Every ToolHive field is declared, so ToolHive manifests apply unchanged under strict field
//! validation; `config` (ToolHive's whole vMCP configuration) is kept free-form and read by
//! [`crate::onboarding::cluster_virtual::declaration`], which also decides what Apiary does
//! with each field and writes it in the status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::crd::{free_form_any, free_form_object};

/// A named set of MCP servers: `MCPServer`s, `MCPRemoteProxy`s and `MCPServerEntry`s whose
/// `groupRef` names it, in its namespace.
// Several printer columns share `type_ = "string"`, which clippy mistakes for duplicate attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPGroup",
    plural = "mcpgroups",
    singular = "mcpgroup",
    namespaced,
    status = "MCPGroupStatus",
    shortname = "mcpg",
    shortname = "mcpgroup",
    category = "toolhive",
    doc = "A named set of MCP servers (those whose groupRef names it), for VirtualMCPServers.",
    printcolumn(name = "Servers", type_ = "integer", json_path = ".status.serverCount"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MCPGroupSpec {
    /// What the group is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The members Apiary found for a group, written by Apiary.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MCPGroupStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` once its members were listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `MCPServer`s in the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub servers: Vec<String>,
    /// How many `MCPServer`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_count: Option<i32>,
    /// `MCPRemoteProxy`s in the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub remote_proxies: Vec<String>,
    /// How many `MCPRemoteProxy`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_proxy_count: Option<i32>,
    /// `MCPServerEntry`s in the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub entries: Vec<String>,
    /// How many `MCPServerEntry`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_count: Option<i32>,
    /// `MCPServersChecked`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// One endpoint over a group's servers. Apiary's gateway serves it (no pod).
// Several printer columns share `type_ = "string"`, which clippy mistakes for duplicate attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "VirtualMCPServer",
    plural = "virtualmcpservers",
    singular = "virtualmcpserver",
    namespaced,
    status = "VirtualMCPServerStatus",
    shortname = "vmcp",
    shortname = "virtualmcp",
    category = "toolhive",
    doc = "One MCP endpoint over the servers of an MCPGroup, served by Apiary's gateway as a virtual server (no pod).",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(
        name = "Backends",
        type_ = "integer",
        json_path = ".status.backendCount"
    ),
    printcolumn(name = "Tools", type_ = "integer", json_path = ".status.toolCount"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMCPServerSpec {
    /// Who may call it: `type: anonymous` (honoured: anyone who reaches the gateway, with
    /// each member's own rules still applied) or `oidc` (refused: see the status).
    #[schemars(schema_with = "free_form_object")]
    pub incoming_auth: Value,
    /// How it authenticates to its members: `source: discovered` is what Apiary does (each
    /// member's own settings); anything per backend is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub outgoing_auth: Option<Value>,
    /// The `MCPGroup` whose servers it draws tools from (`{name}`; required).
    #[schemars(schema_with = "free_form_any")]
    pub group_ref: Value,
    /// ToolHive's vMCP configuration: `aggregation` is honoured, the rest named in the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub config: Option<Value>,
    /// The vMCP Service's type (no pod, no Service): flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// The vMCP Service's session affinity: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<String>,
    /// The vMCP pod's service account: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// The vMCP pod's template: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub pod_template_spec: Option<Value>,
    /// A shared `MCPTelemetryConfig`: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub telemetry_config_ref: Option<Value>,
    /// The embedding server of ToolHive's optimizer: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub embedding_server_ref: Option<Value>,
    /// An embedded OAuth authorization server: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub auth_server_config: Option<Value>,
    /// vMCP pod replicas: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,
    /// Shared session storage of vMCP replicas: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub session_storage: Option<Value>,
    /// The vMCP pod's image pull secrets: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_any")]
    pub image_pull_secrets: Option<Value>,
    /// Client headers passed on to members (older ToolHive releases): flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_any")]
    pub passthrough_headers: Option<Value>,
    /// Rate limits: refused (Apiary's gateway does not limit rates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub rate_limiting: Option<Value>,
}

/// One member of the group, as the status reports it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredBackend {
    /// The object's name (and the server's, in Apiary's registry).
    pub name: String,
    /// `MCPServer`, `MCPRemoteProxy` or `MCPServerEntry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `ready` (published in Apiary's registry, its tools drawn), `unavailable` (not
    /// published, so none of its tools are shown) or `excluded` (`excludeAll`).
    pub status: String,
    /// Why, when it is not `ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Its own gateway endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The observed state of a `VirtualMCPServer`, written by Apiary.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMCPServerStatus {
    /// `Ready` (served, every member resolved, no conflict), `Degraded` (served, but a member
    /// is not published or a tool is left out), `Pending`, or `Failed` (not served; `message`
    /// says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Why the phase is what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Apiary's gateway endpoint of the virtual server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Tools its clients see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_count: Option<i64>,
    /// Members whose tools are drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_count: Option<i32>,
    /// The group's members and what became of each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub discovered_backends: Vec<DiscoveredBackend>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`, `GroupRefValidated`, `MembersResolved`, `UnsupportedFields`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
