//! The MCP gateway against real backends: our rmcp test server and npm server-everything, both
//! over streamable HTTP, reached with rmcp's client through `/mcp/{namespace}/{name}`.

mod support;

use std::time::{Duration, Instant};

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use rmcp::service::ServiceError;
use serde_json::{json, Value};

use support::gateway::{calls_counted, metrics_of, register, register_and_refresh};
use support::mcp_client::{call, connect, names, text_of, Client};
use support::mcp_servers::{everything_http, testmcp_http};
use support::registry;

async fn put_curation(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    curation: &Value,
) -> (u16, Value) {
    let response = http
        .put(format!("{base}/api/v1/servers/{id}/curation"))
        .json(curation)
        .send()
        .await
        .expect("curate");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

fn mcp_error(result: Result<impl std::fmt::Debug, ServiceError>) -> (i32, String) {
    match result {
        Err(ServiceError::McpError(error)) => (error.code.0, error.message.to_string()),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn curation_is_enforced_through_the_gateway() {
    for (n, db) in support::all_backends().await.into_iter().enumerate() {
        // Metrics are process-wide: each backend gets a server of its own.
        let id = format!("team/ours{n}");
        let dir = tempfile::tempdir().expect("temp dir");
        let tools = dir.path().join("tools.json");
        let calls = dir.path().join("calls.log");
        let schema = json!({ "type": "object", "properties": { "text": { "type": "string" } } });
        std::fs::write(
            &tools,
            json!([
                { "name": "echo", "description": "Echoes", "inputSchema": schema },
                { "name": "upper", "description": "Upper-cases", "inputSchema": schema },
                { "name": "secret", "description": "Must stay hidden", "inputSchema": schema },
            ])
            .to_string(),
        )
        .expect("write tools");
        let backend = testmcp_http(&[
            "--tools",
            &tools.display().to_string(),
            "--call-log",
            &calls.display().to_string(),
        ])
        .await;
        let base = support::serve(&db.db).await;
        let http = reqwest::Client::new();
        register_and_refresh(&http, &base, &id, &backend.url).await;

        let (status, answer) = put_curation(
            &http,
            &base,
            &id,
            &json!({ "overrides": { "upper": { "name": "echo" } } }),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["field"], "overrides.upper.name", "{answer}");
        let (status, answer) = put_curation(
            &http,
            &base,
            &id,
            &json!({
                "hidden": ["secret"],
                "overrides": { "upper": {
                    "name": "shout", "description": "Shouts back", "annotations": { "readOnlyHint": true }
                } }
            }),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let curated: Vec<_> = answer["curated"]
            .as_array()
            .expect("curated")
            .iter()
            .map(|t| t["name"].clone())
            .collect();
        assert_eq!(curated, [json!("echo"), json!("shout")]);

        let client = connect(&format!("{base}/mcp/{id}")).await;
        let listed = client.list_all_tools().await.expect("tools/list");
        assert_eq!(names(&listed), ["echo", "shout"]);
        let shout = &listed[1];
        assert_eq!(shout.description.as_deref(), Some("Shouts back"));
        assert_eq!(
            shout.annotations.as_ref().and_then(|a| a.read_only_hint),
            Some(true)
        );

        let arguments = json!({ "text": "hi" });
        let text = text_of(&client, call("shout", arguments.clone())).await;
        assert!(text.contains("hi"), "{text}");

        for hidden in ["secret", "upper", "nonexistent"] {
            let (code, message) =
                mcp_error(client.call_tool(call(hidden, arguments.clone())).await);
            assert_eq!(code, -32602, "{hidden}");
            assert_eq!(message, format!("Unknown tool: {hidden}"));
        }
        let seen = std::fs::read_to_string(&calls).expect("call log");
        assert_eq!(
            seen.lines().collect::<Vec<_>>(),
            ["upper"],
            "only the renamed call reached the backend, under its own name"
        );
        client.cancel().await.expect("close the client");

        let list = registry::servers(&http, &base).await;
        assert_eq!(
            registry::tool_names(&list["servers"][0]),
            ["echo", "shout"],
            "the registry agrees"
        );

        let metrics = metrics_of(&http, &base).await;
        let counted = calls_counted(&metrics, (&id, "shout", "ok"));
        assert_eq!(
            counted.as_deref(),
            Some("1"),
            "the call was counted:\n{metrics}"
        );
        assert!(
            metrics.contains("apiary_gateway_tool_call_duration_seconds_bucket{"),
            "{metrics}"
        );
        assert!(metrics
            .lines()
            .any(|l| l.contains("outcome=\"refused\"") && l.contains(&id)));
    }
}

#[tokio::test]
async fn bad_requests_unknown_servers_and_dead_backends_get_json_rpc_errors() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } } });
    let post = |path: &str, body: Vec<u8>| {
        http.post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
    };

    let unknown = post("/mcp/nobody/here", initialize.to_string().into_bytes())
        .await
        .expect("request");
    assert_eq!(unknown.status(), 404);

    // A closed loopback port: nothing listens there.
    register(&http, &base, "team/dead", "http://127.0.0.1:9/mcp").await;
    let malformed = post("/mcp/team/dead", b"{\"jsonrpc\": ".to_vec())
        .await
        .expect("request");
    assert_eq!(malformed.status(), 400);
    let answer: Value = malformed.json().await.expect("JSON");
    assert_eq!(answer["error"]["code"], -32700, "{answer}");

    let huge = post("/mcp/team/dead", vec![b' '; 5 * 1024 * 1024])
        .await
        .expect("request");
    assert_eq!(huge.status(), 413);
    let answer: Value = huge.json().await.expect("JSON");
    assert!(answer["error"]["code"].is_i64(), "{answer}");

    let started = Instant::now();
    let down = post("/mcp/team/dead", initialize.to_string().into_bytes())
        .await
        .expect("request");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered quickly"
    );
    assert_eq!(down.status(), 502);
    let answer: Value = down.json().await.expect("JSON");
    assert_eq!(answer["error"]["code"], -32603, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("team/dead is unreachable"), "{message}");
}

#[tokio::test]
async fn everything_else_passes_through_unchanged() {
    let db = support::sqlite().await;
    let backend = everything_http().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    register_and_refresh(&http, &base, "platform/everything", &backend.url).await;

    let direct = connect(&backend.url).await;
    let gateway = connect(&format!("{base}/mcp/platform/everything")).await;

    let tools = gateway
        .list_all_tools()
        .await
        .expect("tools via the gateway");
    assert!(tools.len() > 5, "{}", tools.len());
    assert_eq!(
        as_json(&tools),
        as_json(&direct.list_all_tools().await.expect("tools")),
        "without curation the tools are the server's own"
    );

    let resources = gateway.list_all_resources().await.expect("resources");
    assert_eq!(
        as_json(&resources),
        as_json(&direct.list_all_resources().await.expect("resources"))
    );
    let first = resources.first().expect("server-everything has resources");
    let read = |client: &Client| {
        let uri = first.uri.clone();
        let client = client.peer().clone();
        async move {
            client
                .read_resource(ReadResourceRequestParams::new(uri))
                .await
                .expect("read")
        }
    };
    assert_eq!(
        as_json(&read(&gateway).await),
        as_json(&read(&direct).await)
    );

    let prompts = gateway.list_all_prompts().await.expect("prompts");
    assert_eq!(
        as_json(&prompts),
        as_json(&direct.list_all_prompts().await.expect("prompts"))
    );
    let simple = prompts
        .iter()
        .find(|p| {
            p.arguments
                .as_ref()
                .is_none_or(|args| args.iter().all(|a| a.required != Some(true)))
        })
        .expect("a prompt without required arguments");
    let via_gateway = gateway
        .get_prompt(GetPromptRequestParams::new(simple.name.clone()))
        .await
        .expect("prompt via the gateway");
    let own = direct
        .get_prompt(GetPromptRequestParams::new(simple.name.clone()))
        .await
        .expect("prompt");
    assert_eq!(as_json(&via_gateway), as_json(&own));

    let echo = call("echo", json!({ "message": "through the gateway" }));
    let text = text_of(&gateway, echo).await;
    assert!(text.contains("through the gateway"), "{text}");

    gateway.cancel().await.expect("close");
    direct.cancel().await.expect("close");
}

/// An rmcp value as JSON, for comparisons.
fn as_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("JSON")
}
