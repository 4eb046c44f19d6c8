//! Schema drift: what changed between an approved baseline and a newer tool list.
//!
//! [`diff`] is pure. Tools are matched by name; a tool is *changed* when its definition differs
//! as JSON (key order never counts). For a changed tool the top-level input properties are
//! compared by name, type and `required`, and [`widens`] decides whether the new input schema
//! accepts input the old one refused (`broadened`).
//!
//! # Broadening
//! `widens(old, new)` compares the two schemas keyword by keyword and recursively. It is
//! conservative: a change it cannot prove harmless counts as broadening. Annotations (`title`,
//! `description`, `examples`, `default`, `$comment`, `deprecated`, `readOnly`, `writeOnly`)
//! never count. A keyword that appears only in the new schema adds a restriction and does not
//! count. Otherwise the schema is broadened when:
//! - `type` allows a type the old one did not (`"integer"` → `["integer", "string"]`, a type
//!   removed, `"integer"` → `"number"`; `"number"` already covers `"integer"`);
//! - `enum` gains a value or disappears, or `const` changes or disappears;
//! - `required` loses a name;
//! - `properties` gains a property, or loses one while extra properties are allowed, or a
//!   shared property's schema widens;
//! - `additionalProperties` or `unevaluatedProperties` loosens (`false` < a schema < absent or
//!   `true`), or its schema widens;
//! - `items` widens or disappears;
//! - a lower bound (`minimum`, `minLength`, `minItems`, ...) drops or disappears, or an upper
//!   bound (`maximum`, `maxLength`, ...) rises or disappears;
//! - `anyOf` or `oneOf` gains a branch that was not there, or disappears; `allOf` loses a branch;
//! - any other keyword (`pattern`, `format`, `$ref`, `$defs`, `not`, ...) changes or disappears.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::canonical::canonical_value;
use super::model::{SchemaDiff, ToolChange, ToolDef};

/// How deep [`widens`] recurses; deeper differences count as broadening.
const MAX_DEPTH: usize = 64;

/// Keywords that describe a schema without constraining what it accepts.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "examples",
    "default",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Keywords where a smaller value accepts more.
const LOWER_BOUNDS: &[&str] = &[
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
    "minContains",
];

/// Keywords where a larger value accepts more.
const UPPER_BOUNDS: &[&str] = &[
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
    "maxContains",
];

/// The structured difference between `baseline` and `newer`. Tool names in the result are
/// sorted; if a list names a tool twice, the last definition counts.
pub fn diff(baseline: &[ToolDef], newer: &[ToolDef]) -> SchemaDiff {
    let old: BTreeMap<&str, &ToolDef> = baseline.iter().map(|t| (t.name.as_str(), t)).collect();
    let new: BTreeMap<&str, &ToolDef> = newer.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut result = SchemaDiff::default();
    for (name, new_tool) in &new {
        match old.get(name) {
            None => result.tools_added.push((*name).to_owned()),
            Some(old_tool) if old_tool != new_tool => {
                result.tools_changed.push(tool_change(old_tool, new_tool));
            }
            Some(_) => {}
        }
    }
    result.tools_removed = old
        .keys()
        .filter(|name| !new.contains_key(*name))
        .map(|name| (*name).to_owned())
        .collect();
    result
}

/// How one tool changed; `old` and `new` have the same name.
fn tool_change(old: &ToolDef, new: &ToolDef) -> ToolChange {
    let empty = Map::new();
    let old_props = properties(&old.input_schema).unwrap_or(&empty);
    let new_props = properties(&new.input_schema).unwrap_or(&empty);
    let mut change = ToolChange {
        tool: new.name.clone(),
        ..ToolChange::default()
    };
    for (name, new_prop) in sorted(new_props) {
        let Some(old_prop) = old_props.get(name) else {
            change.properties_added.push(name.clone());
            continue;
        };
        let (old_type, new_type) = (type_set(old_prop), type_set(new_prop));
        if old_type != new_type {
            change.properties_retyped.push(format!(
                "{name}: {} -> {}",
                type_text(old_prop),
                type_text(new_prop)
            ));
        }
        if without_type(old_prop) != without_type(new_prop) {
            change.properties_changed.push(name.clone());
        }
    }
    change.properties_removed = sorted(old_props)
        .into_iter()
        .filter(|(name, _)| !new_props.contains_key(*name))
        .map(|(name, _)| name.clone())
        .collect();
    let old_required = required(&old.input_schema);
    let new_required = required(&new.input_schema);
    change.required_added = new_required.difference(&old_required).cloned().collect();
    change.required_removed = old_required.difference(&new_required).cloned().collect();
    change.metadata_changed = old.title != new.title
        || old.description != new.description
        || old.annotations != new.annotations
        || old.output_schema != new.output_schema
        || old.extra != new.extra;
    change.broadened = widens(&old.input_schema, &new.input_schema);
    change
}

/// True when `new` accepts some input that `old` refused, or when that cannot be ruled out (see
/// the module documentation).
pub fn widens(old: &Value, new: &Value) -> bool {
    widens_at(old, new, 0)
}

fn widens_at(old: &Value, new: &Value, depth: usize) -> bool {
    if old == new {
        return false;
    }
    if depth >= MAX_DEPTH {
        return true;
    }
    let (old_map, new_map) = match (old, new) {
        (Value::Bool(false), _) => return true,
        (_, Value::Bool(false)) => return false,
        (Value::Object(o), Value::Object(n)) => (o, n),
        (Value::Object(o), Value::Bool(true)) => return !accepts_anything(o),
        (Value::Bool(true), Value::Object(_)) => return false,
        _ => return true, // malformed schemas: cannot tell
    };
    for (keyword, old_value) in old_map {
        if ANNOTATIONS.contains(&keyword.as_str()) {
            continue;
        }
        let new_value = new_map.get(keyword);
        if new_value == Some(old_value) {
            continue;
        }
        let widened = match (keyword.as_str(), new_value) {
            ("properties", _) => properties_widen(old_map, new_map, depth),
            ("additionalProperties" | "unevaluatedProperties", _) => {
                extra_widens(Some(old_value), new_value, depth)
            }
            (_, None) => true, // a restriction disappeared
            (_, Some(new_value)) => keyword_widens(keyword, old_value, new_value, depth),
        };
        if widened {
            return true;
        }
    }
    // Keywords only in the new schema restrict it, except these which loosen when they appear.
    if !old_map.contains_key("properties") && properties_widen(old_map, new_map, depth) {
        return true;
    }
    for keyword in ["additionalProperties", "unevaluatedProperties"] {
        if !old_map.contains_key(keyword) && extra_widens(None, new_map.get(keyword), depth) {
            return true;
        }
    }
    false
}

/// Compares one keyword present in both schemas with different values.
fn keyword_widens(keyword: &str, old: &Value, new: &Value, depth: usize) -> bool {
    match keyword {
        "type" => {
            let old_types = types_of(old);
            match types_of(new) {
                None => old_types.is_some(),
                Some(new_types) => new_types.iter().any(|t| !covers(&old_types, t)),
            }
        }
        "enum" => match (old, new) {
            (Value::Array(o), Value::Array(n)) => n.iter().any(|v| !o.contains(v)),
            _ => true,
        },
        "required" => {
            let (o, n) = (names(old), names(new));
            o.difference(&n).next().is_some()
        }
        "items" | "contains" | "propertyNames" => widens_at(old, new, depth + 1),
        "anyOf" | "oneOf" => match (old, new) {
            (Value::Array(o), Value::Array(n)) => n.iter().any(|branch| !o.contains(branch)),
            _ => true,
        },
        "allOf" => match (old, new) {
            (Value::Array(o), Value::Array(n)) => o.iter().any(|branch| !n.contains(branch)),
            _ => true,
        },
        k if LOWER_BOUNDS.contains(&k) => match (old.as_f64(), new.as_f64()) {
            (Some(o), Some(n)) => n < o,
            _ => true,
        },
        k if UPPER_BOUNDS.contains(&k) => match (old.as_f64(), new.as_f64()) {
            (Some(o), Some(n)) => n > o,
            _ => true,
        },
        _ => true,
    }
}

/// Whether the `properties` of `new` accept more than those of `old`.
fn properties_widen(old: &Map<String, Value>, new: &Map<String, Value>, depth: usize) -> bool {
    let empty = Map::new();
    let old_props = old
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_props = new
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let extras_allowed = !matches!(new.get("additionalProperties"), Some(Value::Bool(false)));
    new_props
        .iter()
        .any(|(name, new_prop)| match old_props.get(name) {
            None => true,
            Some(old_prop) => widens_at(old_prop, new_prop, depth + 1),
        })
        || (extras_allowed && old_props.keys().any(|name| !new_props.contains_key(name)))
}

/// Whether `additionalProperties` (or `unevaluatedProperties`) loosened.
fn extra_widens(old: Option<&Value>, new: Option<&Value>, depth: usize) -> bool {
    let level = |v: Option<&Value>| match v {
        None | Some(Value::Bool(true)) => 2,
        Some(Value::Object(m)) if m.is_empty() => 2,
        Some(Value::Bool(false)) => 0,
        Some(_) => 1,
    };
    let (old_level, new_level) = (level(old), level(new));
    new_level > old_level
        || (old_level == 1
            && new_level == 1
            && old
                .zip(new)
                .is_some_and(|(o, n)| widens_at(o, n, depth + 1)))
}

fn accepts_anything(schema: &Map<String, Value>) -> bool {
    schema.keys().all(|k| ANNOTATIONS.contains(&k.as_str()))
}

/// The JSON types a `type` value allows; `None` means every type.
fn types_of(value: &Value) -> Option<BTreeSet<String>> {
    match value {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// Whether the allowed types `old` (`None` = all) include `t`.
fn covers(old: &Option<BTreeSet<String>>, t: &str) -> bool {
    match old {
        None => true,
        Some(set) => set.contains(t) || (t == "integer" && set.contains("number")),
    }
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema.get("required").map(names).unwrap_or_default()
}

fn names(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The set of types a property schema allows; `None` when it has no `type`.
fn type_set(schema: &Value) -> Option<BTreeSet<String>> {
    schema.get("type").and_then(types_of)
}

/// A property's `type` for people: `integer`, `["integer","string"]`, or `any` when absent.
fn type_text(schema: &Value) -> String {
    match schema.get("type") {
        None => "any".to_owned(),
        Some(Value::String(t)) => t.clone(),
        Some(other) => canonical_value(other),
    }
}

fn without_type(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut map = map.clone();
            map.remove("type");
            Value::Object(map)
        }
        other => other.clone(),
    }
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str, schema: Value) -> ToolDef {
        ToolDef::new(name, format!("the {name} tool"), schema)
    }

    fn base_schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "city": {"type": "string", "maxLength": 64},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "units": {"type": "string", "enum": ["metric", "imperial"]}
            },
            "required": ["city", "days"]
        })
    }

    /// `schema` with the member at `pointer` set (added or replaced) to `value`.
    fn with(mut schema: Value, pointer: &str, value: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
        schema
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("the parent is an object")
            .insert(key.to_owned(), value);
        schema
    }

    fn one_change(old: Value, new: Value) -> ToolChange {
        let d = diff(&[tool("forecast", old)], &[tool("forecast", new)]);
        assert!(
            d.tools_added.is_empty() && d.tools_removed.is_empty(),
            "{d:?}"
        );
        assert_eq!(d.tools_changed.len(), 1, "{d:?}");
        d.tools_changed.into_iter().next().expect("one change")
    }

    #[test]
    fn no_change_when_only_key_order_differs() {
        let a: Value = serde_json::from_str(
            r#"{"type":"object","properties":{"a":{"type":"string","enum":["x","y"]},"b":{"type":"integer"}},"required":["a"]}"#,
        )
        .expect("JSON");
        let b: Value = serde_json::from_str(
            r#"{"required":["a"],"properties":{"b":{"type":"integer"},"a":{"enum":["x","y"],"type":"string"}},"type":"object"}"#,
        )
        .expect("JSON");
        let d = diff(
            &[tool("t", a), tool("u", json!({}))],
            &[tool("u", json!({})), tool("t", b)],
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn tools_added_and_removed_are_sorted() {
        let d = diff(
            &[
                tool("b", json!({})),
                tool("a", json!({})),
                tool("keep", json!({})),
            ],
            &[
                tool("keep", json!({})),
                tool("z", json!({})),
                tool("c", json!({})),
            ],
        );
        assert_eq!(d.tools_added, vec!["c", "z"]);
        assert_eq!(d.tools_removed, vec!["a", "b"]);
        assert!(d.tools_changed.is_empty());
    }

    #[test]
    fn new_property_is_broadening() {
        let new = with(base_schema(), "/properties/lang", json!({"type": "string"}));
        let change = one_change(base_schema(), new);
        assert_eq!(
            change,
            ToolChange {
                tool: "forecast".into(),
                properties_added: vec!["lang".into()],
                broadened: true,
                ..ToolChange::default()
            }
        );
    }

    #[test]
    fn removed_property_behind_additional_properties_false_is_not_broadening() {
        let mut new = base_schema();
        new["properties"]
            .as_object_mut()
            .expect("properties")
            .remove("units");
        let change = one_change(base_schema(), new);
        assert_eq!(change.properties_removed, vec!["units"]);
        assert!(!change.broadened);
    }

    #[test]
    fn widened_and_narrowed_types() {
        let wide = with(
            base_schema(),
            "/properties/days/type",
            json!(["integer", "string"]),
        );
        let change = one_change(base_schema(), wide.clone());
        assert_eq!(
            change.properties_retyped,
            vec![r#"days: integer -> ["integer","string"]"#]
        );
        assert!(change.properties_changed.is_empty());
        assert!(change.broadened);

        let narrowed = one_change(wide, base_schema());
        assert_eq!(
            narrowed.properties_retyped,
            vec![r#"days: ["integer","string"] -> integer"#]
        );
        assert!(!narrowed.broadened);

        let mut untyped = base_schema();
        untyped["properties"]["days"]
            .as_object_mut()
            .expect("days")
            .remove("type");
        let change = one_change(base_schema(), untyped);
        assert_eq!(change.properties_retyped, vec!["days: integer -> any"]);
        assert!(change.broadened);

        let number = with(base_schema(), "/properties/days/type", json!("number"));
        assert!(one_change(base_schema(), number.clone()).broadened);
        assert!(!one_change(number, base_schema()).broadened);
    }

    #[test]
    fn required_changes() {
        let optional = with(base_schema(), "/required", json!(["city"]));
        let change = one_change(base_schema(), optional.clone());
        assert_eq!(change.required_removed, vec!["days"]);
        assert!(change.required_added.is_empty());
        assert!(change.broadened);

        let stricter = one_change(optional, base_schema());
        assert_eq!(stricter.required_added, vec!["days"]);
        assert!(!stricter.broadened);

        let reordered = with(base_schema(), "/required", json!(["days", "city"]));
        let change = one_change(base_schema(), reordered);
        assert!(change.required_added.is_empty() && change.required_removed.is_empty());
        assert!(!change.broadened);
    }

    #[test]
    fn enum_values_added_and_removed() {
        let more = with(
            base_schema(),
            "/properties/units/enum",
            json!(["metric", "imperial", "kelvin"]),
        );
        let change = one_change(base_schema(), more.clone());
        assert_eq!(change.properties_changed, vec!["units"]);
        assert!(change.properties_retyped.is_empty());
        assert!(change.broadened);
        assert!(!one_change(more, base_schema()).broadened);
    }

    #[test]
    fn additional_properties_loosened() {
        let mut open = base_schema();
        open.as_object_mut()
            .expect("object")
            .remove("additionalProperties");
        assert!(one_change(base_schema(), open.clone()).broadened);
        let typed_map = with(
            base_schema(),
            "/additionalProperties",
            json!({"type": "string"}),
        );
        assert!(one_change(base_schema(), typed_map.clone()).broadened);
        assert!(one_change(typed_map.clone(), open.clone()).broadened);
        assert!(!one_change(open, typed_map).broadened);
    }

    #[test]
    fn bounds_loosened_and_tightened() {
        let longer = with(base_schema(), "/properties/city/maxLength", json!(128));
        assert!(one_change(base_schema(), longer.clone()).broadened);
        assert!(!one_change(longer, base_schema()).broadened);
        let lower = with(base_schema(), "/properties/days/minimum", json!(0));
        assert!(one_change(base_schema(), lower).broadened);
        let mut unbounded = base_schema();
        unbounded["properties"]["days"]
            .as_object_mut()
            .expect("days")
            .remove("maximum");
        assert!(one_change(base_schema(), unbounded).broadened);
    }

    #[test]
    fn metadata_only_changes_are_not_broadening() {
        let described = with(
            base_schema(),
            "/properties/city/description",
            json!("Where"),
        );
        let change = one_change(base_schema(), described);
        assert_eq!(change.properties_changed, vec!["city"]);
        assert!(!change.broadened);
        assert!(!change.metadata_changed);

        let old = tool("forecast", base_schema());
        let mut new = old.clone();
        new.description = Some("Tells the weather".into());
        new.annotations = Some(json!({"readOnlyHint": true}));
        let d = diff(std::slice::from_ref(&old), &[new]);
        assert_eq!(
            d.tools_changed,
            vec![ToolChange {
                tool: "forecast".into(),
                metadata_changed: true,
                ..ToolChange::default()
            }]
        );

        // Fields the registry does not read count as metadata; key order never counts.
        let mut executed = old.clone();
        executed
            .extra
            .insert("execution".into(), json!({"taskSupport": "optional"}));
        let d = diff(std::slice::from_ref(&old), &[executed]);
        assert!(d.tools_changed[0].metadata_changed, "{d:?}");
        let reordered: ToolDef =
            serde_json::from_str(&crate::registry::canonical::canonical_value(&json!(old)))
                .expect("a tool");
        assert!(diff(&[old], &[reordered]).is_empty());
    }

    #[test]
    fn nested_and_composed_schemas() {
        let old = json!({
            "type": "object",
            "properties": {
                "filter": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}}
            }
        });
        let extra_branch = with(
            old.clone(),
            "/properties/filter/anyOf",
            json!([{"type": "string"}, {"type": "null"}, {"type": "integer"}]),
        );
        assert!(widens(&old, &extra_branch));
        let fewer_branches = with(
            old.clone(),
            "/properties/filter/anyOf",
            json!([{"type": "string"}]),
        );
        assert!(!widens(&old, &fewer_branches));
        let no_pattern = with(
            old.clone(),
            "/properties/tags/items",
            json!({"type": "string"}),
        );
        assert!(widens(&old, &no_pattern));
        let stricter_items = with(
            old.clone(),
            "/properties/tags/items",
            json!({"type": "string", "pattern": "^[a-z]+$", "maxLength": 9}),
        );
        assert!(!widens(&old, &stricter_items));
        assert!(widens(&json!(false), &json!({"type": "string"})));
        assert!(widens(&json!({"type": "string"}), &json!(true)));
        assert!(!widens(&json!({"type": "string"}), &json!(false)));
    }
}
