//! A strategic-merge-style overlay of JSON values, for `spec.podTemplateSpec`.
//!
//! What it does, and its limits (a small subset of Kubernetes' strategic merge patch):
//! - objects merge key by key, recursively; a `null` in the overlay deletes the key;
//! - the lists Kubernetes merges by name (`containers`, `initContainers`, `ephemeralContainers`,
//!   `volumes`, `env`, `volumeMounts`, `imagePullSecrets`) merge their items by `name`: an
//!   overlay item with a known name merges into that item (so `{name: mcp, ...}` adjusts the MCP
//!   container), a new name is appended;
//! - `ports` merge by `containerPort`;
//! - every other list (tolerations, args, command, ...) is replaced as a whole;
//! - patch directives (`$patch`, `$retainKeys`, `$setElementOrder`) are not supported: such keys
//!   are rejected by the typed decoding that follows the merge.

use serde_json::Value;

/// The list fields merged item by item, with the key that identifies an item.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "volumeMounts"
        | "imagePullSecrets" => Some("name"),
        "ports" => Some("containerPort"),
        _ => None,
    }
}

/// Merges `overlay` into `base`.
pub fn overlay(base: &mut Value, overlay: &Value) {
    merge_value(base, overlay, None);
}

fn merge_value(base: &mut Value, overlay: &Value, field: Option<&str>) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(key);
                } else if let Some(existing) = base.get_mut(key) {
                    merge_value(existing, value, Some(key));
                } else {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        (Value::Array(base), Value::Array(patch)) => match field.and_then(merge_key) {
            Some(key) => merge_list(base, patch, key),
            None => base.clone_from(patch),
        },
        (base, overlay) => *base = overlay.clone(),
    }
}

fn merge_list(base: &mut Vec<Value>, patch: &[Value], key: &str) {
    for item in patch {
        let id = item.get(key);
        let existing = id.and_then(|id| base.iter_mut().find(|b| b.get(key) == Some(id)));
        match existing {
            Some(existing) => merge_value(existing, item, None),
            None => base.push(item.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_and_maps_merge_by_key() {
        let mut base = json!({
            "metadata": {"labels": {"a": "1"}},
            "spec": {"containers": [{"name": "mcp", "image": "x", "env": [{"name": "A", "value": "1"}]}],
                     "tolerations": [{"key": "old"}]}
        });
        overlay(
            &mut base,
            &json!({
                "metadata": {"labels": {"b": "2"}, "annotations": {"c": "3"}},
                "spec": {"containers": [
                            {"name": "mcp", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "9"}]},
                            {"name": "sidecar", "image": "y"}],
                         "tolerations": [{"key": "new"}],
                         "nodeSelector": {"disk": "ssd"}}
            }),
        );
        assert_eq!(
            base,
            json!({
                "metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"c": "3"}},
                "spec": {"containers": [
                            {"name": "mcp", "image": "x", "env": [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]},
                            {"name": "sidecar", "image": "y"}],
                         "tolerations": [{"key": "new"}],
                         "nodeSelector": {"disk": "ssd"}}
            })
        );
    }

    #[test]
    fn null_deletes_a_key() {
        let mut base = json!({"spec": {"a": 1, "b": 2}});
        overlay(&mut base, &json!({"spec": {"a": null}}));
        assert_eq!(base, json!({"spec": {"b": 2}}));
    }
}
