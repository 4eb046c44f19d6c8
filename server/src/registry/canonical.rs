//! Canonical JSON of a tool list and its SHA-256 content hash.
//!
//! The canonical form is independent of how the server ordered its tools or the keys of its
//! schemas: tools are sorted by name, object keys are sorted by their UTF-8 bytes, and there is
//! no whitespace. Strings use serde_json's escaping and numbers its shortest form. Two fetches
//! of an unchanged server therefore give the same hash, which lets the registry skip storing a
//! snapshot that did not change. The registry keeps keys in the server's order everywhere else
//! (serde_json's `preserve_order`); the hash never depends on it, so snapshots stored when keys
//! were kept sorted hash as they did. Every field of a tool counts, including the ones the
//! registry does not read (`icons`, `execution`, `_meta`).

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::ToolDef;

/// The canonical JSON text of `tools`: a JSON array of the tools sorted by name, each written
/// with sorted keys and no whitespace.
pub fn canonical_json(tools: &[ToolDef]) -> String {
    let mut sorted: Vec<&ToolDef> = tools.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let values = sorted.into_iter().map(|tool| Value::Object(tool.to_json()));
    canonical_value(&Value::Array(values.collect()))
}

/// The lower-case hex SHA-256 of [`canonical_json`]: equal for equal tool lists, whatever the
/// order of tools or keys.
pub fn content_hash(tools: &[ToolDef]) -> String {
    hex::encode(Sha256::digest(canonical_json(tools).as_bytes()))
}

/// The hash of the fields the registry reads (name, title, description, schemas,
/// annotations) and nothing else: what [`content_hash`] was before the registry kept every
/// field, and so the hash of snapshots stored then.
pub fn read_fields_hash(tools: &[ToolDef]) -> String {
    let read: Vec<ToolDef> = tools
        .iter()
        .map(|tool| {
            let mut read = tool.clone();
            read.extra.clear();
            read
        })
        .collect();
    content_hash(&read)
}

/// The canonical JSON text of any value (sorted keys, no whitespace).
pub fn canonical_value(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    // `Value::String` serialization cannot fail; `to_string` only returns a Result for the
    // general case of user types.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str, schema: Value) -> ToolDef {
        ToolDef::new(name, format!("the {name} tool"), schema)
    }

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let t = tool(
            "a",
            json!({"type": "object", "properties": {"z": {"type": "string"}, "b": {"type": "integer"}}}),
        );
        assert_eq!(
            canonical_json(&[t]),
            r#"[{"description":"the a tool","inputSchema":{"properties":{"b":{"type":"integer"},"z":{"type":"string"}},"type":"object"},"name":"a"}]"#
        );
    }

    #[test]
    fn hash_is_stable_across_key_and_tool_order() {
        let one: Value = serde_json::from_str(
            r#"{"type":"object","required":["x"],"properties":{"x":{"type":"string","enum":["p","q"]},"y":{"type":"number"}}}"#,
        )
        .expect("valid JSON");
        let two: Value = serde_json::from_str(
            r#"{"properties":{"y":{"type":"number"},"x":{"enum":["p","q"],"type":"string"}},"required":["x"],"type":"object"}"#,
        )
        .expect("valid JSON");
        let first = [tool("alpha", one), tool("beta", json!({"type": "object"}))];
        let second = [tool("beta", json!({"type": "object"})), tool("alpha", two)];
        assert_eq!(content_hash(&first), content_hash(&second));
        assert_eq!(content_hash(&first).len(), 64);
    }

    #[test]
    fn hash_changes_with_content_and_array_order() {
        let base = [tool("a", json!({"type": "object", "required": ["x", "y"]}))];
        let reordered = [tool("a", json!({"type": "object", "required": ["y", "x"]}))];
        let retyped = [tool("a", json!({"type": "array", "required": ["x", "y"]}))];
        assert_ne!(content_hash(&base), content_hash(&reordered));
        assert_ne!(content_hash(&base), content_hash(&retyped));
    }

    #[test]
    fn escapes_strings_like_json() {
        assert_eq!(
            canonical_value(&json!({"k\"ey": "line\nbreak", "n": 1.5, "m": null})),
            r#"{"k\"ey":"line\nbreak","m":null,"n":1.5}"#
        );
    }

    #[test]
    fn hashes_stored_before_key_order_was_kept_stay_the_same() {
        // The server's order; stored hashes were of this canonical text (keys sorted).
        let reported: ToolDef = serde_json::from_str(
            r#"{"name":"commit","inputSchema":{"type":"object","properties":{"repo_path":{"type":"string"},"message":{"type":"string"}},"required":["repo_path"]},"description":"Records changes"}"#,
        )
        .expect("a tool");
        assert_eq!(
            content_hash(std::slice::from_ref(&reported)),
            // sha256 of the sorted text, as stored
            "99940f76924e9366c382147e68aabc9806c42a77d3cfc85908b95f563d937fe7"
        );
        assert_eq!(
            read_fields_hash(std::slice::from_ref(&reported)),
            content_hash(std::slice::from_ref(&reported))
        );
        let mut complete = reported.clone();
        complete.extra.insert(
            "icons".into(),
            json!([{"src": "https://example.com/i.png"}]),
        );
        assert_ne!(
            content_hash(std::slice::from_ref(&complete)),
            content_hash(std::slice::from_ref(&reported))
        );
        assert_eq!(read_fields_hash(&[complete]), content_hash(&[reported]));
    }

    #[test]
    fn empty_list_has_a_fixed_hash() {
        assert_eq!(
            content_hash(&[]),
            // sha256("[]")
            "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
        );
    }
}
