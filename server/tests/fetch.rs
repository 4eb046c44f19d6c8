//! Live fetch against real MCP servers: the npm "everything" server (stdio, streamable HTTP,
//! legacy SSE), the PyPI time server (stdio), and our own `apiary-testmcp` for pagination,
//! drift, policy, and dead, slow and malicious servers.
//!
//! `.ci/setup --test` installs the external servers and `.ci/test` points at them with
//! `APIARY_TEST_EVERYTHING` (the package's `dist/index.js`) and `APIARY_TEST_MCP_TIME` (the
//! `mcp-server-time` executable), and sets `APIARY_REQUIRE_MCP_SERVERS=1`.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use apiary_server::registry::diff::diff;
use apiary_server::registry::fetch::{fetch_tools, FetchError, FetchLimits, FetchTarget};
use apiary_server::registry::model::{FetchedTools, Severity, ToolChange};
use apiary_server::registry::policy::{check, Policy};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use support::mcp_servers::{everything, mcp_time, TESTMCP};

fn limits() -> FetchLimits {
    FetchLimits {
        timeout: Duration::from_secs(30),
        ..FetchLimits::default()
    }
}

fn stdio(command: impl Into<String>, args: &[&str]) -> FetchTarget {
    FetchTarget::Stdio {
        command: command.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: vec![],
    }
}

/// A tools file for `apiary-testmcp`.
struct ToolsFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl ToolsFile {
    fn new(tools: &Value) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tools.json");
        let file = Self { _dir: dir, path };
        file.write(tools);
        file
    }

    fn write(&self, tools: &Value) {
        std::fs::write(&self.path, serde_json::to_vec(tools).expect("JSON")).expect("write tools");
    }

    fn target(&self, extra: &[&str]) -> FetchTarget {
        let mut args = vec!["--tools".to_owned(), self.path.display().to_string()];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        FetchTarget::Stdio {
            command: TESTMCP.into(),
            args,
            env: vec![],
        }
    }
}

fn simple_tool(name: &str) -> Value {
    json!({
        "name": name,
        "description": format!("The {name} tool"),
        "inputSchema": {
            "type": "object",
            "additionalProperties": false,
            "properties": {"message": {"type": "string"}},
            "required": ["message"]
        }
    })
}

fn names(fetched: &FetchedTools) -> Vec<&str> {
    fetched.tools.iter().map(|t| t.name.as_str()).collect()
}

/// A server process started by a test, killed when the test ends.
struct Server {
    _child: tokio::process::Child,
    url: String,
}

/// Starts `apiary-testmcp --http` and reads its URL from the first stdout line.
async fn testmcp_http(file: &ToolsFile, extra: &[&str]) -> Server {
    let mut child = tokio::process::Command::new(TESTMCP)
        .arg("--tools")
        .arg(&file.path)
        .args(["--http", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start apiary-testmcp");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("read the listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server { _child: child, url }
}

fn assert_everything(fetched: &FetchedTools) {
    assert_eq!(fetched.server_name, "mcp-servers/everything");
    let names = names(fetched);
    assert!(names.contains(&"echo"), "{names:?}");
    assert!(names.contains(&"get-sum"), "{names:?}");
    assert!(fetched.tools.len() > 5, "{names:?}");
    let echo = fetched
        .tools
        .iter()
        .find(|t| t.name == "echo")
        .expect("echo");
    assert!(
        echo.input_schema["properties"]["message"].is_object(),
        "{echo:?}"
    );
    assert!(
        fetched.capabilities["tools"].is_object(),
        "{:?}",
        fetched.capabilities
    );
    assert!(!fetched.protocol_version.is_empty());
    assert!(fetched.latency_ms > 0, "latency is recorded");
    assert!(fetched.latency_ms < 30_000);
}

#[tokio::test]
async fn everything_over_stdio() {
    let target = stdio("node", &[&everything().display().to_string(), "stdio"]);
    let fetched = fetch_tools(&target, &limits())
        .await
        .expect("fetch over stdio");
    assert_everything(&fetched);
}

#[tokio::test]
async fn everything_over_streamable_http() {
    let server = support::mcp_servers::everything_http().await;
    let target = FetchTarget::StreamableHttp {
        url: server.url.clone(),
        bearer: Some("not-checked-by-this-server".into()),
    };
    let fetched = fetch_tools(&target, &limits())
        .await
        .expect("fetch over streamable HTTP");
    assert_everything(&fetched);
}

#[tokio::test]
async fn everything_over_legacy_sse() {
    let server = support::mcp_servers::everything_sse().await;
    let target = FetchTarget::Sse {
        url: server.url.clone(),
        bearer: None,
    };
    let fetched = fetch_tools(&target, &limits())
        .await
        .expect("fetch over SSE");
    assert_everything(&fetched);
}

#[tokio::test]
async fn time_server_over_stdio() {
    let target = stdio(mcp_time().display().to_string(), &[]);
    let fetched = fetch_tools(&target, &limits())
        .await
        .expect("fetch mcp-server-time");
    assert_eq!(fetched.server_name, "mcp-time");
    let mut names = names(&fetched);
    names.sort_unstable();
    assert_eq!(names, ["convert_time", "get_current_time"]);
    assert!(fetched.latency_ms > 0);
}

#[tokio::test]
async fn testmcp_paginates() {
    let tools: Vec<Value> = (0..25)
        .map(|i| simple_tool(&format!("tool_{i:02}")))
        .collect();
    let file = ToolsFile::new(&Value::Array(tools));
    let fetched = fetch_tools(&file.target(&["--page-size", "10"]), &limits())
        .await
        .expect("fetch three pages");
    let expected: Vec<String> = (0..25).map(|i| format!("tool_{i:02}")).collect();
    assert_eq!(names(&fetched), expected);
    assert_eq!(fetched.server_name, "apiary-testmcp");

    let two_pages = FetchLimits {
        max_pages: 2,
        ..limits()
    };
    let err = fetch_tools(&file.target(&["--page-size", "10"]), &two_pages)
        .await
        .expect_err("three pages are too many");
    assert!(
        matches!(&err, FetchError::Rejected { reason } if reason.contains("more than 2 pages")),
        "{err}"
    );

    let twenty_tools = FetchLimits {
        max_tools: 20,
        ..limits()
    };
    let err = fetch_tools(&file.target(&["--page-size", "10"]), &twenty_tools)
        .await
        .expect_err("25 tools are too many");
    assert!(
        matches!(&err, FetchError::Rejected { reason } if reason.contains("more than 20 tools")),
        "{err}"
    );
}

#[tokio::test]
async fn testmcp_over_streamable_http() {
    let tools: Vec<Value> = (0..12).map(|i| simple_tool(&format!("t{i}"))).collect();
    let file = ToolsFile::new(&Value::Array(tools));
    let server = testmcp_http(&file, &["--page-size", "5"]).await;
    let target = FetchTarget::StreamableHttp {
        url: server.url.clone(),
        bearer: None,
    };
    let fetched = fetch_tools(&target, &limits())
        .await
        .expect("fetch over HTTP");
    assert_eq!(fetched.tools.len(), 12);
}

#[tokio::test]
async fn drift_is_diffed_with_broadening() {
    let search = json!({
        "name": "search",
        "description": "Search documents",
        "inputSchema": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer"}
            },
            "required": ["query", "limit"]
        }
    });
    let file = ToolsFile::new(&json!([search, simple_tool("echo")]));
    let target = file.target(&[]);
    let baseline = fetch_tools(&target, &limits()).await.expect("baseline");
    let again = fetch_tools(&target, &limits()).await.expect("unchanged");
    assert!(diff(&baseline.tools, &again.tools).is_empty());

    let drifted = json!({
        "name": "search",
        "description": "Search documents",
        "inputSchema": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": ["integer", "string"]},
                "filter": {"type": "string"}
            },
            "required": ["query"]
        }
    });
    file.write(&json!([
        simple_tool("echo"),
        drifted,
        simple_tool("delete_all")
    ]));
    let newer = fetch_tools(&target, &limits()).await.expect("drifted");
    let d = diff(&baseline.tools, &newer.tools);
    assert_eq!(d.tools_added, vec!["delete_all"]);
    assert!(d.tools_removed.is_empty());
    assert_eq!(
        d.tools_changed,
        vec![ToolChange {
            tool: "search".into(),
            properties_added: vec!["filter".into()],
            properties_retyped: vec![r#"limit: integer -> ["integer","string"]"#.into()],
            required_removed: vec!["limit".into()],
            broadened: true,
            ..ToolChange::default()
        }]
    );
}

#[tokio::test]
async fn policy_finds_a_password_property() {
    let add_user = json!({
        "name": "add_user",
        "description": "Adds a user",
        "inputSchema": {
            "type": "object",
            "additionalProperties": false,
            "properties": {"name": {"type": "string"}, "password": {"type": "string"}}
        }
    });
    let file = ToolsFile::new(&json!([add_user, simple_tool("echo")]));
    let fetched = fetch_tools(&file.target(&[]), &limits())
        .await
        .expect("fetch");
    let findings = check(&Policy::default(), &fetched.tools);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].tool, "add_user");
    assert_eq!(findings[0].rule, "forbidden-property");
    assert_eq!(
        findings[0].path,
        "$.tools[add_user].inputSchema.properties.password"
    );
    assert_eq!(findings[0].severity, Severity::Error);
}

#[tokio::test]
async fn dead_servers_fail_quickly() {
    let started = Instant::now();
    let err = fetch_tools(&stdio("false", &[]), &limits())
        .await
        .expect_err("a command that exits at once");
    assert!(matches!(err, FetchError::Connect { .. }), "{err}");

    let err = fetch_tools(&stdio("/nonexistent/apiary-mcp", &[]), &limits())
        .await
        .expect_err("a missing command");
    assert!(
        matches!(&err, FetchError::Connect { reason } if reason.contains("cannot start")),
        "{err}"
    );

    let err = fetch_tools(
        &stdio("sh", &["-c", "echo 'no such module' >&2; exit 3"]),
        &limits(),
    )
    .await
    .expect_err("a crashing server");
    assert!(
        matches!(&err, FetchError::Connect { reason } if reason.contains("no such module")),
        "{err}"
    );

    // Free now, and below the range the system hands out, so nothing else takes it.
    let port = support::ports::candidate();
    for target in [
        FetchTarget::StreamableHttp {
            url: format!("http://127.0.0.1:{port}/mcp"),
            bearer: None,
        },
        FetchTarget::Sse {
            url: format!("http://127.0.0.1:{port}/sse"),
            bearer: None,
        },
    ] {
        let err = fetch_tools(&target, &limits())
            .await
            .expect_err("a closed port");
        assert!(
            matches!(err, FetchError::Connect { .. }),
            "{target:?}: {err}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_server_times_out() {
    let file = ToolsFile::new(&json!([simple_tool("echo")]));
    let quick = FetchLimits {
        timeout: Duration::from_secs(1),
        ..limits()
    };
    let started = Instant::now();
    let err = fetch_tools(&file.target(&["--delay-ms", "5000"]), &quick)
        .await
        .expect_err("too slow");
    assert!(
        matches!(err, FetchError::Timeout { after } if after == Duration::from_secs(1)),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let server = testmcp_http(&file, &["--delay-ms", "5000"]).await;
    let started = Instant::now();
    let target = FetchTarget::StreamableHttp {
        url: server.url.clone(),
        bearer: None,
    };
    let err = fetch_tools(&target, &quick)
        .await
        .expect_err("too slow over HTTP");
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// A tool whose property nests `levels` objects deep.
fn deep_tool(levels: usize) -> Value {
    let mut schema = json!({"type": "string"});
    for _ in 0..levels {
        schema = json!({"type": "object", "properties": {"x": schema}});
    }
    json!({"name": "deep", "inputSchema": {"type": "object", "properties": {"x": schema}}})
}

fn huge_tool(bytes: usize) -> Value {
    let mut tool = simple_tool("huge");
    tool["description"] = Value::String("A".repeat(bytes));
    tool
}

#[tokio::test]
async fn malicious_answers_are_rejected() {
    let rejected = |result: Result<FetchedTools, FetchError>, what: &str| match result {
        Err(FetchError::Rejected { reason }) => reason,
        other => panic!("{what}: expected Rejected, got {other:?}"),
    };
    // 2 levels per `properties` hop: about 100 levels, under serde_json's 128 but over 64.
    let file = ToolsFile::new(&json!([deep_tool(49)]));
    let reason = rejected(
        fetch_tools(&file.target(&[]), &limits()).await,
        "deep nesting",
    );
    assert!(reason.contains("nests deeper than 64"), "{reason}");

    file.write(&json!([huge_tool(100_000)]));
    let reason = rejected(
        fetch_tools(&file.target(&[]), &limits()).await,
        "a huge string",
    );
    assert!(reason.contains("string of 100000 bytes"), "{reason}");

    let small_messages = FetchLimits {
        max_message_bytes: 50_000,
        ..limits()
    };
    let reason = rejected(
        fetch_tools(&file.target(&[]), &small_messages).await,
        "an oversized stdio message",
    );
    assert!(
        reason.contains("larger than the message size limit"),
        "{reason}"
    );

    file.write(&json!([simple_tool("twin"), simple_tool("twin")]));
    let reason = rejected(
        fetch_tools(&file.target(&[]), &limits()).await,
        "duplicate names",
    );
    assert!(reason.contains("listed twice"), "{reason}");

    // The test server itself refuses a file it cannot parse: a server error is `Protocol`.
    file.write(&json!([{"name": "no_schema"}]));
    let err = fetch_tools(&file.target(&[]), &limits())
        .await
        .expect_err("a tool without inputSchema");
    assert!(matches!(err, FetchError::Protocol { .. }), "{err}");
}

#[tokio::test]
async fn oversized_http_answer_is_rejected() {
    let file = ToolsFile::new(&json!([huge_tool(100_000)]));
    let server = testmcp_http(&file, &[]).await;
    let target = FetchTarget::StreamableHttp {
        url: server.url.clone(),
        bearer: None,
    };
    let small_messages = FetchLimits {
        max_message_bytes: 50_000,
        ..limits()
    };
    let err = fetch_tools(&target, &small_messages)
        .await
        .expect_err("an oversized HTTP message");
    assert!(
        matches!(&err, FetchError::Rejected { reason } if reason.contains("message size limit (50000 bytes)")),
        "{err}"
    );
}

/// True while `pid` runs (a zombie waiting to be reaped does not count).
fn running(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or_default().trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
    }
}

#[tokio::test]
async fn a_timed_out_stdio_server_leaves_no_processes() {
    let file = ToolsFile::new(&json!([simple_tool("echo")]));
    let pid_file = file.path.with_file_name("helper.pid");
    // The server starts a helper in the background, then becomes apiary-testmcp.
    let script = format!(
        "sleep 300 & echo $! > '{}'; exec '{}' --tools '{}' --delay-ms 5000",
        pid_file.display(),
        TESTMCP,
        file.path.display()
    );
    let target = stdio("sh", &["-c", &script]);
    let quick = FetchLimits {
        timeout: Duration::from_secs(1),
        ..limits()
    };
    let err = fetch_tools(&target, &quick).await.expect_err("too slow");
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
    let helper = std::fs::read_to_string(&pid_file).expect("the helper's pid");
    let helper = helper.trim();
    let deadline = Instant::now() + Duration::from_secs(3);
    while running(helper) {
        assert!(
            Instant::now() < deadline,
            "the helper {helper} outlived the fetch"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
