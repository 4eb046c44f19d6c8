//! Renders a published server as an official MCP Registry `server.json` entry (schema
//! 2025-12-11), pointing clients at Apiary's gateway, with Apiary's extras under `_meta`.

use serde_json::{json, Map, Value};

use super::listing::PublishedServer;
use super::source::{source_of, transport_of, Source};
use crate::gateway::inbound::Inbound;

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

/// The `server` object of a registry entry.
pub fn server_detail(server: &PublishedServer, public_url: &str) -> Value {
    let mut detail = Map::new();
    detail.insert("$schema".into(), json!(SCHEMA_URL));
    detail.insert("name".into(), json!(server.id()));
    detail.insert("description".into(), json!(short_description(server)));
    detail.insert("version".into(), json!(server.version));
    if server.docs_url.starts_with("http") {
        detail.insert("websiteUrl".into(), json!(server.docs_url));
    }
    detail.insert(
        "remotes".into(),
        json!([{ "type": "streamable-http", "url": gateway_url(public_url, &server.namespace, &server.name) }]),
    );
    if let Some(package) = package(&server.spec) {
        detail.insert("packages".into(), json!([package]));
    }
    Value::Object(detail)
}

/// One `servers[]` entry: `server` plus the response-level `_meta`.
pub fn registry_entry(server: &PublishedServer, public_url: &str) -> Value {
    let mut entry = json!({
        "server": server_detail(server, public_url),
        "_meta": {
            OFFICIAL_META: {
                "status": if server.lifecycle == "deprecated" { "deprecated" } else { "active" },
                "publishedAt": rfc3339(server.created_at),
                "updatedAt": rfc3339(server.updated_at),
                "isLatest": true,
            },
            APIARY_META: {
                "namespace": server.namespace,
                "ownerTeam": server.owner_team,
                "category": server.category,
                "costClass": server.cost_class,
                "sensitivity": server.sensitivity,
                "tags": server.tags,
                "description": server.description,
                "docsUrl": server.docs_url,
                "lifecycle": server.lifecycle,
                "replacement": server.replacement,
                "lifecycleMessage": server.lifecycle_message,
                "transport": transport_of(&server.spec).as_str(),
                "health": { "status": server.health, "latencyMs": server.latency_ms },
                "drift": server.drift,
                "tools": server.tools,
                "policyFindings": server.findings,
            }
        }
    });
    // A server whose own security Apiary does not enforce: the gateway does not serve it.
    if let Some(why) = Inbound::withheld_by_spec(&server.spec) {
        entry["_meta"][APIARY_META]["gateway"] = json!({ "served": false, "reason": why });
    }
    entry
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
fn package(spec: &Value) -> Option<Value> {
    let transport = json!({ "type": "stdio" });
    match source_of(spec)? {
        Source::Npm { package, version } => Some(with_version(
            json!({ "registryType": "npm", "identifier": package, "runtimeHint": "npx", "transport": transport }),
            version,
        )),
        Source::Pypi { package, version } => Some(with_version(
            json!({ "registryType": "pypi", "identifier": package, "runtimeHint": "uvx", "transport": transport }),
            version,
        )),
        Source::Oci(image) => {
            Some(json!({ "registryType": "oci", "identifier": image, "transport": transport }))
        }
        Source::Command { .. } | Source::Remote(_) => None,
    }
}

fn with_version(mut package: Value, version: Option<String>) -> Value {
    if let (Some(version), Some(object)) = (version, package.as_object_mut()) {
        object.insert("version".into(), json!(version));
    }
    package
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
