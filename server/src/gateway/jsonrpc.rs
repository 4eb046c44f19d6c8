//! JSON-RPC on the way in: reads a client's POST body (one message or a batch), refuses calls
//! of tools that are not published, and requests the server's Cedar policies do not permit
//! ([`super::authz`]), maps renamed tools back to the server's name, and leaves every other
//! message as it is.

use std::sync::Arc;

use axum::body::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

use crate::registry::curation::UnknownTools;

use super::authz::{Caller, DENIED};
use super::target::{Target, ToolEntry};

/// Invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON that is not a JSON-RPC message.
pub const INVALID_REQUEST: i64 = -32600;
/// A bad or unknown parameter, such as an unknown tool.
pub const INVALID_PARAMS: i64 = -32602;
/// The gateway could not complete the request (backend down, too large).
pub const INTERNAL_ERROR: i64 = -32603;

/// A JSON-RPC error response, as the gateway writes one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JsonRpcError)]
pub struct ErrorResponse {
    /// Always `2.0`.
    pub jsonrpc: String,
    /// The id of the request it answers; null when the request could not be read.
    pub id: Value,
    /// What went wrong.
    pub error: ErrorObject,
}

/// The `error` member of a JSON-RPC error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JsonRpcErrorObject)]
pub struct ErrorObject {
    /// A JSON-RPC error code, such as -32602 for an unknown tool.
    pub code: i64,
    /// What went wrong, for a person.
    pub message: String,
}

/// A JSON-RPC error response.
pub fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    let response = ErrorResponse {
        jsonrpc: "2.0".into(),
        id,
        error: ErrorObject {
            code,
            message: message.into(),
        },
    };
    // Strings, a number and a JSON value always serialize.
    serde_json::to_value(response).unwrap_or_default()
}

/// The key under which a request id is matched with its response.
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

/// What to do with one POST body.
#[derive(Debug, Default)]
pub struct Plan {
    /// The body to send to the backend; `None` when the gateway answered everything itself.
    pub forward: Option<Bytes>,
    /// Answers the gateway gives itself (refused tool calls).
    pub local: Vec<Value>,
    /// The published tool calls being forwarded, by request id key, for measurement.
    pub calls: Vec<(String, Arc<ToolEntry>)>,
    /// Refused tool calls, for measurement.
    pub refused: usize,
    /// True when the body was a batch (an array).
    pub batch: bool,
    /// The caller the server's Cedar policies judge, if they do.
    pub caller: Option<Arc<Caller>>,
}

/// Why a body cannot be planned; answered with this JSON-RPC error and HTTP 400.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    /// The JSON-RPC error code.
    pub code: i64,
    /// What is wrong.
    pub message: String,
}

/// The answer to a call of the tool `name`, which is not published: what a server without
/// that tool answers.
pub fn unknown_tool(id: Value, name: &str, how: UnknownTools) -> Value {
    match how {
        UnknownTools::Error => error(id, INVALID_PARAMS, format!("Unknown tool: {name}")),
        UnknownTools::Result => json!({ "jsonrpc": "2.0", "id": id, "result": {
            "content": [{ "type": "text", "text": format!("MCP error -32602: Tool {name} not found") }],
            "isError": true,
        } }),
    }
}

/// Plans a client's POST body against the server's published tools.
pub fn plan(body: Bytes, target: &Target) -> Result<Plan, Refusal> {
    plan_for(body, target, None)
}

/// [`plan`], with the requests of `caller` judged by the server's Cedar policies.
pub fn plan_for(
    body: Bytes,
    target: &Target,
    caller: Option<Arc<Caller>>,
) -> Result<Plan, Refusal> {
    let parsed: Value = serde_json::from_slice(&body).map_err(|e| Refusal {
        code: PARSE_ERROR,
        message: format!("Parse error: {e}"),
    })?;
    let mut plan = Plan {
        caller,
        ..Plan::default()
    };
    match parsed {
        Value::Object(_) => {
            let Some((message, _changed)) = check(parsed, target, &mut plan) else {
                return Ok(plan);
            };
            // Always the message as the gateway read it, never the client's bytes: with a
            // repeated key ("method" twice, or "name" twice) the gateway keeps the last one,
            // and a backend that keeps the first could otherwise run a tool that is not
            // published.
            plan.forward = Some(Bytes::from(message.to_string()));
        }
        Value::Array(messages) => {
            if messages.is_empty() || !messages.iter().all(Value::is_object) {
                return Err(invalid(
                    "a batch must be a non-empty array of JSON-RPC messages",
                ));
            }
            plan.batch = true;
            let mut kept = Vec::with_capacity(messages.len());
            for message in messages {
                if let Some((message, _rewritten)) = check(message, target, &mut plan) {
                    kept.push(message);
                }
            }
            // As read, like a single message: no repeated keys reach the backend.
            plan.forward = (!kept.is_empty()).then(|| Bytes::from(Value::Array(kept).to_string()));
        }
        _ => {
            return Err(invalid(
                "the body must be a JSON-RPC message or a batch of them",
            ))
        }
    }
    Ok(plan)
}

fn invalid(message: &str) -> Refusal {
    Refusal {
        code: INVALID_REQUEST,
        message: format!("Invalid Request: {message}"),
    }
}

/// Checks one message: `None` when the gateway answered it itself (into `plan.local`),
/// otherwise the message to forward and whether it was rewritten.
fn check(mut message: Value, target: &Target, plan: &mut Plan) -> Option<(Value, bool)> {
    let caller = plan.caller.clone();
    if message.get("method").and_then(Value::as_str) != Some("tools/call") {
        if let Some(why) = caller.and_then(|c| c.refusal(&message, None)) {
            refuse(&message, why, plan);
            return None;
        }
        return Some((message, false));
    }
    let id = message.get("id").cloned();
    let name = message
        .pointer("/params/name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let entry = name
        .as_deref()
        .and_then(|name| target.tools.by_public(name));
    let Some(entry) = entry else {
        plan.refused += 1;
        if let Some(id) = id {
            let what = name.unwrap_or_default();
            plan.local
                .push(unknown_tool(id, &what, target.unknown_tools));
        }
        return None;
    };
    if let Some(why) = caller.and_then(|c| c.refusal(&message, Some(&entry.upstream))) {
        refuse(&message, why, plan);
        return None;
    }
    if let Some(id) = &id {
        plan.calls.push((id_key(id), entry.clone()));
    }
    let renamed = entry.upstream != entry.public;
    if renamed {
        if let Some(slot) = message.pointer_mut("/params/name") {
            *slot = Value::String(entry.upstream.clone());
        }
    }
    Some((message, renamed))
}

/// Answers `message` with ToolHive's error for what its policies do not permit.
fn refuse(message: &Value, why: String, plan: &mut Plan) {
    plan.refused += 1;
    if let Some(id) = message.get("id") {
        plan.local.push(error(id.clone(), DENIED, why));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    fn tools() -> Target {
        Target::detached(&[("echo", "echo"), ("shout", "upper")], UnknownTools::Error)
    }

    fn call(id: i64, name: &str) -> Value {
        json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": name, "arguments": {} } })
    }

    fn body(value: &Value) -> Bytes {
        Bytes::from(value.to_string())
    }

    #[test]
    fn other_messages_are_forwarded_unchanged() {
        let text = Bytes::from_static(br#"{"jsonrpc":"2.0", "id":1, "method":"resources/list"}"#);
        let plan = plan(text.clone(), &tools()).expect("plan");
        let sent: Value = serde_json::from_slice(&plan.forward.expect("forwarded")).expect("JSON");
        let read: Value = serde_json::from_slice(&text).expect("JSON");
        assert_eq!(sent, read);
        assert!(plan.local.is_empty() && plan.calls.is_empty());
    }

    #[test]
    fn repeated_keys_cannot_smuggle_a_hidden_tool_past_the_gateway() {
        // A backend that keeps the first of repeated keys would see a call of `upper` (not
        // published under that name) if the gateway forwarded these bytes.
        let text = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"ping","params":{"name":"upper","name":"echo"}}"#;
        let plan = plan(Bytes::from_static(text), &tools()).expect("plan");
        let sent = plan.forward.expect("forwarded");
        let sent = std::str::from_utf8(&sent).expect("text");
        assert_eq!(sent.matches("\"method\"").count(), 1, "{sent}");
        assert!(!sent.contains("upper"), "{sent}");
        let text = br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"upper","name":"echo"}}"#;
        let plan = super::plan(Bytes::from_static(text), &tools()).expect("plan");
        let sent = plan.forward.expect("forwarded");
        let sent: Value = serde_json::from_slice(&sent).expect("JSON");
        assert_eq!(sent["params"]["name"], "echo");
        assert!(
            !String::from_utf8_lossy(&serde_json::to_vec(&sent).expect("JSON")).contains("upper")
        );
    }

    #[test]
    fn unknown_tools_are_answered_locally_and_renamed_tools_mapped_back() {
        let refused = plan(body(&call(7, "upper")), &tools()).expect("plan");
        assert_eq!(
            refused.forward, None,
            "the server's own name is not published"
        );
        assert_eq!(
            refused.local,
            [
                json!({ "jsonrpc": "2.0", "id": 7, "error": { "code": -32602, "message": "Unknown tool: upper" } })
            ]
        );
        let renamed = plan(body(&call(8, "shout")), &tools()).expect("plan");
        let sent: Value =
            serde_json::from_slice(&renamed.forward.expect("forwarded")).expect("JSON");
        assert_eq!(sent["params"]["name"], "upper");
        assert_eq!(renamed.calls.len(), 1);
        assert_eq!(renamed.calls[0].0, "8");
    }

    #[test]
    fn unknown_tools_can_be_refused_with_a_tool_result() {
        let target = Target::detached(&[], UnknownTools::Result);
        let refused = plan(body(&call(3, "nope")), &target).expect("plan");
        assert_eq!(refused.local[0]["result"]["isError"], true);
        assert_eq!(
            refused.local[0]["result"]["content"][0]["text"],
            "MCP error -32602: Tool nope not found"
        );
    }

    #[test]
    fn batches_forward_what_is_allowed() {
        let batch = json!([call(1, "echo"), call(2, "secret"), { "jsonrpc": "2.0", "method": "notifications/initialized" }]);
        let plan = plan(body(&batch), &tools()).expect("plan");
        let sent: Value = serde_json::from_slice(&plan.forward.expect("forwarded")).expect("JSON");
        assert_eq!(sent.as_array().map(Vec::len), Some(2));
        assert_eq!(plan.local.len(), 1);
        assert!(plan.batch);
    }

    #[test]
    fn malformed_bodies_are_refused_with_the_right_code() {
        let code = |text: &'static [u8]| {
            plan(Bytes::from_static(text), &tools())
                .expect_err("refused")
                .code
        };
        assert_eq!(code(b"{\"jsonrpc\": "), PARSE_ERROR);
        assert_eq!(code(b""), PARSE_ERROR);
        assert_eq!(code(b"[]"), INVALID_REQUEST);
        assert_eq!(code(b"42"), INVALID_REQUEST);
        assert_eq!(code(b"[1]"), INVALID_REQUEST);
    }
}
