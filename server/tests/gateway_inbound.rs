//! A server whose manifest declares its own inbound security (ToolHive's `oidcConfig`,
//! `oidcConfigRef`, `authzConfig`, ...): the gateway enforces what Apiary can enforce, and
//! withholds the server, naming the field, when Apiary cannot.

mod support;

use serde_json::{json, Value};

use support::gateway::{refresh, register_spec};
use support::mcp_servers::testmcp_http;
use support::registry;

/// An MCP `initialize` through the gateway at `endpoint`, with `token` if any.
async fn initialize(endpoint: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "gateway-inbound-test", "version": "0" }
            }
        }));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.expect("initialize")
}

/// apiary-testmcp over HTTP with the tools `echo` and `upper`.
async fn echo_backend() -> (support::mcp_servers::HttpBackend, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    let schema = json!({ "type": "object", "properties": { "text": { "type": "string" } } });
    std::fs::write(
        &tools,
        json!([
            { "name": "echo", "description": "Echoes", "inputSchema": schema },
            { "name": "upper", "description": "Upper-cases", "inputSchema": schema },
        ])
        .to_string(),
    )
    .expect("write tools");
    let backend = testmcp_http(&["--tools", tools.to_str().expect("path")]).await;
    (backend, dir)
}

/// ToolHive's inline Cedar `authzConfig` (docs: "Authorization policies"), which Apiary does
/// not evaluate yet: the server is not served, and the answer, the registry and the spec's
/// removal all say so.
#[tokio::test]
async fn a_server_with_security_apiary_does_not_enforce_is_withheld_by_name() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let (backend, _dir) = echo_backend().await;
    let plain = json!({ "transport": "streamable-http", "url": backend.url });
    let mut guarded = plain.clone();
    guarded["authzConfig"] = json!({
        "type": "inline",
        "inline": { "policies": ["permit(principal, action == Action::\"call_tool\", resource == Tool::\"echo\");"] }
    });
    register_spec(&http, &base, "team/guarded", guarded).await;
    refresh(&http, &base, "team/guarded").await;

    let endpoint = format!("{base}/mcp/team/guarded");
    let refused = initialize(&endpoint, None).await;
    assert_eq!(refused.status(), 503);
    let answer: Value = refused.json().await.expect("JSON");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("team/guarded is withheld: ")
            && message.contains("spec.authzConfig (its Cedar policies are not evaluated)"),
        "{message}"
    );

    let listed = registry::servers(&http, &base).await;
    let gateway =
        &registry::entry(&listed, "team/guarded")["_meta"]["dev.apiary/server"]["gateway"];
    assert_eq!(gateway["served"], false, "{gateway}");
    assert!(
        gateway["reason"]
            .as_str()
            .is_some_and(|r| r.contains("spec.authzConfig")),
        "{gateway}"
    );

    // Without the field it is served again.
    register_spec(&http, &base, "team/guarded", plain).await;
    assert_eq!(initialize(&endpoint, None).await.status(), 200);
    let listed = registry::servers(&http, &base).await;
    let meta = &registry::entry(&listed, "team/guarded")["_meta"]["dev.apiary/server"];
    assert!(meta.get("gateway").is_none(), "{meta}");
}
