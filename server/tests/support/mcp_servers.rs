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
