//! rmcp's streamable HTTP client, as an MCP consumer reaches the gateway at
//! `/mcp/{namespace}/{name}`.

use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, Tool};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::Value;

/// A connected MCP client session.
pub type Client = RunningService<RoleClient, ClientConfig>;

/// A session with the MCP endpoint at `url`, initialized.
pub async fn connect(url: &str) -> Client {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("apiary-gateway-test", "0"),
    )
    .serve(StreamableHttpClientTransport::from_uri(url))
    .await
    .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// The names of `tools`, in order.
pub fn names(tools: &[Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

/// The names of every tool the endpoint at `url` lists, from a session of their own.
pub async fn tool_names(url: &str) -> Vec<String> {
    let client = connect(url).await;
    let tools = client.list_all_tools().await.expect("tools");
    client.cancel().await.expect("close");
    names(&tools)
}

/// A `tools/call` of `tool` with the JSON object `arguments`.
pub fn call(tool: &str, arguments: Value) -> CallToolRequestParams {
    let mut call = CallToolRequestParams::new(tool.to_owned());
    call.arguments = arguments.as_object().cloned();
    call
}

/// Calls a tool, which must succeed, and returns its content as JSON text.
pub async fn text_of(client: &Client, call: CallToolRequestParams) -> String {
    let result = client.call_tool(call).await.expect("tools/call");
    serde_json::to_string(&result.content).expect("JSON")
}

/// Runs the TypeScript SDK's legacy HTTP+SSE client against `url` (an `/sse` endpoint),
/// calling each of `tools` with `{"text": <its name>}`; what it saw, as JSON.
pub async fn legacy_client(url: &str, tools: &[&str]) -> Value {
    legacy_client_with(url, tools, &[]).await
}

/// [`legacy_client`] with `env` (see `end2end/mcp-servers/legacy-sse-client.mjs`).
pub async fn legacy_client_with(url: &str, tools: &[&str], env: &[(&str, &str)]) -> Value {
    let script = super::mcp_servers::repo().join("end2end/mcp-servers/legacy-sse-client.mjs");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .arg(url)
        .args(tools)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run node");
    assert!(
        output.status.success(),
        "the legacy client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}
