//! What the MCP load benchmarks share: an in-process Apiary, a warm MCP session over
//! streamable HTTP on a connection of its own, and latency statistics. Each benchmark uses a
//! part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The MCP protocol version the sessions announce.
pub const PROTOCOL: &str = "2025-06-18";

/// One MCP session over streamable HTTP, on its own connection.
pub struct Session {
    http: reqwest::Client,
    url: String,
    id: String,
    next: u64,
}

impl Session {
    /// Initializes a session at `url` and sends `notifications/initialized`.
    pub async fn open(url: &str) -> Self {
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1)
            .build()
            .expect("HTTP client");
        let initialize = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": { "name": "apiary-bench", "version": "0" },
        } });
        let response = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize)
            .send()
            .await
            .expect("initialize");
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_owned();
        response.bytes().await.expect("initialize answer");
        let mut session = Self {
            http,
            url: url.to_owned(),
            id,
            next: 1,
        };
        let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        session.post(initialized.to_string()).await;
        session
    }

    /// Posts `body` in this session and reads the whole answer.
    pub async fn post(&mut self, body: String) -> axum::body::Bytes {
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", PROTOCOL)
            .body(body)
            .send()
            .await
            .expect("POST");
        assert!(response.status().is_success(), "{}", response.status());
        response.bytes().await.expect("answer")
    }

    /// One request `method` with `params`; its latency and the answer's text.
    pub async fn request(&mut self, method: &str, params: Value) -> (Duration, String) {
        let id = self.next;
        self.next += 1;
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let started = Instant::now();
        let answer = self.post(body.to_string()).await;
        let elapsed = started.elapsed();
        (elapsed, String::from_utf8_lossy(&answer).into_owned())
    }
}

/// Latencies of one configuration.
#[derive(Clone, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    /// Adds one sample.
    pub fn push(&mut self, latency: Duration) {
        self.samples.push(latency);
    }

    /// Adds `other`'s samples.
    pub fn extend(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// The `p` quantile (0 to 1).
    pub fn percentile(&mut self, p: f64) -> Duration {
        self.samples.sort_unstable();
        let at = ((self.samples.len() as f64 - 1.0) * p).round() as usize;
        self.samples.get(at).copied().unwrap_or_default()
    }
}

/// `duration` in milliseconds, three decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1e3)
}

/// The signed difference `b - a` in milliseconds.
pub fn added(a: Duration, b: Duration) -> String {
    format!("{:+.3}", (b.as_secs_f64() - a.as_secs_f64()) * 1e3)
}

/// Serves Apiary on SQLite on a free loopback port; returns the database and the base URL.
pub async fn serve(nagle: bool) -> (crate::support::TestDb, String) {
    let db = crate::support::sqlite().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let app = crate::support::app(&db.db);
    if nagle {
        tokio::spawn(async move { axum::serve(listener, app).await });
    } else {
        // Apiary's own serve loop, which turns Nagle off on every connection.
        let timeouts = apiary_server::web::serve::ConnectionTimeouts {
            header: Duration::from_secs(20),
        };
        tokio::spawn(apiary_server::web::serve::serve(
            listener,
            app,
            timeouts,
            tokio_util::sync::CancellationToken::new(),
        ));
    }
    (db, base)
}
