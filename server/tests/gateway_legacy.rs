//! The gateway's legacy HTTP+SSE endpoint (MCP 2024-11-05) for older clients, driven by the
//! TypeScript SDK's `SSEClientTransport` and by Apiary's own registry fetch, in front of a
//! stdio server and a streamable HTTP server: curation holds the same way.

mod support;

use serde_json::{json, Value};

use support::gateway::{refresh, register, register_spec};
use support::mcp_client::legacy_client;
use support::mcp_servers::{testmcp_http, TESTMCP};

#[tokio::test]
async fn older_clients_get_the_curated_tools_over_legacy_sse() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    let schema = json!({ "type": "object", "properties": { "text": { "type": "string" } } });
    std::fs::write(
        &tools,
        json!([
            { "name": "echo", "inputSchema": schema },
            { "name": "upper", "inputSchema": schema },
            { "name": "secret", "inputSchema": schema },
        ])
        .to_string(),
    )
    .expect("write tools");
    let tools_path = tools.display().to_string();
    register_spec(
        &http,
        &base,
        "legacy/stdio",
        json!({ "command": TESTMCP, "args": ["--tools", tools_path], "transport": "stdio" }),
    )
    .await;
    let backend = testmcp_http(&["--tools", &tools_path]).await;
    register(&http, &base, "legacy/http", &backend.url).await;
    for id in ["legacy/stdio", "legacy/http"] {
        refresh(&http, &base, id).await;
        let curated = http
            .put(format!("{base}/api/v1/servers/{id}/curation"))
            .json(&json!({ "hidden": ["secret"], "overrides": { "upper": { "name": "shout" } } }))
            .send()
            .await
            .expect("curate");
        assert_eq!(curated.status(), 200);

        let seen = legacy_client(
            &format!("{base}/mcp/{id}/sse"),
            &["echo", "shout", "secret"],
        )
        .await;
        assert_eq!(seen["tools"], json!(["echo", "shout"]), "{id}: {seen}");
        assert_eq!(seen["results"]["echo"]["ok"], true, "{id}: {seen}");
        assert!(
            seen["results"]["shout"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("shout"),
            "{id}: the renamed tool answered: {seen}"
        );
        assert!(
            seen["results"]["secret"]["error"]
                .as_str()
                .unwrap_or_default()
                .contains("Unknown tool: secret"),
            "{id}: the hidden tool is refused: {seen}"
        );
    }

    // Apiary's own legacy SSE client (the registry fetch) sees the same published tools.
    register_spec(
        &http,
        &base,
        "legacy/mirror",
        json!({ "transport": "sse", "url": format!("{base}/mcp/legacy/stdio/sse") }),
    )
    .await;
    let outcome: Value = http
        .post(format!("{base}/api/v1/servers/legacy/mirror/refresh"))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("JSON");
    assert_eq!(outcome["outcome"], "fetched", "{outcome}");
    assert_eq!(outcome["toolCount"], 2, "{outcome}");
}

#[tokio::test]
async fn a_message_for_an_unknown_session_is_refused() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let backend = testmcp_http(&["--tools", "/dev/null"]).await;
    register(&http, &base, "legacy/any", &backend.url).await;
    let refused = http
        .post(format!("{base}/mcp/legacy/any/messages?sessionId=made-up"))
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }))
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 404);
    let unknown = http
        .get(format!("{base}/mcp/legacy/nothing/sse"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        unknown.status(),
        404,
        "no stream for a server that is not published"
    );
}

#[tokio::test]
async fn legacy_sse_servers_are_published_over_streamable_http() {
    use rmcp::model::CallToolRequestParams;
    use support::mcp_client::{call, connect, names, text_of};

    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let backend = support::mcp_servers::everything_sse().await;
    register_spec(
        &http,
        &base,
        "legacy/everything",
        json!({ "transport": "sse", "url": backend.url }),
    )
    .await;
    refresh(&http, &base, "legacy/everything").await;
    let curated = http
        .put(format!("{base}/api/v1/servers/legacy/everything/curation"))
        .json(&json!({ "allow": ["echo", "get-sum"] }))
        .send()
        .await
        .expect("curate");
    assert_eq!(curated.status(), 200);

    let url = format!("{base}/mcp/legacy/everything");
    // Two sessions at once: each has a connection of its own to the legacy server.
    let (first, second) = tokio::join!(connect(&url), connect(&url));
    for client in [&first, &second] {
        let tools = client.list_all_tools().await.expect("tools");
        assert_eq!(names(&tools), ["echo", "get-sum"]);
    }
    let echo = call("echo", json!({ "message": "over legacy sse" }));
    let text = text_of(&second, echo).await;
    assert!(text.contains("over legacy sse"), "{text}");
    let refused = first
        .call_tool(CallToolRequestParams::new("get-env"))
        .await
        .expect_err("not published");
    assert!(refused.to_string().contains("Unknown tool"), "{refused}");
    first.cancel().await.expect("close");
    second.cancel().await.expect("close");
}
