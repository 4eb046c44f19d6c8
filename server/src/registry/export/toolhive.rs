//! ToolHive's upstream registry format (`upstream-registry.schema.json`): `server.json` entries
//! in an envelope, with ToolHive's own fields under the publisher-provided `_meta`.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::registry::listing::PublishedServer;
use crate::registry::model::ToolDef;
use crate::registry::server_json::{gateway_url, rfc3339, server_detail, ServerJson};

/// The JSON schema the document follows.
pub const SCHEMA_URL: &str = "https://raw.githubusercontent.com/stacklok/toolhive-core/main/registry/types/data/upstream-registry.schema.json";

/// A ToolHive registry document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolHiveRegistry {
    /// The JSON schema the document follows.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// The format's version, `1.0.0`.
    pub version: String,
    /// When the document was made.
    pub meta: RegistryMeta,
    /// The servers.
    pub data: RegistryData,
}

/// The document's own metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryMeta {
    /// RFC 3339.
    pub last_updated: String,
}

/// The document's servers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryData {
    /// One entry per published server.
    pub servers: Vec<ToolHiveServer>,
}

/// A `server.json` with ToolHive's fields under `_meta`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolHiveServer {
    /// The official `server.json` fields.
    #[serde(flatten)]
    pub server: ServerJson,
    /// ToolHive's fields.
    #[serde(rename = "_meta")]
    pub meta: PublisherMeta,
}

/// `_meta` of a ToolHive entry: fields the publisher provides.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherMeta {
    /// Keyed by publisher: `io.github.stacklok`.
    #[serde(rename = "io.modelcontextprotocol.registry/publisher-provided")]
    pub publisher_provided: StacklokMeta,
}

/// ToolHive's publisher namespace.
#[derive(Debug, Serialize, ToSchema)]
pub struct StacklokMeta {
    /// Keyed by the server's gateway endpoint.
    #[serde(rename = "io.github.stacklok")]
    pub stacklok: BTreeMap<String, ToolHiveExtension>,
}

/// ToolHive's extension fields of one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolHiveExtension {
    /// `Active` or `Deprecated`.
    pub status: ToolHiveStatus,
    /// Always `Official`: an administrator published it.
    pub tier: String,
    /// The published tool names.
    pub tools: Vec<String>,
    /// The published tools after curation.
    pub tool_definitions: Vec<ToolDef>,
    /// The server's tags.
    pub tags: Vec<String>,
}

/// A server's status in ToolHive's terms.
#[derive(Debug, Serialize, ToSchema)]
pub enum ToolHiveStatus {
    /// Listed for use.
    Active,
    /// Listed, to be replaced.
    Deprecated,
}

/// ToolHive's registry document for `servers`.
pub fn toolhive_registry(
    servers: &[PublishedServer],
    public_url: &str,
    now_millis: i64,
) -> ToolHiveRegistry {
    let entries = servers
        .iter()
        .map(|s| ToolHiveServer {
            server: server_detail(s, public_url),
            meta: PublisherMeta {
                publisher_provided: StacklokMeta {
                    stacklok: BTreeMap::from([(
                        gateway_url(public_url, &s.namespace, &s.name),
                        extension(s),
                    )]),
                },
            },
        })
        .collect();
    ToolHiveRegistry {
        schema: SCHEMA_URL.into(),
        version: "1.0.0".into(),
        meta: RegistryMeta {
            last_updated: rfc3339(now_millis),
        },
        data: RegistryData { servers: entries },
    }
}

fn extension(server: &PublishedServer) -> ToolHiveExtension {
    ToolHiveExtension {
        status: if server.lifecycle == "deprecated" {
            ToolHiveStatus::Deprecated
        } else {
            ToolHiveStatus::Active
        },
        tier: "Official".into(),
        tools: server.tools.iter().map(|t| t.name.clone()).collect(),
        tool_definitions: server.tools.to_vec(),
        tags: server.tags.clone(),
    }
}
