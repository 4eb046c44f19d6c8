//! JSON-RPC on the way out: filters `tools/list` results to the published tools with their
//! overrides, and measures the answers to the tool calls in flight. Every other message passes
//! untouched; a message is only parsed when it may be a tool list or an awaited answer.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::authz::Caller;
use super::jsonrpc::id_key;
use super::measure::CallOutcome;
use super::target::{Target, ToolEntry};

/// Watches the messages of one backend response.
pub struct Inspector {
    target: Arc<Target>,
    pending: Vec<(String, Arc<ToolEntry>)>,
    started: Instant,
    /// The caller the server's Cedar policies judge, whose lists are filtered.
    caller: Option<Arc<Caller>>,
}

impl Inspector {
    /// An inspector for a response to a request sent at `started` that carried `calls`.
    pub fn new(
        target: Arc<Target>,
        calls: Vec<(String, Arc<ToolEntry>)>,
        started: Instant,
    ) -> Self {
        Self {
            target,
            pending: calls,
            started,
            caller: None,
        }
    }

    /// This inspector, also leaving out of lists what `caller` may not use.
    pub fn judged_by(mut self, caller: Option<Arc<Caller>>) -> Self {
        self.caller = caller;
        self
    }

    /// Looks at one JSON-RPC payload (a message or a batch) from the backend, and returns its
    /// replacement when the gateway changed it.
    pub fn payload(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        // A key may be spelt with escapes (`"\u0074ools"`): those payloads are parsed too.
        if self.pending.is_empty()
            && self.caller.is_none()
            && !contains(data, b"\"tools\"")
            && !contains(data, b"\\u")
        {
            return None;
        }
        let mut value: Value = serde_json::from_slice(data).ok()?;
        let changed = match &mut value {
            Value::Array(messages) => messages
                .iter_mut()
                .fold(false, |changed, m| self.message(m) | changed),
            message => self.message(message),
        };
        changed.then(|| value.to_string().into_bytes())
    }

    /// Handles one message; true when it was changed.
    fn message(&mut self, message: &mut Value) -> bool {
        if !self.pending.is_empty() {
            if let Some(id) = message.get("id") {
                let key = id_key(id);
                if let Some(at) = self.pending.iter().position(|(k, _)| *k == key) {
                    let (_, tool) = self.pending.swap_remove(at);
                    tool.metrics
                        .record(CallOutcome::of(message), self.started.elapsed());
                }
            }
        }
        // The policies judge the server's own names, so they go first.
        let judged = match (&self.caller, message.get_mut("result")) {
            (Some(caller), Some(result)) => caller.filter(result),
            _ => false,
        };
        match message.pointer_mut("/result/tools") {
            Some(Value::Array(tools)) => {
                self.curate(tools);
                true
            }
            _ => judged,
        }
    }

    /// Keeps the published tools of a `tools/list` result and applies their overrides.
    fn curate(&self, tools: &mut Vec<Value>) {
        tools.retain_mut(|tool| {
            let entry = tool
                .get("name")
                .and_then(Value::as_str)
                .and_then(|name| self.target.tools.by_upstream(name));
            match (entry, tool.as_object_mut()) {
                (Some(entry), Some(object)) => {
                    entry.change.apply_json(object);
                    true
                }
                _ => false,
            }
        });
    }
}

impl Drop for Inspector {
    /// Calls whose answer never came (the backend failed or the client left) count as errors.
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        for (_, tool) in self.pending.drain(..) {
            tool.metrics.record(CallOutcome::Failed, elapsed);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::curation::UnknownTools;

    fn target() -> Arc<Target> {
        Arc::new(Target::detached(
            &[("echo", "echo"), ("shout", "upper")],
            UnknownTools::Error,
        ))
    }

    #[test]
    fn tool_lists_keep_only_published_tools_under_their_names() {
        let mut inspector = Inspector::new(target(), Vec::new(), Instant::now());
        let list = json!({ "jsonrpc": "2.0", "id": 2, "result": { "tools": [
            { "name": "echo", "inputSchema": {} },
            { "name": "upper", "description": "Upper-cases", "inputSchema": {} },
            { "name": "secret", "inputSchema": {} },
        ], "nextCursor": "x" } });
        let out = inspector
            .payload(list.to_string().as_bytes())
            .expect("changed");
        let out: Value = serde_json::from_slice(&out).expect("JSON");
        let names: Vec<_> = out["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, ["echo", "shout"]);
        assert_eq!(out["result"]["tools"][1]["description"], "Upper-cases");
        assert_eq!(out["result"]["nextCursor"], "x");
    }

    #[test]
    fn tool_lists_with_escaped_keys_are_curated_too() {
        let mut inspector = Inspector::new(target(), Vec::new(), Instant::now());
        let list = br#"{"jsonrpc":"2.0","id":2,"result":{"\u0074ools":[{"name":"secret"}]}}"#;
        let out = inspector.payload(list).expect("changed");
        let out: Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(out["result"]["tools"], json!([]));
    }

    #[test]
    fn other_messages_are_not_touched() {
        let mut inspector = Inspector::new(target(), Vec::new(), Instant::now());
        let text = br#"{"jsonrpc":"2.0","id":3,"result":{"resources":[]}}"#;
        assert_eq!(inspector.payload(text), None);
        assert_eq!(inspector.payload(b"not json"), None);
    }
}
