//! The MCP Registry API and the exports: shape (checked against the official `server.json`
//! schema), paging, search, `updated_since`, drift handling and errors.

mod support;

use support::http::{request, send};

use apiary_server::db::Db;
use apiary_server::registry::model::{
    FetchedTools, PolicyFinding, SchemaDiff, Severity, ToolChange, ToolDef,
};
use apiary_server::registry::store::SnapshotStore;
use apiary_server::servers::{ServerRegistration, ServerStore};
use axum::http::StatusCode;
use serde_json::{json, Value};

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    send(app, request("GET", uri, None)).await
}

async fn get_json(app: &axum::Router, uri: &str) -> Value {
    let (status, body) = get(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).expect("JSON body")
}

fn tool(name: &str, properties: Value) -> ToolDef {
    ToolDef::new(
        name,
        format!("The {name} tool"),
        json!({ "type": "object", "properties": properties }),
    )
}

fn fetched(tools: Vec<ToolDef>) -> FetchedTools {
    FetchedTools {
        server_name: "test".into(),
        server_version: "1.2.3".into(),
        protocol_version: "2025-06-18".into(),
        capabilities: json!({ "tools": {} }),
        tools,
        latency_ms: 12,
    }
}

async fn register(db: &Db, namespace: &str, name: &str, published: bool, spec: Value) -> String {
    let store = ServerStore::new(db.clone());
    let registration = ServerRegistration {
        description: format!("{name} server for {namespace}"),
        owner_team: namespace.into(),
        category: "testing".into(),
        spec,
        published,
        ..ServerRegistration::default()
    };
    store
        .register(namespace, name, &registration, "tester")
        .await
        .expect("register");
    sqlx::query_scalar("SELECT id FROM servers WHERE namespace = $1 AND name = $2")
        .bind(namespace)
        .bind(name)
        .fetch_one(db.pool())
        .await
        .expect("server id")
}

fn npx() -> Value {
    json!({ "image": "npx://@modelcontextprotocol/server-everything@2026.8.31", "transport": "stdio" })
}

fn schema_validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(include_str!("fixtures/server.schema.json")).expect("schema fixture");
    jsonschema::validator_for(&schema).expect("valid JSON schema")
}

#[tokio::test]
async fn published_servers_appear_in_the_official_shape_with_their_tools() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let id = register(db, "platform", "everything", true, npx()).await;
        register(db, "platform", "hidden", false, npx()).await;
        let snapshots = SnapshotStore::new(db.clone());
        snapshots
            .record_fetch(
                &id,
                &fetched(vec![tool(
                    "echo",
                    json!({ "message": { "type": "string" } }),
                )]),
                "h1",
                &[],
                None,
            )
            .await
            .expect("baseline");
        snapshots
            .record_health(&id, true, 12, None)
            .await
            .expect("health");
        let app = support::app(db);

        let body = get_json(&app, "/v0.1/servers").await;
        let servers = body["servers"].as_array().expect("servers array");
        assert_eq!(servers.len(), 1, "only published servers: {body}");
        assert_eq!(body["metadata"]["count"], 1);
        assert!(body["metadata"].get("nextCursor").is_none(), "no next page");

        let entry = &servers[0];
        let validator = schema_validator();
        let errors: Vec<String> = validator
            .iter_errors(&entry["server"])
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "server.json schema violations: {errors:?}"
        );
        assert_eq!(entry["server"]["name"], "platform/everything");
        assert_eq!(entry["server"]["version"], "1.2.3");
        assert_eq!(
            entry["server"]["remotes"][0]["url"],
            "http://apiary.test/mcp/platform/everything"
        );
        assert_eq!(entry["server"]["packages"][0]["registryType"], "npm");
        assert_eq!(entry["server"]["packages"][0]["version"], "2026.8.31");
        let official = &entry["_meta"]["io.modelcontextprotocol.registry/official"];
        assert_eq!(official["status"], "active");
        assert_eq!(official["isLatest"], true);
        let apiary = &entry["_meta"]["dev.apiary/server"];
        assert_eq!(apiary["ownerTeam"], "platform");
        assert_eq!(apiary["health"]["status"], "healthy");
        assert_eq!(apiary["tools"][0]["name"], "echo");

        let one = get_json(&app, "/v0.1/servers/platform%2Feverything/versions/latest").await;
        assert_eq!(one["server"]["name"], "platform/everything");
        let exact = get_json(&app, "/v0.1/servers/platform%2Feverything/versions/1.2.3").await;
        assert_eq!(exact["server"]["version"], "1.2.3");
        let versions = get_json(&app, "/v0.1/servers/platform%2Feverything/versions").await;
        assert_eq!(versions["metadata"]["count"], 1);
        assert_eq!(
            get(&app, "/v0.1/servers/platform%2Feverything/versions/9.9.9")
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&app, "/v0.1/servers/platform%2Fhidden/versions")
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn paging_search_and_updated_since() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        for (namespace, name) in [
            ("a", "one"),
            ("a", "two"),
            ("a-b", "three"),
            ("b", "four"),
            ("b", "five"),
        ] {
            register(db, namespace, name, true, npx()).await;
        }
        let app = support::app(db);

        let mut seen = Vec::new();
        let mut uri = "/v0.1/servers?limit=2".to_owned();
        loop {
            let page = get_json(&app, &uri).await;
            let names: Vec<String> = page["servers"]
                .as_array()
                .expect("array")
                .iter()
                .map(|s| s["server"]["name"].as_str().expect("name").to_owned())
                .collect();
            assert!(names.len() <= 2);
            assert_eq!(page["metadata"]["count"], names.len());
            seen.extend(names);
            match page["metadata"]["nextCursor"].as_str() {
                Some(cursor) => uri = format!("/v0.1/servers?limit=2&cursor={}", urlencode(cursor)),
                None => break,
            }
        }
        assert_eq!(
            seen,
            ["a/one", "a/two", "a-b/three", "b/five", "b/four"],
            "every server once, in order"
        );

        let found = get_json(&app, "/v0.1/servers?search=THREE").await;
        assert_eq!(found["servers"][0]["server"]["name"], "a-b/three");
        assert_eq!(found["metadata"]["count"], 1);

        let later = get_json(&app, "/v0.1/servers?updated_since=2999-01-01T00:00:00Z").await;
        assert_eq!(later["metadata"]["count"], 0);
        let earlier = get_json(&app, "/v0.1/servers?updated_since=2000-01-01T00:00:00Z").await;
        assert_eq!(earlier["metadata"]["count"], 5);

        let filtered = get_json(&app, "/v0.1/servers?owner_team=b").await;
        assert_eq!(filtered["metadata"]["count"], 2, "metadata is filterable");
    }
}

/// The names of the tools `/v0.1/servers` lists for its first server.
async fn listed_tools(app: &axum::Router) -> Vec<String> {
    let body = get_json(app, "/v0.1/servers").await;
    body["servers"][0]["_meta"]["dev.apiary/server"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn the_listing_follows_every_change_of_tools_and_curation_at_once() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let id = register(db, "team", "search", true, npx()).await;
        let snapshots = SnapshotStore::new(db.clone());
        snapshots
            .record_fetch(
                &id,
                &fetched(vec![tool("find", json!({}))]),
                "h1",
                &[],
                None,
            )
            .await
            .expect("baseline");
        let app = support::app(db);
        assert_eq!(listed_tools(&app).await, ["find"]);

        // A curation change shows on the next read of the same (warm) registry.
        let (status, body) = support::http::call(
            &app,
            "PUT",
            "/api/v1/servers/team/search/curation",
            Some(&json!({ "overrides": { "find": { "name": "lookup" } } })),
        )
        .await;
        assert!(status.is_success(), "{status} {body}");
        assert_eq!(listed_tools(&app).await, ["lookup"], "renamed at once");
        let (status, body) = support::http::call(
            &app,
            "PUT",
            "/api/v1/servers/team/search/curation",
            Some(&json!({ "hidden": ["find"] })),
        )
        .await;
        assert!(status.is_success(), "{status} {body}");
        assert!(listed_tools(&app).await.is_empty(), "hidden at once");
        let (status, body) = support::http::call(
            &app,
            "PUT",
            "/api/v1/servers/team/search/curation",
            Some(&json!({})),
        )
        .await;
        assert!(status.is_success(), "{status} {body}");

        // A newer snapshot's findings show at once (its bytes differ, its tools do not).
        let finding = PolicyFinding {
            tool: "find".into(),
            path: "$.tools[find].description".into(),
            rule: "description-length".into(),
            severity: Severity::Warning,
            message: "The description is short.".into(),
        };
        snapshots
            .record_fetch(
                &id,
                &fetched(vec![tool("find", json!({}))]),
                "h2",
                &[finding],
                None,
            )
            .await
            .expect("a newer snapshot");
        let body = get_json(&app, "/v0.1/servers").await;
        let meta = &body["servers"][0]["_meta"]["dev.apiary/server"];
        assert_eq!(
            meta["policyFindings"][0]["rule"], "description-length",
            "{meta}"
        );
        assert_eq!(listed_tools(&app).await, ["find"]);

        // A server unpublished after it was listed is gone from the next page.
        sqlx::query("UPDATE servers SET published = FALSE WHERE id = $1")
            .bind(&id)
            .execute(db.pool())
            .await
            .expect("unpublish");
        let body = get_json(&app, "/v0.1/servers").await;
        assert_eq!(body["metadata"]["count"], 0, "{body}");
    }
}

#[tokio::test]
async fn bad_parameters_get_a_4xx_naming_the_field() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    for (uri, field) in [
        ("/v0.1/servers?limit=0", "limit"),
        ("/v0.1/servers?limit=abc", "limit"),
        ("/v0.1/servers?limit=101", "limit"),
        ("/v0.1/servers?updated_since=yesterday", "updated_since"),
        ("/v0.1/servers?cursor=nonsense", "cursor"),
        ("/v0.1/servers?include_deleted=maybe", "include_deleted"),
    ] {
        let (status, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let error: Value = serde_json::from_str(&body).expect("JSON error");
        assert_eq!(error["field"], field, "{uri}: {body}");
    }
}

#[tokio::test]
async fn drift_keeps_added_tools_and_broadened_schemas_unpublished() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let id = register(db, "team", "drifty", true, npx()).await;
        let snapshots = SnapshotStore::new(db.clone());
        let base = vec![
            tool("stable", json!({ "q": { "type": "string" } })),
            tool("widened", json!({ "q": { "type": "string" } })),
        ];
        snapshots
            .record_fetch(&id, &fetched(base), "h1", &[], None)
            .await
            .expect("baseline");
        let newer = vec![
            tool("stable", json!({ "q": { "type": "string" } })),
            tool(
                "widened",
                json!({ "q": { "type": "string" }, "extra": { "type": "string" } }),
            ),
            tool("added", json!({})),
        ];
        let diff = SchemaDiff {
            tools_added: vec!["added".into()],
            tools_removed: vec![],
            tools_changed: vec![ToolChange {
                tool: "widened".into(),
                properties_added: vec!["extra".into()],
                broadened: true,
                ..ToolChange::default()
            }],
        };
        snapshots
            .record_fetch(&id, &fetched(newer), "h2", &[], Some(diff))
            .await
            .expect("drift");

        let app = support::app(db);
        let body = get_json(&app, "/v0.1/servers").await;
        let meta = &body["servers"][0]["_meta"]["dev.apiary/server"];
        let tools: Vec<&str> = meta["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["name"].as_str().expect("name"))
            .collect();
        assert_eq!(
            tools,
            ["stable", "widened"],
            "the added tool waits for approval"
        );
        assert!(
            meta["tools"][1]["inputSchema"]["properties"]
                .get("extra")
                .is_none(),
            "the baseline schema is served"
        );
        assert_eq!(meta["drift"], true);

        let latest = snapshots
            .latest(&id)
            .await
            .expect("read")
            .expect("a snapshot");
        apiary_server::registry::drift_review::approve_snapshot(
            &test_db.db,
            &id,
            "test/server",
            &latest.id,
            ("tester".into(), "the new tools are fine"),
        )
        .await
        .expect("approve");
        let body = get_json(&app, "/v0.1/servers").await;
        let meta = &body["servers"][0]["_meta"]["dev.apiary/server"];
        assert_eq!(
            meta["tools"].as_array().expect("tools").len(),
            3,
            "approval moves the baseline"
        );
    }
}

#[tokio::test]
async fn litellm_and_toolhive_exports_list_every_published_server() {
    let test_db = support::sqlite().await;
    let db = &test_db.db;
    register(db, "platform", "everything", true, npx()).await;
    register(
        db,
        "time-team",
        "time",
        true,
        json!({ "image": "uvx://mcp-server-time", "transport": "stdio" }),
    )
    .await;
    register(db, "platform", "draft", false, npx()).await;
    let app = support::app(db);

    let (status, yaml) = get(&app, "/api/v1/exports/litellm.yaml").await;
    assert_eq!(status, StatusCode::OK);
    let config: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("LiteLLM YAML parses");
    let servers = config["mcp_servers"].as_mapping().expect("mcp_servers map");
    assert_eq!(servers.len(), 2, "{yaml}");
    let time = &config["mcp_servers"]["time_team_time"];
    assert_eq!(
        time["url"].as_str(),
        Some("http://apiary.test/mcp/time-team/time")
    );
    assert_eq!(time["transport"].as_str(), Some("http"));
    assert!(config["mcp_servers"]["platform_everything"]["url"].is_string());
    for name in servers.keys() {
        assert!(
            !name.as_str().expect("name").contains('-'),
            "LiteLLM names must not contain '-'"
        );
    }

    let registry = get_json(&app, "/api/v1/exports/toolhive-registry.json").await;
    assert_eq!(registry["version"], "1.0.0");
    let entries = registry["data"]["servers"].as_array().expect("servers");
    assert_eq!(entries.len(), 2);
    let validator = schema_validator();
    for entry in entries {
        let errors: Vec<String> = validator
            .iter_errors(entry)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }

    let snippets = get_json(&app, "/api/v1/servers/platform/everything/snippets").await;
    assert_eq!(
        snippets["vscode"]["servers"]["everything"]["url"],
        "http://apiary.test/mcp/platform/everything"
    );
    assert_eq!(
        snippets["cursor"]["mcpServers"]["everything"]["url"],
        "http://apiary.test/mcp/platform/everything"
    );
    assert!(snippets["claudeDesktop"]["mcpServers"]["everything"]["args"].is_array());
    assert_eq!(
        get(&app, "/api/v1/servers/platform/draft/snippets").await.0,
        StatusCode::NOT_FOUND
    );

    // Two servers whose LiteLLM names meet are both exported, each under the name its own
    // snippet gives.
    register(db, "time", "team-time", true, npx()).await;
    let (_, yaml) = get(&app, "/api/v1/exports/litellm.yaml").await;
    let config: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("LiteLLM YAML parses");
    let servers = config["mcp_servers"].as_mapping().expect("mcp_servers map");
    assert_eq!(servers.len(), 3, "{yaml}");
    for (namespace, name) in [("time-team", "time"), ("time", "team-time")] {
        let snippet = get_json(
            &app,
            &format!("/api/v1/servers/{namespace}/{name}/snippets"),
        )
        .await;
        let key = snippet["litellm"]["mcp_servers"]
            .as_object()
            .and_then(|entries| entries.keys().next().cloned())
            .expect("one LiteLLM entry");
        assert!(key.starts_with("time_team_time_"), "{key}");
        assert_eq!(
            config["mcp_servers"][key.as_str()]["url"].as_str(),
            Some(format!("http://apiary.test/mcp/{namespace}/{name}").as_str()),
            "{yaml}"
        );
    }
}

fn urlencode(text: &str) -> String {
    text.replace('/', "%2F")
}

#[tokio::test]
async fn internal_endpoints_show_snapshots_drift_and_health_history() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let id = register(db, "team", "watched", false, npx()).await;
        let snapshots = SnapshotStore::new(db.clone());
        let app = support::app(db);

        let drift = get_json(&app, "/api/v1/servers/team/watched/drift").await;
        assert_eq!(drift["pendingApproval"], false, "nothing fetched yet");

        snapshots
            .record_fetch(&id, &fetched(vec![tool("a", json!({}))]), "h1", &[], None)
            .await
            .expect("baseline");
        let same = snapshots
            .record_fetch(&id, &fetched(vec![tool("a", json!({}))]), "h1", &[], None)
            .await
            .expect("same");
        assert_eq!(same, apiary_server::registry::store::Recorded::Unchanged);
        let diff = SchemaDiff {
            tools_added: vec!["b".into()],
            ..SchemaDiff::default()
        };
        snapshots
            .record_fetch(
                &id,
                &fetched(vec![tool("a", json!({})), tool("b", json!({}))]),
                "h2",
                &[],
                Some(diff),
            )
            .await
            .expect("drift");
        for (ok, ms, error) in [
            (true, 10, None),
            (false, 3000, Some("timed out")),
            (true, 20, None),
        ] {
            snapshots
                .record_health(&id, ok, ms, error)
                .await
                .expect("health");
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }

        let history = get_json(&app, "/api/v1/servers/team/watched/snapshots").await;
        assert_eq!(
            history["snapshots"].as_array().expect("array").len(),
            2,
            "the unchanged fetch stored nothing"
        );
        let drift = get_json(&app, "/api/v1/servers/team/watched/drift").await;
        assert_eq!(drift["pendingApproval"], true);
        assert_eq!(drift["diff"]["toolsAdded"], json!(["b"]));

        let health = get_json(&app, "/api/v1/servers/team/watched/health?limit=2").await;
        let samples = health["samples"].as_array().expect("samples");
        assert_eq!(samples.len(), 2, "the newest two");
        assert_eq!(samples[0]["ok"], false, "oldest first");
        assert_eq!(samples[0]["error"], "timed out");
        assert_eq!(samples[1]["latencyMs"], 20);

        let (_, html) = get(&app, "/").await;
        assert!(
            html.contains("Health: </span>healthy"),
            "the catalog card shows the newest sample's health"
        );
        snapshots
            .record_health(&id, false, 5, Some("boom"))
            .await
            .expect("health");
        let (_, html) = get(&app, "/").await;
        assert!(
            html.contains("Health: </span>failing"),
            "a failed fetch shows as failing"
        );

        assert_eq!(
            get(&app, "/api/v1/servers/team/watched/health?limit=0")
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            get(&app, "/api/v1/servers/team/nobody/snapshots").await.0,
            StatusCode::NOT_FOUND
        );
    }
}

/// A snapshot stored before the registry kept every tool field (keys sorted, no `icons`,
/// `execution` or `_meta`) does not read as drift when the same server is fetched again: the
/// new, complete snapshot becomes the baseline, and its key order never counts.
#[tokio::test]
async fn snapshots_stored_before_full_fidelity_do_not_read_as_drift() {
    use apiary_server::registry::canonical::content_hash;
    use apiary_server::registry::diff::diff;
    use apiary_server::registry::store::Recorded;

    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let id = register(db, "team", "upgraded", false, npx()).await;
        let snapshots = SnapshotStore::new(db.clone());
        // As the server reports it: properties in its order, fields the registry did not keep.
        let reported: ToolDef = serde_json::from_str(
            r#"{"name":"commit","inputSchema":{"type":"object","properties":{"repo_path":{"type":"string"},"message":{"type":"string"}}},"description":"Records changes","execution":{"taskSupport":"optional"},"icons":[{"src":"https://example.com/i.png"}]}"#,
        )
        .expect("a tool");
        // As it was stored then: only the fields read, keys sorted.
        let stored: ToolDef = serde_json::from_str(
            r#"{"description":"Records changes","inputSchema":{"properties":{"message":{"type":"string"},"repo_path":{"type":"string"}},"type":"object"},"name":"commit"}"#,
        )
        .expect("a tool");
        let old = vec![stored];
        assert_eq!(
            snapshots
                .record_fetch(&id, &fetched(old.clone()), &content_hash(&old), &[], None)
                .await
                .expect("baseline"),
            Recorded::Baseline
        );
        let new = vec![reported];
        let outcome = snapshots
            .record_fetch(
                &id,
                &fetched(new.clone()),
                &content_hash(&new),
                &[],
                Some(diff(&old, &new)),
            )
            .await
            .expect("complete");
        assert_eq!(outcome, Recorded::Completed);
        let baseline = snapshots.baseline(&id).await.expect("read").expect("one");
        assert_eq!(baseline.tools, new, "the complete snapshot is the baseline");
        assert_eq!(
            serde_json::to_string(&baseline.tools[0].input_schema).expect("JSON"),
            r#"{"type":"object","properties":{"repo_path":{"type":"string"},"message":{"type":"string"}}}"#,
            "stored in the server's order"
        );
        let again = snapshots
            .record_fetch(&id, &fetched(new.clone()), &content_hash(&new), &[], None)
            .await
            .expect("again");
        assert_eq!(again, Recorded::Unchanged);

        // A real change of a field the registry does not read is drift as any other.
        let mut changed = new.clone();
        changed[0].extra["execution"] = json!({ "taskSupport": "required" });
        let outcome = snapshots
            .record_fetch(
                &id,
                &fetched(changed.clone()),
                &content_hash(&changed),
                &[],
                Some(diff(&new, &changed)),
            )
            .await
            .expect("drift");
        assert!(matches!(outcome, Recorded::Drift(_)), "{outcome:?}");
    }
}
