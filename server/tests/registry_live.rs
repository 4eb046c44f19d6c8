//! End to end through the registry: real MCP servers are registered over the API, their tools
//! are fetched live with rmcp, stored, and served by `/v0.1/servers` with their health.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};

use support::http::call;
use support::mcp_servers::{everything, mcp_time, one_tool_file, TESTMCP};
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

/// In local mode the registry fetches a stdio server over the process the runtime supervises:
/// no second copy of the server starts, the wait for a slow start is reported apart from the
/// fetch's latency, and a server that starts slowly but answers fast reads "healthy".
#[tokio::test]
async fn a_local_server_is_fetched_over_its_running_process_and_start_up_is_not_latency() {
    let test_db = support::sqlite().await;
    let app = support::app(&test_db.db);
    let (dir, tools) = one_tool_file();
    let starts = dir.path().join("starts.log");
    let spec = json!({ "command": TESTMCP, "transport": "stdio", "args": [
        "--tools", tools.display().to_string(),
        "--starts-log", starts.display().to_string(),
        // Slower to start than the 1,000 ms slow threshold.
        "--start-delay-ms", "1500",
    ] });
    let outcome = register_and_refresh(&app, "team", "sleepy", spec).await;
    assert_eq!(outcome["outcome"], "fetched", "{outcome}");
    for _ in 0..2 {
        let (_, outcome) = call(&app, "POST", "/api/v1/servers/team/sleepy/refresh", None).await;
        assert_eq!(outcome["outcome"], "fetched", "{outcome}");
        assert!(
            outcome.get("startupMs").is_none(),
            "the process was already running: {outcome}"
        );
    }
    let pids = std::fs::read_to_string(&starts).expect("starts log");
    assert_eq!(
        pids.lines().count(),
        1,
        "one process, the runtime's, served every fetch: {pids}"
    );

    let (_, health) = call(&app, "GET", "/api/v1/servers/team/sleepy/health", None).await;
    let samples = health["samples"].as_array().expect("samples");
    let waited: Vec<i64> = samples
        .iter()
        .filter_map(|s| s["startupMs"].as_i64())
        .collect();
    assert_eq!(waited.len(), 1, "only the first fetch waited: {health}");
    // The wait starts when the fetch does, a little after the runtime started the process, so
    // it can be a few milliseconds under the 1,500 ms delay; over the 1,000 ms slow threshold
    // it would have read "slow" had it counted as latency.
    assert!(waited[0] > 1000, "the start-up was measured: {health}");
    assert!(
        samples
            .iter()
            .all(|s| s["ok"] == true && s["latencyMs"].as_i64() < Some(1000)),
        "the fetch's latency leaves the start-up out: {health}"
    );
    let (_, list) = call(&app, "GET", "/v0.1/servers?search=team/sleepy", None).await;
    let entry = registry::entry(&list, "team/sleepy");
    assert_eq!(
        entry["_meta"]["dev.apiary/server"]["health"]["status"], "healthy",
        "{entry}"
    );
}

/// The fleet refresh fetches several servers side by side (a bounded number at once) and
/// shows which ones are under way.
#[tokio::test]
async fn the_fleet_refresh_fetches_servers_side_by_side_and_shows_them_under_way() {
    let test_db = support::sqlite().await;
    let state = apiary_server::web::AppState::new(support::settings(), test_db.db.clone());
    let app = apiary_server::web::router(state.clone());
    let (_dir, tools) = one_tool_file();
    let names = ["a", "b", "c"];
    for name in names {
        // Every tools/list takes 1.5 s, so the three fetches overlap only if they run at once.
        let spec = json!({ "command": TESTMCP, "transport": "stdio", "args": [
            "--tools", tools.display().to_string(), "--delay-ms", "1500",
        ] });
        let outcome = register_and_refresh(&app, "fleet", name, spec).await;
        assert_eq!(outcome["outcome"], "fetched", "{outcome}");
    }
    let servers = names
        .iter()
        .map(|n| ("fleet".to_owned(), (*n).to_owned()))
        .collect();
    assert!(state.fleet.start(state.refresher.clone(), servers, "test"));
    let mut most_at_once = 0;
    let progress = loop {
        let progress = state.fleet.progress();
        most_at_once = most_at_once.max(progress.in_flight.len());
        if !progress.running {
            break progress;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        most_at_once, 3,
        "all three were under way at once: {progress:?}"
    );
    assert_eq!(progress.done, 3, "{progress:?}");
    assert!(progress.failures.is_empty(), "{progress:?}");
    assert!(progress.in_flight.is_empty(), "{progress:?}");
}
