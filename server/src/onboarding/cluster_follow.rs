//! Following one kind of cluster object that declares something in Apiary (a remote server, a
//! virtual server, a group's members): each object applied is handled, a deleted one is gone,
//! and once the first full list is in, what Apiary holds for objects that no longer exist
//! (deleted while Apiary was down) is removed. Every [`RESYNC`] each object is handled again
//! and the sweep repeats, so a failed write is retried and a status follows what changed
//! elsewhere.

use std::collections::HashSet;
use std::fmt::Debug;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::operator::reconcile::WatchBackoff;
use crate::operator::render::FIELD_MANAGER;

/// How often every object is handled again.
pub const RESYNC: Duration = Duration::from_secs(15);

/// What Apiary does with the objects of one kind.
#[async_trait::async_trait]
pub trait Follower<K>: Send + Sync {
    /// Brings Apiary, and the object's status, in line with `object`.
    async fn apply(&self, object: &K);

    /// The object `namespace/name` no longer exists: remove what it declared.
    async fn gone(&self, namespace: &str, name: &str);

    /// The `(namespace, name)` of every object Apiary holds a declaration of; `None` when
    /// nothing is held (nothing to sweep) or it cannot be read now.
    async fn declared(&self) -> Option<Vec<(String, String)>>;
}

/// The kinds followed: namespaced objects with a typed API.
pub trait Followed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Followed for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static
{
}

/// The API of `K` in `namespace`, or in every namespace.
fn api<K: Followed>(client: &Client, namespace: Option<&str>) -> Api<K> {
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Follows the `K` objects (in `namespace`, or everywhere) with `follower` until `shutdown`.
pub async fn follow<K: Followed>(
    client: &Client,
    namespace: Option<&str>,
    follower: &impl Follower<K>,
    shutdown: CancellationToken,
) {
    let (reader, writer) = reflector::store();
    let mut events = watcher(api::<K>(client, namespace), watcher::Config::default())
        .backoff(WatchBackoff::default())
        .reflect(writer)
        .boxed();
    let mut resync = tokio::time::interval(RESYNC);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The store holds every object only after the first full list.
    let mut listed = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            event = events.next() => match event {
                Some(Ok(Event::Apply(object) | Event::InitApply(object))) => {
                    follower.apply(&object).await;
                }
                Some(Ok(Event::Delete(object))) => {
                    follower.gone(&object.namespace().unwrap_or_default(), &object.name_any()).await;
                }
                Some(Ok(Event::InitDone)) => {
                    listed = true;
                    sweep(follower, namespace, &reader).await;
                }
                Some(Ok(Event::Init)) => {}
                Some(Err(error)) => {
                    tracing::warn!(%error, kind = %K::kind(&()), "the watch failed; retrying");
                }
                None => break,
            },
            _ = resync.tick(), if listed => {
                for object in reader.state() {
                    follower.apply(object.as_ref()).await;
                }
                sweep(follower, namespace, &reader).await;
            }
        }
    }
}

/// Removes the declarations of objects that no longer exist, in the watched `namespace` only.
async fn sweep<K: Followed>(
    follower: &impl Follower<K>,
    namespace: Option<&str>,
    reader: &Store<K>,
) {
    let Some(declared) = follower.declared().await else {
        return;
    };
    let present: HashSet<(String, String)> = reader
        .state()
        .iter()
        .map(|o| (o.namespace().unwrap_or_default(), o.name_any()))
        .collect();
    for (ns, name) in declared {
        if namespace.is_some_and(|watched| watched != ns)
            || present.contains(&(ns.clone(), name.clone()))
        {
            continue;
        }
        follower.gone(&ns, &name).await;
    }
}

/// Writes `status` on the `K` object `namespace/name` (server-side apply, as Apiary's field
/// manager); a refusal is logged and the next resync writes it again.
pub async fn write_status<K: Followed>(
    client: &Client,
    (namespace, name): (&str, &str),
    status: &impl Serialize,
) {
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    if let Err(error) = api.patch_status(name, &params, &Patch::Apply(&patch)).await {
        tracing::warn!(%error, object = %format!("{} {namespace}/{name}", K::kind(&())),
            "cannot write the status; retrying");
    }
}
