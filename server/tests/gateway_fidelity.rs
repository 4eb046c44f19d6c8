//! What passes through the gateway keeps its meaning: each client's protocol version is
//! negotiated end to end for every backend kind (a stdio process shared by all sessions, a
//! legacy SSE server, a streamable HTTP server) over both client transports (streamable HTTP
//! and the legacy SSE adapter), and a server's key order and every field of its tools survive
//! `tools/list`, call results and the registry.
//!
//! The clients are raw JSON-RPC over HTTP that ask for each version, and the Python `mcp` SDK
//! 1.0 (which speaks 2024-11-05 only) over the SSE adapter.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use support::gateway::{refresh, register, register_everything, register_spec};
use support::mcp_servers::{everything, everything_sse, external, repo, testmcp_http, TESTMCP};

/// The protocol versions with an `initialize` handshake.
const VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The JSON-RPC messages of an answer: a JSON body (one message or a batch) or an event stream.
async fn messages(response: reqwest::Response) -> Vec<Value> {
    let json = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let text = response.text().await.expect("answer body");
    if text.trim().is_empty() {
        return Vec::new();
    }
    if json {
        return match serde_json::from_str(&text).expect("JSON") {
            Value::Array(messages) => messages,
            message => vec![message],
        };
    }
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            let data = data.join("\n");
            // Events without a message (a server's priming event) carry no JSON.
            (!data.trim().is_empty()).then_some(data)
        })
        .map(|data| serde_json::from_str(&data).expect("JSON event"))
        .collect()
}

fn initialize(version: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": { "name": "apiary-version-test", "version": "0" } } })
}

/// A client session over streamable HTTP, speaking raw JSON-RPC.
struct Streamable {
    http: reqwest::Client,
    url: String,
    session: String,
    /// The version `initialize` agreed, sent as `MCP-Protocol-Version` from 2025-06-18 on.
    version: String,
}

impl Streamable {
    /// Initializes asking for `version`; the session and the `initialize` answer.
    async fn open(http: &reqwest::Client, url: &str, version: &str) -> (Self, Value) {
        let response = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize(version))
            .send()
            .await
            .expect("initialize");
        assert_eq!(response.status(), 200, "initialize through {url}");
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session")
            .to_owned();
        let answer = messages(response)
            .await
            .into_iter()
            .find(|m| m["id"] == 1)
            .expect("the initialize answer");
        let agreed = answer["result"]["protocolVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let client = Self {
            http: http.clone(),
            url: url.to_owned(),
            session,
            version: agreed,
        };
        let notice = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        let sent = client.post(&notice).await;
        assert!(sent.status().is_success(), "{}", sent.status());
        (client, answer)
    }

    fn request(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.session)
            .json(body);
        if self.version.as_str() >= "2025-06-18" {
            request = request.header("mcp-protocol-version", &self.version);
        }
        request
    }

    async fn post(&self, body: &Value) -> reqwest::Response {
        self.request(body).send().await.expect("post")
    }

    /// The answer to request `body` (with id `id`).
    async fn ask(&self, body: Value) -> Value {
        let id = body["id"].clone();
        let response = self.post(&body).await;
        assert_eq!(response.status(), 200, "{body}");
        messages(response)
            .await
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {body}"))
    }

    async fn close(self) {
        let _ = self
            .http
            .delete(&self.url)
            .header("mcp-session-id", &self.session)
            .send()
            .await;
    }
}

/// A client session over the gateway's legacy SSE adapter, speaking raw JSON-RPC.
struct Legacy {
    http: reqwest::Client,
    endpoint: String,
    events: futures::stream::BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>,
}

impl Legacy {
    async fn open(http: &reqwest::Client, base: &str, id: &str) -> Self {
        let opened = http
            .get(format!("{base}/mcp/{id}/sse"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("open the event stream");
        assert_eq!(opened.status(), 200);
        let mut events = sse_stream::SseStream::from_bytes_stream(opened.bytes_stream()).boxed();
        let first = events.next().await.expect("an event").expect("readable");
        assert_eq!(first.event.as_deref(), Some("endpoint"));
        let path = first.data.expect("the message URL");
        Self {
            http: http.clone(),
            endpoint: format!("{base}{}", path.trim()),
            events,
        }
    }

    async fn send(&self, message: &Value) {
        let sent = self
            .http
            .post(&self.endpoint)
            .json(message)
            .send()
            .await
            .expect("post");
        assert_eq!(sent.status(), 202, "{message}");
    }

    /// Sends request `body` and waits for its answer on the event stream.
    async fn ask(&mut self, body: Value) -> Value {
        self.send(&body).await;
        let wanted = body["id"].clone();
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(event) = self.events.next().await {
                let Some(data) = event.expect("readable").data else {
                    continue;
                };
                if data.trim().is_empty() {
                    continue;
                }
                let message: Value = serde_json::from_str(&data).expect("JSON");
                if message["id"] == wanted && message.get("method").is_none() {
                    return Some(message);
                }
            }
            None
        })
        .await
        .expect("answered in time");
        answer.unwrap_or_else(|| panic!("the stream ended before the answer to {body}"))
    }
}

/// A published backend and a tool call it answers with `marker` in its text.
struct Backend {
    id: &'static str,
    call: Value,
    marker: &'static str,
}

fn tools_file(dir: &std::path::Path) -> String {
    let tools = dir.join("tools.json");
    std::fs::write(
        &tools,
        json!([{ "name": "echo", "description": "Echoes",
            "inputSchema": { "type": "object", "properties": { "text": { "type": "string" } } } }])
        .to_string(),
    )
    .expect("write tools");
    tools.display().to_string()
}

/// The Python `mcp` SDK 1.0's interpreter (a virtual environment `.ci/setup --test` makes).
fn python_mcp_legacy() -> PathBuf {
    let cache = std::env::var("APIARY_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/apiary")
        });
    external(
        "APIARY_TEST_MCP_PY_LEGACY",
        cache.join("venv-mcp-1.0/bin/python"),
        "install it with `.ci/setup --test` (a virtual environment with pip install mcp==1.0.0)",
    )
}

/// Runs the Python SDK 1.0's legacy SSE client against `url`, calling `tools`.
async fn python_legacy_client(url: &str, tools: &[&str]) -> Value {
    let script = repo().join("end2end/mcp-servers/legacy_python_client.py");
    let run = tokio::process::Command::new(python_mcp_legacy())
        .arg(&script)
        .arg(url)
        .args(tools)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("the Python mcp 1.0 client at {url} did not finish in 60 s"))
        .expect("run python");
    assert!(
        output.status.success(),
        "the Python mcp 1.0 client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[tokio::test]
async fn every_protocol_version_is_negotiated_end_to_end() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = tools_file(dir.path());
    let everything = everything().display().to_string();
    let echo = json!({ "name": "echo", "arguments": { "text": "versioned" } });
    let everything_echo = json!({ "name": "echo", "arguments": { "message": "versioned" } });
    register_spec(
        &http,
        &base,
        "versions/stdio",
        json!({ "command": TESTMCP, "args": ["--tools", tools], "transport": "stdio" }),
    )
    .await;
    register_spec(
        &http,
        &base,
        "versions/everything",
        json!({ "command": "node", "args": [everything], "transport": "stdio" }),
    )
    .await;
    let http_backend = testmcp_http(&["--tools", &tools]).await;
    register(&http, &base, "versions/http", &http_backend.url).await;
    let sse_backend = everything_sse().await;
    register_spec(
        &http,
        &base,
        "versions/legacy",
        json!({ "transport": "sse", "url": sse_backend.url }),
    )
    .await;
    let backends = [
        Backend {
            id: "versions/stdio",
            call: echo.clone(),
            marker: "versioned",
        },
        Backend {
            id: "versions/everything",
            call: everything_echo.clone(),
            marker: "versioned",
        },
        Backend {
            id: "versions/http",
            call: echo.clone(),
            marker: "versioned",
        },
        Backend {
            id: "versions/legacy",
            call: everything_echo,
            marker: "versioned",
        },
    ];
    for backend in &backends {
        refresh(&http, &base, backend.id).await;
    }

    for backend in &backends {
        let id = backend.id;
        let url = format!("{base}/mcp/{id}");
        for version in VERSIONS {
            // Streamable HTTP.
            let (client, answer) = Streamable::open(&http, &url, version).await;
            assert_eq!(
                answer["result"]["protocolVersion"], version,
                "{id} over streamable HTTP: {answer}"
            );
            assert!(answer["result"]["serverInfo"].is_object(), "{answer}");
            let listed = client
                .ask(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }))
                .await;
            let names: Vec<&str> = listed["result"]["tools"]
                .as_array()
                .map(|tools| tools.iter().filter_map(|t| t["name"].as_str()).collect())
                .unwrap_or_default();
            assert!(names.contains(&"echo"), "{id} {version}: {listed}");
            let called = client
                .ask(json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
                    "params": backend.call }))
                .await;
            assert!(
                called["result"].to_string().contains(backend.marker),
                "{id} {version}: {called}"
            );
            client.close().await;

            // The legacy SSE adapter.
            let mut legacy = Legacy::open(&http, &base, id).await;
            let answer = legacy.ask(initialize(version)).await;
            assert_eq!(
                answer["result"]["protocolVersion"], version,
                "{id} over the SSE adapter: {answer}"
            );
            legacy
                .send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
                .await;
            let listed = legacy
                .ask(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }))
                .await;
            assert!(
                listed["result"]["tools"].to_string().contains("\"echo\""),
                "{id} {version} over the SSE adapter: {listed}"
            );
            let called = legacy
                .ask(json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
                    "params": backend.call }))
                .await;
            assert!(
                called["result"].to_string().contains(backend.marker),
                "{id} {version} over the SSE adapter: {called}"
            );
        }
    }

    // The real 2024-11-05 client: the Python SDK 1.0 refuses any other version.
    for id in ["versions/stdio", "versions/http"] {
        let seen = python_legacy_client(&format!("{base}/mcp/{id}/sse"), &["echo"]).await;
        assert_eq!(seen["protocolVersion"], "2024-11-05", "{id}: {seen}");
        assert_eq!(seen["tools"], json!(["echo"]), "{id}: {seen}");
        assert_eq!(seen["results"]["echo"]["isError"], false, "{id}: {seen}");
        assert!(
            seen["results"]["echo"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("echo")),
            "{id}: {seen}"
        );
    }
    for id in ["versions/everything", "versions/legacy"] {
        let seen = python_legacy_client(&format!("{base}/mcp/{id}/sse"), &[]).await;
        assert_eq!(seen["protocolVersion"], "2024-11-05", "{id}: {seen}");
        assert!(
            seen["tools"].to_string().contains("\"echo\""),
            "{id}: {seen}"
        );
    }
}

#[tokio::test]
async fn the_stdio_bridge_answers_each_session_with_its_own_version() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = tools_file(dir.path());
    register_spec(
        &http,
        &base,
        "bridge/versions",
        json!({ "command": TESTMCP, "args": ["--tools", tools], "transport": "stdio" }),
    )
    .await;
    refresh(&http, &base, "bridge/versions").await;
    let url = format!("{base}/mcp/bridge/versions");

    // Sessions of different versions at once, on the one shared process.
    let (old, _) = Streamable::open(&http, &url, "2024-11-05").await;
    let (new, _) = Streamable::open(&http, &url, "2025-11-25").await;
    assert_eq!(
        (old.version.as_str(), new.version.as_str()),
        ("2024-11-05", "2025-11-25")
    );
    // A version the server does not know is answered with the server's own, as it would.
    let (future, answer) = Streamable::open(&http, &url, "2099-01-01").await;
    assert_eq!(
        answer["result"]["protocolVersion"], "2025-11-25",
        "{answer}"
    );
    future.close().await;

    // A 2025-03-26 client may batch; the bridge passes the messages one at a time.
    let (batching, _) = Streamable::open(&http, &url, "2025-03-26").await;
    let batch = json!([
        { "jsonrpc": "2.0", "id": 7, "method": "tools/list" },
        { "jsonrpc": "2.0", "id": 8, "method": "ping" },
    ]);
    let answered = batching.post(&batch).await;
    assert_eq!(answered.status(), 200);
    let answers = messages(answered).await;
    let ids: Vec<&Value> = answers.iter().map(|m| &m["id"]).collect();
    assert!(
        ids.contains(&&json!(7)) && ids.contains(&&json!(8)),
        "{answers:?}"
    );
    batching.close().await;

    // A request that names another version than its session's is refused.
    let wrong = new
        .http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &new.session)
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/list" }))
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), 400);
    let refusal: Value = wrong.json().await.expect("JSON");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("MCP-Protocol-Version")),
        "{refusal}"
    );
    for client in [&old, &new] {
        let listed = client
            .ask(json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/list" }))
            .await;
        assert!(listed["result"]["tools"].is_array(), "{listed}");
    }
    old.close().await;
    new.close().await;
}

/// The keys of the object at `pointer` in `value`, in order.
fn keys(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_object)
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_else(|| panic!("no object at {pointer} in {value}"))
}

/// The tool `name` in a list of tools.
fn tool<'a>(tools: &'a Value, name: &str) -> &'a Value {
    tools
        .as_array()
        .and_then(|tools| tools.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no tool {name} in {tools}"))
}

#[tokio::test]
async fn key_order_and_every_tool_field_survive_the_gateway_and_the_registry() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    // Properties in the order a form shows them, not alphabetical.
    let order = ["repo_path", "message", "author", "amend"];
    std::fs::write(
        &tools,
        r#"[{"name":"commit","description":"Records changes",
            "inputSchema":{"type":"object","properties":{"repo_path":{"type":"string"},
              "message":{"type":"string"},"author":{"type":"string"},"amend":{"type":"boolean"}},
              "required":["repo_path","message"]},
            "icons":[{"src":"https://example.com/commit.png","mimeType":"image/png"}],
            "_meta":{"vendor.example/zeta":1,"vendor.example/alpha":2}},
           {"name":"hidden","inputSchema":{"type":"object"}}]"#,
    )
    .expect("write tools");
    let tools = tools.display().to_string();
    register_spec(
        &http,
        &base,
        "order/stdio",
        json!({ "command": TESTMCP, "args": ["--tools", tools, "--structured"], "transport": "stdio" }),
    )
    .await;
    let backend = testmcp_http(&["--tools", &tools, "--structured"]).await;
    register(&http, &base, "order/http", &backend.url).await;

    for id in ["order/stdio", "order/http"] {
        refresh(&http, &base, id).await;
        let curation = json!({ "hidden": ["hidden"],
            "overrides": { "commit": { "description": "Records changes (curated)" } } });
        let curated = http
            .put(format!("{base}/api/v1/servers/{id}/curation"))
            .json(&curation)
            .send()
            .await
            .expect("curate");
        assert_eq!(curated.status(), 200);

        // tools/list through the gateway, curated.
        let (client, _) = Streamable::open(&http, &format!("{base}/mcp/{id}"), "2025-11-25").await;
        let listed = client
            .ask(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }))
            .await;
        let tools = &listed["result"]["tools"];
        assert_eq!(tools.as_array().map(Vec::len), Some(1), "{id}: {listed}");
        let commit = tool(tools, "commit");
        assert_eq!(commit["description"], "Records changes (curated)");
        assert_eq!(
            keys(commit, "/inputSchema/properties"),
            order,
            "{id}: {commit}"
        );
        assert_eq!(
            keys(commit, "/_meta"),
            ["vendor.example/zeta", "vendor.example/alpha"],
            "{id}: {commit}"
        );
        assert_eq!(commit["icons"][0]["src"], "https://example.com/commit.png");

        // A call result keeps the order of the server's answer.
        let called = client
            .ask(
                json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
                "name": "commit",
                "arguments": { "repo_path": "/r", "message": "m", "author": "a" } } }),
            )
            .await;
        assert_eq!(
            keys(&called, "/result/structuredContent"),
            ["repo_path", "message", "author"],
            "{id}: {called}"
        );
        client.close().await;

        // The registry's snapshot holds each tool as the server reported it.
        let snapshots: Value = http
            .get(format!("{base}/api/v1/servers/{id}/snapshots"))
            .send()
            .await
            .expect("snapshots")
            .json()
            .await
            .expect("JSON");
        let stored = tool(&snapshots["snapshots"][0]["tools"], "commit");
        assert_eq!(stored["description"], "Records changes");
        assert_eq!(
            keys(stored, "/inputSchema/properties"),
            order,
            "{id}: {stored}"
        );
        assert_eq!(
            keys(stored, "/_meta"),
            ["vendor.example/zeta", "vendor.example/alpha"],
            "{id}: {stored}"
        );
        assert_eq!(
            stored["icons"][0]["mimeType"], "image/png",
            "{id}: {stored}"
        );
    }

    // The registry API publishes the curated tools in the server's order.
    let listing: Value = http
        .get(format!("{base}/v0.1/servers"))
        .send()
        .await
        .expect("registry")
        .json()
        .await
        .expect("JSON");
    let servers = listing["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 2, "{listing}");
    for entry in servers {
        let meta = entry["_meta"]
            .as_object()
            .and_then(|meta| meta.values().find(|m| m.get("tools").is_some()))
            .unwrap_or_else(|| panic!("Apiary's _meta with the tools: {entry}"));
        let commit = tool(&meta["tools"], "commit");
        assert_eq!(keys(commit, "/inputSchema/properties"), order, "{entry}");
        assert!(
            commit["icons"].is_array() && commit["_meta"].is_object(),
            "{entry}"
        );
    }
}

#[tokio::test]
async fn the_registry_keeps_tool_fields_it_does_not_read() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    register_everything(&http, &base, "fields/everything").await;
    let snapshots: Value = http
        .get(format!("{base}/api/v1/servers/fields/everything/snapshots"))
        .send()
        .await
        .expect("snapshots")
        .json()
        .await
        .expect("JSON");
    // server-everything declares `execution` (a 2025-11-25 field rmcp's types do not model)
    // on its task tool.
    let task = tool(
        &snapshots["snapshots"][0]["tools"],
        "simulate-research-query",
    );
    assert_eq!(
        task["execution"],
        json!({ "taskSupport": "required" }),
        "{task}"
    );
    // A second fetch of the unchanged server stores nothing new: the hash is stable.
    let again: Value = http
        .post(format!("{base}/api/v1/servers/fields/everything/refresh"))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("JSON");
    assert_eq!(again["snapshot"], "unchanged", "{again}");
}
