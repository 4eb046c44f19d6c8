//! Per-tool measurement: call count by outcome and a latency histogram, exported at
//! `/metrics` and kept in the tool's usage [`Window`] for the console and health. The handles
//! are registered once, when a server's target is loaded, so recording a call is a few atomic
//! operations: no lock and no registry lookup.

use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Histogram};

use super::usage::Window;

/// Calls by `server`, `tool` and `outcome` (`ok`, `error`, `refused`).
const CALLS: &str = "apiary_gateway_tool_calls_total";
/// Call latency by `server` and `tool`, from the request to the response.
const LATENCY: &str = "apiary_gateway_tool_call_duration_seconds";
/// Requests the backend could not answer, by `server`.
const BACKEND_ERRORS: &str = "apiary_gateway_backend_errors_total";

/// The metric handles of one published tool.
#[derive(Clone, Debug)]
pub struct ToolMetrics {
    ok: Counter,
    error: Counter,
    latency: Histogram,
    window: Arc<Window>,
}

impl ToolMetrics {
    /// Registers the handles of `tool` (its published name) on `server`, counting into
    /// `window` too.
    pub fn new(server: &str, tool: &str, window: Arc<Window>) -> Self {
        let labels = |outcome: &'static str| {
            [
                ("server", server.to_owned()),
                ("tool", tool.to_owned()),
                ("outcome", outcome.to_owned()),
            ]
        };
        Self {
            ok: metrics::counter!(CALLS, &labels("ok")),
            error: metrics::counter!(CALLS, &labels("error")),
            latency: metrics::histogram!(
                LATENCY,
                &[("server", server.to_owned()), ("tool", tool.to_owned())]
            ),
            window,
        }
    }

    /// Records one finished call: `ok` is false for a JSON-RPC error, a result with
    /// `isError`, or no answer at all.
    pub fn record(&self, ok: bool, elapsed: Duration) {
        if ok { &self.ok } else { &self.error }.increment(1);
        self.latency.record(elapsed.as_secs_f64());
        self.window.record(ok, elapsed);
    }
}

/// The metric handles of one server.
#[derive(Clone, Debug)]
pub struct ServerMetrics {
    refused: Counter,
    backend_errors: Counter,
}

impl ServerMetrics {
    /// Registers the handles of `server` (`namespace/name`).
    pub fn new(server: &str) -> Self {
        Self {
            refused: metrics::counter!(CALLS, "server" => server.to_owned(), "tool" => "", "outcome" => "refused"),
            backend_errors: metrics::counter!(BACKEND_ERRORS, "server" => server.to_owned()),
        }
    }

    /// Counts calls of tools that are not published (their names are not labels: anyone can
    /// make them up).
    pub fn refused(&self, count: usize) {
        self.refused
            .increment(u64::try_from(count).unwrap_or(u64::MAX));
    }

    /// Counts a request the backend did not answer.
    pub fn backend_error(&self) {
        self.backend_errors.increment(1);
    }
}
