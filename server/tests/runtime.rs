//! The local runtime with real processes: readiness, captured stderr, restarts with backoff,
//! the stdio channel, process-group shutdown, and the `apiary` binary leaving no child behind.

mod support;

use support::http::without_markers;

use support::http::call;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use apiary_server::runtime::{
    DesiredServer, LocalRuntime, LocalRuntimeConfig, LocalSpec, ProcessSpec, Reach, Runtime,
    RuntimeError, RuntimeState, RuntimeStatus, ServerId,
};
use axum::http::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn runtime() -> LocalRuntime {
    LocalRuntime::new(LocalRuntimeConfig {
        ready_after: Duration::from_millis(300),
        stop_grace: Duration::from_secs(2),
        ..LocalRuntimeConfig::default()
    })
}

fn shell(name: &str, script: &str) -> DesiredServer {
    DesiredServer {
        id: ServerId::new("test", name),
        spec: LocalSpec::Process(ProcessSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: Vec::new(),
        }),
    }
}

/// Polls the status until `accept` holds, failing after `within`.
async fn wait_until(
    runtime: &LocalRuntime,
    id: &ServerId,
    within: Duration,
    accept: impl Fn(&RuntimeStatus) -> bool,
) -> RuntimeStatus {
    let deadline = Instant::now() + within;
    loop {
        let status = runtime
            .status(id)
            .await
            .expect("the runtime knows the server");
        if accept(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting; last status {status:?}, logs {:?}",
            runtime.logs(id).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is_ready(status: &RuntimeStatus) -> bool {
    status.state == RuntimeState::Ready
}

async fn log_lines(runtime: &LocalRuntime, id: &ServerId) -> Vec<String> {
    runtime
        .logs(id)
        .await
        .into_iter()
        .map(|line| line.line)
        .collect()
}

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug)]
struct ProcStat {
    state: char,
    ppid: u32,
    pgrp: u32,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; the fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(ProcStat { state, ppid, pgrp })
}

/// Whether `pid` is a live process. A zombie is dead: it only waits for its (new) parent to
/// read its exit status, which an init that does not reap may never do.
fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|stat| !matches!(stat.state, 'Z' | 'X'))
}

fn all_processes() -> HashMap<u32, ProcStat> {
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .collect()
}

/// Live processes in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    all_processes()
        .into_iter()
        .filter(|(pid, stat)| stat.pgrp == pgid && alive(*pid))
        .map(|(pid, _)| pid)
        .collect()
}

/// Every live descendant of `root`.
fn descendants(root: u32) -> Vec<u32> {
    let processes = all_processes();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, stat) in &processes {
            if stat.ppid == parent && !found.contains(pid) && alive(*pid) {
                found.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    found
}

fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}");
}

#[tokio::test]
async fn a_stdio_server_starts_becomes_ready_and_its_stderr_is_captured() {
    let runtime = runtime();
    let server = shell(
        "ready",
        "echo started >&2; echo 'second line' >&2; exec sleep 1000",
    );
    runtime.apply(&server).await.expect("apply");
    let first = runtime.status(&server.id).await.expect("known");
    assert_eq!(
        first.state,
        RuntimeState::Starting,
        "not ready before the readiness delay"
    );
    assert_eq!(
        first.command.as_deref(),
        Some("sh -c echo started >&2; echo 'second line' >&2; exec sleep 1000")
    );

    let ready = wait_until(&runtime, &server.id, Duration::from_secs(10), is_ready).await;
    let pid = ready.pid.expect("a ready process has a pid");
    assert!(alive(pid));
    assert_eq!(ready.restarts, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines = log_lines(&runtime, &server.id).await;
        if lines.iter().any(|l| l == "started") && lines.iter().any(|l| l == "second line") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stderr was not captured: {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runtime.shutdown().await;
    assert!(!alive(pid));
}

#[tokio::test]
async fn a_killed_process_is_restarted_with_a_new_pid_after_a_backoff() {
    let runtime = runtime();
    let server = shell("crashy", "exec sleep 1000");
    runtime.apply(&server).await.expect("apply");
    let ready = wait_until(&runtime, &server.id, Duration::from_secs(10), is_ready).await;
    let old_pid = ready.pid.expect("pid");

    kill(old_pid, "-KILL");
    let killed_at = Instant::now();
    let failed = wait_until(&runtime, &server.id, Duration::from_secs(5), |s| {
        matches!(s.state, RuntimeState::Failed { .. })
    })
    .await;
    match &failed.state {
        RuntimeState::Failed { reason, exit_code } => {
            assert!(reason.contains("killed by signal 9"), "{reason}");
            assert_eq!(*exit_code, None);
        }
        other => panic!("expected failed, got {other:?}"),
    }
    let restarted = wait_until(&runtime, &server.id, Duration::from_secs(10), |s| {
        s.pid.is_some_and(|pid| pid != old_pid)
    })
    .await;
    assert!(
        killed_at.elapsed() >= Duration::from_millis(450),
        "the restart waited for the 0.5 s backoff"
    );
    assert_eq!(restarted.restarts, 1);
    let ready = wait_until(&runtime, &server.id, Duration::from_secs(10), is_ready).await;
    assert_eq!(ready.restarts, 1);
    assert!(alive(ready.pid.expect("pid")));
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_command_that_exits_at_once_fails_and_keeps_backing_off() {
    let runtime = runtime();
    let server = shell("broken", "echo boom >&2; exit 3");
    let applied_at = Instant::now();
    runtime.apply(&server).await.expect("apply");
    let failed = wait_until(&runtime, &server.id, Duration::from_secs(5), |s| {
        matches!(s.state, RuntimeState::Failed { .. })
    })
    .await;
    match &failed.state {
        RuntimeState::Failed { reason, exit_code } => {
            assert!(reason.contains("exited with code 3"), "{reason}");
            assert!(reason.contains("restarting in"), "{reason}");
            assert_eq!(*exit_code, Some(3));
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert_eq!(failed.pid, None);

    tokio::time::sleep(Duration::from_secs(3).saturating_sub(applied_at.elapsed())).await;
    let later = runtime.status(&server.id).await.expect("known");
    // Backoff 0.5 s, 1 s, 2 s: restarts at about 0.5 s and 1.5 s, the next one at 3.5 s.
    assert!(
        (1..=4).contains(&later.restarts),
        "no hot loop: {} restarts in 3 s",
        later.restarts
    );
    assert!(later.restarts <= 3, "doubling backoff: {later:?}");
    let lines = log_lines(&runtime, &server.id).await;
    assert!(lines.iter().any(|l| l == "boom"), "{lines:?}");
    runtime.shutdown().await;
    assert_eq!(
        runtime.status(&server.id).await.map(|s| s.state),
        Some(RuntimeState::Stopped)
    );
}

#[tokio::test]
async fn a_missing_program_fails_naming_it() {
    let runtime = runtime();
    let server = DesiredServer {
        id: ServerId::new("test", "missing"),
        spec: LocalSpec::Process(ProcessSpec {
            program: "apiary-test-no-such-program".into(),
            args: Vec::new(),
            env: Vec::new(),
        }),
    };
    runtime.apply(&server).await.expect("apply");
    let failed = wait_until(&runtime, &server.id, Duration::from_secs(5), |s| {
        matches!(s.state, RuntimeState::Failed { .. })
    })
    .await;
    let RuntimeState::Failed { reason, .. } = failed.state else {
        panic!("expected failed")
    };
    assert!(reason.contains("apiary-test-no-such-program"), "{reason}");
    assert!(reason.contains("PATH"), "{reason}");
    runtime.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_the_whole_process_group() {
    let runtime = runtime();
    // The grandchild ignores SIGTERM, so only the SIGKILL after the grace period stops it.
    let server = shell(
        "family",
        "(trap '' TERM; exec sleep 1000) & echo \"grandchild $!\" >&2; exec sleep 1000",
    );
    runtime.apply(&server).await.expect("apply");
    let ready = wait_until(&runtime, &server.id, Duration::from_secs(10), is_ready).await;
    let child = ready.pid.expect("pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    let grandchild = loop {
        let lines = log_lines(&runtime, &server.id).await;
        if let Some(pid) = lines
            .iter()
            .find_map(|l| l.strip_prefix("grandchild ")?.parse::<u32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "no grandchild pid: {lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(alive(child) && alive(grandchild));
    assert_eq!(
        proc_stat(grandchild).expect("stat").pgrp,
        child,
        "one group"
    );

    let started = Instant::now();
    runtime.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown is bounded by the grace period"
    );
    assert!(!alive(child), "the child is gone");
    assert!(!alive(grandchild), "the grandchild is gone");
    assert_eq!(group_members(child), Vec::<u32>::new());
    assert_eq!(
        runtime.status(&server.id).await.map(|s| s.state),
        Some(RuntimeState::Stopped)
    );
    assert!(matches!(
        runtime.apply(&server).await,
        Err(RuntimeError::ShutDown)
    ));
}

#[tokio::test]
async fn the_stdio_channel_is_handed_out_once_per_process_and_recycled_on_drop() {
    let runtime = runtime();
    let server = shell("echo", "exec cat");
    runtime.apply(&server).await.expect("apply");
    let ready = wait_until(&runtime, &server.id, Duration::from_secs(10), is_ready).await;
    let first_pid = ready.pid.expect("pid");

    let handle = runtime.open_stdio(&server.id).await.expect("a channel");
    assert!(matches!(
        runtime.open_stdio(&server.id).await,
        Err(RuntimeError::StdioUnavailable(_))
    ));
    let (reader, mut writer) = tokio::io::split(handle);
    writer.write_all(b"{\"ping\":1}\n").await.expect("write");
    writer.flush().await.expect("flush");
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    assert_eq!(
        line, "{\"ping\":1}\n",
        "stdout is the channel, not the logs"
    );
    assert!(!log_lines(&runtime, &server.id)
        .await
        .iter()
        .any(|l| l.contains("ping")));

    drop((reader, writer));
    let fresh = wait_until(&runtime, &server.id, Duration::from_secs(10), |s| {
        is_ready(s) && s.pid.is_some_and(|pid| pid != first_pid)
    })
    .await;
    assert_eq!(fresh.restarts, 0, "ending a session is not a failure");
    assert!(!alive(first_pid));
    let mut again = runtime.open_stdio(&server.id).await.expect("a new channel");
    again.write_all(b"two\n").await.expect("write");
    let mut reader = BufReader::new(&mut again);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    assert_eq!(line, "two\n");
    runtime.shutdown().await;
}

#[tokio::test]
async fn apply_is_idempotent_replaces_a_changed_spec_and_remove_stops() {
    let runtime = runtime();
    let server = shell("evolving", "exec sleep 1000");
    runtime.apply(&server).await.expect("apply");
    let first = wait_until(&runtime, &server.id, Duration::from_secs(10), is_ready)
        .await
        .pid
        .expect("pid");
    runtime.apply(&server).await.expect("apply again");
    assert_eq!(
        runtime.status(&server.id).await.and_then(|s| s.pid),
        Some(first),
        "the same spec leaves the process alone"
    );

    let changed = shell("evolving", "exec sleep 1001");
    runtime.apply(&changed).await.expect("apply a change");
    assert!(
        !alive(first),
        "the old process stopped before the new one started"
    );
    let second = wait_until(&runtime, &server.id, Duration::from_secs(10), is_ready)
        .await
        .pid
        .expect("pid");
    assert_ne!(first, second);

    runtime.remove(&server.id).await.expect("remove");
    assert!(!alive(second));
    assert_eq!(runtime.status(&server.id).await, None);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_remote_server_is_ready_without_a_process() {
    let runtime = runtime();
    let id = ServerId::new("test", "remote");
    let spec = apiary_server::runtime::parse_spec(
        &json!({ "url": "https://mcp.example.com/mcp", "transport": "streamable-http" }),
    )
    .expect("valid");
    runtime
        .apply(&DesiredServer {
            id: id.clone(),
            spec,
        })
        .await
        .expect("apply");
    let status = runtime.status(&id).await.expect("known");
    assert_eq!(status.state, RuntimeState::Ready);
    assert_eq!(status.pid, None);
    assert_eq!(status.url.as_deref(), Some("https://mcp.example.com/mcp"));
    assert!(matches!(
        runtime.open_stdio(&id).await,
        Err(RuntimeError::NotStdio(_))
    ));
    runtime.shutdown().await;
}

#[tokio::test]
async fn the_runtime_endpoint_explains_servers_that_do_not_run() {
    for db in support::all_backends().await {
        runtime_endpoint_on(support::app(&db.db)).await;
    }
}

async fn runtime_endpoint_on(app: axum::Router) {
    // Loopback only: registering a published server starts a live tool fetch.
    let remote = "http://127.0.0.1:9/mcp";

    let (status, body) = call(&app, "GET", "/api/v1/servers/team/nothing/runtime", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, _) = call(
        &app,
        "PUT",
        "/api/v1/servers/team/container/runtime".trim_end_matches("/runtime"),
        Some(
            &json!({ "spec": { "image": "ghcr.io/x/y", "transport": "stdio" }, "published": true }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(&app, "GET", "/api/v1/servers/team/container/runtime", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "spec.image");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Kubernetes runtime")),
        "{body}"
    );

    let (status, _) = call(
        &app,
        "PUT",
        "/api/v1/servers/team/draft",
        Some(&json!({ "spec": { "url": remote, "transport": "sse" } })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(&app, "GET", "/api/v1/servers/team/draft/runtime", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("not published")),
        "{body}"
    );

    let (status, _) = call(
        &app,
        "PUT",
        "/api/v1/servers/team/draft",
        Some(&json!({ "spec": { "url": remote, "transport": "sse" }, "published": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, "GET", "/api/v1/servers/team/draft/runtime", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "ready");
    assert_eq!(body["url"], remote);
    assert_eq!(body["server"], "team/draft");
}

// ---- the real binary ----

fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP head in {response:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    Ok((status, json))
}

struct Apiary {
    child: std::process::Child,
    port: u16,
}

fn start_apiary(data_dir: &std::path::Path) -> Apiary {
    let socket = support::ports::PassedSocket::bind();
    let port = socket.port;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_apiary"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APIARY_DATA_DIR", data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    socket.pass_to(&mut command);
    let child = command.spawn().expect("start apiary");
    drop(socket);
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(port, "GET", "/healthz", None).is_err() {
        assert!(Instant::now() < deadline, "apiary did not answer /healthz");
        std::thread::sleep(Duration::from_millis(100));
    }
    Apiary { child, port }
}

impl Apiary {
    /// Waits for the server's runtime status to be ready and returns its pid.
    fn ready_pid(&self, path: &str) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = http(self.port, "GET", path, None).expect("GET runtime");
            if status == 200 && body["state"] == "ready" {
                let pid = body["pid"].as_u64().expect("a pid in the runtime status");
                return u32::try_from(pid).expect("a pid fits u32");
            }
            assert!(
                Instant::now() < deadline,
                "not ready within 20 s: {status} {body}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERMs apiary and asserts that it exits 0 within 15 s.
    fn stop(&mut self) {
        kill(self.child.id(), "-TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "apiary did not stop within 15 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "a graceful stop exits 0: {status}");
    }
}

impl Drop for Apiary {
    /// A failed test must not leave apiary running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn stopping_apiary_leaves_no_child_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime_path = "/api/v1/servers/team/sleeper/runtime";

    let mut apiary = start_apiary(dir.path());
    let (status, body) = http(
        apiary.port,
        "PUT",
        "/api/v1/servers/team/sleeper",
        Some(&json!({
            "spec": { "command": "sh", "args": ["-c", "sleep 1000 & exec sleep 1000"], "transport": "stdio" },
            "published": true,
        })),
    )
    .expect("PUT");
    assert_eq!(status, 201, "{body}");
    let pid = apiary.ready_pid(runtime_path);
    let family = descendants(apiary.child.id());
    assert!(family.contains(&pid), "{pid} is apiary's child: {family:?}");
    assert!(
        family.len() >= 2,
        "the sleeper and its grandchild: {family:?}"
    );
    apiary.stop();
    let left: Vec<_> = family.into_iter().filter(|pid| alive(*pid)).collect();
    assert_eq!(left, Vec::<u32>::new(), "no descendant outlives apiary");
    assert_eq!(group_members(pid), Vec::<u32>::new());

    // On the next start the published server runs again, read from the database.
    let mut apiary = start_apiary(dir.path());
    let pid = apiary.ready_pid(runtime_path);
    let family = descendants(apiary.child.id());
    assert!(family.contains(&pid), "{family:?}");
    apiary.stop();
    let left: Vec<_> = family.into_iter().filter(|pid| alive(*pid)).collect();
    assert_eq!(left, Vec::<u32>::new(), "no descendant outlives apiary");
}

#[tokio::test]
async fn captured_stderr_has_the_specs_environment_values_and_credential_shapes_redacted() {
    let runtime = runtime();
    let server = DesiredServer {
        id: ServerId::new("test", "leaky"),
        spec: LocalSpec::Process(ProcessSpec {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "echo \"connecting with $SERVICE_PASSPHRASE\" >&2; echo 'Authorization: Bearer abcdefgh12345678' >&2; echo 'plain line' >&2; sleep 30".into(),
            ],
            env: vec![("SERVICE_PASSPHRASE".into(), "correct-horse-battery".into())],
        }),
    };
    runtime.apply(&server).await.expect("apply");
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = log_lines(&runtime, &server.id).await;
        if lines.iter().any(|l| l == "plain line") || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        lines.contains(&"connecting with [redacted]".to_owned())
            && lines
                .iter()
                .any(|l| l.starts_with("Authorization: ") && l.ends_with("[redacted]"))
            && lines.contains(&"plain line".to_owned()),
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("correct-horse") || l.contains("abcdefgh1234")),
        "{lines:?}"
    );
    runtime.shutdown().await;
}

/// The text of a server page, as a browser without JavaScript gets it.
async fn server_page(base: &str, id: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("{base}/servers/{id}"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("GET the page");
    assert_eq!(response.status(), 200);
    response
        .text()
        .await
        .map(|html| without_markers(&html))
        .expect("HTML")
}

#[tokio::test]
async fn a_server_page_says_why_a_server_does_not_run_and_claims_nothing_it_has_no_data_for() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let register = |id: &str, spec: Value| {
        http.put(format!("{base}/api/v1/servers/{id}"))
            .json(&json!({ "description": "runtime page", "ownerTeam": "team", "spec": spec, "published": true }))
            .send()
    };
    let answer = register(
        "team/broken",
        json!({ "command": "/nonexistent/apiary-server-x", "transport": "stdio" }),
    )
    .await
    .expect("register");
    assert!(answer.status().is_success(), "{}", answer.status());

    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = server_page(&base, "team/broken").await;
        if page.contains("data-state=\"crashed\"") || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(page.contains("data-state=\"crashed\""), "{page}");
    assert!(
        page.contains(
            "cannot start &quot;/nonexistent/apiary-server-x&quot;: No such file or directory"
        ) || page
            .contains("cannot start \"/nonexistent/apiary-server-x\": No such file or directory"),
        "the page names the cause: {page}"
    );
    assert!(page.contains("data-testid=\"runtime-restarts\""), "{page}");
    assert!(page.contains("data-testid=\"runtime-logs\""), "{page}");
    assert!(
        !page.contains("data-testid=\"snippets\"") && page.contains("data-testid=\"no-snippets\""),
        "no snippets for a server that cannot run: {page}"
    );
    assert!(
        !page.contains("meets the schema contract") && page.contains("data-testid=\"no-snapshot\""),
        "no policy verdict without a snapshot: {page}"
    );

    // A server that runs says so, and offers the snippets.
    let answer = register(
        "team/sleeper",
        json!({ "command": "sh", "args": ["-c", "sleep 60"], "transport": "stdio" }),
    )
    .await
    .expect("register");
    assert!(answer.status().is_success(), "{}", answer.status());
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = server_page(&base, "team/sleeper").await;
        if page.contains("data-state=\"running\"") || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(page.contains("data-state=\"running\""), "{page}");
    assert!(page.contains("data-testid=\"snippets\""), "{page}");
    assert!(
        page.contains("data-client=\"VS Code\"")
            && page.contains("http://apiary.test/mcp/team/sleeper"),
        "{page}"
    );
}
