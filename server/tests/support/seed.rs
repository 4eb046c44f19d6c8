//! Seeds servers, tool snapshots and health samples through the stores, for the console tests
//! and the catalog benchmark.

use apiary_server::db::Db;
use apiary_server::registry::model::{FetchedTools, PolicyFinding, ToolDef};
use apiary_server::registry::policy::{check, Policy};
use apiary_server::registry::store::SnapshotStore;
use apiary_server::servers::{ServerRegistration, ServerStore};
use serde_json::{json, Value};

/// The metadata of a seeded server.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    pub description: String,
    pub owner_team: String,
    pub category: String,
    pub cost_class: String,
    pub sensitivity: String,
    pub published: bool,
}

/// Registers `namespace/name` with `meta` and a container image spec; returns its id.
pub async fn server(db: &Db, namespace: &str, name: &str, meta: Meta) -> String {
    let store = ServerStore::new(db.clone());
    let registration = ServerRegistration {
        description: meta.description,
        owner_team: meta.owner_team,
        category: meta.category,
        cost_class: meta.cost_class,
        sensitivity: meta.sensitivity,
        tags: vec!["seeded".into()],
        docs_url: "https://docs.example.com/mcp".into(),
        spec: json!({ "image": "ghcr.io/example/mcp:1.0", "transport": "streamable-http" }),
        published: meta.published,
    };
    store
        .register(namespace, name, &registration, "seed")
        .await
        .expect("register a server");
    store
        .id_of(namespace, name)
        .await
        .expect("read the id")
        .expect("the server exists")
}

/// A tool with `description` and an input `schema`.
pub fn tool(name: &str, description: &str, schema: Value) -> ToolDef {
    ToolDef::new(name, description, schema)
}

/// Records a successful fetch of `tools` for server `id` (the first becomes the baseline).
pub async fn tools(db: &Db, id: &str, tools: Vec<ToolDef>) {
    let hash = format!(
        "{:x}",
        tools.len() * 7919 + tools.iter().map(|t| t.name.len()).sum::<usize>()
    );
    let fetched = FetchedTools {
        server_name: "seeded".into(),
        server_version: "1.0.0".into(),
        protocol_version: "2025-06-18".into(),
        capabilities: json!({ "tools": {} }),
        tools,
        latency_ms: 10,
    };
    SnapshotStore::new(db.clone())
        .record_fetch(id, &fetched, &hash, &[], None)
        .await
        .expect("record a fetch");
}

/// Records a fetch of `tools` for server `namespace/name` with the findings the default policy
/// gives them (the first fetch becomes the baseline); returns the findings.
pub async fn tools_with_findings(
    db: &Db,
    namespace: &str,
    name: &str,
    tools: Vec<ToolDef>,
) -> Vec<PolicyFinding> {
    let findings = check(&Policy::default(), &tools);
    let id = ServerStore::new(db.clone())
        .id_of(namespace, name)
        .await
        .expect("read the id")
        .expect("the server exists");
    let fetched = FetchedTools {
        server_name: name.into(),
        server_version: "1.0.0".into(),
        protocol_version: "2025-06-18".into(),
        capabilities: json!({ "tools": {} }),
        tools,
        latency_ms: 5,
    };
    SnapshotStore::new(db.clone())
        .record_fetch(&id, &fetched, "hash-1", &findings, None)
        .await
        .expect("record the snapshot");
    findings
}

/// Records one health sample for server `id`.
pub async fn health(db: &Db, id: &str, ok: bool, latency_ms: u64) {
    SnapshotStore::new(db.clone())
        .record_health(id, ok, latency_ms, (!ok).then_some("connection refused"))
        .await
        .expect("record health");
}
