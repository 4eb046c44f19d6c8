//! What the operator remembers of the cluster between reconciles: reflector caches of the
//! servers and their children, trimmed to what it reads, and which child versions it has
//! verified. A child whose rendered form and live version are both unchanged since it was last
//! applied is not applied again ([`Caches::unchanged`]).
//!
//! Every cached object loses its `managedFields` and kubectl's last-applied annotation (the
//! bulk of a small object); a cached Deployment also loses the parts of its pod template that
//! neither [`super::drift`] nor [`super::status`] read. Repairs that need the field managers
//! read the live object first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::Stream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service, ServiceAccount, Volume};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

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

/// A reflector over `api`, trimmed by `trim`: the store, and the stream of touched objects
/// that feeds it (for the controller's triggers).
pub fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    trim: fn(&mut K),
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync,
    K: 'static,
{
    let (store, writer) = reflector::store();
    let stream = watcher(api, config)
        .modify(trim)
        .reflect(writer)
        .touched_objects();
    (store, stream)
}

/// The caches of the four child kinds, and the versions verified since the last apply.
pub struct Caches {
    /// Deployments (trimmed by [`trim_deployment`]).
    pub deployments: Store<Deployment>,
    /// Services.
    pub services: Store<Service>,
    /// ServiceAccounts.
    pub accounts: Store<ServiceAccount>,
    /// NetworkPolicies.
    pub policies: Store<NetworkPolicy>,
    /// Child uid → the `resourceVersion` this operator applied (or read) and found without
    /// drift. Anyone's later write changes the version, so the next reconcile looks again.
    verified: Mutex<HashMap<String, String>>,
}

impl Caches {
    /// Caches over these stores, nothing verified yet.
    pub fn new(
        deployments: Store<Deployment>,
        services: Store<Service>,
        accounts: Store<ServiceAccount>,
        policies: Store<NetworkPolicy>,
    ) -> Self {
        Self {
            deployments,
            services,
            accounts,
            policies,
            verified: Mutex::new(HashMap::new()),
        }
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached child of `desired` (stamped), if any.
    pub fn cached<K>(store: &Store<K>, desired: &K) -> Option<Arc<K>>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone,
    {
        let key = ObjectRef::new(&desired.name_any()).within(&desired.namespace()?);
        store.get(&key)
    }

    /// The cached child when applying `desired` (stamped) would change nothing: it carries the
    /// same rendered hash, and is the very version found without drift after the last apply.
    pub fn unchanged<K>(&self, store: &Store<K>, desired: &K) -> Option<Arc<K>>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone,
    {
        let live = Self::cached(store, desired)?;
        let hash = |object: &K| object.annotations().get(RENDERED_HASH).cloned();
        if hash(&live).is_none() || hash(&live) != hash(desired) {
            return None;
        }
        let (uid, version) = (live.uid()?, live.resource_version()?);
        (self.verified().get(&uid) == Some(&version)).then_some(live)
    }

    /// Records that `live` (as just applied) shows no drift; or, with `clean` false, that it
    /// must be looked at again.
    pub fn verify<K: Resource>(&self, live: &K, clean: bool) {
        let Some(uid) = live.uid() else {
            return;
        };
        match live.resource_version().filter(|_| clean) {
            Some(version) => self.verified().insert(uid, version),
            None => self.verified().remove(&uid),
        };
    }

    /// Forgets the children that are no longer cached (deleted), so the record stays bounded.
    pub fn forget_deleted(&self) {
        let mut uids: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut add = |uid: Option<String>| {
            if let Some(uid) = uid {
                uids.insert(uid);
            }
        };
        self.deployments.state().iter().for_each(|o| add(o.uid()));
        self.services.state().iter().for_each(|o| add(o.uid()));
        self.accounts.state().iter().for_each(|o| add(o.uid()));
        self.policies.state().iter().for_each(|o| add(o.uid()));
        self.verified().retain(|uid, _| uids.contains(uid));
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
        let (store, mut writer) = reflector::store::<ServiceAccount>();
        let caches = Caches::new(
            reflector::store().0,
            reflector::store().0,
            store.clone(),
            reflector::store().0,
        );
        let mut desired: ServiceAccount = serde_json::from_value(
            json!({"metadata": {"name": "osv-sa", "namespace": "ns"}, "automountServiceAccountToken": false}),
        )
        .expect("an account");
        stamp(&mut desired);
        let mut live = desired.clone();
        live.metadata.uid = Some("u1".into());
        live.metadata.resource_version = Some("7".into());
        writer.apply_watcher_event(&watcher::Event::Apply(live.clone()));
        assert!(
            caches.unchanged(&store, &desired).is_none(),
            "never verified"
        );
        caches.verify(&live, true);
        assert!(caches.unchanged(&store, &desired).is_some());

        let mut changed = desired.clone();
        changed.automount_service_account_token = Some(true);
        changed.annotations_mut().remove(RENDERED_HASH);
        stamp(&mut changed);
        assert!(
            caches.unchanged(&store, &changed).is_none(),
            "a new rendered form is applied"
        );

        let mut written = live.clone();
        written.metadata.resource_version = Some("8".into());
        writer.apply_watcher_event(&watcher::Event::Apply(written.clone()));
        assert!(
            caches.unchanged(&store, &desired).is_none(),
            "someone else wrote it since"
        );
        caches.verify(&written, false);
        writer.apply_watcher_event(&watcher::Event::Delete(written));
        caches.forget_deleted();
        assert!(caches.verified().is_empty());
    }
}
