//! In Kubernetes mode a server's curation is also an `MCPToolConfig` of the server's name in
//! its namespace, referenced from the `MCPServer` (`spec.toolConfigRef`), so the cluster and
//! ToolHive-compatible tooling see the same published view as the registry and the gateway.

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::resources::crd::{
    MCPServer, MCPToolConfig, MCPToolConfigSpec, ToolAnnotations, ToolOverride,
};

use super::Curation;

/// The field manager of Apiary's curation writes (the `MCPServer` itself belongs to `apiary`,
/// so a curation never takes over or drops the server's other fields).
pub const FIELD_MANAGER: &str = "apiary-curation";

/// The `MCPToolConfig` spec of `curation`: hidden tools become exact deny patterns.
pub fn tool_config_spec(curation: &Curation) -> MCPToolConfigSpec {
    let mut deny = curation.deny.clone();
    deny.extend(curation.hidden.iter().cloned());
    let tools_override: BTreeMap<String, ToolOverride> = curation
        .overrides
        .iter()
        .map(|(tool, change)| {
            let annotations = change.annotations.as_ref().and_then(|a| {
                serde_json::from_value::<ToolAnnotations>(serde_json::Value::Object(a.clone())).ok()
            });
            (
                tool.clone(),
                ToolOverride {
                    name: change.name.clone(),
                    description: change.description.clone(),
                    annotations,
                },
            )
        })
        .collect();
    MCPToolConfigSpec {
        tools_filter: Vec::new(),
        tools_override,
        allow: curation.allow.clone(),
        deny,
    }
}

/// Server-side applies the `MCPToolConfig` of `namespace/name` and, when the `MCPServer`
/// exists, points its `toolConfigRef` at it.
pub async fn apply(
    client: &Client,
    namespace: &str,
    name: &str,
    curation: &Curation,
) -> Result<(), kube::Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let configs: Api<MCPToolConfig> = Api::namespaced(client.clone(), namespace);
    let config = json!({
        "apiVersion": "toolhive.stacklok.dev/v1beta1",
        "kind": "MCPToolConfig",
        "metadata": { "name": name, "namespace": namespace },
        "spec": tool_config_spec(curation),
    });
    configs.patch(name, &params, &Patch::Apply(&config)).await?;
    let servers: Api<MCPServer> = Api::namespaced(client.clone(), namespace);
    if servers.get_opt(name).await?.is_some() {
        let reference = json!({
            "apiVersion": "toolhive.stacklok.dev/v1beta1",
            "kind": "MCPServer",
            "metadata": { "name": name, "namespace": namespace },
            "spec": { "toolConfigRef": { "name": name } },
        });
        servers
            .patch(name, &params, &Patch::Apply(&reference))
            .await?;
    }
    Ok(())
}

/// Deletes the `MCPToolConfig` of `namespace/name` (the server was retired); one that is
/// already gone is fine.
pub async fn remove(client: &Client, namespace: &str, name: &str) -> Result<(), kube::Error> {
    let configs: Api<MCPToolConfig> = Api::namespaced(client.clone(), namespace);
    match configs.delete(name, &Default::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::curation::ToolOverride as Change;

    #[test]
    fn hidden_tools_become_deny_patterns_and_overrides_carry_over() {
        let mut curation = Curation {
            allow: vec!["read_*".into()],
            deny: vec!["*_admin".into()],
            hidden: vec!["read_secret".into()],
            ..Curation::default()
        };
        curation.overrides.insert(
            "read_file".into(),
            Change {
                name: Some("open".into()),
                description: Some("Opens a file".into()),
                annotations: json!({ "readOnlyHint": true }).as_object().cloned(),
            },
        );
        let spec = tool_config_spec(&curation);
        assert_eq!(spec.allow, ["read_*"]);
        assert_eq!(spec.deny, ["*_admin", "read_secret"]);
        let change = &spec.tools_override["read_file"];
        assert_eq!(change.name.as_deref(), Some("open"));
        assert_eq!(
            change.annotations.as_ref().and_then(|a| a.read_only_hint),
            Some(true)
        );
    }
}
