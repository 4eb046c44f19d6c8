//! A tool's input schema as table rows: one row per property, nested object properties
//! indented under their parent (`filter.since`, `items[].id`), each with a readable type, in the
//! order the server declares them.

use serde_json::Value;

/// How deep nested properties are listed; deeper ones are summarised and left to the raw JSON.
const MAX_DEPTH: usize = 3;

/// One property of an input schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaRow {
    /// The property's path, such as `limit`, `filter.since` or `items[].id`.
    pub path: String,
    /// 0 for top-level properties, 1 for their children, and so on.
    pub depth: usize,
    /// A readable type, such as `string (date-time)`, `array of string` or `one of: string, number`.
    pub type_label: String,
    /// True when the parent object requires it.
    pub required: bool,
    /// Allowed values from `enum` or `const`, as text.
    pub allowed: Vec<String>,
    /// The property's description, empty when none.
    pub description: String,
}

/// Every property of `schema` (an object schema), parents before their children.
pub fn schema_rows(schema: &Value) -> Vec<SchemaRow> {
    let mut rows = Vec::new();
    push_properties(schema, "", 0, &mut rows);
    rows
}

fn push_properties(object: &Value, prefix: &str, depth: usize, rows: &mut Vec<SchemaRow>) {
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, property) in properties {
        let path = format!("{prefix}{name}");
        let nested = nested_object(property);
        let mut type_label = type_label(property);
        if nested.is_some() && depth + 1 >= MAX_DEPTH {
            type_label.push_str(" (fields in the raw JSON)");
        }
        rows.push(SchemaRow {
            path: path.clone(),
            depth,
            type_label,
            required: required.contains(&name.as_str()),
            allowed: allowed_values(property),
            description: text(property, "description"),
        });
        if let Some((child, separator)) = nested {
            if depth + 1 < MAX_DEPTH {
                push_properties(child, &format!("{path}{separator}"), depth + 1, rows);
            }
        }
    }
}

/// The object schema whose properties are listed under `property`, with the path separator:
/// the property itself (`.`), or its array items (`[].`).
fn nested_object(property: &Value) -> Option<(&Value, &'static str)> {
    if property.get("properties").is_some_and(Value::is_object) {
        return Some((property, "."));
    }
    let items = property.get("items")?;
    items
        .get("properties")
        .is_some_and(Value::is_object)
        .then_some((items, "[]."))
}

/// A readable type for `schema`.
pub fn type_label(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return format!("reference to {reference}");
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
            let labels: Vec<String> = branches.iter().map(type_label).collect();
            return format!("one of: {}", labels.join(", "));
        }
    }
    let base = match schema.get("type") {
        Some(Value::String(name)) => single_type(schema, name),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(|name| single_type(schema, name))
            .collect::<Vec<_>>()
            .join(" or "),
        _ if schema.get("properties").is_some() => "object".into(),
        _ if schema.get("enum").is_some() || schema.get("const").is_some() => "value".into(),
        _ => "any".into(),
    };
    match schema.get("format").and_then(Value::as_str) {
        Some(format) => format!("{base} ({format})"),
        None => base,
    }
}

fn single_type(schema: &Value, name: &str) -> String {
    match name {
        "array" => match schema.get("items") {
            Some(items) if items.is_object() => format!("array of {}", type_label(items)),
            _ => "array".into(),
        },
        "object" => match schema.get("additionalProperties") {
            Some(values) if values.is_object() && schema.get("properties").is_none() => {
                format!("map of {}", type_label(values))
            }
            _ => "object".into(),
        },
        other => other.to_owned(),
    }
}

fn allowed_values(schema: &Value) -> Vec<String> {
    let shown = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match (schema.get("enum"), schema.get("const")) {
        (Some(Value::Array(values)), _) => values.iter().map(shown).collect(),
        (_, Some(value)) => vec![shown(value)],
        _ => Vec::new(),
    }
}

fn text(schema: &Value, key: &str) -> String {
    schema
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_show_type_required_enum_and_description() {
        let rows = schema_rows(&json!({
            "type": "object",
            "required": ["query"],
            "properties": {
                "query": { "type": "string", "description": "What to look for" },
                "order": { "type": "string", "enum": ["asc", "desc"] },
                "limit": { "type": ["integer", "null"] },
            }
        }));
        let shown: Vec<_> = rows
            .iter()
            .map(|r| (r.path.as_str(), r.type_label.as_str(), r.required))
            .collect();
        assert_eq!(
            shown,
            // In the server's order: what clients show as form fields.
            [
                ("query", "string", true),
                ("order", "string", false),
                ("limit", "integer or null", false),
            ]
        );
        assert_eq!(rows[1].allowed, ["asc", "desc"]);
        assert_eq!(rows[0].description, "What to look for");
    }

    #[test]
    fn nested_objects_and_arrays_of_objects_are_listed_under_their_parent() {
        let rows = schema_rows(&json!({
            "properties": {
                "filter": {
                    "type": "object",
                    "required": ["since"],
                    "properties": { "since": { "type": "string", "format": "date-time" } }
                },
                "items": {
                    "type": "array",
                    "items": { "type": "object", "properties": { "id": { "type": "integer" } } }
                },
                "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                "either": { "anyOf": [{ "type": "string" }, { "type": "number" }] }
            }
        }));
        let shown: Vec<_> = rows
            .iter()
            .map(|r| (r.path.as_str(), r.depth, r.type_label.as_str(), r.required))
            .collect();
        assert_eq!(
            shown,
            [
                ("filter", 0, "object", false),
                ("filter.since", 1, "string (date-time)", true),
                ("items", 0, "array of object", false),
                ("items[].id", 1, "integer", false),
                ("labels", 0, "map of string", false),
                ("either", 0, "one of: string, number", false),
            ]
        );
    }

    #[test]
    fn deep_nesting_is_summarised() {
        let rows = schema_rows(&json!({ "properties": { "a": { "properties": {
            "b": { "properties": { "c": { "properties": { "d": { "type": "string" } } } } }
        } } } }));
        let paths: Vec<_> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a", "a.b", "a.b.c"]);
        assert_eq!(rows[2].type_label, "object (fields in the raw JSON)");
    }

    #[test]
    fn a_schema_without_properties_has_no_rows() {
        assert!(schema_rows(&json!({ "type": "object" })).is_empty());
    }
}
