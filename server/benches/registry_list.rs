//! Throughput of the official MCP Registry API (`GET /v0.1/servers`) with 10,000 published
//! servers (five tools each) in SQLite: a page of 100 from the start and one from the middle
//! (by cursor), beside `/healthz` on the same server as the ceiling of the HTTP stack. Apiary
//! runs in this process on a runtime of its own (two worker threads) on a loopback port; the
//! load comes from `wrk` (Debian's `wrk` package), rounds interleaved across the three
//! requests.
//!
//! Run: `cargo bench -p apiary-server --bench registry_list [-- --seconds 10 --rounds 3
//! --connections 32 --servers 10000]`

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "mcp_load/mod.rs"]
mod mcp_load;

use std::process::Command;

use serde_json::json;

use support::seed::{self, Meta};

/// What to run; each flag takes one value.
struct Options {
    seconds: u64,
    rounds: usize,
    connections: usize,
    servers: usize,
}

impl Options {
    fn from_args() -> Self {
        let mut options = Self {
            seconds: 10,
            rounds: 3,
            connections: 32,
            servers: 10_000,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || -> usize {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{flag} needs a number"))
            };
            match flag.as_str() {
                "--seconds" => options.seconds = value() as u64,
                "--rounds" => options.rounds = value(),
                "--connections" => options.connections = value(),
                "--servers" => options.servers = value(),
                // `cargo bench` passes `--bench`.
                _ => {}
            }
        }
        options
    }
}

/// Seeds `count` published servers with five tools each.
async fn seed_fleet(db: &apiary_server::db::Db, count: usize) {
    for i in 0..count {
        let meta = Meta {
            description: format!("Fleet server {i}: records of system {}", i % 37),
            owner_team: format!("team-{}", i % 20),
            category: format!("category-{}", i % 10),
            cost_class: ["free", "metered", "premium"][i % 3].into(),
            sensitivity: ["public", "internal", "confidential"][i % 3].into(),
            published: true,
        };
        let id = seed::server(
            db,
            &format!("ns-{}", i % 25),
            &format!("server-{i:05}"),
            meta,
        )
        .await;
        let tools = (0..5)
            .map(|t| {
                seed::tool(
                    &format!("tool_{t}"),
                    &format!("Operation {t} of server {i}"),
                    json!({ "type": "object", "properties": { "id": { "type": "string" } } }),
                )
            })
            .collect();
        seed::tools(db, &id, tools).await;
        seed::health(db, &id, true, 12).await;
    }
}

/// One `wrk` run: requests per second and latency percentiles (ms).
struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs `wrk` against `url` and reads its summary.
fn wrk(url: &str, options: &Options) -> Run {
    let output = Command::new("wrk")
        .args(["-t", "2", "-c", &options.connections.to_string()])
        .args(["-d", &format!("{}s", options.seconds), "--latency", url])
        .output()
        .expect("run wrk (Debian package `wrk`)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "{url} answered errors under load:\n{text}"
    );
    let field = |prefix: &str| -> &str {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in wrk's output:\n{text}"))
            .trim()
    };
    Run {
        per_second: field("Requests/sec:").parse().expect("a rate"),
        p50_ms: millis(field("50%")),
        p99_ms: millis(field("99%")),
    }
}

/// `wrk`'s durations (`812.00us`, `1.25ms`, `2.01s`) in milliseconds.
fn millis(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .expect("a unit");
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().expect("a number");
    match unit {
        "us" => number / 1_000.0,
        "ms" => number,
        "s" => number * 1_000.0,
        "m" => number * 60_000.0,
        other => panic!("unknown unit {other:?}"),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let options = Options::from_args();
    let apiary = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("Apiary's runtime");
    let (db, base) = apiary.block_on(mcp_load::serve(false));
    apiary.block_on(seed_fleet(&db.db, options.servers));
    let middle = format!("ns-{}/server-{:05}", 12, options.servers / 2);
    let requests = [
        ("anchor: `/healthz`", format!("{base}/healthz")),
        (
            "`/v0.1/servers?limit=100`",
            format!("{base}/v0.1/servers?limit=100"),
        ),
        (
            "`/v0.1/servers?limit=100&cursor=…` (middle)",
            format!("{base}/v0.1/servers?limit=100&cursor={middle}"),
        ),
    ];
    let page: serde_json::Value = apiary.block_on(async {
        let answer = reqwest::get(&requests[1].1).await.expect("first page");
        answer.json().await.expect("JSON")
    });
    assert_eq!(page["metadata"]["count"], 100, "a page of 100");

    let mut runs: Vec<Vec<Run>> = requests.iter().map(|_| Vec::new()).collect();
    for round in 1..=options.rounds {
        for (at, (_, url)) in requests.iter().enumerate() {
            let run = wrk(url, &options);
            eprintln!("round {round}: {url}: {:.0} req/s", run.per_second);
            runs[at].push(run);
        }
    }
    println!(
        "{} servers; wrk -t 2 -c {} -d {}s; {} rounds, interleaved; medians (range)",
        options.servers, options.connections, options.seconds, options.rounds
    );
    println!("| request | req/s | p50 ms | p99 ms | share of the anchor |");
    println!("|---|---|---|---|---|");
    let anchor = median(&mut runs[0].iter().map(|r| r.per_second).collect::<Vec<_>>());
    for ((label, _), runs) in requests.iter().zip(&runs) {
        let mut rates: Vec<f64> = runs.iter().map(|r| r.per_second).collect();
        let rate = median(&mut rates);
        let (low, high) = (rates[0], rates[rates.len() - 1]);
        let p50 = median(&mut runs.iter().map(|r| r.p50_ms).collect::<Vec<_>>());
        let p99 = median(&mut runs.iter().map(|r| r.p99_ms).collect::<Vec<_>>());
        println!(
            "| {label} | {rate:.0} ({low:.0}–{high:.0}) | {p50:.2} | {p99:.2} | {:.1} % |",
            100.0 * rate / anchor
        );
    }
    drop(db);
}
