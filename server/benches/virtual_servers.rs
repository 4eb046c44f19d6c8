//! The virtual server benchmark (issue #21; not a test; results in `docs/BENCHMARKS.md`).
//!
//! One `apiary-testmcp --http` backend with 50 tools, registered in an in-process Apiary
//! (SQLite, local mode) as 10 member servers, and a virtual server over all 10 (500 tools,
//! prefixed). In the same run, rounds interleaved, one warm session each measures:
//! - `tools/list`: the virtual server's whole list (every page) against each member's own
//!   endpoint (the slowest member's p50 is the anchor);
//! - `tools/call`: a member's tool through the virtual server against the same tool at the
//!   member's own endpoint.
//!
//! Targets: `tools/list` within 2 ms of the slowest member's, `tools/call` within 0.1 ms of
//! the member endpoint's.
//!
//! `cargo bench -p apiary-server --bench virtual_servers [-- --rounds 5 --calls 400]`

#[path = "../tests/support/mod.rs"]
mod support;

mod mcp_load;

use serde_json::{json, Value};

use mcp_load::{added, ms, Latencies, Session};

/// Members of the virtual server.
const MEMBERS: usize = 10;
/// Tools of each member.
const TOOLS: usize = 50;

/// What to run: `--rounds R` interleaved rounds of `--calls N` requests per configuration.
struct Options {
    rounds: usize,
    calls: usize,
}

impl Options {
    fn from_args() -> Self {
        let mut options = Self {
            rounds: 5,
            calls: 400,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = |flag: &str| -> usize {
                args.next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{flag} N"))
            };
            match arg.as_str() {
                "--rounds" => options.rounds = number("--rounds"),
                "--calls" => options.calls = number("--calls"),
                // `cargo bench` passes `--bench`; anything else is a mistake.
                "--bench" => {}
                other => panic!("unknown argument {other}; use --rounds R --calls N"),
            }
        }
        options
    }
}

/// Every tool of `session`'s endpoint, following `nextCursor`; the latency of the whole list
/// and how many tools it had.
async fn list_all(session: &mut Session) -> (std::time::Duration, usize) {
    let mut total = std::time::Duration::ZERO;
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let (elapsed, text) = session.request("tools/list", params).await;
        total += elapsed;
        let answer = message_of(&text);
        let result = &answer["result"];
        count += result["tools"].as_array().map_or(0, Vec::len);
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (total, count),
        }
    }
}

/// The JSON-RPC message of an answer, whether plain JSON or an event stream (whose first
/// event may be an empty priming event).
fn message_of(text: &str) -> Value {
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .chain(std::iter::once(text))
        .map(str::trim)
        .filter(|data| !data.is_empty())
        .find_map(|data| serde_json::from_str(data).ok())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {text}"))
}

/// One `tools/call` of `tool`; its latency.
async fn call(session: &mut Session, tool: &str) -> std::time::Duration {
    let params = json!({ "name": tool, "arguments": { "text": "hello, virtual" } });
    let (elapsed, text) = session.request("tools/call", params).await;
    assert!(
        text.contains("hello, virtual") && !text.contains("\"isError\":true"),
        "{text}"
    );
    elapsed
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
    let tools_file = dir.path().join("tools.json");
    let tools: Vec<Value> = (0..TOOLS)
        .map(|i| {
            json!({ "name": format!("tool_{i:02}"),
                    "description": format!("Tool number {i} of the benchmark's members"),
                    "inputSchema": { "type": "object",
                                     "properties": { "text": { "type": "string" } } } })
        })
        .collect();
    std::fs::write(&tools_file, Value::from(tools).to_string()).expect("write tools");
    let tools_file = tools_file.display().to_string();
    let backend = client.block_on(support::mcp_servers::testmcp_http(&[
        "--tools",
        &tools_file,
    ]));
    let (_db, base) = apiary.block_on(mcp_load::serve(false));
    let http = reqwest::Client::new();
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("bench/m{i}")).collect();
    for member in &members {
        client.block_on(support::gateway::register_and_refresh(
            &http,
            &base,
            member,
            &backend.url,
        ));
    }
    let definition = json!({
        "ownerTeam": "bench",
        "members": members.iter().map(|m| json!({ "server": m })).collect::<Vec<_>>(),
    });
    let saved = client
        .block_on(
            http.put(format!("{base}/api/v1/virtual-servers/bench/all"))
                .json(&definition)
                .send(),
        )
        .expect("save the virtual server");
    assert!(saved.status().is_success(), "{}", saved.status());

    let virtual_url = format!("{base}/mcp/bench/all");
    let (mut whole, mut members_list) = (Latencies::default(), vec![Latencies::default(); MEMBERS]);
    let (mut through, mut direct) = (Latencies::default(), Latencies::default());
    client.block_on(async {
        let mut virtual_session = Session::open(&virtual_url).await;
        let mut member_sessions = Vec::new();
        for member in &members {
            member_sessions.push(Session::open(&format!("{base}/mcp/{member}")).await);
        }
        // Warm-up: one list and a few calls each.
        assert_eq!(list_all(&mut virtual_session).await.1, MEMBERS * TOOLS);
        for session in &mut member_sessions {
            assert_eq!(list_all(session).await.1, TOOLS);
        }
        for _ in 0..20 {
            call(&mut virtual_session, "m3_tool_07").await;
            call(&mut member_sessions[3], "tool_07").await;
        }
        let lists = (options.calls / 10).max(5);
        for _ in 0..options.rounds {
            for _ in 0..lists {
                whole.push(list_all(&mut virtual_session).await.0);
            }
            for (session, latencies) in member_sessions.iter_mut().zip(&mut members_list) {
                for _ in 0..lists {
                    latencies.push(list_all(session).await.0);
                }
            }
            for _ in 0..options.calls {
                through.push(call(&mut virtual_session, "m3_tool_07").await);
            }
            for _ in 0..options.calls {
                direct.push(call(&mut member_sessions[3], "tool_07").await);
            }
        }
    });

    let slowest = members_list
        .iter_mut()
        .map(|l| l.percentile(0.5))
        .max()
        .unwrap_or_default();
    let mut all_members = Latencies::default();
    for latencies in members_list {
        all_members.extend(latencies);
    }
    println!(
        "{MEMBERS} members x {TOOLS} tools; {} interleaved rounds; latencies in ms",
        options.rounds
    );
    println!("| request | samples | member p50 | virtual p50 | added p50 | member p99 | virtual p99 | added p99 |");
    println!("|---|---|---|---|---|---|---|---|");
    let (m50, m99) = (all_members.percentile(0.5), all_members.percentile(0.99));
    let (v50, v99) = (whole.percentile(0.5), whole.percentile(0.99));
    println!(
        "| tools/list (all pages: 500 tools vs 50) | {} | {} | {} | {} | {} | {} | {} |",
        whole.len(),
        ms(m50),
        ms(v50),
        added(m50, v50),
        ms(m99),
        ms(v99),
        added(m99, v99)
    );
    let (d50, d99) = (direct.percentile(0.5), direct.percentile(0.99));
    let (t50, t99) = (through.percentile(0.5), through.percentile(0.99));
    println!(
        "| tools/call | {} | {} | {} | {} | {} | {} | {} |",
        through.len(),
        ms(d50),
        ms(t50),
        added(d50, t50),
        ms(d99),
        ms(t99),
        added(d99, t99)
    );
    println!(
        "slowest member's tools/list p50: {} ms; the virtual server's is {} ms above it (target: at most 2 ms)",
        ms(slowest),
        added(slowest, v50)
    );
    println!(
        "tools/call through the virtual server adds {} ms at p50 (target: at most 0.1 ms)",
        added(d50, t50)
    );
    // The backend process is killed on drop, which needs its runtime.
    let _runtime = client.enter();
    drop(backend);
}
