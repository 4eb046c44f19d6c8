//! The schema contract policy: checks that a server's tools do not ask for secrets, stay small,
//! keep descriptions short and do not accept free-form objects.
//!
//! [`check`] is a pure function of the policy and the tools.
//!
//! # Rules
//! | rule | severity | what it finds |
//! |---|---|---|
//! | `forbidden-property` | error | a property name matching one of [`Policy::forbidden_property_patterns`] |
//! | `schema-size` | error | an input or output schema larger than [`Policy::max_schema_bytes`] in canonical JSON |
//! | `description-length` | warning | a tool description, or a `description` inside a schema, longer than [`Policy::max_description_chars`] characters |
//! | `additional-properties` | warning | a free-form object schema (see below), when [`Policy::forbid_free_form_additional_properties`] is on |
//! | `schema-depth` | error | schemas nested deeper than [`MAX_WALK_DEPTH`]; the walk stops there |
//!
//! # Property names
//! Each property name is matched twice against every pattern, case-insensitively and anywhere in
//! the name: as written, and in its snake_case form (`apiKey`, `APIKey` and `api-key` all become
//! `api_key`), so one pattern such as `(^|_)api_?key(_|$)` covers every spelling.
//!
//! # Free-form objects
//! A schema is an *object schema* when its `type` is `"object"` or a list containing `"object"`.
//! It is *free-form* when either
//! - `additionalProperties` is `true` or the empty schema `{}`, or
//! - `additionalProperties` is absent, and it declares no `properties`, no `patternProperties`,
//!   and no `$ref`, `allOf`, `anyOf` or `oneOf` that could declare them.
//!
//! An object with declared `properties` and no `additionalProperties` is not free-form, and
//! `additionalProperties: {"type": "string"}` is a typed map, not free-form. A tool without
//! arguments should say `{"type": "object", "additionalProperties": false}`.
//!
//! # Paths
//! A finding's path starts at the tool, `$.tools[NAME]`, then follows JSON keys with `.key`, and
//! array positions with `[i]`: `$.tools[add_user].inputSchema.properties.password`,
//! `$.tools[q].inputSchema.properties.filter.anyOf[1].properties.token`. A tool or key that is not
//! made only of ASCII letters, digits, `_` and `-` is written as a JSON string in brackets:
//! `$.tools["my tool"].inputSchema.properties["e-mail address"]`.

use serde_json::Value;

use super::canonical::canonical_value;
use super::model::{PolicyFinding, Severity, ToolDef};

pub use crate::config::policy::{snake_case, NamePattern, Policy, DEFAULT_FORBIDDEN_PATTERNS};

/// How deep the walk descends into nested schemas before it reports `schema-depth` and stops.
pub const MAX_WALK_DEPTH: usize = 64;

/// Checks every tool against the policy and returns the findings, in tool order and then in
/// the order the walk met them.
pub fn check(policy: &Policy, tools: &[ToolDef]) -> Vec<PolicyFinding> {
    let mut findings = Vec::new();
    for tool in tools {
        let root = format!("$.tools{}", bracket(&tool.name));
        let mut walk = Walk {
            policy,
            tool: &tool.name,
            findings: &mut findings,
        };
        if let Some(description) = &tool.description {
            walk.description(&format!("{root}.description"), description);
        }
        walk.schema_size(&format!("{root}.inputSchema"), &tool.input_schema);
        walk.schema(&format!("{root}.inputSchema"), &tool.input_schema, 0);
        if let Some(output) = &tool.output_schema {
            walk.schema_size(&format!("{root}.outputSchema"), output);
            walk.schema(&format!("{root}.outputSchema"), output, 0);
        }
    }
    findings
}

/// `.key` for a plain key, else `["key"]`.
fn key_segment(key: &str) -> String {
    if is_plain(key) {
        format!(".{key}")
    } else {
        format!("[{}]", quote(key))
    }
}

/// `[name]` for a plain tool name, else `["name"]`.
fn bracket(name: &str) -> String {
    if is_plain(name) {
        format!("[{name}]")
    } else {
        format!("[{}]", quote(name))
    }
}

fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$')
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Keywords whose value is one subschema.
const SUBSCHEMA_KEYWORDS: &[&str] = &[
    "items",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
];
/// Keywords whose value is a list of subschemas.
const SUBSCHEMA_LIST_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems", "items"];
/// Keywords whose value maps names to subschemas (the names are not property names, except
/// under `properties`).
const SUBSCHEMA_MAP_KEYWORDS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

struct Walk<'a> {
    policy: &'a Policy,
    tool: &'a str,
    findings: &'a mut Vec<PolicyFinding>,
}

impl Walk<'_> {
    fn push(&mut self, path: String, rule: &str, severity: Severity, message: String) {
        self.findings.push(PolicyFinding {
            tool: self.tool.to_owned(),
            path,
            rule: rule.to_owned(),
            severity,
            message,
        });
    }

    fn description(&mut self, path: &str, text: &str) {
        let len = text.chars().count();
        let max = self.policy.max_description_chars;
        if len > max {
            self.push(
                path.to_owned(),
                "description-length",
                Severity::Warning,
                format!("the description is {len} characters long; the policy allows {max}"),
            );
        }
    }

    fn schema_size(&mut self, path: &str, schema: &Value) {
        let size = canonical_value(schema).len();
        let max = self.policy.max_schema_bytes;
        if size > max {
            self.push(
                path.to_owned(),
                "schema-size",
                Severity::Error,
                format!("the schema is {size} bytes of canonical JSON; the policy allows {max}"),
            );
        }
    }

    fn schema(&mut self, path: &str, schema: &Value, depth: usize) {
        let Value::Object(map) = schema else {
            return; // `true`, `false` or a malformed schema: nothing to walk.
        };
        if depth >= MAX_WALK_DEPTH {
            self.push(
                path.to_owned(),
                "schema-depth",
                Severity::Error,
                format!(
                    "the schema nests deeper than {MAX_WALK_DEPTH} levels; the check stopped here"
                ),
            );
            return;
        }
        if let Some(Value::String(text)) = map.get("description") {
            self.description(&format!("{path}.description"), text);
        }
        if self.policy.forbid_free_form_additional_properties && is_free_form(map) {
            self.push(
                path.to_owned(),
                "additional-properties",
                Severity::Warning,
                "the object accepts arbitrary properties; declare its properties and set \
                 `additionalProperties: false`"
                    .to_owned(),
            );
        }
        if let Some(Value::Object(props)) = map.get("properties") {
            for (name, _) in sorted(props) {
                let pattern = self
                    .policy
                    .forbidden_property_patterns
                    .iter()
                    .find(|p| p.matches(name));
                if let Some(pattern) = pattern {
                    let message = format!(
                        "the property {name:?} matches the forbidden pattern {:?}: tools must \
                         not ask for secrets or personal data",
                        pattern.as_str()
                    );
                    self.push(
                        format!("{path}.properties{}", key_segment(name)),
                        "forbidden-property",
                        Severity::Error,
                        message,
                    );
                }
            }
        }
        for keyword in SUBSCHEMA_MAP_KEYWORDS {
            if let Some(Value::Object(children)) = map.get(*keyword) {
                for (name, child) in sorted(children) {
                    let child_path = format!("{path}{}{}", key_segment(keyword), key_segment(name));
                    self.schema(&child_path, child, depth + 1);
                }
            }
        }
        for keyword in SUBSCHEMA_KEYWORDS {
            if let Some(child @ Value::Object(_)) = map.get(*keyword) {
                self.schema(&format!("{path}{}", key_segment(keyword)), child, depth + 1);
            }
        }
        for keyword in SUBSCHEMA_LIST_KEYWORDS {
            if let Some(Value::Array(children)) = map.get(*keyword) {
                for (i, child) in children.iter().enumerate() {
                    let child_path = format!("{path}{}[{i}]", key_segment(keyword));
                    self.schema(&child_path, child, depth + 1);
                }
            }
        }
    }
}

/// The entries of `map` sorted by key, so findings come out in the same order whatever the map
/// implementation.
fn sorted(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// True for a free-form object schema, as defined in the module documentation.
pub fn is_free_form(schema: &serde_json::Map<String, Value>) -> bool {
    let is_object = match schema.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        _ => false,
    };
    if !is_object {
        return false;
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(true)) => true,
        Some(Value::Object(s)) => s.is_empty(),
        Some(_) => false,
        None => {
            let declares = |key: &str| match schema.get(key) {
                Some(Value::Object(m)) => !m.is_empty(),
                Some(Value::Array(a)) => !a.is_empty(),
                Some(_) => true,
                None => false,
            };
            ![
                "properties",
                "patternProperties",
                "$ref",
                "allOf",
                "anyOf",
                "oneOf",
            ]
            .iter()
            .any(|k| declares(k))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str, schema: Value) -> ToolDef {
        ToolDef::new(name, "does things", schema)
    }

    fn rules(findings: &[PolicyFinding]) -> Vec<(&str, &str)> {
        findings
            .iter()
            .map(|f| (f.rule.as_str(), f.path.as_str()))
            .collect()
    }

    #[test]
    fn snake_case_splits_words() {
        assert_eq!(snake_case("apiKey"), "api_key");
        assert_eq!(snake_case("APIKey"), "api_key");
        assert_eq!(snake_case("api-key"), "api_key");
        assert_eq!(snake_case("userSSN"), "user_ssn");
        assert_eq!(snake_case("className"), "class_name");
        assert_eq!(snake_case("card__Number_"), "card_number");
    }

    #[test]
    fn default_patterns_find_secrets_and_spare_ordinary_names() {
        let policy = Policy::default();
        let forbidden = |name: &str| {
            policy
                .forbidden_property_patterns
                .iter()
                .any(|p| p.matches(name))
        };
        for name in [
            "password",
            "Passwd",
            "userPassword",
            "client_secret",
            "token",
            "accessToken",
            "api_key",
            "apiKey",
            "APIKey",
            "x-api-key",
            "privateKey",
            "ssn",
            "userSSN",
            "social_security_number",
            "creditCard",
            "cardNumber",
            "cvv",
            "CVV2",
            "iban",
        ] {
            assert!(forbidden(name), "{name} should be forbidden");
        }
        for name in [
            "username",
            "max_tokens",
            "tokenizer",
            "className",
            "classname",
            "passage",
            "keyword",
            "library",
            "message",
            "query",
        ] {
            assert!(!forbidden(name), "{name} should be allowed");
        }
    }

    #[test]
    fn finds_forbidden_properties_in_nested_schemas_with_paths() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string"},
                "password": {"type": "string"},
                "profile": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {"api_key": {"type": "string"}}
                },
                "cards": {"type": "array", "items": {"$ref": "#/$defs/card"}},
                "auth": {"anyOf": [
                    {"type": "null"},
                    {"type": "object", "additionalProperties": false, "properties": {"token": {"type": "string"}}}
                ]}
            },
            "$defs": {"card": {
                "type": "object",
                "additionalProperties": false,
                "properties": {"card number": {"type": "string"}}
            }}
        });
        let findings = check(&Policy::default(), &[tool("add_user", schema)]);
        assert_eq!(
            rules(&findings),
            vec![
                (
                    "forbidden-property",
                    "$.tools[add_user].inputSchema.properties.password"
                ),
                (
                    "forbidden-property",
                    "$.tools[add_user].inputSchema.properties.auth.anyOf[1].properties.token"
                ),
                (
                    "forbidden-property",
                    "$.tools[add_user].inputSchema.properties.profile.properties.api_key"
                ),
                (
                    "forbidden-property",
                    "$.tools[add_user].inputSchema.$defs.card.properties[\"card number\"]"
                ),
            ]
        );
        assert!(findings
            .iter()
            .all(|f| f.severity == Severity::Error && f.tool == "add_user"));
    }

    #[test]
    fn free_form_objects_are_defined_precisely() {
        let obj = |v: Value| v.as_object().cloned().expect("an object");
        assert!(is_free_form(&obj(json!({"type": "object"}))));
        assert!(is_free_form(&obj(
            json!({"type": "object", "properties": {}})
        )));
        assert!(is_free_form(&obj(json!({"type": ["object", "null"]}))));
        assert!(is_free_form(&obj(
            json!({"type": "object", "properties": {"a": {}}, "additionalProperties": true})
        )));
        assert!(is_free_form(&obj(
            json!({"type": "object", "additionalProperties": {}})
        )));
        assert!(!is_free_form(&obj(
            json!({"type": "object", "additionalProperties": false})
        )));
        assert!(!is_free_form(&obj(
            json!({"type": "object", "properties": {"a": {}}})
        )));
        assert!(!is_free_form(&obj(
            json!({"type": "object", "additionalProperties": {"type": "string"}})
        )));
        assert!(!is_free_form(&obj(
            json!({"type": "object", "$ref": "#/$defs/x"})
        )));
        assert!(!is_free_form(&obj(json!({"type": "string"}))));
        assert!(!is_free_form(&obj(json!({}))));
    }

    #[test]
    fn reports_free_form_objects_unless_disabled() {
        let schema = json!({
            "type": "object",
            "properties": {"meta": {"type": "object"}, "ok": {"type": "object", "additionalProperties": false}}
        });
        let tools = [tool("t", schema)];
        assert_eq!(
            rules(&check(&Policy::default(), &tools)),
            vec![(
                "additional-properties",
                "$.tools[t].inputSchema.properties.meta"
            )]
        );
        let lenient = Policy {
            forbid_free_form_additional_properties: false,
            ..Policy::default()
        };
        assert!(check(&lenient, &tools).is_empty());
    }

    #[test]
    fn caps_schema_size_and_description_length() {
        let policy = Policy {
            max_schema_bytes: 100,
            max_description_chars: 10,
            ..Policy::default()
        };
        let mut t = tool(
            "big one",
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {"q": {"type": "string", "description": "x".repeat(200)}}
            }),
        );
        t.description = Some("é".repeat(10)); // 10 characters, 20 bytes: allowed
        t.output_schema = Some(json!({"type": "string"}));
        let findings = check(&policy, &[t]);
        assert_eq!(
            rules(&findings),
            vec![
                ("schema-size", "$.tools[\"big one\"].inputSchema"),
                (
                    "description-length",
                    "$.tools[\"big one\"].inputSchema.properties.q.description"
                ),
            ]
        );
        assert_eq!(findings[0].severity, Severity::Error);
        assert_eq!(findings[1].severity, Severity::Warning);
    }

    #[test]
    fn stops_at_the_depth_limit() {
        let mut schema = json!({"type": "string"});
        for _ in 0..(MAX_WALK_DEPTH + 5) {
            schema = json!({"type": "array", "items": schema});
        }
        let findings = check(&Policy::default(), &[tool("deep", schema)]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "schema-depth");
    }

    #[test]
    fn deserializes_with_defaults_and_rejects_bad_patterns() {
        let policy: Policy = serde_json::from_value(json!({
            "forbidden_property_patterns": ["^pin$"],
            "max_description_chars": 5
        }))
        .expect("a valid policy");
        assert_eq!(policy.max_schema_bytes, 16 * 1024);
        assert!(policy.forbid_free_form_additional_properties);
        assert!(policy.forbidden_property_patterns[0].matches("PIN"));
        assert!(!policy.forbidden_property_patterns[0].matches("spin"));
        let empty: Policy = serde_json::from_value(json!({})).expect("defaults");
        assert_eq!(
            empty.forbidden_property_patterns.len(),
            DEFAULT_FORBIDDEN_PATTERNS.len()
        );
        let err = serde_json::from_value::<Policy>(json!({"forbidden_property_patterns": ["("]}))
            .expect_err("an invalid regex");
        assert!(
            err.to_string().contains("invalid property-name pattern"),
            "{err}"
        );
    }
}
