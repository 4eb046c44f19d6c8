//! What the operator remembers of the cluster between reconciles: caches of the servers'
//! children, trimmed to what it reads and kept compact, and which child versions it has
//! verified. A child whose rendered form and live version are both unchanged since it was last
//! applied is not applied again ([`Caches::unchanged`]).
//!
//! Every cached object loses its `managedFields` and kubectl's last-applied annotation (the
//! bulk of a small object); a cached Deployment also loses the parts of its pod template that
//! neither [`super::drift`] nor [`super::status`] read. Repairs that need the field managers
//! read the live object first. A [`ChildCache`] keeps each child as its JSON, about a fifth of
//! the decoded object's heap, and decodes it when a reconcile asks for it.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, RwLock};

use futures::{Stream, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service, ServiceAccount, Volume};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::locks::{lock, read, write};

/// The annotation on each child with the hash of its rendered form, as last applied.
pub const RENDERED_HASH: &str = "apiary.dev/rendered-hash";
/// The annotation `kubectl apply` (client-side) leaves: a copy of the whole object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what no reconcile reads from a cached object: `managedFields` and kubectl's copy.
pub fn trim<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove(LAST_APPLIED);
    }
}

/// [`trim`], and the parts of the pod template that drift and status do not read: container
/// commands, environment, ports, probes, resources and mounts, volume sources (drift compares
/// volumes by name), the template's metadata and the status conditions.
pub fn trim_deployment(deployment: &mut Deployment) {
    trim(deployment);
    if let Some(status) = &mut deployment.status {
        status.conditions = None;
    }
    let Some(template) = deployment.spec.as_mut().map(|spec| &mut spec.template) else {
        return;
    };
    template.metadata = None;
    let Some(pod) = &mut template.spec else {
        return;
    };
    let slim = |container: &mut Container| {
        *container = Container {
            name: std::mem::take(&mut container.name),
            image: container.image.take(),
            security_context: container.security_context.take(),
            ..Container::default()
        };
    };
    pod.containers.iter_mut().for_each(slim);
    pod.init_containers.iter_mut().flatten().for_each(slim);
    for volume in pod.volumes.iter_mut().flatten() {
        *volume = Volume {
            name: std::mem::take(&mut volume.name),
            ..Volume::default()
        };
    }
}

/// The hash of `object`'s rendered form (before [`stamp`]).
fn rendered_hash(object: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(object).unwrap_or_default();
    hex::encode(&Sha256::digest(bytes)[..16])
}

/// Writes the hash of `object` as rendered into its [`RENDERED_HASH`] annotation.
pub fn stamp<K: Resource + Serialize>(object: &mut K) {
    let hash = rendered_hash(object);
    object
        .annotations_mut()
        .insert(RENDERED_HASH.to_owned(), hash);
}

/// One cached child: what [`Caches::unchanged`] compares, and the trimmed object as JSON.
struct Entry {
    uid: Option<String>,
    version: Option<String>,
    rendered_hash: Option<String>,
    json: Box<[u8]>,
}

impl Entry {
    fn of<K: Resource + Serialize>(object: &K) -> Option<Self> {
        let json = serde_json::to_vec(object)
            .inspect_err(|error| tracing::warn!(%error, "cannot cache a child"))
            .ok()?;
        Some(Self {
            uid: object.uid(),
            version: object.resource_version(),
            rendered_hash: object.annotations().get(RENDERED_HASH).cloned(),
            json: json.into_boxed_slice(),
        })
    }
}

/// `namespace/name`: children are found by the name their server renders.
fn key<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.meta().namespace.as_deref().unwrap_or_default(),
        object.meta().name.as_deref().unwrap_or_default()
    )
}

/// The children of one kind, fed by a watch, each kept trimmed and as JSON. Clones share it.
pub struct ChildCache<K> {
    entries: Arc<RwLock<HashMap<String, Entry>>>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for ChildCache<K> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> Default for ChildCache<K> {
    fn default() -> Self {
        Self {
            entries: Arc::default(),
            kind: PhantomData,
        }
    }
}

impl<K: Resource + Serialize + DeserializeOwned> ChildCache<K> {
    /// The cached child of the same namespace and name as `desired`, if any.
    pub fn get(&self, desired: &K) -> Option<Arc<K>> {
        read(&self.entries)
            .get(&key(desired))
            .and_then(Self::decode)
    }

    fn decode(entry: &Entry) -> Option<Arc<K>> {
        serde_json::from_slice(&entry.json)
            .inspect_err(|error| tracing::warn!(%error, "cannot read a cached child"))
            .ok()
            .map(Arc::new)
    }

    /// Follows one watcher event, as kube's reflector does: a relist replaces the whole
    /// cache at once when it is complete.
    fn apply(&self, event: &watcher::Event<K>, relisted: &mut Option<HashMap<String, Entry>>) {
        let entries = || write(&self.entries);
        match event {
            watcher::Event::Apply(object) => {
                if let Some(entry) = Entry::of(object) {
                    entries().insert(key(object), entry);
                }
            }
            watcher::Event::Delete(object) => {
                entries().remove(&key(object));
            }
            watcher::Event::Init => *relisted = Some(HashMap::new()),
            watcher::Event::InitApply(object) => {
                if let (Some(relisted), Some(entry)) = (relisted.as_mut(), Entry::of(object)) {
                    relisted.insert(key(object), entry);
                }
            }
            watcher::Event::InitDone => {
                if let Some(relisted) = relisted.take() {
                    *entries() = relisted;
                }
            }
        }
    }

    fn uids(&self, into: &mut HashSet<String>) {
        into.extend(
            read(&self.entries)
                .values()
                .filter_map(|entry| entry.uid.clone()),
        );
    }
}

/// A cache of the children `api` lists under `config`, each trimmed by `trim`, and the stream
/// of touched objects that feeds it (for the controller's triggers).
pub fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    trim: fn(&mut K),
) -> (
    ChildCache<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let cache = ChildCache::default();
    let writer = cache.clone();
    let mut relisted = None;
    let stream = watcher(api, config)
        .modify(trim)
        .map_ok(move |event| {
            writer.apply(&event, &mut relisted);
            event
        })
        .touched_objects();
    (cache, stream)
}

/// The caches of the four child kinds, and the versions verified since the last apply.
pub struct Caches {
    /// Deployments (trimmed by [`trim_deployment`]).
    pub deployments: ChildCache<Deployment>,
    /// Services.
    pub services: ChildCache<Service>,
    /// ServiceAccounts.
    pub accounts: ChildCache<ServiceAccount>,
    /// NetworkPolicies.
    pub policies: ChildCache<NetworkPolicy>,
    /// Child uid → the `resourceVersion` this operator applied (or read) and found without
    /// drift. Anyone's later write changes the version, so the next reconcile looks again.
    verified: Mutex<HashMap<String, String>>,
}

impl Caches {
    /// Caches over these children, nothing verified yet.
    pub fn new(
        deployments: ChildCache<Deployment>,
        services: ChildCache<Service>,
        accounts: ChildCache<ServiceAccount>,
        policies: ChildCache<NetworkPolicy>,
    ) -> Self {
        Self {
            deployments,
            services,
            accounts,
            policies,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The cached child when applying `desired` (stamped) would change nothing: it carries the
    /// same rendered hash, and is the very version found without drift after the last apply.
    pub fn unchanged<K>(&self, cache: &ChildCache<K>, desired: &K) -> Option<Arc<K>>
    where
        K: Resource + Serialize + DeserializeOwned,
    {
        // Checked and decoded under one read: a newer version cannot slip in between.
        let entries = read(&cache.entries);
        let entry = entries.get(&key(desired))?;
        let hash = entry.rendered_hash.as_ref()?;
        if desired.annotations().get(RENDERED_HASH) != Some(hash) {
            return None;
        }
        let (uid, version) = (entry.uid.as_ref()?, entry.version.as_ref()?);
        if lock(&self.verified).get(uid) != Some(version) {
            return None;
        }
        ChildCache::decode(entry)
    }

    /// Records that `live` (as just applied) shows no drift; or, with `clean` false, that it
    /// must be looked at again.
    pub fn verify<K: Resource>(&self, live: &K, clean: bool) {
        let Some(uid) = live.uid() else {
            return;
        };
        match live.resource_version().filter(|_| clean) {
            Some(version) => lock(&self.verified).insert(uid, version),
            None => lock(&self.verified).remove(&uid),
        };
    }

    /// Forgets the children that are no longer cached (deleted), so the record stays bounded.
    pub fn forget_deleted(&self) {
        let mut uids = HashSet::new();
        self.deployments.uids(&mut uids);
        self.services.uids(&mut uids);
        self.accounts.uids(&mut uids);
        self.policies.uids(&mut uids);
        lock(&self.verified).retain(|uid, _| uids.contains(uid));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(pod: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "osv", "namespace": "ns",
                         "annotations": {LAST_APPLIED: "{}", "keep": "1"},
                         "managedFields": [{"manager": "kubectl", "operation": "Update"}]},
            "spec": {"selector": {}, "replicas": 2,
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod}},
            "status": {"readyReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]}
        }))
        .expect("a deployment")
    }

    fn hardened() -> serde_json::Value {
        json!({
            "serviceAccountName": "osv-sa",
            "automountServiceAccountToken": false,
            "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "mcp", "image": "img:1", "args": ["--port", "8080"],
                "env": [{"name": "A", "value": "1"}],
                "securityContext": {"allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "tmp", "emptyDir": {}}]
        })
    }

    #[test]
    fn a_trimmed_deployment_shows_the_same_drift_and_status_inputs() {
        let desired = deployment(hardened());
        let mut tampered = hardened();
        tampered["hostNetwork"] = json!(true);
        tampered["securityContext"]["runAsUser"] = json!(0);
        tampered["containers"][0]["image"] = json!("evil:1");
        tampered["containers"][0]["securityContext"]["privileged"] = json!(true);
        tampered["containers"]
            .as_array_mut()
            .expect("a list")
            .push(json!({"name": "sidecar", "image": "busybox", "command": ["sh"]}));
        tampered["initContainers"] = json!([{"name": "init", "image": "busybox"}]);
        tampered["volumes"]
            .as_array_mut()
            .expect("a list")
            .push(json!({"name": "root", "hostPath": {"path": "/"}}));
        for live in [deployment(hardened()), deployment(tampered)] {
            let mut trimmed = live.clone();
            trim_deployment(&mut trimmed);
            assert_eq!(
                super::super::drift::deployment(&desired, &trimmed),
                super::super::drift::deployment(&desired, &live)
            );
            assert_eq!(trimmed.spec.as_ref().and_then(|s| s.replicas), Some(2));
            let status = trimmed.status.as_ref().expect("a status");
            assert_eq!(status.ready_replicas, Some(1));
            assert!(trimmed.managed_fields().is_empty());
            assert_eq!(
                trimmed.annotations().keys().collect::<Vec<_>>(),
                ["keep"],
                "kubectl's copy goes, other annotations stay"
            );
            let container = &trimmed.spec.as_ref().expect("spec").template.spec.as_ref();
            let container = &container.expect("pod").containers[0];
            assert!(container.args.is_none() && container.env.is_none());
        }
    }

    #[test]
    fn only_a_verified_version_with_the_same_rendered_hash_is_unchanged() {
        let accounts = ChildCache::<ServiceAccount>::default();
        let caches = Caches::new(
            ChildCache::default(),
            ChildCache::default(),
            accounts.clone(),
            ChildCache::default(),
        );
        let mut relisted = None;
        let mut watched = |event| accounts.apply(&event, &mut relisted);
        let mut desired: ServiceAccount = serde_json::from_value(
            json!({"metadata": {"name": "osv-sa", "namespace": "ns"}, "automountServiceAccountToken": false}),
        )
        .expect("an account");
        stamp(&mut desired);
        let mut live = desired.clone();
        live.metadata.uid = Some("u1".into());
        live.metadata.resource_version = Some("7".into());
        watched(watcher::Event::Apply(live.clone()));
        assert!(
            caches.unchanged(&accounts, &desired).is_none(),
            "never verified"
        );
        caches.verify(&live, true);
        assert!(caches.unchanged(&accounts, &desired).is_some());

        let mut changed = desired.clone();
        changed.automount_service_account_token = Some(true);
        changed.annotations_mut().remove(RENDERED_HASH);
        stamp(&mut changed);
        assert!(
            caches.unchanged(&accounts, &changed).is_none(),
            "a new rendered form is applied"
        );

        let mut written = live.clone();
        written.metadata.resource_version = Some("8".into());
        watched(watcher::Event::Apply(written.clone()));
        assert!(
            caches.unchanged(&accounts, &desired).is_none(),
            "someone else wrote it since"
        );
        caches.verify(&written, false);
        watched(watcher::Event::Delete(written));
        caches.forget_deleted();
        assert!(lock(&caches.verified).is_empty());
    }

    #[test]
    fn a_cached_child_reads_back_as_watched_and_a_relist_replaces_the_cache() {
        let cache = ChildCache::<Deployment>::default();
        let mut relisted = None;
        let mut watched = |event| cache.apply(&event, &mut relisted);
        let mut live = deployment(hardened());
        live.metadata.uid = Some("u1".into());
        trim_deployment(&mut live);
        watched(watcher::Event::Apply(live.clone()));
        assert_eq!(cache.get(&live).as_deref(), Some(&live));

        let mut other = live.clone();
        other.metadata.name = Some("time".into());
        other.metadata.uid = Some("u2".into());
        watched(watcher::Event::Init);
        watched(watcher::Event::InitApply(other.clone()));
        assert!(
            cache.get(&live).is_some(),
            "the old list stands until the relist is complete"
        );
        watched(watcher::Event::InitDone);
        assert!(cache.get(&live).is_none(), "gone from the relist");
        assert_eq!(cache.get(&other).as_deref(), Some(&other));
        let mut uids = HashSet::new();
        cache.uids(&mut uids);
        assert_eq!(uids, HashSet::from(["u2".to_owned()]));
    }
}
