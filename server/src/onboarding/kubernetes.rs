//! The cluster side of applying a proposal in Kubernetes mode: server-side apply of the
//! `MCPServer` manifest (field manager `apiary`, `v1alpha1` as in the revision manifest), its
//! deletion on retirement, and putting the cluster back as the database says when the
//! database side of an apply fails.

use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;

use crate::db::{Db, DbError};
use crate::operator::render::FIELD_MANAGER;
use crate::resources::crd::{GROUP, LEGACY_VERSION};

use super::manifest::manifest_object;
use super::validate::metadata_json;

/// The untyped API of Apiary's `kind` (plural `plural`) at `version` in `namespace`: objects
/// exactly as the apiserver serves them.
pub fn resources(
    client: &Client,
    namespace: &str,
    version: &str,
    (kind, plural): (&str, &str),
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(GROUP, version, kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// `MCPServer`s at `v1alpha1`, the version of the revision manifests.
pub fn mcpservers(client: &Client, namespace: &str) -> Api<DynamicObject> {
    resources(
        client,
        namespace,
        LEGACY_VERSION,
        ("MCPServer", "mcpservers"),
    )
}

/// True for a spec the cluster has no workload for: a remote `url` server, which only the
/// registry records.
pub fn is_remote(spec: &Value) -> bool {
    spec.get("url")
        .and_then(Value::as_str)
        .is_some_and(|u| !u.is_empty())
}

/// Server-side applies `object` (an `MCPServer` manifest as JSON).
pub async fn apply(client: &Client, object: &Value) -> Result<(), kube::Error> {
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    mcpservers(client, namespace)
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(object),
        )
        .await?;
    Ok(())
}

/// Deletes the `MCPServer`; one that is already gone is fine.
pub async fn remove(client: &Client, namespace: &str, name: &str) -> Result<(), kube::Error> {
    match mcpservers(client, namespace)
        .delete(name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

/// Puts the cluster back as the database says after a failed apply: the stored server's
/// manifest, or no `MCPServer` when the server is not stored, retired or remote. Failures are
/// logged: the operator and the next change will see them.
pub async fn restore(db: &Db, client: &Client, namespace: &str, name: &str) {
    let outcome = match stored_manifest(db, namespace, name).await {
        Ok(Some(object)) => apply(client, &object).await,
        Ok(None) => remove(client, namespace, name).await,
        Err(error) => {
            tracing::error!(server = %format!("{namespace}/{name}"), %error, "cannot read the server to restore the cluster");
            return;
        }
    };
    if let Err(error) = outcome {
        tracing::error!(server = %format!("{namespace}/{name}"), %error, "cannot restore the cluster after a failed apply");
    }
}

/// The manifest of the stored server, if it should have an `MCPServer`.
async fn stored_manifest(db: &Db, namespace: &str, name: &str) -> Result<Option<Value>, DbError> {
    let stored = crate::servers::stored(db.pool(), namespace, name).await?;
    Ok(stored
        .filter(|(server, lifecycle, _)| lifecycle != "retired" && !is_remote(&server.spec))
        .map(|(server, ..)| {
            manifest_object(namespace, name, &server.spec, &metadata_json(&server))
        }))
}
