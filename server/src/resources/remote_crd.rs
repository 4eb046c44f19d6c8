//! ToolHive's two kinds for a remote MCP server, as Rust types: `MCPRemoteProxy` (ToolHive runs
//! a proxy pod in front of the remote) and `MCPServerEntry` (a catalog entry with no pod).
//! Apiary runs no pod for either: its gateway is the proxy, so both register the remote server
//! in the registry and the gateway ([`crate::onboarding::cluster_remotes`]).
//!
//! Every ToolHive field is declared, so ToolHive manifests apply unchanged under strict field
//! validation; the fields Apiary reads are typed, the rest free-form. What Apiary does with
//! each field is decided in [`crate::onboarding::cluster_remotes::declaration`] and written in
//! the status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::crd::free_form_object;

/// How Apiary's gateway talks to a remote server.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RemoteTransport {
    /// Streamable HTTP.
    #[serde(rename = "streamable-http")]
    StreamableHttp,
    /// The legacy HTTP+SSE transport.
    #[serde(rename = "sse")]
    Sse,
}

/// A remote MCP server behind ToolHive's proxy. Apiary's gateway is the proxy: no pod runs.
// Several printer columns share `type_ = "string"`, which clippy mistakes for duplicate attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPRemoteProxy",
    plural = "mcpremoteproxies",
    singular = "mcpremoteproxy",
    namespaced,
    status = "RemoteServerStatus",
    shortname = "rp",
    shortname = "mcprp",
    category = "toolhive",
    doc = "A remote MCP server that Apiary registers and serves through its gateway (no proxy pod).",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Remote URL", type_ = "string", json_path = ".spec.remoteUrl"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Tools", type_ = "integer", json_path = ".status.toolCount"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MCPRemoteProxySpec {
    /// The remote server's URL (`http://` or `https://`).
    #[schemars(regex(pattern = r"^https?://"))]
    pub remote_url: String,
    /// Allows a private or in-cluster `remoteUrl` (RFC 1918, unique-local, `*.cluster.local`).
    /// Loopback, link-local, metadata and `kubernetes.default` addresses stay refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_private_endpoint: Option<bool>,
    /// `streamable-http` (default) or `sse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<RemoteTransport>,
    /// The proxy pod's port (ToolHive); no pod runs, so flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub proxy_port: Option<i32>,
    /// Inbound OIDC through an `MCPOIDCConfig` (`name`, `audience`): enforced by the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub oidc_config_ref: Option<Value>,
    /// Token exchange toward the remote: not performed, so the server is withheld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub external_auth_config_ref: Option<Value>,
    /// An embedded authorization server: not run, so the server is withheld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub auth_server_ref: Option<Value>,
    /// Headers to add toward the remote: not added, so the object is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub header_forward: Option<Value>,
    /// Cedar policies (inline or ConfigMap): evaluated by the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub authz_config: Option<Value>,
    /// A shared `MCPAuthzConfig`: not served, so the server is withheld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub authz_config_ref: Option<Value>,
    /// ToolHive's audit log of the proxy: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub audit: Option<Value>,
    /// An `MCPToolConfig` filter: not read (curation is Apiary's), so the object is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub tool_config_ref: Option<Value>,
    /// A shared `MCPTelemetryConfig`: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub telemetry_config_ref: Option<Value>,
    /// The proxy pod's resources: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub resources: Option<Value>,
    /// The proxy pod's service account: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// The proxy pod's template: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub pod_template_spec: Option<Value>,
    /// Trusting `X-Forwarded-*` in the proxy: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_proxy_headers: Option<bool>,
    /// A path prefix for SSE endpoint URLs: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_prefix: Option<String>,
    /// Labels and annotations of the proxy's objects: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub resource_overrides: Option<Value>,
    /// The `MCPGroup` (not served by Apiary): flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub group_ref: Option<Value>,
    /// The proxy Service's session affinity: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<String>,
    /// Proxy replicas: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,
    /// Shared session storage of proxy replicas: flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub session_storage: Option<Value>,
}

/// A remote MCP server listed in a group, with no proxy (ToolHive). Apiary serves it through
/// its gateway like any server.
// Several printer columns share `type_ = "string"`, which clippy mistakes for duplicate attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPServerEntry",
    plural = "mcpserverentries",
    singular = "mcpserverentry",
    namespaced,
    status = "RemoteServerStatus",
    shortname = "mcpentry",
    category = "toolhive",
    doc = "A remote MCP server that Apiary registers and serves through its gateway.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Transport", type_ = "string", json_path = ".spec.transport"),
    printcolumn(name = "Remote URL", type_ = "string", json_path = ".spec.remoteUrl"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Tools", type_ = "integer", json_path = ".status.toolCount"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MCPServerEntrySpec {
    /// The remote server's URL (`http://` or `https://`).
    #[schemars(regex(pattern = r"^https?://"))]
    pub remote_url: String,
    /// Allows a private or in-cluster `remoteUrl`, as on `MCPRemoteProxy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_private_endpoint: Option<bool>,
    /// `streamable-http` or `sse` (required, as in ToolHive).
    pub transport: RemoteTransport,
    /// The `MCPGroup` (not served by Apiary): flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub group_ref: Option<Value>,
    /// Token exchange toward the remote: not performed, so the server is withheld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub external_auth_config_ref: Option<Value>,
    /// Headers to add toward the remote: not added, so the object is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub header_forward: Option<Value>,
    /// A ConfigMap of CA certificates for the remote's TLS: not read (the system roots are
    /// used, so a remote with a private CA fails its fetch): flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub ca_bundle_ref: Option<Value>,
}

/// The observed state of a remote server object, written by Apiary.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteServerStatus {
    /// `Ready` (registered, the remote answered the newest fetch), `Pending` (no fetch yet),
    /// or `Failed` (refused, withheld, or the newest fetch failed; `message` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Apiary's gateway endpoint of the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Tools the registry found in the newest successful fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_count: Option<i64>,
    /// Why the phase is what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`, `UnsupportedFields` and `RemoteAvailable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
