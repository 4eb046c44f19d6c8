//! The custom resources, as Rust types: `MCPServer`, `MCPToolConfig` and `MCPOIDCConfig` in
//! group `toolhive.stacklok.dev`.
//!
//! Both kinds are served as `v1alpha1` and `v1beta1` with one identical schema, as ToolHive does
//! since v0.23. `v1beta1` is the storage version (ToolHive's current one), and the controller
//! reads and writes `v1beta1`; the apiserver converts `v1alpha1` objects without a webhook
//! (strategy `None` only rewrites `apiVersion`, which is enough for identical schemas). The Rust
//! types are derived once, for `v1beta1`; the `v1alpha1` version of the CRD is the same version
//! entry renamed, combined with [`kube::core::crd::merge_crds`].
//!
//! The spec accepts the seed's legacy names (`port`, `targetPort`, `tools`) and ToolHive's
//! current ones (`proxyPort`, `mcpPort`, `toolConfigRef`). ToolHive fields that Apiary does not
//! act on yet are declared explicitly as free-form objects, so ToolHive manifests apply unchanged
//! under strict field validation; [`super::unsupported`] names them in the status. The inbound
//! OIDC fields are free-form too; [`super::oidc`] reads them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of both kinds.
pub const GROUP: &str = "toolhive.stacklok.dev";
/// The storage version, and the one the controller uses.
pub const STORAGE_VERSION: &str = "v1beta1";
/// The other served version, with the same schema.
pub const LEGACY_VERSION: &str = "v1alpha1";

/// The desired state of one MCP server.
// Several printer columns share `type_ = "string"`, which clippy mistakes for duplicate attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPServer",
    plural = "mcpservers",
    singular = "mcpserver",
    namespaced,
    status = "MCPServerStatus",
    shortname = "mcpserver",
    shortname = "mcpservers",
    category = "toolhive",
    doc = "An MCP server that Apiary runs as a hardened Deployment with a Service.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Transport", type_ = "string", json_path = ".spec.transport"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Tools", type_ = "integer", json_path = ".status.toolCount"),
    printcolumn(
        name = "Unsupported",
        type_ = "string",
        description = "True when the server sets fields Apiary does not act on (condition UnsupportedFields names them)",
        json_path = ".status.conditions[?(@.type==\"UnsupportedFields\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MCPServerSpec {
    /// The container image of the MCP server.
    pub image: String,
    /// How clients talk to the server (default `stdio`, filled in by the apiserver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "stdio"))]
    pub transport: Option<Transport>,
    /// For `stdio`: how the proxy exposes the server (ToolHive field; default `streamable-http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_mode: Option<ProxyMode>,
    /// The Service port (current name; wins over `port`). Default 8080.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub proxy_port: Option<i32>,
    /// The port the MCP container listens on (current name; wins over `targetPort`). Default 8080.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub mcp_port: Option<i32>,
    /// Deprecated name of `proxyPort` (ToolHive ≤ v0.14, the seed manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Deprecated name of `mcpPort` (ToolHive ≤ v0.14, the seed manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: Option<i32>,
    /// Extra arguments for the MCP server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Plain environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub env: Vec<EnvVar>,
    /// Environment variables read from Secrets in the same namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
    /// Host-path volumes (ToolHive field; accepted, not mounted by Apiary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<HostVolume>,
    /// CPU and memory for the MCP container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// An existing ServiceAccount to run as; without it Apiary creates `<name>-sa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// What the server may reach on the network (default: builtin `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_profile: Option<PermissionProfileRef>,
    /// A PodTemplateSpec overlay, merged over the rendered pod (the MCP container is `mcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub pod_template_spec: Option<serde_json::Value>,
    /// The MCPToolConfig in the same namespace that curates the published tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config_ref: Option<ToolConfigRef>,
    /// Deprecated inline allow-list (ToolHive ≤ v0.14; `toolConfigRef` wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Pod replicas. Unset leaves the Deployment's replicas alone (manual or HPA scaling);
    /// `stdio` servers are capped at 1; 0 stops the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,
    /// The Service's session affinity (default `ClientIP`, filled in by the apiserver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ClientIP"))]
    pub session_affinity: Option<SessionAffinity>,
    /// Trust `X-Forwarded-*` headers (ToolHive field; accepted, not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_proxy_headers: Option<bool>,
    /// Path prefix for SSE endpoint URLs (ToolHive field; accepted, not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_prefix: Option<String>,
    /// Backend replicas (ToolHive field; accepted, not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub backend_replicas: Option<i32>,
    /// Labels and annotations for the Deployment (`proxyDeployment`), its pods
    /// (`proxyDeployment.podTemplateMetadataOverrides`) and the Service (`proxyService`).
    /// ToolHive's `env` and `imagePullSecrets` are kept, not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub resource_overrides: Option<serde_json::Value>,
    /// Inbound OIDC (`name` of an MCPOIDCConfig in this namespace, `audience`): Apiary's gateway
    /// takes only that issuer's tokens for the audience. An MCPOIDCConfig of a type other than
    /// `inline`, or a missing one, withholds the server (phase Failed, not served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub oidc_config_ref: Option<serde_json::Value>,
    /// Legacy inline OIDC (ToolHive ≤ v0.20): `type: inline` is enforced by Apiary's gateway
    /// like `oidcConfigRef`; other types withhold the server (phase Failed, not served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub oidc_config: Option<serde_json::Value>,
    /// Cedar authorization (`type: inline` with `inline.policies`, or `type: configMap` with
    /// `configMap.name` and `.key`, default authz.json): Apiary's gateway evaluates the policies
    /// for every tools/call and tools/list entry, with the claims of the token that the server's
    /// own OIDC verified. Without OIDC, or with policies that do not parse, the server is
    /// withheld (phase Failed, not served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub authz_config: Option<serde_json::Value>,
    /// Shared MCPAuthzConfig (ToolHive field): not read by Apiary, so a server that sets it is
    /// withheld (phase Failed, not served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub authz_config_ref: Option<serde_json::Value>,
    /// ToolHive field, accepted and kept, not acted on by Apiary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub audit: Option<serde_json::Value>,
    /// Auth toward the backend (ToolHive field): not done by Apiary, so a server that sets it
    /// is withheld (phase Failed, not served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub external_auth_config_ref: Option<serde_json::Value>,
    /// ToolHive field, accepted and kept, not acted on by Apiary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub webhook_config_ref: Option<serde_json::Value>,
    /// ToolHive field, accepted and kept, not acted on by Apiary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub auth_server_ref: Option<serde_json::Value>,
    /// ToolHive field, accepted and kept, not acted on by Apiary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub telemetry_config_ref: Option<serde_json::Value>,
    /// Legacy ToolHive field (≤ v0.20), accepted and kept, not acted on by Apiary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub telemetry: Option<serde_json::Value>,
    /// ToolHive field, accepted and kept, not acted on by Apiary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub session_storage: Option<serde_json::Value>,
    /// ToolHive field, accepted and kept, not acted on by Apiary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub rate_limiting: Option<serde_json::Value>,
    /// ToolHive's MCPGroup reference: `{name}`, or a bare string before v0.20. Makes the server
    /// a member of the group, whose VirtualMCPServers draw its tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_any")]
    pub group_ref: Option<serde_json::Value>,
}

/// How clients talk to an MCP server.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Transport {
    /// Standard input and output of the container (the default).
    #[default]
    #[serde(rename = "stdio")]
    Stdio,
    /// MCP streamable HTTP, served at `/mcp`.
    #[serde(rename = "streamable-http")]
    StreamableHttp,
    /// Legacy HTTP with server-sent events, served at `/sse`.
    #[serde(rename = "sse")]
    Sse,
}

impl Transport {
    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdio => "stdio",
            Self::StreamableHttp => "streamable-http",
            Self::Sse => "sse",
        }
    }
}

/// Which pod of a Service a client's connections go to.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SessionAffinity {
    /// Every connection from one client IP goes to the same pod (ToolHive's default).
    #[default]
    #[serde(rename = "ClientIP")]
    ClientIp,
    /// Any pod (Kubernetes' `None`).
    #[serde(rename = "None")]
    NoAffinity,
}

impl SessionAffinity {
    /// The Service's `sessionAffinity` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientIp => "ClientIP",
            Self::NoAffinity => "None",
        }
    }
}

/// How a `stdio` server is exposed over HTTP.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ProxyMode {
    /// MCP streamable HTTP (the default).
    #[default]
    #[serde(rename = "streamable-http")]
    StreamableHttp,
    /// Legacy server-sent events.
    #[serde(rename = "sse")]
    Sse,
}

/// One plain environment variable.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

/// An environment variable taken from a key of a Secret.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// The Secret's name, in the server's namespace.
    pub name: String,
    /// The key inside the Secret.
    pub key: String,
    /// The variable's name (default: `key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_env_name: Option<String>,
}

/// A ToolHive host-path volume (accepted, not mounted).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostVolume {
    /// The volume's name.
    pub name: String,
    /// The path on the host.
    pub host_path: String,
    /// The path in the container.
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// CPU and memory limits and requests, as Kubernetes quantities (`"100m"`, `"64Mi"`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Resources {
    /// Upper bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceList>,
    /// Guaranteed amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceList>,
}

/// A CPU and a memory quantity.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ResourceList {
    /// CPU, such as `100m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory, such as `128Mi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Where the permission profile comes from.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct PermissionProfileRef {
    /// `builtin` (name `none` or `network`) or `configmap` (name and key of a ConfigMap).
    #[serde(rename = "type", default)]
    pub kind: ProfileKind,
    /// The builtin profile's name, or the ConfigMap's name.
    pub name: String,
    /// The ConfigMap key holding the profile JSON (configmap profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The kind of a permission profile reference.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProfileKind {
    /// A profile built into Apiary (and ToolHive): `none` or `network`.
    #[default]
    Builtin,
    /// ToolHive's runtime profile JSON in a ConfigMap key.
    Configmap,
}

/// A reference to an MCPToolConfig in the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ToolConfigRef {
    /// The MCPToolConfig's name.
    pub name: String,
}

/// The observed state of an MCP server.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MCPServerStatus {
    /// Pending, Ready, Failed, Terminating or Stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// More about the phase; for Failed, the field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where clients inside the cluster reach the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Ready pods of the Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, ToolConfigResolved, PolicyCompliant, UnsupportedFields, ToolsDiscovered (registry).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Hash of the referenced MCPToolConfig's spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config_hash: Option<String>,
    /// Tools found by the last live fetch (written by the registry, not the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_count: Option<i32>,
    /// Content hash of the last live fetch (written by the registry, not the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_hash: Option<String>,
}

/// Condition type written by the registry, not the operator
/// ([`crate::registry::tool_status`]): whether the newest live fetch found the tools.
pub const TOOLS_DISCOVERED: &str = "ToolsDiscovered";

impl MCPServerStatus {
    /// The part the operator writes: everything but the registry's `toolCount`, `toolsHash`
    /// and condition [`TOOLS_DISCOVERED`].
    pub fn written_by_operator(&self) -> MCPServerStatus {
        MCPServerStatus {
            tool_count: None,
            tools_hash: None,
            conditions: self
                .conditions
                .iter()
                .filter(|c| c.type_ != TOOLS_DISCOVERED)
                .cloned()
                .collect(),
            ..self.clone()
        }
    }
}

/// The lifecycle phase of an MCP server.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Children applied, no ready pod yet.
    Pending,
    /// At least one ready pod. ToolHive before v0.17 called this `Running`.
    #[serde(alias = "Running")]
    Ready,
    /// The spec is invalid, or a dependency is missing; the message says which field.
    Failed,
    /// The apiserver refused to apply a child; the message is what it said. The children
    /// it did accept are in place, and it is retried.
    Degraded,
    /// Being deleted.
    Terminating,
    /// Scaled to zero.
    Stopped,
}

/// The curation of an MCP server's tools: which are published, under what names.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPToolConfig",
    plural = "mcptoolconfigs",
    singular = "mcptoolconfig",
    namespaced,
    status = "MCPToolConfigStatus",
    shortname = "tc",
    shortname = "toolconfig",
    category = "toolhive",
    doc = "Which tools of an MCP server are published, and how they are renamed or described.",
    printcolumn(name = "Filter", type_ = "integer", json_path = ".spec.toolsFilter[*]"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MCPToolConfigSpec {
    /// ToolHive's allow-list of (user-visible) tool names; empty allows every tool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub tools_filter: Vec<String>,
    /// Per-tool overrides, keyed by the upstream tool name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tools_override: BTreeMap<String, ToolOverride>,
    /// Apiary: glob patterns of tools to publish (`*` and `?`); empty allows every tool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Apiary: glob patterns of tools never to publish; deny wins over allow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// A new name, description or annotations for one tool.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ToolOverride {
    /// The published name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The published description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Annotation overrides; an unset field keeps the server's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
}

/// MCP tool annotations that can be overridden.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool does not change its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may destroy data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Calling the tool twice has the effect of calling it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool talks to an open world (the internet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

/// The observed state of an MCPToolConfig.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MCPToolConfigStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Hash of the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// `Valid`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Shared OIDC settings for inbound auth, referenced by `MCPServer.spec.oidcConfigRef` (with
/// the server's own audience). Apiary's gateway enforces `type: inline`; a server referencing
/// another type is withheld ([`super::oidc`]).
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPOIDCConfig",
    plural = "mcpoidcconfigs",
    singular = "mcpoidcconfig",
    namespaced,
    status = "MCPOIDCConfigStatus",
    shortname = "mcpoidc",
    category = "toolhive",
    doc = "Shared OIDC settings that MCPServers in the same namespace reference for inbound auth.",
    printcolumn(name = "Source", type_ = "string", json_path = ".spec.type"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MCPOIDCConfigSpec {
    /// `inline` (enforced by Apiary's gateway) or `kubernetesServiceAccount` (not enforced: a
    /// server referencing it is withheld).
    #[serde(rename = "type")]
    pub type_: OidcSourceType,
    /// Service-account token settings (ToolHive); kept, not enforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub kubernetes_service_account: Option<serde_json::Value>,
    /// The issuer's settings; Apiary reads `issuer`, `jwksUrl` and `insecureAllowHTTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<InlineOidc>,
}

/// Where an MCPOIDCConfig's settings come from.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum OidcSourceType {
    /// Kubernetes service-account tokens (not enforced by Apiary).
    #[serde(rename = "kubernetesServiceAccount")]
    KubernetesServiceAccount,
    /// An OIDC issuer named inline.
    #[serde(rename = "inline")]
    Inline,
}

/// An OIDC issuer, in ToolHive's shape.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InlineOidc {
    /// The issuer URL: tokens must carry it as `iss`.
    pub issuer: String,
    /// Where its signing keys are; without it, the issuer's discovery document says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Token introspection (ToolHive); not used: Apiary accepts only JWTs it can verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_url: Option<String>,
    /// Client id for introspection (ToolHive); not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Client secret for introspection (ToolHive); not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub client_secret_ref: Option<serde_json::Value>,
    /// A CA bundle for the issuer (ToolHive); not used: Apiary trusts its system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub ca_bundle_ref: Option<serde_json::Value>,
    /// A token file for JWKS requests (ToolHive); not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_auth_token_path: Option<String>,
    /// Allow JWKS on private addresses (ToolHive); Apiary does not block them.
    #[serde(
        default,
        rename = "jwksAllowPrivateIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub jwks_allow_private_ip: Option<bool>,
    /// Allow the protected-resource endpoint on private addresses (ToolHive); not used.
    #[serde(
        default,
        rename = "protectedResourceAllowPrivateIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub protected_resource_allow_private_ip: Option<bool>,
    /// Allow `http://` issuer and JWKS URLs (tests, development).
    #[serde(
        default,
        rename = "insecureAllowHTTP",
        skip_serializing_if = "Option::is_none"
    )]
    pub insecure_allow_http: Option<bool>,
}

/// The observed state of an MCPOIDCConfig (ToolHive's shape; Apiary writes none yet).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MCPOIDCConfigStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Authentication toward a server's backend or an upstream (token exchange, header injection,
/// an embedded authorization server, ...), referenced by `MCPServer.spec.externalAuthConfigRef`
/// or `.authServerRef`. Stored as ToolHive shapes it; Apiary's gateway does none of it, so a
/// server referencing one is withheld, and the object's status says so
/// ([`super::external_auth`]).
// Two printer columns share `type_ = "string"`, which clippy mistakes for duplicate attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "toolhive.stacklok.dev",
    version = "v1beta1",
    kind = "MCPExternalAuthConfig",
    plural = "mcpexternalauthconfigs",
    singular = "mcpexternalauthconfig",
    namespaced,
    status = "MCPExternalAuthConfigStatus",
    shortname = "extauth",
    category = "toolhive",
    doc = "Authentication toward MCP servers' backends (ToolHive); kept, not enforced by Apiary: servers referencing it are withheld.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(
        name = "Enforced",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Enforced\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MCPExternalAuthConfigSpec {
    /// The kind of authentication (`tokenExchange`, `headerInjection`, `bearerToken`,
    /// `embeddedAuthServer`, ...); none is performed by Apiary.
    #[serde(rename = "type")]
    pub type_: String,
    /// OAuth 2.0 token exchange settings (ToolHive); kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub token_exchange: Option<serde_json::Value>,
    /// Header injection settings (ToolHive); kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub header_injection: Option<serde_json::Value>,
    /// Bearer token settings (ToolHive); kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub bearer_token: Option<serde_json::Value>,
    /// Embedded authorization server settings (ToolHive); kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub embedded_auth_server: Option<serde_json::Value>,
    /// AWS STS settings (ToolHive); kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub aws_sts: Option<serde_json::Value>,
    /// Upstream token injection settings (ToolHive); kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub upstream_inject: Option<serde_json::Value>,
    /// On-behalf-of settings (ToolHive); kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub obo: Option<serde_json::Value>,
    /// Cross-app access settings (ToolHive); kept, not acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub xaa: Option<serde_json::Value>,
}

/// The observed state of an MCPExternalAuthConfig: condition `Enforced` (always `False`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MCPExternalAuthConfigStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// A schemaless object whose unknown fields the apiserver keeps.
pub(super) fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Any JSON value (used where ToolHive changed a field's type between releases).
pub(super) fn free_form_any(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_and_toolhive_manifests_parse() {
        let seed: MCPServer =
            serde_yaml::from_str(include_str!("../../tests/fixtures/osv-mcpserver.yaml"))
                .expect("the seed parses");
        assert_eq!(seed.spec.port, Some(8080));
        assert_eq!(seed.spec.target_port, Some(8080));
        assert_eq!(seed.spec.transport, Some(Transport::StreamableHttp));
        let toolhive: MCPServer = serde_yaml::from_str(
            "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: fetch}\n\
             spec: {image: ghcr.io/stackloklabs/gofetch/server, transport: streamable-http,\n\
             toolConfigRef: {name: fetch-tools}, proxyPort: 8080, mcpPort: 8081,\n\
             groupRef: legacy-string, oidcConfigRef: {name: x, audience: y}}",
        )
        .expect("a ToolHive manifest parses");
        assert_eq!(toolhive.spec.mcp_port, Some(8081));
        assert_eq!(
            toolhive.spec.group_ref,
            Some(serde_json::json!("legacy-string"))
        );
    }

    #[test]
    fn running_is_read_as_ready() {
        let status: MCPServerStatus =
            serde_json::from_value(serde_json::json!({"phase": "Running"})).expect("parses");
        assert_eq!(status.phase, Some(Phase::Ready));
    }
}
