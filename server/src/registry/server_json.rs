//! Renders a published server as an official MCP Registry `server.json` entry (schema
//! 2025-12-11), pointing clients at Apiary's gateway, with Apiary's extras under `_meta`.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use apiary_app::model::Health;

use crate::resources::unsupported;
use crate::runtime::spec::{source_of, transport_of, Source};

use super::listing::PublishedServer;
use super::model::{PolicyFinding, ToolDef};
use super::tool_list::ToolList;

/// The `server.json` schema this module emits.
pub const SCHEMA_URL: &str =
    "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";
/// The `_meta` key under which Apiary puts its own fields.
pub const APIARY_META: &str = "dev.apiary/server";
/// The `_meta` key the official registry uses for registry-managed state.
pub const OFFICIAL_META: &str = "io.modelcontextprotocol.registry/official";

/// The gateway endpoint that publishes the curated tools of `namespace/name`.
pub fn gateway_url(public_url: &str, namespace: &str, name: &str) -> String {
    format!(
        "{}/mcp/{namespace}/{name}",
        public_url.trim_end_matches('/')
    )
}

/// An official MCP Registry `server.json` (schema 2025-12-11), pointing at Apiary's gateway.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerJson {
    /// The `server.json` schema this follows.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// `namespace/name`.
    pub name: String,
    /// At most 100 characters; the full text is in Apiary's `_meta`.
    pub description: String,
    /// The server's own version from its baseline snapshot, `0.0.0` before the first fetch.
    pub version: String,
    /// The documentation URL, when it is an http(s) URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website_url: Option<String>,
    /// Apiary's gateway endpoint, the only one consumers use.
    pub remotes: Vec<Remote>,
    /// The installable package behind the server, when it has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
}

/// A remote endpoint of a server.
#[derive(Debug, Serialize, ToSchema)]
pub struct Remote {
    /// Always `streamable-http`: the gateway serves it for every transport.
    #[serde(rename = "type")]
    pub kind: String,
    /// The gateway endpoint.
    pub url: String,
}

/// An installable package (npm, PyPI or OCI image).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    /// `npm`, `pypi` or `oci`.
    pub registry_type: String,
    /// The package name or image reference.
    pub identifier: String,
    /// `npx` or `uvx`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_hint: Option<String>,
    /// How the package talks: always stdio.
    pub transport: PackageTransport,
    /// The pinned version, when the source pins one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A package's transport.
#[derive(Debug, Serialize, ToSchema)]
pub struct PackageTransport {
    /// `stdio`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One `servers[]` entry of `/v0.1/servers`: `server` plus the response-level `_meta`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryEntry {
    /// The server.json.
    pub server: ServerJson,
    /// Registry-managed state and Apiary's own fields.
    #[serde(rename = "_meta")]
    pub meta: EntryMeta,
}

/// The `_meta` of a registry entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryMeta {
    /// The official registry's own state.
    #[serde(rename = "io.modelcontextprotocol.registry/official")]
    pub official: OfficialMeta,
    /// Apiary's catalog fields.
    #[serde(rename = "dev.apiary/server")]
    pub apiary: ApiaryMeta,
}

/// The official registry's state of an entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfficialMeta {
    /// `active` or `deprecated`.
    pub status: OfficialStatus,
    /// First registration, RFC 3339.
    pub published_at: String,
    /// Last change, RFC 3339.
    pub updated_at: String,
    /// Always true: Apiary serves one version of each server.
    pub is_latest: bool,
}

/// An entry's status in the official registry's terms.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfficialStatus {
    /// Listed for use.
    Active,
    /// Listed, with a replacement or a reason in Apiary's `_meta`.
    Deprecated,
}

/// Apiary's catalog fields of an entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiaryMeta {
    /// The server's namespace.
    pub namespace: String,
    /// The owning team.
    pub owner_team: String,
    /// Category.
    pub category: String,
    /// Cost class.
    pub cost_class: String,
    /// Sensitivity.
    pub sensitivity: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The full description.
    pub description: String,
    /// Documentation URL (any text the owners gave).
    pub docs_url: String,
    /// `active` or `deprecated`.
    pub lifecycle: String,
    /// The replacement of a deprecated server.
    pub replacement: Option<String>,
    /// Why it is deprecated, in the owners' words.
    pub lifecycle_message: String,
    /// The backend's transport: `stdio`, `sse` or `streamable-http`.
    pub transport: String,
    /// The newest health.
    pub health: HealthMeta,
    /// True when the newest snapshot drifted from the approved baseline.
    pub drift: bool,
    /// The published tools after curation, as consumers see them.
    #[serde(serialize_with = "super::tool_list::write_json")]
    #[schema(value_type = Vec<ToolDef>)]
    pub tools: ToolList,
    /// Policy findings of the newest snapshot.
    #[serde(serialize_with = "shared_slice")]
    #[schema(value_type = Vec<PolicyFinding>)]
    pub policy_findings: Arc<[PolicyFinding]>,
    /// Present when the gateway does not serve the server, with why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayMeta>,
    /// For a virtual server: the servers (`namespace/name`) its tools come from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// Serializes a list shared with the listing as a plain JSON array.
fn shared_slice<T: Serialize, S: serde::Serializer>(
    items: &Arc<[T]>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    items.as_ref().serialize(serializer)
}

/// A server's newest health.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthMeta {
    /// How the newest check went.
    pub status: Health,
    /// Latency of the last fetch in milliseconds.
    pub latency_ms: Option<i64>,
    /// Why the status reads as it does: the newest fetch and the gateway's recent calls,
    /// against the slow threshold.
    pub reason: String,
}

/// Whether the gateway serves a server.
#[derive(Debug, Serialize, ToSchema)]
pub struct GatewayMeta {
    /// False: the server declares security Apiary does not enforce.
    pub served: bool,
    /// The fields concerned and why.
    pub reason: String,
}

/// A page of `/v0.1/servers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    /// The servers of this page.
    pub servers: Vec<RegistryEntry>,
    /// The page's count and the next page's cursor.
    pub metadata: ListMetadata,
}

/// Paging of `/v0.1/servers`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListMetadata {
    /// Entries on this page.
    pub count: usize,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The `server.json` of a published server.
pub fn server_detail(server: &PublishedServer, public_url: &str) -> ServerJson {
    ServerJson {
        schema: SCHEMA_URL.to_owned(),
        name: server.id(),
        description: short_description(server),
        version: server.version.clone(),
        website_url: server
            .docs_url
            .starts_with("http")
            .then(|| server.docs_url.clone()),
        remotes: vec![Remote {
            kind: "streamable-http".into(),
            url: gateway_url(public_url, &server.namespace, &server.name),
        }],
        packages: package(&server.spec).into_iter().collect(),
    }
}

/// The `/v0.1/servers` entry of a published server.
pub fn registry_entry(server: &PublishedServer, public_url: &str) -> RegistryEntry {
    let status = if server.lifecycle == "deprecated" {
        OfficialStatus::Deprecated
    } else {
        OfficialStatus::Active
    };
    RegistryEntry {
        server: server_detail(server, public_url),
        meta: EntryMeta {
            official: OfficialMeta {
                status,
                published_at: rfc3339(server.created_at),
                updated_at: rfc3339(server.updated_at),
                is_latest: true,
            },
            apiary: ApiaryMeta {
                namespace: server.namespace.clone(),
                owner_team: server.owner_team.clone(),
                category: server.category.clone(),
                cost_class: server.cost_class.clone(),
                sensitivity: server.sensitivity.clone(),
                tags: server.tags.clone(),
                description: server.description.clone(),
                docs_url: server.docs_url.clone(),
                lifecycle: server.lifecycle.clone(),
                replacement: server.replacement.clone(),
                lifecycle_message: server.lifecycle_message.clone(),
                transport: transport_of(&server.spec).as_str().to_owned(),
                health: HealthMeta {
                    status: server.health,
                    latency_ms: server.latency_ms,
                    reason: server.health_reason.clone(),
                },
                drift: server.drift,
                tools: server.tools.clone(),
                policy_findings: Arc::clone(&server.findings),
                // A server whose own security Apiary does not enforce: the gateway does not serve it.
                gateway: unsupported::withheld_by_spec(&server.spec).map(|reason| GatewayMeta {
                    served: false,
                    reason,
                }),
                members: server.members.clone(),
            },
        },
    }
}

/// The schema caps descriptions at 100 characters; the full text stays in Apiary's `_meta`.
fn short_description(server: &PublishedServer) -> String {
    let text = server.description.trim();
    let text = if text.is_empty() {
        server.id()
    } else {
        text.to_owned()
    };
    if text.chars().count() <= 100 {
        return text;
    }
    let cut: String = text.chars().take(99).collect();
    format!("{cut}…")
}

/// The installable package behind a server, when it has one.
fn package(spec: &Value) -> Option<Package> {
    let (registry_type, identifier, runtime_hint, version) = match source_of(spec).ok()? {
        Source::Npm { package, version } => ("npm", package, Some("npx"), version),
        Source::Pypi { package, version } => ("pypi", package, Some("uvx"), version),
        Source::Oci(image) => ("oci", image, None, None),
        Source::Command { .. } | Source::Remote(_) => return None,
    };
    Some(Package {
        registry_type: registry_type.to_owned(),
        identifier,
        runtime_hint: runtime_hint.map(str::to_owned),
        transport: PackageTransport {
            kind: "stdio".into(),
        },
        version,
    })
}

/// RFC 3339 text for Unix milliseconds.
pub fn rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Unix milliseconds for RFC 3339 text.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}
