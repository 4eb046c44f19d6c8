//! A server's curated tools as the listings share them: immutable, cheap to clone, and
//! written as JSON once, however many responses include them.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::tool::ToolDef;

/// An immutable list of tools; its JSON array is written on first use and reused.
#[derive(Clone, Debug, Default)]
pub struct ToolList(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    tools: Vec<ToolDef>,
    json: OnceLock<Box<RawValue>>,
}

impl ToolList {
    /// The JSON array of the tools, written once (serialize it with `serde_json` only).
    pub fn json(&self) -> &RawValue {
        self.0.json.get_or_init(|| {
            let text = serde_json::to_string(&self.0.tools).unwrap_or_else(|_| "[]".to_owned());
            RawValue::from_string(text).unwrap_or_else(|_| empty_array())
        })
    }
}

fn empty_array() -> Box<RawValue> {
    RawValue::from_string("[]".to_owned()).unwrap_or_default()
}

impl Deref for ToolList {
    type Target = [ToolDef];

    fn deref(&self) -> &[ToolDef] {
        &self.0.tools
    }
}

impl From<Vec<ToolDef>> for ToolList {
    fn from(tools: Vec<ToolDef>) -> Self {
        Self(Arc::new(Inner {
            tools,
            json: OnceLock::new(),
        }))
    }
}

impl FromIterator<ToolDef> for ToolList {
    fn from_iter<I: IntoIterator<Item = ToolDef>>(tools: I) -> Self {
        Self::from(tools.into_iter().collect::<Vec<_>>())
    }
}

/// Writes `tools` as its JSON array, for a `#[serde(serialize_with)]` field of a response that
/// only `serde_json` writes.
pub fn write_json<S: Serializer>(tools: &ToolList, serializer: S) -> Result<S::Ok, S::Error> {
    tools.json().serialize(serializer)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_the_same_json_as_the_tools_every_time() {
        let tools = vec![
            ToolDef::new("b", "does b", json!({"type": "object"})),
            ToolDef::new(
                "a",
                "does a",
                json!({"type": "object", "properties": {"z": {}, "y": {}}}),
            ),
        ];
        let expected = serde_json::to_string(&tools).expect("JSON");
        #[derive(Serialize)]
        struct Response {
            #[serde(serialize_with = "write_json")]
            tools: ToolList,
        }
        let list = ToolList::from(tools);
        let shared = list.clone();
        assert_eq!(list.json().get(), expected);
        for _ in 0..2 {
            assert_eq!(
                serde_json::to_string(&Response {
                    tools: shared.clone()
                })
                .expect("JSON"),
                format!(r#"{{"tools":{expected}}}"#)
            );
        }
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].name, "a");
    }
}
