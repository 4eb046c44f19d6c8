//! Refreshing the tools of 100 local stdio servers that already run under the local runtime
//! (the test MCP server, 5 tools each, SQLite), three ways in one run, rounds interleaved:
//!
//! - `running_8`: what Apiary does: over the runtime's processes, 8 fetches at once;
//! - `running_1`: the same fetches one after another (the fleet refresh before it was bounded
//!   concurrent);
//! - `own_process_8`: 8 at once, each fetch starting a process of its own (the registry before
//!   it fetched over the runtime's processes).
//!
//! Run: `cargo bench -p apiary-server --bench fleet_refresh`

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use apiary_server::config::Runtime as RuntimeMode;
use apiary_server::registry::refresh::{RefreshOutcome, Refresher};
use apiary_server::web::{router, AppState};

use support::http::call;
use support::mcp_servers::TESTMCP;

/// How many servers the fleet holds.
const SERVERS: usize = 100;
/// Rounds of each variant.
const ROUNDS: usize = 7;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let test_db = support::sqlite().await;
    let settings = support::settings();
    let state = AppState::new(settings.clone(), test_db.db.clone());
    let app = router(state.clone());
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    let listed: Vec<_> = (0..5)
        .map(|t| json!({ "name": format!("tool_{t}"), "description": format!("Tool {t}"), "inputSchema": { "type": "object", "properties": { "id": { "type": "string" } } } }))
        .collect();
    std::fs::write(&tools, serde_json::to_vec(&listed).expect("JSON")).expect("write tools");
    let mut servers = Vec::new();
    for i in 0..SERVERS {
        let name = format!("server-{i:03}");
        let body = json!({ "description": "fleet", "ownerTeam": "fleet", "published": true,
            "spec": { "command": TESTMCP, "transport": "stdio", "args": ["--tools", tools.display().to_string()] } });
        let (status, answer) = call(
            &app,
            "PUT",
            &format!("/api/v1/servers/fleet/{name}"),
            Some(&body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        servers.push(("fleet".to_owned(), name));
    }
    // Warm: every process started and its bridge initialized.
    let warm = Instant::now();
    assert_all_fetched(&state.refresher, &servers).await;
    eprintln!(
        "warm-up (starting {SERVERS} processes): {:?}",
        warm.elapsed()
    );

    let own = Refresher::new(
        test_db.db.clone(),
        settings.policy.clone(),
        Default::default(),
        RuntimeMode::Local,
    );
    let mut times: [Vec<Duration>; 3] = Default::default();
    for round in 0..ROUNDS {
        // Each round runs every variant, in an order that rotates.
        for k in 0..3 {
            let variant = (round + k) % 3;
            let started = Instant::now();
            match variant {
                0 => assert_all_fetched(&state.refresher, &servers).await,
                1 => {
                    for (namespace, name) in &servers {
                        let outcome = state.refresher.refresh(namespace, name).await;
                        assert!(
                            matches!(outcome, Ok(RefreshOutcome::Fetched { .. })),
                            "{outcome:?}"
                        );
                    }
                }
                _ => assert_all_fetched(&own, &servers).await,
            }
            times[variant].push(started.elapsed());
        }
    }
    let names = ["running_8", "running_1", "own_process_8"];
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    for (name, (median, all)) in names.iter().zip(medians.iter().zip(&times)) {
        eprintln!(
            "{name}: median {:.0} ms over {ROUNDS} rounds (min {:.0}, max {:.0})",
            ms(*median),
            ms(all[0]),
            ms(all[ROUNDS - 1])
        );
    }
    eprintln!(
        "running_1 / running_8 = {:.1}x, own_process_8 / running_8 = {:.1}x",
        ms(medians[1]) / ms(medians[0]),
        ms(medians[2]) / ms(medians[0])
    );
    state.runtime.shutdown().await;
}

/// Refreshes every server with `refresher` (8 at once) and checks each was fetched.
async fn assert_all_fetched(refresher: &Refresher, servers: &[(String, String)]) {
    use futures::StreamExt;
    let results: Vec<_> = refresher
        .refresh_each(servers.to_vec(), |_, _| {})
        .collect()
        .await;
    assert_eq!(results.len(), servers.len());
    for (server, outcome) in results {
        assert!(
            matches!(outcome, Ok(RefreshOutcome::Fetched { .. })),
            "{server:?}: {outcome:?}"
        );
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
