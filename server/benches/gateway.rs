//! The gateway's load benchmark (not a test; results in `docs/BENCHMARKS.md`).
//!
//! Starts `apiary-testmcp --http` (its `tools/call` echoes the arguments) and an in-process
//! Apiary on SQLite in front of it, then, for each session count N, runs N warm MCP sessions
//! that loop `tools/call echo` for a fixed time: once straight to the backend and once through
//! `/mcp/{namespace}/{name}`, in the same run. It prints the throughput ratio and the latency
//! the gateway adds at p50 and p99.
//!
//! `cargo bench -p apiary-server --bench gateway [-- --seconds 10 --sessions 1,8,32 --nagle]`

#[path = "../tests/support/mod.rs"]
mod support;

mod mcp_load;

use std::time::{Duration, Instant};

use serde_json::json;

use mcp_load::{added, ms, Session};

/// What to run: `--seconds S` per configuration, `--sessions N,N,...`, and `--nagle` to serve
/// Apiary with Nagle's algorithm on (plain `axum::serve`, as before Apiary turned it off).
struct Options {
    measure: Duration,
    warmup: Duration,
    sessions: Vec<usize>,
    nagle: bool,
}

impl Options {
    fn from_args() -> Self {
        let mut options = Self {
            measure: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            sessions: vec![1, 8, 32],
            nagle: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--seconds" => {
                    let seconds = args.next().and_then(|s| s.parse().ok());
                    options.measure = Duration::from_secs_f64(seconds.expect("--seconds S"));
                }
                "--sessions" => {
                    let list = args.next().expect("--sessions N,N,...");
                    options.sessions = list
                        .split(',')
                        .map(|n| n.parse().expect("a session count"))
                        .collect();
                }
                "--nagle" => options.nagle = true,
                // `cargo bench` passes `--bench`; anything else is a mistake.
                "--bench" => {}
                other => panic!("unknown argument {other}; use --seconds S --sessions N,N --nagle"),
            }
        }
        options
    }
}

/// One `tools/call echo` in `session`; its latency.
async fn call(session: &mut Session) -> Duration {
    let params = json!({ "name": "echo", "arguments": { "text": "hello, gateway" } });
    let (elapsed, text) = session.request("tools/call", params).await;
    assert!(
        text.contains("hello, gateway") && !text.contains("\"error\""),
        "{text}"
    );
    elapsed
}

/// What one configuration measured.
struct Run {
    calls: usize,
    elapsed: Duration,
    /// Sorted call latencies.
    latencies: Vec<Duration>,
}

impl Run {
    fn throughput(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let at = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(at).copied().unwrap_or_default()
    }
}

/// Runs `sessions` warm sessions against `url`: a warm-up, then `measure` of calls.
async fn load(url: &str, sessions: usize, options: &Options) -> Run {
    let mut opened = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        opened.push(Session::open(url).await);
    }
    let started = Instant::now();
    let warm_until = started + options.warmup;
    let end = warm_until + options.measure;
    let tasks: Vec<_> = opened
        .into_iter()
        .map(|mut session| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let latency = call(&mut session).await;
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    if now >= warm_until {
                        latencies.push(latency);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a session task"));
    }
    latencies.sort_unstable();
    Run {
        calls: latencies.len(),
        elapsed: options.measure,
        latencies,
    }
}

fn main() {
    let options = Options::from_args();
    // Apiary runs on a runtime of its own, as in its own process; so does the load.
    let apiary = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("Apiary's runtime");
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the load's runtime");

    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    let schema = json!({ "type": "object", "properties": { "text": { "type": "string" } } });
    let echo = json!([{ "name": "echo", "description": "Echoes", "inputSchema": schema }]);
    std::fs::write(&tools, echo.to_string()).expect("write tools");
    let tools = tools.display().to_string();
    let backend = client.block_on(support::mcp_servers::testmcp_http(&["--tools", &tools]));
    let (_db, base) = apiary.block_on(mcp_load::serve(options.nagle));
    let id = "bench/echo";
    client.block_on(support::gateway::register_and_refresh(
        &reqwest::Client::new(),
        &base,
        id,
        &backend.url,
    ));
    let gateway = format!("{base}/mcp/{id}");

    println!(
        "{} s per configuration after a {} s warm-up; latencies in ms; Nagle {}",
        options.measure.as_secs_f64(),
        options.warmup.as_secs_f64(),
        if options.nagle { "on" } else { "off" },
    );
    println!("| sessions | direct calls/s | gateway calls/s | ratio | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 | added p99 |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &sessions in &options.sessions {
        let direct = client.block_on(load(&backend.url, sessions, &options));
        let through = client.block_on(load(&gateway, sessions, &options));
        let (d50, g50) = (direct.percentile(0.5), through.percentile(0.5));
        let (d99, g99) = (direct.percentile(0.99), through.percentile(0.99));
        println!(
            "| {sessions} | {:.0} | {:.0} | {:.1} % | {} | {} | {} | {} | {} | {} |",
            direct.throughput(),
            through.throughput(),
            100.0 * through.throughput() / direct.throughput(),
            ms(d50),
            ms(g50),
            added(d50, g50),
            ms(d99),
            ms(g99),
            added(d99, g99),
        );
    }
    // The backend process is killed on drop, which needs its runtime.
    let _runtime = client.enter();
    drop(backend);
}
