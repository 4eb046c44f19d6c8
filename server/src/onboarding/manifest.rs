//! `MCPServer` manifests for onboarding: a pasted manifest becomes a [`ProposalInput`] (parsed
//! with the operator's typed resource, Apiary's metadata read from `apiary.dev/` annotations),
//! and every applied revision is kept as the manifest YAML that was applied.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::console::manifest::ANNOTATION_PREFIX;
use crate::operator::crd::{MCPServer, GROUP, LEGACY_VERSION, STORAGE_VERSION};
use crate::validation::FieldError;

use super::validate::ProposalInput;

/// Parses a pasted `MCPServer` manifest (`toolhive.stacklok.dev/v1alpha1` or `v1beta1`) into
/// a proposal input without a kind (the caller decides create or update). Errors name the
/// manifest field.
pub fn parse_manifest(yaml: &str) -> Result<ProposalInput, FieldError> {
    let value: Value = serde_yaml::from_str(yaml).map_err(|error| {
        FieldError::new(
            "manifest",
            format!("is not valid YAML ({error}); paste one MCPServer document"),
        )
    })?;
    if !value.is_object() {
        return Err(FieldError::new(
            "manifest",
            "must be one MCPServer object with apiVersion, kind, metadata and spec",
        ));
    }
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let accepted = [
        format!("{GROUP}/{LEGACY_VERSION}"),
        format!("{GROUP}/{STORAGE_VERSION}"),
    ];
    if !accepted.iter().any(|a| a == api_version) {
        return Err(FieldError::new(
            "apiVersion",
            format!(
                "{api_version:?} is not served; use {}",
                accepted.join(" or ")
            ),
        ));
    }
    if value["kind"].as_str() != Some("MCPServer") {
        return Err(FieldError::new(
            "kind",
            format!(
                "{} is not MCPServer; paste an MCPServer manifest",
                value["kind"]
            ),
        ));
    }
    let server: MCPServer = serde_path_to_error::deserialize(value.clone()).map_err(|error| {
        FieldError::new(
            error.path().to_string(),
            format!("{}; fix it to match the MCPServer schema", error.inner()),
        )
    })?;
    let namespace = server.metadata.namespace.clone().ok_or_else(|| {
        FieldError::new(
            "metadata.namespace",
            "is missing; set the namespace the server belongs to",
        )
    })?;
    let name = server.metadata.name.clone().unwrap_or_default();
    let annotations = server.metadata.annotations.clone().unwrap_or_default();
    let annotation = |key: &str| {
        annotations
            .get(&format!("{ANNOTATION_PREFIX}{key}"))
            .cloned()
            .unwrap_or_default()
    };
    for key in annotations.keys() {
        if let Some(short) = key.strip_prefix(ANNOTATION_PREFIX) {
            const KNOWN: [&str; 7] = [
                "description",
                "owner-team",
                "category",
                "cost-class",
                "sensitivity",
                "tags",
                "docs-url",
            ];
            if !KNOWN.contains(&short) {
                return Err(FieldError::new(
                    format!("metadata.annotations[{key}]"),
                    format!(
                        "is not an Apiary annotation; use {ANNOTATION_PREFIX} with one of {}",
                        KNOWN.join(", ")
                    ),
                ));
            }
        }
    }
    let tags = annotation("tags");
    // The spec as written, not as re-serialized: a field the typed resource ignores still
    // reaches validation, which refuses it by name.
    let spec = value.get("spec").cloned().unwrap_or_else(|| json!({}));
    Ok(ProposalInput {
        kind: None,
        namespace,
        name,
        description: annotation("description"),
        owner_team: annotation("owner-team"),
        category: annotation("category"),
        cost_class: annotation("cost-class"),
        sensitivity: annotation("sensitivity"),
        tags: tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        docs_url: annotation("docs-url"),
        spec: Some(spec),
        published: None,
        replacement: None,
        message: None,
    })
}

/// Where a field of a proposal lives in a pasted manifest, so an error about a manifest's
/// proposal names what its author wrote: `ownerTeam` is the `apiary.dev/owner-team` annotation,
/// `name` is `metadata.name`; spec fields keep their path.
pub fn manifest_field(field: &str) -> String {
    let annotation = |key: &str| format!("metadata.annotations[{ANNOTATION_PREFIX}{key}]");
    match field {
        "name" | "namespace" => format!("metadata.{field}"),
        "description" => annotation("description"),
        "ownerTeam" => annotation("owner-team"),
        "category" => annotation("category"),
        "costClass" => annotation("cost-class"),
        "sensitivity" => annotation("sensitivity"),
        "docsUrl" => annotation("docs-url"),
        tags if tags.starts_with("tags") => annotation("tags"),
        other => other.to_owned(),
    }
}

/// The manifest YAML of a revision: an `MCPServer` (`v1alpha1`) with the applied spec exactly
/// as stored and the metadata as `apiary.dev/` annotations. A local command or remote URL spec
/// keeps its `command` or `url`, which only Apiary's local runtime reads.
pub fn revision_manifest(namespace: &str, name: &str, spec: &Value, metadata: &Value) -> String {
    // Plain JSON values always serialize.
    serde_yaml::to_string(&manifest_object(namespace, name, spec, metadata)).unwrap_or_default()
}

/// The `MCPServer` object (`v1alpha1`) for `spec` and `metadata`, as JSON: what the Kubernetes
/// apply sends, and what [`revision_manifest`] writes as YAML.
pub fn manifest_object(namespace: &str, name: &str, spec: &Value, metadata: &Value) -> Value {
    let text = |key: &str| metadata[key].as_str().unwrap_or_default().to_owned();
    let tags = metadata["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let annotations: BTreeMap<String, String> = [
        ("description", text("description")),
        ("owner-team", text("ownerTeam")),
        ("category", text("category")),
        ("cost-class", text("costClass")),
        ("sensitivity", text("sensitivity")),
        ("tags", tags),
        ("docs-url", text("docsUrl")),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(key, value)| (format!("{ANNOTATION_PREFIX}{key}"), value))
    .collect();
    let mut object = json!({
        "apiVersion": format!("{GROUP}/{LEGACY_VERSION}"),
        "kind": "MCPServer",
        "metadata": { "name": name, "namespace": namespace },
        "spec": spec,
    });
    if !annotations.is_empty() {
        object["metadata"]["annotations"] = json!(annotations);
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_with_annotations_becomes_an_input_and_round_trips() {
        let yaml = "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\n\
                    metadata:\n  name: osv\n  namespace: tools\n  annotations:\n    \
                    apiary.dev/owner-team: search\n    apiary.dev/tags: cve, oss\n\
                    spec:\n  image: ghcr.io/stackloklabs/osv-mcp/server\n  transport: streamable-http\n";
        let input = parse_manifest(yaml).expect("parses");
        assert_eq!(input.name, "osv");
        assert_eq!(input.owner_team, "search");
        assert_eq!(input.tags, ["cve", "oss"]);
        let metadata = json!({ "ownerTeam": "search", "tags": ["cve", "oss"] });
        let rendered = revision_manifest(
            "tools",
            "osv",
            input.spec.as_ref().expect("spec"),
            &metadata,
        );
        let again = parse_manifest(&rendered).expect("the rendered manifest parses");
        assert_eq!(again.spec, input.spec);
        assert_eq!(again.tags, input.tags);
    }

    #[test]
    fn manifest_errors_name_the_field() {
        for (yaml, field) in [
            ("a: [", "manifest"),
            ("apiVersion: v1\nkind: MCPServer\nspec: {}", "apiVersion"),
            (
                "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: Pod\nspec: {}",
                "kind",
            ),
            (
                "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: a}\nspec: {image: x}",
                "metadata.namespace",
            ),
            (
                "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: a, namespace: b}\nspec: {image: x, port: high}",
                "spec.port",
            ),
        ] {
            assert_eq!(parse_manifest(yaml).expect_err(yaml).field, field, "{yaml}");
        }
    }
}
