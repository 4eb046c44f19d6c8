//! `spec.resourceOverrides`: ToolHive's extra labels and annotations for the proxy Deployment,
//! its pod template and the proxy Service. Apiary has no proxy, so they go on the server's own
//! Deployment, pod template and Service. Pure: checks the free-form value and returns the maps.
//!
//! Apiary's own labels (which select the pods and the children) cannot be overridden, and the
//! pod annotation that rolls the pods comes only from the MCPServer's `restarted-at`
//! annotation: a key that would replace either is refused, naming it. The other sub-fields
//! (`env`, `imagePullSecrets`) are not applied; [`crate::resources::unsupported`] flags them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::InvalidSpec;

/// The MCPServer annotation that rolls the pods when its value changes (ToolHive's), copied
/// into the pod template under the same key.
pub const RESTARTED_AT: &str = "mcpserver.toolhive.stacklok.dev/restarted-at";

/// The objects of `resourceOverrides` whose `annotations` and `labels` Apiary applies, with
/// what they land on.
pub const PLACES: [(&str, Target); 3] = [
    ("proxyDeployment", Target::Deployment),
    ("proxyDeployment.podTemplateMetadataOverrides", Target::Pod),
    ("proxyService", Target::Service),
];

/// Where a metadata override is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The Deployment's metadata.
    Deployment,
    /// The pod template's metadata.
    Pod,
    /// The Service's metadata.
    Service,
}

/// Extra labels and annotations for one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Added to Apiary's labels.
    pub labels: BTreeMap<String, String>,
    /// The object's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The metadata overrides of one server, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// For the Deployment.
    pub deployment: Metadata,
    /// For the pod template.
    pub pod: Metadata,
    /// For the Service.
    pub service: Metadata,
}

impl Overrides {
    /// The overrides for `target`.
    pub fn get(&self, target: Target) -> &Metadata {
        match target {
            Target::Deployment => &self.deployment,
            Target::Pod => &self.pod,
            Target::Service => &self.service,
        }
    }

    fn get_mut(&mut self, target: Target) -> &mut Metadata {
        match target {
            Target::Deployment => &mut self.deployment,
            Target::Pod => &mut self.pod,
            Target::Service => &mut self.service,
        }
    }
}

/// Reads `spec.resourceOverrides`. `own_labels` are Apiary's labels, which no key may replace.
pub fn parse(
    value: Option<&Value>,
    own_labels: &BTreeMap<String, String>,
) -> Result<Overrides, InvalidSpec> {
    let mut overrides = Overrides::default();
    let Some(root) = value else {
        return Ok(overrides);
    };
    for (path, target) in PLACES {
        let mut object = Some(root);
        let mut field = "spec.resourceOverrides".to_owned();
        for key in path.split('.') {
            object = object.and_then(|o| o.get(key)).filter(|v| !v.is_null());
            field = format!("{field}.{key}");
            if object.is_some_and(|o| !o.is_object()) {
                return Err(InvalidSpec::new(field, "must be an object"));
            }
        }
        let Some(object) = object else { continue };
        let metadata = overrides.get_mut(target);
        metadata.labels = string_map(object.get("labels"), &format!("{field}.labels"))?;
        metadata.annotations =
            string_map(object.get("annotations"), &format!("{field}.annotations"))?;
        for (key, value) in &metadata.labels {
            let field = format!("{field}.labels[{key}]");
            check_key(key).map_err(|r| InvalidSpec::new(&field, r))?;
            check_label_value(value).map_err(|r| InvalidSpec::new(&field, r))?;
            if own_labels.contains_key(key) {
                return Err(InvalidSpec::new(
                    field,
                    "is one of Apiary's own labels (they select the server's pods and children) \
                     and cannot be overridden",
                ));
            }
        }
        for key in metadata.annotations.keys() {
            let field = format!("{field}.annotations[{key}]");
            check_key(key).map_err(|r| InvalidSpec::new(&field, r))?;
            if target == Target::Pod && key == RESTARTED_AT {
                return Err(InvalidSpec::new(
                    field,
                    "is set from the MCPServer's own annotation of that name; annotate the \
                     MCPServer to roll the pods",
                ));
            }
        }
    }
    Ok(overrides)
}

/// A map of strings (absent or `null` is empty).
fn string_map(value: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, InvalidSpec> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key.clone(), text.clone())),
                _ => Err(InvalidSpec::new(
                    format!("{field}[{key}]"),
                    "must be a string",
                )),
            })
            .collect(),
        Some(_) => Err(InvalidSpec::new(field, "must be a map of strings")),
    }
}

/// A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain, the name at most 63
/// letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit.
fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if !crate::validation::is_dns_subdomain(prefix) {
            return Err(format!("{key:?}: the prefix must be a DNS subdomain"));
        }
    }
    if name.is_empty() || !is_name(name) {
        return Err(format!(
            "{key:?} is not a valid key: at most 63 letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit, after an optional DNS prefix and '/'"
        ));
    }
    Ok(())
}

/// A label value: empty, or a name as in [`check_key`].
fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_name(value) {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not a label value: at most 63 letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit"
        ))
    }
}

fn is_name(text: &str) -> bool {
    text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn own() -> BTreeMap<String, String> {
        BTreeMap::from([("app.kubernetes.io/instance".to_owned(), "x".to_owned())])
    }

    #[test]
    fn toolhive_metadata_lands_on_the_three_objects() {
        let value = json!({
            "proxyDeployment": {
                "labels": {"team": "platform"},
                "annotations": {"example.com/a": "1"},
                "podTemplateMetadataOverrides": {"labels": {"tier": "mcp"}, "annotations": {"p": "2"}},
                "env": [{"name": "X", "value": "y"}],
            },
            "proxyService": {"annotations": {"external-dns.alpha.kubernetes.io/hostname": "h.example.com"}},
        });
        let overrides = parse(Some(&value), &own()).expect("valid");
        assert_eq!(overrides.deployment.labels["team"], "platform");
        assert_eq!(overrides.deployment.annotations["example.com/a"], "1");
        assert_eq!(overrides.pod.labels["tier"], "mcp");
        assert_eq!(overrides.pod.annotations["p"], "2");
        assert!(overrides.service.labels.is_empty());
        assert_eq!(
            overrides.service.annotations["external-dns.alpha.kubernetes.io/hostname"],
            "h.example.com"
        );
        assert_eq!(parse(None, &own()), Ok(Overrides::default()));
    }

    #[test]
    fn bad_values_and_apiarys_own_keys_are_refused_by_field() {
        let cases = [
            (
                json!({"proxyDeployment": {"labels": {"app.kubernetes.io/instance": "other"}}}),
                "spec.resourceOverrides.proxyDeployment.labels[app.kubernetes.io/instance]",
            ),
            (
                json!({"proxyService": {"labels": {"app.kubernetes.io/instance": "other"}}}),
                "spec.resourceOverrides.proxyService.labels[app.kubernetes.io/instance]",
            ),
            (
                json!({"proxyDeployment": {"podTemplateMetadataOverrides": {"annotations": {RESTARTED_AT: "x"}}}}),
                "spec.resourceOverrides.proxyDeployment.podTemplateMetadataOverrides.annotations[mcpserver.toolhive.stacklok.dev/restarted-at]",
            ),
            (
                json!({"proxyDeployment": {"labels": {"team": 3}}}),
                "spec.resourceOverrides.proxyDeployment.labels[team]",
            ),
            (
                json!({"proxyDeployment": {"labels": {"team": "has space"}}}),
                "spec.resourceOverrides.proxyDeployment.labels[team]",
            ),
            (
                json!({"proxyService": {"annotations": {"Bad_Prefix/x": "1"}}}),
                "spec.resourceOverrides.proxyService.annotations[Bad_Prefix/x]",
            ),
            (
                json!({"proxyService": {"annotations": ["x"]}}),
                "spec.resourceOverrides.proxyService.annotations",
            ),
            (
                json!({"proxyDeployment": "x"}),
                "spec.resourceOverrides.proxyDeployment",
            ),
        ];
        for (value, field) in cases {
            let error = parse(Some(&value), &own()).expect_err(&value.to_string());
            assert_eq!(error.field, field, "{error}");
        }
    }
}
