//! Where the real MCP servers that `.ci/setup --test` installs live.

use std::path::{Path, PathBuf};

/// Our own rmcp test server.
pub const TESTMCP: &str = env!("CARGO_BIN_EXE_apiary-testmcp");

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("server/ has a parent")
        .to_path_buf()
}

/// An external server's path from `var`, or from its default install location; fails with
/// the way to install it when it is missing.
pub fn external(var: &str, default: PathBuf, install: &str) -> PathBuf {
    if let Ok(path) = std::env::var(var) {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "{var}={} does not exist; {install}",
            path.display()
        );
        return path;
    }
    assert!(
        std::env::var("APIARY_REQUIRE_MCP_SERVERS").is_err(),
        "APIARY_REQUIRE_MCP_SERVERS is set but {var} is not: .ci/test must export it"
    );
    assert!(
        default.exists(),
        "{var} is not set and {} does not exist; {install}, or run the whole suite with .ci/test",
        default.display()
    );
    default
}

/// npm `@modelcontextprotocol/server-everything`'s entry point (run with `node`).
pub fn everything() -> PathBuf {
    external(
        "APIARY_TEST_EVERYTHING",
        repo().join("end2end/mcp-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"),
        "install it with `npm ci` in end2end/mcp-servers (or `.ci/setup --test`)",
    )
}

/// PyPI `mcp-server-time`'s executable in its virtual environment.
pub fn mcp_time() -> PathBuf {
    let cache = std::env::var("APIARY_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/apiary")
        });
    external(
        "APIARY_TEST_MCP_TIME",
        cache.join("venv-mcp-time/bin/mcp-server-time"),
        "install it with `.ci/setup --test` (a virtual environment with pip install mcp-server-time)",
    )
}

/// A backend process serving MCP over streamable HTTP on loopback; killed when dropped.
pub struct HttpBackend {
    /// Its MCP endpoint.
    pub url: String,
    _child: tokio::process::Child,
}

/// A folder holding `tools.json` with one tool, `echo`, for `apiary-testmcp --tools`; the
/// folder lives as long as the returned guard.
pub fn one_tool_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        serde_json::json!([{ "name": "echo", "inputSchema": { "type": "object" } }]).to_string(),
    )
    .expect("write tools");
    (dir, tools)
}

/// `apiary-testmcp` with `args`, serving streamable HTTP on a free loopback port.
pub async fn testmcp_http(args: &[&str]) -> HttpBackend {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(TESTMCP)
        .args(args)
        .args(["--http", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start apiary-testmcp");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("read the listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("apiary-testmcp printed {line:?}"))
        .to_owned();
    HttpBackend { url, _child: child }
}

/// npm server-everything in streamable HTTP mode on a free port, once it accepts connections.
pub async fn everything_http() -> HttpBackend {
    everything_over("streamableHttp", "/mcp").await
}

/// npm server-everything in legacy HTTP+SSE mode; `url` is its event-stream endpoint.
pub async fn everything_sse() -> HttpBackend {
    everything_over("sse", "/sse").await
}

/// npm server-everything serving `transport` on a free port; `url` is its `path` there.
async fn everything_over(transport: &str, path: &str) -> HttpBackend {
    let (child, port) = super::ports::start_on_candidate("server-everything", |port| {
        tokio::process::Command::new("node")
            .arg(everything())
            .arg(transport)
            .env("PORT", port.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start server-everything (node)")
    })
    .await;
    HttpBackend {
        url: format!("http://127.0.0.1:{port}{path}"),
        _child: child,
    }
}
