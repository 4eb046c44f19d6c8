//! A server's `MCPServer` manifest (`toolhive.stacklok.dev/v1alpha1`), rendered from its stored
//! spec and metadata through the operator's typed spec and serde_yaml.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::Value;

use apiary_app::model::server_detail::{Manifest, ServerOverview};

use crate::resources::crd::{MCPServerSpec, GROUP, LEGACY_VERSION};
use crate::runtime::spec::{source_of, Source};

use crate::onboarding::manifest::ANNOTATION_PREFIX;

/// An `MCPServer` object as a manifest: `v1alpha1`, the version most ToolHive manifests use
/// (the CRD serves it with the same schema as the storage version).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct McpServerManifest {
    api_version: String,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: MCPServerSpec,
}

/// The manifest of the server described by `overview` with the stored `spec`, or why an
/// `MCPServer` cannot express it (a local command or a remote URL has no container image).
pub fn render_manifest(overview: &ServerOverview, spec: &Value) -> Manifest {
    if let Some(reason) = unavailable_reason(spec) {
        return Manifest::Unavailable(reason);
    }
    let spec: MCPServerSpec = match serde_json::from_value(spec.clone()) {
        Ok(spec) => spec,
        Err(error) => {
            return Manifest::Unavailable(format!(
                "The stored spec does not fit an MCPServer: {error}."
            ))
        }
    };
    let manifest = McpServerManifest {
        api_version: format!("{GROUP}/{LEGACY_VERSION}"),
        kind: "MCPServer",
        metadata: ObjectMeta {
            name: Some(overview.name.clone()),
            namespace: Some(overview.namespace.clone()),
            annotations: Some(annotations(overview)).filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        spec,
    };
    match serde_yaml::to_string(&manifest) {
        Ok(yaml) => Manifest::Yaml(yaml),
        Err(error) => {
            Manifest::Unavailable(format!("The manifest could not be rendered: {error}."))
        }
    }
}

/// Why `spec` has no `MCPServer` form, if it has none.
fn unavailable_reason(spec: &Value) -> Option<String> {
    match source_of(spec) {
        Ok(Source::Command(command)) => Some(format!(
            "This server runs the local command {command}, which has no MCPServer form: an \
             MCPServer needs a container image, or an npx:// or uvx:// package."
        )),
        Ok(Source::Remote(url)) => Some(format!(
            "This is a remote server at {url}; Apiary does not run it, so it has no MCPServer \
             manifest."
        )),
        Err(error) => Some(format!(
            "The stored spec has no MCPServer manifest: {error}."
        )),
        Ok(_) => None,
    }
}

/// Apiary's metadata as annotations; empty values are left out.
fn annotations(overview: &ServerOverview) -> BTreeMap<String, String> {
    [
        ("description", overview.description.clone()),
        ("owner-team", overview.owner_team.clone()),
        ("category", overview.category.clone()),
        ("cost-class", overview.cost_class.clone()),
        ("sensitivity", overview.sensitivity.clone()),
        ("tags", overview.tags.join(",")),
        ("docs-url", overview.docs_url.clone()),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(key, value)| (format!("{ANNOTATION_PREFIX}{key}"), value))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use apiary_app::model::{Health, Lifecycle, Transport};
    use serde_json::json;

    fn overview() -> ServerOverview {
        ServerOverview {
            namespace: "tools".into(),
            name: "osv".into(),
            description: "Looks up vulnerabilities".into(),
            owner_team: "security".into(),
            category: String::new(),
            cost_class: String::new(),
            sensitivity: "public".into(),
            tags: vec!["cve".into(), "oss".into()],
            docs_url: String::new(),
            transport: Transport::StreamableHttp,
            lifecycle: Lifecycle::Active,
            replacement: None,
            lifecycle_message: String::new(),
            published: true,
            health: Health::Unknown,
            health_reason: String::new(),
            startup_ms: None,
            last_fetched: None,
        }
    }

    #[test]
    fn an_image_spec_becomes_a_v1alpha1_mcpserver_with_metadata_annotations() {
        let spec = json!({ "image": "ghcr.io/stackloklabs/osv-mcp/server", "transport": "streamable-http", "targetPort": 8080 });
        let Manifest::Yaml(yaml) = render_manifest(&overview(), &spec) else {
            panic!("expected YAML");
        };
        let parsed: Value = serde_yaml::from_str(&yaml).expect("valid YAML");
        assert_eq!(parsed["apiVersion"], "toolhive.stacklok.dev/v1alpha1");
        assert_eq!(parsed["kind"], "MCPServer");
        assert_eq!(parsed["metadata"]["name"], "osv");
        assert_eq!(parsed["metadata"]["namespace"], "tools");
        assert_eq!(
            parsed["metadata"]["annotations"]["apiary.dev/owner-team"],
            "security"
        );
        assert_eq!(
            parsed["metadata"]["annotations"]["apiary.dev/tags"],
            "cve,oss"
        );
        assert!(parsed["metadata"]["annotations"]
            .get("apiary.dev/category")
            .is_none());
        assert_eq!(
            parsed["spec"]["image"],
            "ghcr.io/stackloklabs/osv-mcp/server"
        );
        assert_eq!(parsed["spec"]["transport"], "streamable-http");
        assert_eq!(parsed["spec"]["targetPort"], 8080);
    }

    #[test]
    fn commands_and_remote_urls_explain_why_there_is_no_manifest() {
        for spec in [
            json!({ "command": "/usr/bin/mcp", "transport": "stdio" }),
            json!({ "url": "https://mcp.example.com/mcp", "transport": "streamable-http" }),
        ] {
            assert!(matches!(
                render_manifest(&overview(), &spec),
                Manifest::Unavailable(reason) if reason.contains("MCPServer")
            ));
        }
    }
}
