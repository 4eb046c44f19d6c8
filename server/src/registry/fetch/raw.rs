//! The tools of `tools/list` answers as the server wrote them.
//!
//! rmcp reads answers into its own types, which drop the fields it does not model (a tool's
//! `execution`, unknown annotation hints, fields of newer protocol versions). The transports
//! show each message's text to [`RawTools`] before rmcp reads it, so the registry can store
//! every tool exactly as it came, keys in the server's order. rmcp still checks each answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

/// The tool objects seen in `tools/list` answers, by name (a later one replaces an earlier).
#[derive(Clone, Debug, Default)]
pub(super) struct RawTools(Arc<Mutex<HashMap<String, Map<String, Value>>>>);

impl RawTools {
    /// Looks at one JSON-RPC message as the server sent it, keeping the tools of an answer
    /// that lists tools.
    pub fn see(&self, message: &[u8]) {
        if !message.windows(7).any(|w| w == b"\"tools\"") {
            return;
        }
        let Ok(Value::Object(mut message)) = serde_json::from_slice::<Value>(message) else {
            return;
        };
        let Some(Value::Object(mut result)) = message.remove("result") else {
            return;
        };
        let Some(Value::Array(tools)) = result.remove("tools") else {
            return;
        };
        let mut kept = crate::locks::lock(&self.0);
        for tool in tools {
            if let Value::Object(tool) = tool {
                if let Some(Value::String(name)) = tool.get("name") {
                    kept.insert(name.clone(), tool);
                }
            }
        }
    }

    /// The tool `name` as the server sent it, if a transport saw it.
    pub fn take(&self, name: &str) -> Option<Map<String, Value>> {
        crate::locks::lock(&self.0).remove(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_listed_tools_as_they_came() {
        let raw = RawTools::default();
        raw.see(br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"b","inputSchema":{"properties":{"z":{},"a":{}}},"execution":{"taskSupport":"forbidden"}}]}}"#);
        raw.see(br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#);
        let tool = raw.take("b").expect("seen");
        assert_eq!(
            Value::Object(tool).to_string(),
            r#"{"name":"b","inputSchema":{"properties":{"z":{},"a":{}}},"execution":{"taskSupport":"forbidden"}}"#
        );
        assert!(raw.take("b").is_none());
    }
}
