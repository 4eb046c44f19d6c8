//! The gateway in front of stdio servers run by the local runtime: our rmcp test server, npm
//! server-everything and PyPI mcp-server-time, each one process shared by every client
//! session, reached with rmcp's streamable HTTP client through `/mcp/{namespace}/{name}`.

mod support;

use rmcp::model::ReadResourceRequestParams;
use rmcp::service::ServiceError;
use serde_json::{json, Value};

use support::gateway::{calls_counted, metrics_of, refresh, register_everything, register_spec};
use support::mcp_client::{call, connect, names, text_of, Client};
use support::mcp_servers::{mcp_time, TESTMCP};

#[tokio::test]
async fn sessions_share_one_stdio_process_with_curation_enforced() {
    for (n, db) in support::all_backends().await.into_iter().enumerate() {
        let id = format!("team/stdio{n}");
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
        let base = support::serve(&db.db).await;
        let http = reqwest::Client::new();
        let args = [
            "--tools".to_owned(),
            tools.display().to_string(),
            "--call-log".to_owned(),
            calls.display().to_string(),
        ];
        register_spec(
            &http,
            &base,
            &id,
            json!({ "command": TESTMCP, "args": args, "transport": "stdio" }),
        )
        .await;
        refresh(&http, &base, &id).await;
        let curation =
            json!({ "hidden": ["secret"], "overrides": { "upper": { "name": "shout" } } });
        let response = http
            .put(format!("{base}/api/v1/servers/{id}/curation"))
            .json(&curation)
            .send()
            .await
            .expect("curate");
        assert_eq!(response.status(), 200);

        let runtime = |http: reqwest::Client, base: String, id: String| async move {
            let status: Value = http
                .get(format!("{base}/api/v1/servers/{id}/runtime"))
                .send()
                .await
                .expect("runtime")
                .json()
                .await
                .expect("JSON");
            (status["pid"].clone(), status["restarts"].clone())
        };
        let before = runtime(http.clone(), base.clone(), id.clone()).await;
        assert!(before.0.is_u64(), "the runtime runs the server: {before:?}");

        let url = format!("{base}/mcp/{id}");
        let (first, second) = tokio::join!(connect(&url), connect(&url));
        for client in [&first, &second] {
            let listed = client.list_all_tools().await.expect("tools/list");
            assert_eq!(names(&listed), ["echo", "shout"]);
        }

        // Both sessions call at once; every answer reaches the session and request that asked.
        let calls_of = |client: &Client, who: &'static str| {
            let peer = client.peer().clone();
            async move {
                for i in 0..15 {
                    let text = format!("{who}-{i}");
                    let result = peer
                        .call_tool(call("echo", json!({ "text": text })))
                        .await
                        .expect("echo");
                    let seen = serde_json::to_string(&result.content).expect("JSON");
                    assert!(seen.contains(&text), "{who} got {seen} for {text}");
                }
            }
        };
        tokio::join!(calls_of(&first, "first"), calls_of(&second, "second"));

        let shouted = text_of(&second, call("shout", json!({ "text": "hi" }))).await;
        assert!(
            shouted.contains("HI") || shouted.contains("hi"),
            "{shouted}"
        );
        for hidden in ["secret", "upper"] {
            match first.call_tool(call(hidden, json!({ "text": "x" }))).await {
                Err(ServiceError::McpError(error)) => {
                    assert_eq!(error.code.0, -32602);
                    assert_eq!(error.message, format!("Unknown tool: {hidden}"));
                }
                other => panic!("{hidden} must be refused: {other:?}"),
            }
        }
        let seen = std::fs::read_to_string(&calls).expect("call log");
        let seen: Vec<_> = seen.lines().collect();
        assert_eq!(
            seen.len(),
            31,
            "30 echoes and one upper reached the server: {seen:?}"
        );
        assert!(!seen.contains(&"secret"), "{seen:?}");

        first.cancel().await.expect("close");
        // One session ending leaves the other working.
        let still = text_of(&second, call("echo", json!({ "text": "still here" }))).await;
        assert!(still.contains("still here"), "{still}");
        second.cancel().await.expect("close");
        assert_eq!(
            runtime(http.clone(), base.clone(), id.clone()).await,
            before,
            "both sessions used the one process the runtime started"
        );

        let metrics = metrics_of(&http, &base).await;
        assert_eq!(
            calls_counted(&metrics, (&id, "echo", "ok")).as_deref(),
            Some("31"),
            "31 echo calls were measured:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn published_stdio_servers_work_through_the_gateway() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    register_everything(&http, &base, "platform/everything").await;
    let time = mcp_time().display().to_string();
    register_spec(
        &http,
        &base,
        "utilities/time",
        json!({ "command": time, "transport": "stdio" }),
    )
    .await;
    refresh(&http, &base, "utilities/time").await;

    let client = connect(&format!("{base}/mcp/platform/everything")).await;
    let info = client.peer_info().expect("initialized");
    assert!(
        info.server_info
            .as_ref()
            .is_some_and(|server| server.name.contains("everything")),
        "the server's own initialize result: {info:?}"
    );
    let tools = client.list_all_tools().await.expect("tools");
    assert!(
        names(&tools).contains(&"echo".to_owned()),
        "{:?}",
        names(&tools)
    );
    let echoed = text_of(&client, call("echo", json!({ "message": "over stdio" }))).await;
    assert!(echoed.contains("over stdio"), "{echoed}");
    let resources = client.list_all_resources().await.expect("resources");
    let first = resources.first().expect("server-everything has resources");
    let read = client
        .read_resource(ReadResourceRequestParams::new(first.uri.clone()))
        .await
        .expect("read");
    assert!(!read.contents.is_empty());
    let prompts = client.list_all_prompts().await.expect("prompts");
    assert!(!prompts.is_empty());
    client.cancel().await.expect("close");

    let client = connect(&format!("{base}/mcp/utilities/time")).await;
    let now = text_of(
        &client,
        call("get_current_time", json!({ "timezone": "UTC" })),
    )
    .await;
    assert!(now.contains("UTC"), "{now}");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn a_session_needs_initialize_and_ends_with_delete() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let tools = tempfile::NamedTempFile::new().expect("tools");
    std::fs::write(
        tools.path(),
        json!([{ "name": "echo", "inputSchema": { "type": "object" } }]).to_string(),
    )
    .expect("write");
    register_spec(
        &http,
        &base,
        "team/plain",
        json!({ "command": TESTMCP, "args": ["--tools", tools.path()], "transport": "stdio" }),
    )
    .await;
    refresh(&http, &base, "team/plain").await;
    let url = format!("{base}/mcp/team/plain");
    let post = |session: Option<&str>, body: Value| {
        let mut request = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let without = post(None, list.clone()).await.expect("post");
    assert_eq!(without.status(), 400);
    let answer: Value = without.json().await.expect("JSON");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("initialize"),
        "{answer}"
    );

    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } } });
    let opened = post(None, init).await.expect("initialize");
    assert_eq!(opened.status(), 200);
    let session = opened
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("a session id")
        .to_owned();
    let answer: Value = opened.json().await.expect("JSON");
    assert_eq!(answer["id"], 1);
    assert!(answer["result"]["serverInfo"].is_object(), "{answer}");

    let listed = post(Some(&session), list.clone()).await.expect("list");
    assert_eq!(listed.status(), 200);
    assert!(listed
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream")));
    let body = listed.text().await.expect("body");
    assert!(
        body.contains("\"echo\"") && body.contains("\"id\":2"),
        "{body}"
    );

    let ended = http
        .delete(&url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .expect("delete");
    assert_eq!(ended.status(), 200);
    let after = post(Some(&session), list).await.expect("post");
    assert_eq!(after.status(), 404, "an ended session is unknown");
}

/// A stdio server that cannot start, or that exits at once, is answered with a 502 whose
/// JSON-RPC error names the cause, not left to the request timeout.
#[tokio::test]
async fn a_stdio_server_that_cannot_run_is_answered_with_a_502_naming_the_cause() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } } });
    let cases = [
        (
            "team/missing",
            json!({ "command": "/nonexistent/apiary-test-server", "transport": "stdio" }),
            "cannot start \"/nonexistent/apiary-test-server\": No such file or directory",
        ),
        (
            "team/crashing",
            json!({ "command": "sh", "args": ["-c", "echo boom >&2; exit 3"], "transport": "stdio" }),
            "exited with code 3",
        ),
    ];
    for (id, spec, cause) in cases {
        register_spec(&http, &base, id, spec).await;
        let answer = http
            .post(format!("{base}/mcp/{id}"))
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await
            .expect("initialize");
        assert_eq!(answer.status(), 502, "{id}");
        let body: Value = answer.json().await.expect("a JSON error");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(id) && message.contains(cause),
            "{id}: the error names the server and {cause:?}: {body}"
        );
    }
}
