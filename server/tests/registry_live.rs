//! End to end through the registry: real MCP servers are registered over the API, their tools
//! are fetched live with rmcp, stored, and served by `/v0.1/servers` with their health.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};

use support::http::call;
use support::mcp_servers::{everything, mcp_time, TESTMCP};
use support::registry;

/// Registers a published server, fetches it on demand and returns the refresh outcome.
async fn register_and_refresh(
    app: &axum::Router,
    namespace: &str,
    name: &str,
    spec: Value,
) -> Value {
    let body = json!({ "description": format!("{name} for tests"), "ownerTeam": namespace, "spec": spec, "published": true });
    let (status, answer) = call(
        app,
        "PUT",
        &format!("/api/v1/servers/{namespace}/{name}"),
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, outcome) = call(
        app,
        "POST",
        &format!("/api/v1/servers/{namespace}/{name}/refresh"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    outcome
}

fn published_tools(list: &Value, id: &str) -> Vec<String> {
    registry::tool_names(registry::entry(list, id))
}

#[tokio::test]
async fn real_servers_are_fetched_stored_and_served_with_health() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);

    let everything = everything().display().to_string();
    let outcome = register_and_refresh(
        &app,
        "platform",
        "everything",
        json!({ "command": "node", "args": [everything], "transport": "stdio" }),
    )
    .await;
    assert_eq!(outcome["outcome"], "fetched", "{outcome}");
    assert!(
        outcome["toolCount"].as_u64().expect("count") > 5,
        "{outcome}"
    );

    let time = mcp_time().display().to_string();
    let outcome = register_and_refresh(
        &app,
        "utilities",
        "time",
        json!({ "command": time, "transport": "stdio" }),
    )
    .await;
    assert_eq!(outcome["outcome"], "fetched", "{outcome}");

    let tools_file = tempfile::NamedTempFile::new().expect("tools file");
    std::fs::write(
        tools_file.path(),
        json!([{ "name": "echo", "description": "Echo", "inputSchema": { "type": "object", "properties": { "text": { "type": "string" } } } }]).to_string(),
    )
    .expect("write tools");
    let tools_path = tools_file.path().display().to_string();
    let outcome = register_and_refresh(
        &app,
        "team",
        "ours",
        json!({ "command": TESTMCP, "args": ["--tools", tools_path], "transport": "stdio" }),
    )
    .await;
    assert_eq!(outcome["outcome"], "fetched", "{outcome}");

    let (status, list) = call(&app, "GET", "/v0.1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        published_tools(&list, "platform/everything").contains(&"echo".to_owned()),
        "{list}"
    );
    let time_tools = published_tools(&list, "utilities/time");
    assert!(
        time_tools.contains(&"get_current_time".to_owned()),
        "{time_tools:?}"
    );
    assert_eq!(published_tools(&list, "team/ours"), ["echo"]);
    for entry in list["servers"].as_array().expect("servers") {
        let health = &entry["_meta"]["dev.apiary/server"]["health"];
        assert_ne!(health["status"], "unknown", "health was recorded: {health}");
        assert!(health["latencyMs"].as_i64().is_some(), "{health}");
    }

    // Drift: the server grows a tool; the registry records it and keeps it unpublished.
    std::fs::write(
        tools_file.path(),
        json!([
            { "name": "echo", "description": "Echo", "inputSchema": { "type": "object", "properties": { "text": { "type": "string" } } } },
            { "name": "delete_everything", "inputSchema": { "type": "object" } }
        ])
        .to_string(),
    )
    .expect("rewrite tools");
    let (_, outcome) = call(&app, "POST", "/api/v1/servers/team/ours/refresh", None).await;
    // The refresh that registration started in the background may record the drift first;
    // either way this fetch succeeds and the stored state shows the drift.
    assert_eq!(outcome["outcome"], "fetched", "{outcome}");
    assert!(
        outcome["snapshot"] == "drift" || outcome["snapshot"] == "unchanged",
        "{outcome}"
    );
    let (_, drift) = call(&app, "GET", "/api/v1/servers/team/ours/drift", None).await;
    assert_eq!(
        drift["diff"]["toolsAdded"],
        json!(["delete_everything"]),
        "{drift}"
    );
    let (_, list) = call(&app, "GET", "/v0.1/servers?search=team/ours", None).await;
    assert_eq!(
        published_tools(&list, "team/ours"),
        ["echo"],
        "the new tool waits for approval"
    );
}

#[tokio::test]
async fn a_dead_server_records_a_failed_health_sample() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let outcome = register_and_refresh(
        &app,
        "team",
        "dead",
        json!({ "command": "sh", "args": ["-c", "echo boom >&2; exit 3"], "transport": "stdio" }),
    )
    .await;
    assert_eq!(outcome["outcome"], "failed", "{outcome}");
    let (_, health) = call(&app, "GET", "/api/v1/servers/team/dead/health", None).await;
    let samples = health["samples"].as_array().expect("samples");
    assert!(!samples.is_empty());
    assert!(samples.iter().all(|s| s["ok"] == false), "{health}");
    let (_, list) = call(&app, "GET", "/v0.1/servers", None).await;
    assert_eq!(
        list["servers"][0]["_meta"]["dev.apiary/server"]["health"]["status"],
        "failing"
    );
}
