//! One tool exactly as a server described it in `tools/list`: the fields the registry reads
//! (name, title, description, schemas, annotations) as typed values, every other field
//! (`icons`, `execution`, `_meta`, fields of later protocol versions) kept as it came, and the
//! fields in the server's order. Serialized, a tool is the object the server sent; fields set
//! by code that the server did not send follow in a fixed order.
//!
//! Two tools are equal when they hold the same fields with the same values; the order of keys
//! never counts (the JSON values compare as maps).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The fields the registry reads, in the order a tool built by code lists them.
const TYPED: &[&str] = &[
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];

/// One tool as the server described it in `tools/list`.
#[derive(Clone, Debug, Default)]
pub struct ToolDef {
    /// The tool's name, unique within the server.
    pub name: String,
    /// Human-readable title.
    pub title: Option<String>,
    /// What the tool does.
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
    /// JSON Schema of structured results, if declared.
    pub output_schema: Option<Value>,
    /// Hints such as `readOnlyHint` or `destructiveHint`.
    pub annotations: Option<Value>,
    /// Every other field the server sent, such as `icons`, `execution` or `_meta` (and a
    /// `title` or `description` that is not a string, as it came).
    pub extra: Map<String, Value>,
    /// The server's order of the fields.
    order: Vec<String>,
}

impl PartialEq for ToolDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.title == other.title
            && self.description == other.description
            && self.input_schema == other.input_schema
            && self.output_schema == other.output_schema
            && self.annotations == other.annotations
            && self.extra == other.extra
    }
}

impl ToolDef {
    /// A tool with a name, a description and an input schema, and nothing else.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
    ) -> Self {
        Self {
            name: name.into(),
            description: Some(description.into()),
            input_schema,
            ..Self::default()
        }
    }

    /// The tool as a JSON object: the server's fields in its order, then fields set since.
    pub fn to_json(&self) -> Map<String, Value> {
        // What `Serialize` writes: a map with string keys, which cannot fail to be built.
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// Reads a tool object; `name` must be a string and `inputSchema` present.
    pub fn from_json(mut json: Map<String, Value>) -> Result<Self, String> {
        let order = json.keys().cloned().collect();
        let name = match json.remove("name") {
            Some(Value::String(name)) => name,
            Some(_) => return Err("the tool's name is not a string".into()),
            None => return Err("missing field `name`".into()),
        };
        let input_schema = json
            .remove("inputSchema")
            .ok_or_else(|| "missing field `inputSchema`".to_owned())?;
        let mut text = |key: &str| match json.remove(key) {
            Some(Value::String(text)) => Some(text),
            Some(other) => {
                // Not what the registry reads, but what the server sent: kept as it came.
                json.insert(key.to_owned(), other);
                None
            }
            None => None,
        };
        let title = text("title");
        let description = text("description");
        let output_schema = json.remove("outputSchema");
        let annotations = json.remove("annotations");
        Ok(Self {
            name,
            title,
            description,
            input_schema,
            output_schema,
            annotations,
            extra: json,
            order,
        })
    }
}

/// A field's value, borrowed from a [`ToolDef`].
enum FieldRef<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl Serialize for FieldRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::Json(value) => value.serialize(serializer),
        }
    }
}

impl ToolDef {
    /// The value of the field `key`, if the tool has it, borrowed.
    fn field_ref(&self, key: &str) -> Option<FieldRef<'_>> {
        let extra = || self.extra.get(key).map(FieldRef::Json);
        match key {
            "name" => Some(FieldRef::Text(&self.name)),
            "title" => self.title.as_deref().map(FieldRef::Text).or_else(extra),
            "description" => self
                .description
                .as_deref()
                .map(FieldRef::Text)
                .or_else(extra),
            "inputSchema" => Some(FieldRef::Json(&self.input_schema)),
            "outputSchema" => self.output_schema.as_ref().map(FieldRef::Json),
            "annotations" => self.annotations.as_ref().map(FieldRef::Json),
            _ => extra(),
        }
    }
}

/// Writes the object of [`ToolDef::to_json`] (same keys, same order) without building it.
impl Serialize for ToolDef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let keys = self
            .order
            .iter()
            .map(String::as_str)
            .chain(TYPED.iter().copied())
            .chain(self.extra.keys().map(String::as_str));
        let mut written: Vec<&str> = Vec::with_capacity(self.order.len() + TYPED.len());
        let mut map = serializer.serialize_map(None)?;
        for key in keys {
            if written.contains(&key) {
                continue;
            }
            written.push(key);
            if let Some(value) = self.field_ref(key) {
                map.serialize_entry(key, &value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ToolDef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Map::deserialize(deserializer)?;
        Self::from_json(json).map_err(D::Error::custom)
    }
}

/// The OpenAPI schema: the fields Apiary reads, and any other the server sent.
impl utoipa::PartialSchema for ToolDef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        let object = || ObjectBuilder::new().schema_type(Type::Object);
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "One tool as the server described it in `tools/list`: every field it sent, in \
                 its order",
            ))
            .property("name", ObjectBuilder::new().schema_type(Type::String))
            .required("name")
            .property(
                "title",
                ObjectBuilder::new()
                    .description(Some("Usually a string; kept as the server sent it")),
            )
            .property(
                "description",
                ObjectBuilder::new()
                    .description(Some("Usually a string; kept as the server sent it")),
            )
            .property("inputSchema", object())
            .required("inputSchema")
            .property("outputSchema", object())
            .property("annotations", object())
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl utoipa::ToSchema for ToolDef {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const REPORTED: &str = r#"{"name":"commit","inputSchema":{"type":"object","properties":{"repo_path":{"type":"string"},"message":{"type":"string"},"author":{"type":"string"}},"required":["repo_path","message"]},"execution":{"taskSupport":"optional"},"description":"Records changes","icons":[{"src":"https://example.com/i.png"}],"annotations":{"readOnlyHint":false,"customHint":1},"_meta":{"x/y":true},"title":null}"#;

    #[test]
    fn round_trips_every_field_in_the_servers_order() {
        let tool: ToolDef = serde_json::from_str(REPORTED).expect("a tool");
        assert_eq!(tool.name, "commit");
        assert_eq!(tool.description.as_deref(), Some("Records changes"));
        assert_eq!(tool.title, None);
        assert_eq!(tool.extra["execution"], json!({"taskSupport": "optional"}));
        assert_eq!(serde_json::to_string(&tool).expect("JSON"), REPORTED);
    }

    #[test]
    fn writing_a_tool_gives_the_object_of_to_json() {
        let mut tool: ToolDef = serde_json::from_str(REPORTED).expect("a tool");
        tool.annotations = None;
        tool.extra.insert("title".into(), json!(7));
        tool.title = None;
        tool.output_schema = Some(json!({"type": "object"}));
        let written = serde_json::to_string(&tool).expect("JSON");
        assert_eq!(
            written,
            serde_json::to_string(&tool.to_json()).expect("JSON")
        );
        assert!(written.contains(r#""title":7"#), "{written}");
        assert!(!written.contains("annotations"), "{written}");
    }

    #[test]
    fn key_order_does_not_count_for_equality() {
        let tool: ToolDef = serde_json::from_str(REPORTED).expect("a tool");
        let sorted = crate::registry::canonical::canonical_value(&json!(tool));
        let again: ToolDef = serde_json::from_str(&sorted).expect("a tool");
        assert_eq!(tool, again);
        assert_ne!(serde_json::to_string(&again).expect("JSON"), REPORTED);
    }

    #[test]
    fn fields_set_by_code_follow_the_servers() {
        let mut tool: ToolDef =
            serde_json::from_str(r#"{"inputSchema":{},"name":"a"}"#).expect("a tool");
        tool.title = Some("A".into());
        assert_eq!(
            serde_json::to_string(&tool).expect("JSON"),
            r#"{"inputSchema":{},"name":"a","title":"A"}"#
        );
        let built = ToolDef::new("b", "does b", json!({"type": "object"}));
        assert_eq!(
            serde_json::to_string(&built).expect("JSON"),
            r#"{"name":"b","description":"does b","inputSchema":{"type":"object"}}"#
        );
    }

    #[test]
    fn a_tool_needs_a_name_and_an_input_schema() {
        assert!(serde_json::from_str::<ToolDef>(r#"{"inputSchema":{}}"#).is_err());
        assert!(serde_json::from_str::<ToolDef>(r#"{"name":"a"}"#).is_err());
        assert!(serde_json::from_str::<ToolDef>(r#"{"name":1,"inputSchema":{}}"#).is_err());
    }
}
