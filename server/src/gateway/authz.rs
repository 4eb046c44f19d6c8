//! Cedar at the gateway, for a server whose manifest declares `authzConfig` (with the OIDC that
//! verifies its callers): each request is judged as ToolHive's authorization middleware does.
//! - `tools/call`, `prompts/get`, `resources/read` (and `subscribe`, `unsubscribe`) run only
//!   when the policies permit them; otherwise the gateway answers with ToolHive's JSON-RPC
//!   error (code 403), naming what was refused, and nothing reaches the backend;
//! - `tools/list`, `prompts/list`, `resources/list` answer only the entries the caller may
//!   call, get or read;
//! - methods ToolHive lets through unjudged (`initialize`, `ping`, notifications, ...) pass, and
//!   any other method is refused (ToolHive's default deny).

use serde_json::{Map, Value};
use std::sync::Arc;

use crate::auth::cedar::{Operation, Policies};

/// ToolHive's JSON-RPC error code for a request its policies do not permit.
pub const DENIED: i64 = 403;

/// The methods that pass unjudged: ToolHive's list of MCP methods without a feature.
const UNJUDGED: &[&str] = &[
    "initialize",
    "ping",
    "roots/list",
    "server/discover",
    "subscriptions/listen",
    "logging/setLevel",
    "completion/complete",
    "features/list",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "notifications/message",
    "notifications/initialized",
    "notifications/progress",
    "notifications/cancelled",
    "notifications/roots/list_changed",
    "notifications/tools/list_changed",
    "notifications/prompts/list_changed",
    "notifications/resources/list_changed",
    "notifications/resources/updated",
    "notifications/tasks/status",
];

/// A caller that the server's policies judge: the claims of its verified token.
#[derive(Debug)]
pub struct Caller {
    policies: Arc<Policies>,
    claims: Map<String, Value>,
}

impl Caller {
    /// The holder of a token with `claims`, judged by `policies`.
    pub fn new(policies: Arc<Policies>, claims: Map<String, Value>) -> Self {
        Self { policies, claims }
    }

    /// Why `message` (a client's request or notification) is refused, or `None` when it may
    /// go on. `tool` is the server's own name of a called tool (after curation's renames).
    pub fn refusal(&self, message: &Value, tool: Option<&str>) -> Option<String> {
        let method = message.get("method")?.as_str().unwrap_or_default();
        let params = message.get("params").unwrap_or(&Value::Null);
        let name = || {
            params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let arguments = params.get("arguments").and_then(Value::as_object);
        let (operation, what) = match method {
            "tools/call" => {
                let name = tool.unwrap_or_else(name);
                (
                    Operation::CallTool { name, arguments },
                    format!("call the tool {name}"),
                )
            }
            "prompts/get" => (
                Operation::GetPrompt {
                    name: name(),
                    arguments,
                },
                format!("get the prompt {}", name()),
            ),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                let uri = params
                    .get("uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (
                    Operation::ReadResource { uri },
                    format!("read the resource {uri}"),
                )
            }
            method if UNJUDGED.contains(&method) => return None,
            method => {
                return Some(format!(
                    "Unauthorized: {method} is not an MCP method the server's Cedar policies \
                     judge, so it is refused"
                ))
            }
        };
        match self.policies.permits(&self.claims, operation) {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "Unauthorized: the server's Cedar policies do not permit {} to {what}",
                self.who()
            )),
            Err(why) => Some(format!("Unauthorized: {why}")),
        }
    }

    /// Keeps the entries of a list result (`tools`, `prompts` or `resources` of `result`)
    /// that the caller may use; true when the result was a list.
    pub fn filter(&self, result: &mut Value) -> bool {
        if let Some(Value::Array(tools)) = result.get_mut("tools") {
            self.policies.remember_hints(tools);
            tools.retain(|tool| {
                let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
                self.permits(Operation::CallTool {
                    name,
                    arguments: None,
                })
            });
            return true;
        }
        if let Some(Value::Array(prompts)) = result.get_mut("prompts") {
            prompts.retain(|prompt| {
                let name = prompt
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.permits(Operation::GetPrompt {
                    name,
                    arguments: None,
                })
            });
            return true;
        }
        if let Some(Value::Array(resources)) = result.get_mut("resources") {
            resources.retain(|resource| {
                let uri = resource
                    .get("uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.permits(Operation::ReadResource { uri })
            });
            return true;
        }
        false
    }

    fn permits(&self, operation: Operation<'_>) -> bool {
        match self.policies.permits(&self.claims, operation) {
            Ok(permitted) => permitted,
            Err(why) => {
                tracing::info!(%why, "a list entry left out: the policies could not decide");
                false
            }
        }
    }

    fn who(&self) -> String {
        match self.claims.get("sub").and_then(Value::as_str) {
            Some(sub) => format!("Client::{sub:?}"),
            None => "this caller".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::cedar::Options;

    fn caller(sub: &str) -> Caller {
        let options = Options {
            policies: vec![
                r#"permit(principal, action == Action::"call_tool", resource == Tool::"echo");"#.into(),
                r#"permit(principal, action == Action::"get_prompt", resource == Prompt::"simple");"#.into(),
            ],
            ..Options::default()
        };
        let policies = Arc::new(Policies::new(&options, "s").expect("parses"));
        Caller::new(
            policies,
            json!({"sub": sub}).as_object().cloned().unwrap_or_default(),
        )
    }

    #[test]
    fn requests_are_judged_and_refusals_name_what_was_refused() {
        let c = caller("alice");
        let call = |name: &str| json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name}});
        assert_eq!(c.refusal(&call("echo"), None), None);
        assert_eq!(
            c.refusal(&call("add"), None).as_deref(),
            Some("Unauthorized: the server's Cedar policies do not permit Client::\"alice\" to call the tool add")
        );
        assert_eq!(
            c.refusal(&call("shout"), Some("echo")),
            None,
            "judged by the server's name"
        );
        assert_eq!(
            c.refusal(&json!({"method": "notifications/initialized"}), None),
            None
        );
        assert_eq!(
            c.refusal(&json!({"id": 3, "result": {}}), None),
            None,
            "answers pass"
        );
        assert!(c
            .refusal(&json!({"id": 4, "method": "sampling/other"}), None)
            .is_some());
        let get = json!({"id": 5, "method": "prompts/get", "params": {"name": "complex"}});
        assert!(c.refusal(&get, None).is_some());
    }

    #[test]
    fn lists_keep_what_the_caller_may_use() {
        let c = caller("bob");
        let mut tools = json!({"tools": [{"name": "echo"}, {"name": "add"}], "nextCursor": "x"});
        assert!(c.filter(&mut tools));
        assert_eq!(
            tools,
            json!({"tools": [{"name": "echo"}], "nextCursor": "x"})
        );
        let mut prompts = json!({"prompts": [{"name": "simple"}, {"name": "complex"}]});
        assert!(c.filter(&mut prompts));
        assert_eq!(prompts, json!({"prompts": [{"name": "simple"}]}));
        let mut resources = json!({"resources": [{"uri": "test://1"}]});
        assert!(c.filter(&mut resources));
        assert_eq!(resources, json!({"resources": []}));
        assert!(!c.filter(&mut json!({"content": []})));
    }
}
