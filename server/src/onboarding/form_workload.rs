//! The propose form's workload fields (ports, permission profile, resources) and the
//! `MCPServer` spec fields they stand for, both ways. The values are only shaped here; the
//! proposal's validation checks them, with the same messages as a pasted manifest gets.

use apiary_app::model::proposals::{FormError, ProposalForm};
use serde_json::{json, Map, Value};

/// Adds the form's workload fields to `spec`; an empty field leaves its spec field unset. A
/// field that cannot be read is left out too, and every such field is reported.
pub fn insert_into(
    spec: &mut Map<String, Value>,
    form: &ProposalForm,
) -> Result<(), Vec<FormError>> {
    let mut errors = Vec::new();
    for (key, read) in [
        ("proxyPort", port(&form.port, "port")),
        ("mcpPort", port(&form.mcp_port, "mcp_port")),
        (
            "permissionProfile",
            permission_profile(&form.permission_profile),
        ),
    ] {
        match read {
            Ok(Some(value)) => {
                spec.insert(key.into(), value);
            }
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
    }
    let list = |cpu: &str, memory: &str| {
        let mut list = Map::new();
        for (key, value) in [("cpu", cpu.trim()), ("memory", memory.trim())] {
            if !value.is_empty() {
                list.insert(key.into(), json!(value));
            }
        }
        (!list.is_empty()).then_some(Value::Object(list))
    };
    let mut resources = Map::new();
    if let Some(requests) = list(&form.cpu_request, &form.memory_request) {
        resources.insert("requests".into(), requests);
    }
    if let Some(limits) = list(&form.cpu_limit, &form.memory_limit) {
        resources.insert("limits".into(), limits);
    }
    if !resources.is_empty() {
        spec.insert("resources".into(), Value::Object(resources));
    }
    errors.is_empty().then_some(()).ok_or(errors)
}

/// Fills the form's workload fields from `spec` (the inverse of [`insert_into`]).
pub fn fill_from(form: &mut ProposalForm, spec: &Value) {
    let text = |pointer: &str| match spec.pointer(pointer) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    };
    form.port = text("/proxyPort");
    form.mcp_port = text("/mcpPort");
    form.permission_profile = match text("/permissionProfile/type").as_str() {
        "configmap" => {
            let key = text("/permissionProfile/key");
            let name = text("/permissionProfile/name");
            if key.is_empty() {
                format!("configmap:{name}")
            } else {
                format!("configmap:{name}/{key}")
            }
        }
        _ => text("/permissionProfile/name"),
    };
    form.cpu_request = text("/resources/requests/cpu");
    form.memory_request = text("/resources/requests/memory");
    form.cpu_limit = text("/resources/limits/cpu");
    form.memory_limit = text("/resources/limits/memory");
}

fn port(text: &str, field: &str) -> Result<Option<Value>, FormError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Some(json!(port))),
        _ => Err(FormError {
            field: field.into(),
            message: format!("{text:?} is not a port number; use a number from 1 to 65535"),
        }),
    }
}

fn permission_profile(text: &str) -> Result<Option<Value>, FormError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Some(reference) = text.strip_prefix("configmap:") {
        let (name, key) = match reference.split_once('/') {
            Some((name, key)) => (name.trim(), Some(key.trim())),
            None => (reference.trim(), None),
        };
        if name.is_empty() || key == Some("") {
            return Err(FormError {
                field: "permission_profile".into(),
                message: format!(
                    "{text:?} names no ConfigMap; write configmap:NAME or configmap:NAME/KEY"
                ),
            });
        }
        let mut profile = json!({ "type": "configmap", "name": name });
        if let Some(key) = key {
            profile["key"] = json!(key);
        }
        return Ok(Some(profile));
    }
    match text {
        "none" | "network" => Ok(Some(json!({ "type": "builtin", "name": text }))),
        other => Err(FormError {
            field: "permission_profile".into(),
            message: format!(
                "{other:?} is not a permission profile; use none, network, or configmap:NAME[/KEY]"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ProposalForm {
        ProposalForm {
            port: "9090".into(),
            mcp_port: " 8000 ".into(),
            permission_profile: "configmap:egress/profile.json".into(),
            cpu_request: "100m".into(),
            memory_limit: "256Mi".into(),
            ..ProposalForm::default()
        }
    }

    #[test]
    fn the_fields_become_the_spec_and_back() {
        let mut spec = Map::new();
        insert_into(&mut spec, &form()).expect("valid");
        let spec = Value::Object(spec);
        assert_eq!(
            spec,
            json!({
                "proxyPort": 9090, "mcpPort": 8000,
                "permissionProfile": { "type": "configmap", "name": "egress", "key": "profile.json" },
                "resources": { "requests": { "cpu": "100m" }, "limits": { "memory": "256Mi" } },
            })
        );
        let mut back = ProposalForm::default();
        fill_from(&mut back, &spec);
        assert_eq!(
            back,
            ProposalForm {
                mcp_port: "8000".into(),
                ..form()
            }
        );
    }

    #[test]
    fn empty_fields_leave_the_spec_alone() {
        let mut spec = Map::new();
        insert_into(&mut spec, &ProposalForm::default()).expect("valid");
        assert!(spec.is_empty());
    }

    #[test]
    fn builtin_profiles_by_name() {
        let mut spec = Map::new();
        let form = ProposalForm {
            permission_profile: "network".into(),
            ..ProposalForm::default()
        };
        insert_into(&mut spec, &form).expect("valid");
        assert_eq!(
            spec["permissionProfile"],
            json!({ "type": "builtin", "name": "network" })
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        for (port, mcp_port, permission_profile, field) in [
            ("eighty", "", "", "port"),
            ("", "70000", "", "mcp_port"),
            ("", "", "everything", "permission_profile"),
            ("", "", "configmap:", "permission_profile"),
        ] {
            let form = ProposalForm {
                port: port.into(),
                mcp_port: mcp_port.into(),
                permission_profile: permission_profile.into(),
                ..ProposalForm::default()
            };
            let errors = insert_into(&mut Map::new(), &form).expect_err("refused");
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, field, "{errors:?}");
        }
    }

    #[test]
    fn every_bad_field_is_reported() {
        let form = ProposalForm {
            port: "eighty".into(),
            mcp_port: "0".into(),
            permission_profile: "everything".into(),
            cpu_request: "100m".into(),
            ..ProposalForm::default()
        };
        let mut spec = Map::new();
        let errors = insert_into(&mut spec, &form).expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["port", "mcp_port", "permission_profile"]);
        assert_eq!(
            Value::Object(spec),
            json!({ "resources": { "requests": { "cpu": "100m" } } }),
            "the readable fields are kept"
        );
    }
}
