//! The MCP conformance suite (npm `@modelcontextprotocol/conformance`, end2end/conformance) runs
//! its server scenarios against server-everything twice: directly, and through the gateway.
//! Every check that passes directly must pass through the gateway too.
//!
//! Against server-everything 2026.8.31 with conformance 0.1.13, 13 checks pass directly:
//! server-initialize, logging-set-level, ping, tools-list, tools-call-simple-text,
//! tools-call-error, server-sse-multiple-streams (2), resources-list, resources-subscribe,
//! resources-unsubscribe, prompts-list, and one of the two dns-rebinding-protection checks.
//! The other 19 fail directly (server-everything lacks the suite's `test_*` tools, resources
//! and prompts, and completion).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use support::mcp_servers::{everything_http, external, repo};

/// The suite's command-line entry point.
fn conformance_cli() -> PathBuf {
    external(
        "APIARY_TEST_CONFORMANCE",
        repo().join(
            "end2end/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js",
        ),
        "install it with `npm ci` in end2end/conformance (or `.ci/setup --test`)",
    )
}

/// Runs every server scenario against `url`; returns each check's status by
/// `scenario/check#n`.
async fn run_suite(url: &str, out: &Path) -> BTreeMap<String, String> {
    let run = tokio::process::Command::new("node")
        .arg(conformance_cli())
        .args(["server", "--url", url, "-o"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    // The suite exits non-zero when any check fails; the checks themselves are compared below.
    tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the conformance suite finished within 5 minutes")
        .expect("run the conformance suite with node");
    let mut checks = BTreeMap::new();
    for entry in std::fs::read_dir(out).expect("results folder") {
        let dir = entry.expect("entry").path();
        let folder = dir.file_name().unwrap_or_default().to_string_lossy();
        // `server-<scenario>-<24-character timestamp>`.
        let scenario = folder
            .strip_prefix("server-")
            .and_then(|rest| rest.get(..rest.len().saturating_sub(25)))
            .unwrap_or(&folder)
            .to_owned();
        let text = std::fs::read_to_string(dir.join("checks.json")).expect("checks.json");
        let list: Vec<Value> = serde_json::from_str(&text).expect("checks are JSON");
        let mut seen = BTreeMap::<String, usize>::new();
        for check in list {
            let id = check["id"].as_str().unwrap_or("?").to_owned();
            let n = seen.entry(id.clone()).or_default();
            *n += 1;
            let status = check["status"].as_str().unwrap_or("?").to_owned();
            checks.insert(format!("{scenario}/{id}#{n}"), status);
        }
    }
    assert!(!checks.is_empty(), "the suite wrote no results to {out:?}");
    checks
}

#[tokio::test]
async fn every_check_that_passes_directly_passes_through_the_gateway() {
    let backend = everything_http().await;
    let results = tempfile::tempdir().expect("temp dir");
    let direct = run_suite(&backend.url, &results.path().join("direct")).await;

    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let registered = http
        .put(format!("{base}/api/v1/servers/platform/everything"))
        .json(&json!({
            "description": "server-everything",
            "spec": { "transport": "streamable-http", "url": backend.url },
            "published": true,
        }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success());
    let refreshed: Value = http
        .post(format!("{base}/api/v1/servers/platform/everything/refresh"))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("JSON");
    assert_eq!(refreshed["outcome"], "fetched", "{refreshed}");
    // server-everything is built on the TypeScript SDK, which answers unknown tools with an
    // error result; the gateway answers the same for the tools it does not publish.
    let curated = http
        .put(format!(
            "{base}/api/v1/servers/platform/everything/curation"
        ))
        .json(&json!({ "unknownTools": "result" }))
        .send()
        .await
        .expect("curate");
    assert!(curated.status().is_success());
    let gateway = run_suite(
        &format!("{base}/mcp/platform/everything"),
        &results.path().join("gateway"),
    )
    .await;

    let mut table = String::new();
    let mut regressions = Vec::new();
    for (check, status) in &direct {
        let through = gateway.get(check).map_or("missing", String::as_str);
        table.push_str(&format!("{check:60} direct {status:8} gateway {through}\n"));
        if status == "SUCCESS" && through != "SUCCESS" {
            regressions.push(check.as_str());
        }
    }
    eprintln!("conformance results:\n{table}");
    let passing = direct.values().filter(|s| *s == "SUCCESS").count();
    assert!(passing > 0, "nothing passes directly:\n{table}");
    assert!(
        regressions.is_empty(),
        "these checks pass directly but fail through the gateway: {regressions:?}\n{table}"
    );
}
