//! Per-tool measurement: call count by outcome and a latency histogram, exported at
//! `/metrics` and kept in the tool's usage [`Window`] for the console and health. The handles
//! are registered once, when a server's target is loaded, so recording a call is a few atomic
//! operations: no lock and no registry lookup.

use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Histogram};

use super::usage::Window;

/// Calls by `server`, `tool` and `outcome` (`ok`, `tool_error`, `rejected`, `error`,
/// `refused`; see [`CallOutcome`]).
const CALLS: &str = "apiary_gateway_tool_calls_total";
/// Call latency by `server` and `tool`, from the request to the response.
const LATENCY: &str = "apiary_gateway_tool_call_duration_seconds";
/// Requests the backend could not answer, by `server`.
const BACKEND_ERRORS: &str = "apiary_gateway_backend_errors_total";

/// How one call through the gateway ended. Only [`CallOutcome::Failed`] is held against the
/// server's health: the others are answers the server gave as it should.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// A result.
    Ok,
    /// A result with `isError: true`: the tool's own answer (it refused the arguments, the
    /// thing it looked up did not exist), which the model is meant to read.
    ToolError,
    /// A JSON-RPC error that blames the request (parse error, invalid request, unknown method,
    /// invalid params: codes -32700 and -32600 to -32602).
    Rejected,
    /// Any other JSON-RPC error, or no answer at all.
    Failed,
}

impl CallOutcome {
    /// The outcome of the JSON-RPC answer `message`.
    pub fn of(message: &serde_json::Value) -> Self {
        if let Some(error) = message.get("error") {
            return Self::of_code(error.get("code").and_then(serde_json::Value::as_i64));
        }
        if message.pointer("/result/isError") == Some(&serde_json::Value::Bool(true)) {
            Self::ToolError
        } else {
            Self::Ok
        }
    }

    /// The outcome of a JSON-RPC error with `code`.
    pub fn of_code(code: Option<i64>) -> Self {
        match code {
            Some(-32700 | -32600 | -32601 | -32602) => Self::Rejected,
            _ => Self::Failed,
        }
    }
}

/// The metric handles of one published tool.
#[derive(Clone, Debug)]
pub struct ToolMetrics {
    ok: Counter,
    tool_error: Counter,
    rejected: Counter,
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
            tool_error: metrics::counter!(CALLS, &labels("tool_error")),
            rejected: metrics::counter!(CALLS, &labels("rejected")),
            error: metrics::counter!(CALLS, &labels("error")),
            latency: metrics::histogram!(
                LATENCY,
                &[("server", server.to_owned()), ("tool", tool.to_owned())]
            ),
            window,
        }
    }

    /// Records one finished call. The usage window, and so health, counts only
    /// [`CallOutcome::Failed`] as a failure.
    pub fn record(&self, outcome: CallOutcome, elapsed: Duration) {
        match outcome {
            CallOutcome::Ok => &self.ok,
            CallOutcome::ToolError => &self.tool_error,
            CallOutcome::Rejected => &self.rejected,
            CallOutcome::Failed => &self.error,
        }
        .increment(1);
        self.latency.record(elapsed.as_secs_f64());
        self.window.record(outcome != CallOutcome::Failed, elapsed);
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

#[cfg(test)]
mod tests {
    use super::CallOutcome;
    use serde_json::json;

    #[test]
    fn only_a_server_side_failure_counts_against_the_server() {
        let outcome = |message| CallOutcome::of(&message);
        assert_eq!(outcome(json!({"result": {"content": []}})), CallOutcome::Ok);
        assert_eq!(
            outcome(json!({"result": {"content": [], "isError": true}})),
            CallOutcome::ToolError
        );
        assert_eq!(
            outcome(json!({"error": {"code": -32602, "message": "Unknown tool"}})),
            CallOutcome::Rejected
        );
        assert_eq!(
            outcome(json!({"error": {"code": -32603, "message": "internal"}})),
            CallOutcome::Failed
        );
        assert_eq!(outcome(json!({"error": {}})), CallOutcome::Failed);
    }
}
