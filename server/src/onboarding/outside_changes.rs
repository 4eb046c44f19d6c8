//! Comparing a custom resource in the cluster with the manifest Apiary applied (pure; the
//! cluster is read by [`super::cluster_changes`]).
//!
//! Compared: the whole `spec`, and the labels and annotations under Apiary's `apiary.dev/`
//! prefix. Everything the apiserver populates (status, `managedFields`, `resourceVersion`,
//! `uid`, `generation`, `creationTimestamp`) and other tools' labels and annotations are not.
//! The approved side gets the CRD schema's defaults first, as the apiserver gave them to the
//! live object. A `null` counts as unset, as it does in a server-side apply.
//!
//! Who changed a field comes from the live object's `managedFields`: the managers other than
//! Apiary's own that own the field (server-side apply ownership moves to whoever last wrote
//! it, so `kubectl edit` shows as `kubectl-edit`).

use serde_json::{Map, Value};

use apiary_app::model::cluster_changes::FieldChange;

use super::manifest::ANNOTATION_PREFIX;

/// Apiary's field managers: the server's own fields, and its curation's `toolConfigRef`.
const APIARY_MANAGERS: [&str; 2] = [
    crate::operator::render::FIELD_MANAGER,
    crate::registry::curation::cluster::FIELD_MANAGER,
];

/// One step of a field path.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// The path as people read it: `spec.env[0].value`, `metadata.annotations[apiary.dev/tags]`.
fn display(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Key(key)
                if key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Key(key) => text.push_str(&format!("[{key}]")),
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// Fills in the `default`s of the structural OpenAPI `schema` that `value` leaves unset, as the
/// apiserver does when it stores an object.
pub fn apply_schema_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(object) => {
            let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (key, property) in properties {
                match object.get_mut(key) {
                    Some(child) => apply_schema_defaults(property, child),
                    None => {
                        if let Some(default) = property.get("default") {
                            object.insert(key.clone(), default.clone());
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_schema_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

/// What of a resource is compared: its spec, and its `apiary.dev/` labels and annotations.
fn compared_part(object: &Value) -> Value {
    let mut part = Map::new();
    if let Some(spec) = object.get("spec") {
        part.insert("spec".into(), spec.clone());
    }
    let mut metadata = Map::new();
    for field in ["labels", "annotations"] {
        let apiary: Map<String, Value> = object["metadata"][field]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| key.starts_with(ANNOTATION_PREFIX))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !apiary.is_empty() {
            metadata.insert(field.into(), Value::Object(apiary));
        }
    }
    if !metadata.is_empty() {
        part.insert("metadata".into(), Value::Object(metadata));
    }
    Value::Object(part)
}

/// Every field of `kind` whose value in `live` differs from `approved` (both whole objects;
/// `approved` already defaulted), with who changed it.
pub fn compare(kind: &str, approved: &Value, live: &Value) -> Vec<FieldChange> {
    let mut differences = Vec::new();
    diff(
        &mut Vec::new(),
        Some(&compared_part(approved)),
        Some(&compared_part(live)),
        &mut differences,
    );
    let managed = live["metadata"]["managedFields"].as_array();
    differences
        .into_iter()
        .map(|(path, approved, live)| FieldChange {
            kind: kind.to_owned(),
            changed_by: managed.map(|m| changed_by(m, &path)).unwrap_or_default(),
            path: display(&path),
            approved,
            live,
        })
        .collect()
}

type Difference = (Vec<Segment>, Option<Value>, Option<Value>);

/// Collects the differences below `path`. Objects are compared key by key; lists of the same
/// length item by item; anything else (and lists that grew or shrank) as a whole.
fn diff(
    path: &mut Vec<Segment>,
    approved: Option<&Value>,
    live: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    let approved = approved.filter(|v| !v.is_null());
    let live = live.filter(|v| !v.is_null());
    match (approved, live) {
        (Some(Value::Object(a)), Some(Value::Object(l))) => {
            let mut keys: Vec<&String> = a.keys().chain(l.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                path.push(Segment::Key(key.clone()));
                diff(path, a.get(key), l.get(key), out);
                path.pop();
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(l))) if a.len() == l.len() => {
            for (index, (a, l)) in a.iter().zip(l).enumerate() {
                path.push(Segment::Index(index));
                diff(path, Some(a), Some(l), out);
                path.pop();
            }
        }
        (a, l) if a == l => {}
        (a, l) => out.push((path.clone(), a.cloned(), l.cloned())),
    }
}

/// The managers (not Apiary's, not of a subresource such as status) that own `path` or part
/// of it, sorted.
fn changed_by(managed_fields: &[Value], path: &[Segment]) -> Vec<String> {
    let mut managers: Vec<String> = managed_fields
        .iter()
        .filter(|entry| entry["subresource"].as_str().unwrap_or_default().is_empty())
        .filter_map(|entry| {
            let manager = entry["manager"].as_str()?;
            (!APIARY_MANAGERS.contains(&manager) && owns(&entry["fieldsV1"], path))
                .then(|| manager.to_owned())
        })
        .collect();
    managers.sort();
    managers.dedup();
    managers
}

/// Whether a `fieldsV1` tree owns `path`, a part of it, or an atomic value that contains it.
/// List items are keyed by value (`k:`, `v:`), not by index, so owning any item of a list
/// counts for every index.
fn owns(node: &Value, path: &[Segment]) -> bool {
    let Some(children) = node.as_object() else {
        return false;
    };
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    if children.keys().all(|key| key == ".") {
        return true;
    }
    match first {
        Segment::Key(key) => children
            .get(&format!("f:{key}"))
            .is_some_and(|child| owns(child, rest)),
        Segment::Index(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn server(spec: Value, annotations: Value) -> Value {
        json!({
            "apiVersion": "toolhive.stacklok.dev/v1alpha1", "kind": "MCPServer",
            "metadata": { "name": "osv", "namespace": "tools", "annotations": annotations },
            "spec": spec,
        })
    }

    #[test]
    fn server_populated_fields_and_other_tools_annotations_are_not_changes() {
        let approved = server(
            json!({ "image": "osv:1", "transport": "stdio" }),
            json!({ "apiary.dev/owner-team": "search" }),
        );
        let mut live = approved.clone();
        live["status"] = json!({ "phase": "Ready" });
        live["metadata"]["uid"] = json!("1234");
        live["metadata"]["resourceVersion"] = json!("42");
        live["metadata"]["generation"] = json!(3);
        live["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!("{}");
        live["metadata"]["labels"] = json!({ "app": "osv" });
        live["metadata"]["managedFields"] = json!([{ "manager": "apiary", "fieldsV1": {} }]);
        assert_eq!(compare("MCPServer", &approved, &live), []);
    }

    #[test]
    fn changed_added_and_removed_fields_carry_both_values() {
        let approved = server(
            json!({ "image": "osv:1", "transport": "stdio",
                    "env": [{ "name": "LEVEL", "value": "info" }], "mcpPort": null }),
            json!({ "apiary.dev/owner-team": "search", "apiary.dev/tags": "cve" }),
        );
        let live = server(
            json!({ "image": "osv:2", "transport": "stdio", "args": ["--debug"],
                    "env": [{ "name": "LEVEL", "value": "debug" }] }),
            json!({ "apiary.dev/owner-team": "search" }),
        );
        let changes = compare("MCPServer", &approved, &live);
        let summary: Vec<_> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.approved.clone(), c.live.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "metadata.annotations[apiary.dev/tags]",
                    Some(json!("cve")),
                    None
                ),
                ("spec.args", None, Some(json!(["--debug"]))),
                (
                    "spec.env[0].value",
                    Some(json!("info")),
                    Some(json!("debug"))
                ),
                ("spec.image", Some(json!("osv:1")), Some(json!("osv:2"))),
            ]
        );
        assert!(changes.iter().all(|c| c.kind == "MCPServer"));
    }

    #[test]
    fn a_list_that_grew_is_one_change() {
        let approved = server(json!({ "args": ["a"] }), json!({}));
        let live = server(json!({ "args": ["a", "b"] }), json!({}));
        let changes = compare("MCPServer", &approved, &live);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "spec.args");
        assert_eq!(changes[0].live, Some(json!(["a", "b"])));
    }

    #[test]
    fn the_manager_that_owns_a_changed_field_is_named_and_apiary_is_not() {
        let approved = server(
            json!({ "image": "osv:1", "env": [{ "name": "A", "value": "1" }] }),
            json!({}),
        );
        let mut live = server(
            json!({ "image": "osv:2", "env": [{ "name": "A", "value": "2" }] }),
            json!({}),
        );
        live["metadata"]["managedFields"] = json!([
            { "manager": "apiary", "operation": "Apply",
              "fieldsV1": { "f:spec": { "f:env": { "k:{\"name\":\"A\"}": { ".": {}, "f:name": {} } } } } },
            { "manager": "kubectl-edit", "operation": "Update",
              "fieldsV1": { "f:spec": { "f:image": {} } } },
            { "manager": "argocd-controller", "operation": "Apply",
              "fieldsV1": { "f:spec": { "f:env": { "k:{\"name\":\"A\"}": { "f:value": {} } } } } },
            { "manager": "apiary", "operation": "Apply", "subresource": "status",
              "fieldsV1": { "f:status": {} } },
        ]);
        let changes = compare("MCPServer", &approved, &live);
        let by: Vec<_> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.changed_by.clone()))
            .collect();
        assert_eq!(
            by,
            [
                ("spec.env[0].value", vec!["argocd-controller".to_owned()]),
                ("spec.image", vec!["kubectl-edit".to_owned()]),
            ]
        );
    }

    #[test]
    fn an_atomic_value_owned_as_a_whole_counts_for_its_parts() {
        let fields = json!({ "f:spec": { "f:resources": {} } });
        let path = [
            Segment::Key("spec".into()),
            Segment::Key("resources".into()),
            Segment::Key("limits".into()),
        ];
        assert!(owns(&fields, &path));
        assert!(!owns(
            &fields,
            &[Segment::Key("spec".into()), Segment::Key("image".into())]
        ));
    }

    #[test]
    fn schema_defaults_fill_unset_fields_only() {
        let schema = json!({ "properties": {
            "env": { "items": { "properties": {
                "name": { "type": "string" },
                "value": { "type": "string", "default": "" } } } },
            "permissionProfile": { "properties": {
                "type": { "type": "string", "default": "builtin" } } },
            "replicas": { "type": "integer", "default": 1 },
        } });
        let mut spec = json!({
            "env": [{ "name": "A" }, { "name": "B", "value": "b" }],
            "permissionProfile": { "name": "none" },
            "replicas": 3,
        });
        apply_schema_defaults(&schema, &mut spec);
        assert_eq!(
            spec,
            json!({
                "env": [{ "name": "A", "value": "" }, { "name": "B", "value": "b" }],
                "permissionProfile": { "name": "none", "type": "builtin" },
                "replicas": 3,
            })
        );
    }
}
