//! Graceful drain of the `apiary` binary's gateway on SIGTERM: a tool call in flight still gets
//! its answer from the stdio server, an idle event stream is closed at once, and the process
//! exits well before the backstop.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use support::gateway::{refresh, register_spec};
use support::mcp_client::{call, connect};
use support::mcp_servers::TESTMCP;

#[tokio::test]
async fn sigterm_lets_calls_in_flight_finish_and_closes_idle_streams() {
    // reqwest uses rustls without a built-in crypto provider; the server installs ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = support::ports::PassedSocket::bind();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_apiary"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APIARY_DATA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    socket.pass_to(command.as_std_mut());
    let mut child = command.spawn().expect("start apiary");
    let base = socket.url();
    drop(socket);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "apiary did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        json!([{ "name": "slow", "inputSchema": { "type": "object" } }]).to_string(),
    )
    .expect("write tools");
    let args = [
        "--tools".to_owned(),
        tools.display().to_string(),
        "--call-delay-ms".to_owned(),
        "2000".to_owned(),
    ];
    register_spec(
        &http,
        &base,
        "team/slow",
        json!({ "command": TESTMCP, "args": args, "transport": "stdio" }),
    )
    .await;
    refresh(&http, &base, "team/slow").await;

    let url = format!("{base}/mcp/team/slow");
    let client = connect(&url).await;
    // A second session holds an idle event stream open, as clients that listen for notices do.
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "0" } } });
    let opened = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .expect("initialize");
    let session = opened.headers()["mcp-session-id"].clone();
    let listening = http
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .send()
        .await
        .expect("listen");
    assert_eq!(listening.status(), 200);
    let mut notices = listening.bytes_stream();

    let peer = client.peer().clone();
    let call = tokio::spawn(async move {
        peer.call_tool(call("slow", json!({ "text": "finished" })))
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    let pid = child.id().expect("pid").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());

    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(_)) = notices.next().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the idle event stream was closed when the drain began"
    );

    let result = call
        .await
        .expect("task")
        .expect("the call in flight was answered");
    let text: Value = serde_json::to_value(&result.content).expect("JSON");
    assert!(text.to_string().contains("finished"), "{text}");

    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("apiary stopped after the drain")
        .expect("wait");
    assert!(status.success(), "a graceful stop exits 0: {status}");
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "stopped well before the backstop: {:?}",
        stopping.elapsed()
    );
}
