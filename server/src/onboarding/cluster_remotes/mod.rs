//! Remote MCP servers declared in the cluster: ToolHive's `MCPRemoteProxy` and
//! `MCPServerEntry`. Apiary runs no proxy pod for them: each object registers its remote server
//! in the registry (the same validation as any registration, audited as the object) and the
//! gateway serves it, with curation, drift and health like any other server. Its status says
//! what was done: `Ready` once the remote answered the registry's fetch, `Failed` with the
//! fields named when a field is refused or the server withheld ([`declaration`]).
//!
//! The server follows its object: a change re-registers it and fetches its tools; deleting the
//! object unpublishes it (also when it happened while Apiary was down: the first full list
//! sweeps). Apiary's API does not change such a server (409), and an object cannot take the
//! name of a server registered through Apiary. The objects are checked again every
//! [`RESYNC`](super::cluster_follow::RESYNC), so a failed write is retried and the status
//! follows the registry's newest fetch.

mod address;
pub mod declaration;
pub mod status;
mod store;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder};
use kube::{Client, ResourceExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::gateway::inbound::Inbound;
use crate::gateway::Gateway;
use crate::registry::refresh::Refresher;
use crate::registry::server_json::gateway_url;
use crate::resources::remote_crd::{MCPRemoteProxy, MCPServerEntry, RemoteServerStatus};
use crate::servers::RegisterError;

use super::cluster_follow::{follow, write_status, Followed, Follower};
use declaration::declaration;
use status::{refused_message, Outcome, ACCEPTED, UNSUPPORTED_FIELDS};
use store::Synced;

/// The Events' reporting controller.
const REPORTER: &str = "apiary-remote-servers";

/// A kind that declares a remote server.
pub trait RemoteObject: Followed {
    /// The spec as JSON.
    fn spec_json(&self) -> Value;
    /// The status Apiary wrote last.
    fn remote_status(&self) -> Option<&RemoteServerStatus>;
}

impl RemoteObject for MCPRemoteProxy {
    fn spec_json(&self) -> Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }
    fn remote_status(&self) -> Option<&RemoteServerStatus> {
        self.status.as_ref()
    }
}

impl RemoteObject for MCPServerEntry {
    fn spec_json(&self) -> Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }
    fn remote_status(&self) -> Option<&RemoteServerStatus> {
        self.status.as_ref()
    }
}

/// What the followers of remote and virtual server objects need.
#[derive(Clone)]
pub struct Context {
    /// The registry's database.
    pub db: Db,
    /// Fetches a server's tools after it changes.
    pub refresher: Refresher,
    /// Forgets a changed server's loaded state.
    pub gateway: Gateway,
    /// Apiary's public URL, for the gateway endpoint in the status.
    pub public_url: String,
    /// The cluster.
    pub client: Client,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Follows `MCPRemoteProxy` and `MCPServerEntry` objects (in `namespace`, or everywhere)
/// until `shutdown`.
pub async fn run(context: Context, namespace: Option<String>, shutdown: CancellationToken) {
    let recorder = Recorder::new(context.client.clone(), REPORTER.into());
    let remotes = Remotes { context, recorder };
    let (client, namespace) = (&remotes.context.client, namespace.as_deref());
    tokio::join!(
        follow::<MCPRemoteProxy>(client, namespace, &remotes, shutdown.clone()),
        follow::<MCPServerEntry>(client, namespace, &remotes, shutdown),
    );
}

/// The follower of both remote kinds.
struct Remotes {
    context: Context,
    recorder: Recorder,
}

#[async_trait::async_trait]
impl<K: RemoteObject> Follower<K> for Remotes {
    async fn apply(&self, object: &K) {
        handle(&self.context, &self.recorder, object).await;
    }

    /// Its server is unpublished.
    async fn gone(&self, namespace: &str, name: &str) {
        let kind = K::kind(&());
        match store::withdraw(&self.context.db, &kind, namespace, name).await {
            Ok(true) => {
                self.context.gateway.forget(namespace, name);
                tracing::info!(server = %format!("{namespace}/{name}"),
                    "its {kind} no longer exists in the cluster; unpublished");
            }
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "cannot unpublish a remote server"),
        }
    }

    async fn declared(&self) -> Option<Vec<(String, String)>> {
        store::registered(&self.context.db, &K::kind(&()))
            .await
            .inspect_err(|error| tracing::warn!(%error, "cannot list remote servers"))
            .ok()
    }
}

/// Registers what `object` declares and writes its status.
async fn handle<K: RemoteObject>(context: &Context, recorder: &Recorder, object: &K) {
    let kind = K::kind(&());
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let annotations: BTreeMap<String, String> = object.annotations().clone();
    let declared = declaration(&object.spec_json(), &annotations);
    let outcome = match &declared.registration {
        None => Outcome::NotRegistered {
            reason: "FieldsRefused",
            message: refused_message(&declared.refused),
        },
        Some(registration) => {
            match store::sync(&context.db, &kind, (&namespace, &name), registration).await {
                Ok(synced) => {
                    if synced == Synced::Written {
                        context.gateway.forget(&namespace, &name);
                        if let Err(error) = context.refresher.refresh(&namespace, &name).await {
                            tracing::warn!(%error, server = %format!("{namespace}/{name}"),
                                "cannot fetch the tools of a remote server");
                        }
                    }
                    let fetch = match store::last_fetch(&context.db, &namespace, &name).await {
                        Ok(fetch) => fetch,
                        Err(error) => {
                            tracing::warn!(%error, "cannot read a remote server's health");
                            return;
                        }
                    };
                    let withheld =
                        Inbound::withheld(&registration.spec, &namespace, Some(&context.client))
                            .await;
                    Outcome::Registered { withheld, fetch }
                }
                Err(RegisterError::Invalid(errors)) => Outcome::NotRegistered {
                    reason: "Invalid",
                    message: errors
                        .all()
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                },
                Err(managed @ RegisterError::Managed { .. }) => Outcome::NotRegistered {
                    reason: "NameTaken",
                    message: managed.to_string(),
                },
                Err(RegisterError::Db(error)) => {
                    tracing::warn!(%error, "cannot register a remote server; retrying");
                    return;
                }
            }
        }
    };
    if matches!(&outcome, Outcome::NotRegistered { reason, .. } if *reason != "NameTaken") {
        // A server this object registered before it was changed is not served any more.
        match store::withdraw(&context.db, &kind, &namespace, &name).await {
            Ok(true) => context.gateway.forget(&namespace, &name),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "cannot unpublish a refused remote server"),
        }
    }
    let previous = object
        .remote_status()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let next = status::status(
        &outcome,
        &declared.flagged,
        &gateway_url(&context.public_url, &namespace, &name),
        (object.meta().generation, &previous),
        &Time(k8s_openapi::jiff::Timestamp::now()),
    );
    if object.remote_status() == Some(&next) {
        return;
    }
    warn_on_change(
        recorder,
        &object.object_ref(&()),
        &previous,
        &next.conditions,
        "Register",
    )
    .await;
    write_status::<K>(&context.client, (&namespace, &name), &next).await;
}

/// A Warning Event on the object `reference` when its `Accepted` condition turns `False`, or
/// its `UnsupportedFields` turns `True` (or changes its message) between `previous` and `next`.
pub(crate) async fn warn_on_change(
    recorder: &Recorder,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    previous: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    next: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    action: &str,
) {
    for (type_, bad) in [(ACCEPTED, "False"), (UNSUPPORTED_FIELDS, "True")] {
        let Some(now) = next.iter().find(|c| c.type_ == type_) else {
            continue;
        };
        let was_bad = previous
            .iter()
            .any(|c| c.type_ == type_ && c.status == bad && c.message == now.message);
        if now.status != bad || was_bad {
            continue;
        }
        let event = KubeEvent {
            type_: EventType::Warning,
            reason: if type_ == ACCEPTED {
                now.reason.clone()
            } else {
                UNSUPPORTED_FIELDS.into()
            },
            note: Some(now.message.chars().take(1000).collect()),
            action: action.into(),
            secondary: None,
        };
        if let Err(error) = recorder.publish(&event, reference).await {
            tracing::warn!(%error, "cannot publish an event");
        }
    }
}
