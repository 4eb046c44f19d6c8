//! The controller: dereference → validate → build → apply → status, for every `MCPServer`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::error_boundary::InvalidObject;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{watcher, Controller, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::locks::lock;
use crate::resources::authz;
use crate::resources::crd::{
    MCPOIDCConfig, MCPServer, MCPServerStatus, MCPToolConfig, Phase, ProfileKind,
};
use crate::resources::oidc::Shared;
use crate::resources::unsupported::{self, Referenced};
use crate::resources::InvalidSpec;

use super::cache::{self, Caches};
use super::drift;
use super::render::{self, FIELD_MANAGER};
use super::repair::{Applier, REPORTER};
use super::status::{self, Outcome, ToolConfigState};

/// How long a status patch may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);
/// Re-check every healthy server this often, whatever happens.
const RESYNC: Duration = Duration::from_secs(300);
/// The cap of the per-object backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// At most this many servers are reconciled at once: unlimited (kube's default) opens one
/// connection per server in flight, and at a few thousand servers the apiserver times out.
const CONCURRENCY: u16 = 16;
/// The field manager that keeps a Deployment's replica count once `spec.replicas` is removed.
const REPLICAS_HANDOFF: &str = "apiary-replicas-handoff";
/// Triggers for one server within this time are merged into one reconcile: creating its
/// children and writing its status each trigger one.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// The first and the longest wait between attempts to watch again after a watch failed.
const WATCH_RETRY: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(1));

/// The backoff of the controller's watches: 0.25 s doubling to 1 s, reset by any event.
///
/// The controller's six watches (servers, tool configs, four child kinds) share this one
/// backoff, so each failure pauses all of them. After an apiserver restart every watch fails
/// once with 410 Gone (its resource version is older than the new watch cache) and then
/// lists again: with kube's default (up to 30 s, reset only after two quiet minutes) that left
/// the operator blind for half a minute or more. A 1 s cap keeps a restart to a few seconds
/// and a missing apiserver to one attempt a second.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    next: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        Self {
            next: WATCH_RETRY.0,
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = (now * 2).min(WATCH_RETRY.1);
        Some(now)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Why a reconcile did not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The apiserver refused or could not be reached (transient: backoff).
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The spec is invalid (permanent: wait for a change).
    #[error("invalid spec: {0}")]
    InvalidSpec(InvalidSpec),
    /// Something the spec refers to is missing or wrong, such as a ConfigMap profile
    /// (transient: backoff, since it may appear without the MCPServer changing).
    #[error("{0}")]
    Dependency(InvalidSpec),
    /// The object could not be decoded at all (permanent: wait for a change).
    #[error("malformed MCPServer: {0}")]
    Malformed(String),
    /// The status patch took longer than allowed (transient).
    #[error("status update timed out")]
    StatusTimeout,
    /// The apiserver refused to apply a child (transient: phase Degraded, backoff).
    #[error("apply refused: {0}")]
    Refused(String),
    /// The spec declares inbound security that Apiary does not enforce, so the server is not
    /// run (permanent: wait for a change). The text names the fields.
    #[error("{0}")]
    NotEnforced(String),
    /// As [`Self::NotEnforced`], for a fault of an object the spec refers to, such as a
    /// missing ConfigMap of Cedar policies (transient: backoff).
    #[error("{0}")]
    NotEnforcedYet(String),
}

impl Error {
    /// Permanent errors wait for the object to change; others back off.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::InvalidSpec(_) | Self::Malformed(_) | Self::NotEnforced(_)
        )
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::InvalidSpec(_) => "invalid_spec",
            Self::Dependency(_) => "dependency",
            Self::Malformed(_) => "malformed",
            Self::StatusTimeout => "status_timeout",
            Self::Refused(_) => "refused",
            Self::NotEnforced(_) | Self::NotEnforcedYet(_) => "not_enforced",
        }
    }
}

/// Shared state of the reconcilers.
pub struct Context {
    client: Client,
    recorder: Recorder,
    /// The namespace of Apiary's gateway, the only one each server's NetworkPolicy admits.
    gateway_namespace: String,
    /// The cached children.
    caches: Caches,
    /// Consecutive transient failures per object, for the exponential backoff.
    failures: Mutex<HashMap<ObjectRef<DeserializeGuard<MCPServer>>, u32>>,
    /// The last Warning note published per object uid (unsupported fields), or per uid and
    /// `/refused` (a refused apply). The status alone decides when to announce, but a
    /// reconcile can start from a cached object older than the status just written; this
    /// keeps that from publishing the same Warning twice. (An entry outlives a deleted
    /// object: one short string.)
    announced: Mutex<HashMap<String, String>>,
    /// Per server uid: the `resourceVersion` a status was derived from and the
    /// [`status_fingerprint`] written for it. A reconcile that starts from that same cached
    /// version (the status write's own event not in yet) and derives the same status does
    /// not write it again.
    written: Mutex<HashMap<String, (String, String)>>,
}

impl Context {
    /// A context for `client`, whose servers admit the gateway in `gateway_namespace`, with
    /// the children cached in `caches`.
    pub fn new(client: Client, gateway_namespace: String, caches: Caches) -> Self {
        Self {
            recorder: Recorder::new(client.clone(), REPORTER.into()),
            client,
            gateway_namespace,
            caches,
            failures: Mutex::new(HashMap::new()),
            announced: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Records `note` as announced under `uid`; false when it already was.
    fn first_announcement(&self, uid: String, note: &str) -> bool {
        lock(&self.announced)
            .insert(uid, note.to_owned())
            .as_deref()
            != Some(note)
    }

    /// Forgets what was announced for `uid` (its fields are all honoured now).
    fn forget_announcement(&self, uid: &str) {
        lock(&self.announced).remove(uid);
    }
}

/// An `Api` for `namespace`, or for every namespace.
fn scoped<K>(client: Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client, namespace),
        None => Api::all(client),
    }
}

/// Runs the controller until `shutdown` is cancelled. `namespace` limits it to one namespace;
/// every server's NetworkPolicy admits Apiary's gateway pods in `gateway_namespace`.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    gateway_namespace: String,
    shutdown: CancellationToken,
) {
    let namespace = namespace.as_deref();
    // Reflectors of our own, to trim what they cache (see [`cache`]).
    let (store, writer) = reflector::store();
    let servers = watcher(
        scoped::<DeserializeGuard<MCPServer>>(client.clone(), namespace),
        watcher::Config::default().any_semantic(),
    )
    .modify(cache::trim)
    .reflect(writer)
    .applied_objects();
    let children = || watcher::Config::default().labels("app.kubernetes.io/managed-by=apiary");
    let (deployments, deployment_events) = cache::reflect(
        scoped::<Deployment>(client.clone(), namespace),
        children(),
        cache::trim_deployment,
    );
    let (services, service_events) = cache::reflect(
        scoped::<Service>(client.clone(), namespace),
        children(),
        cache::trim,
    );
    let (accounts, account_events) = cache::reflect(
        scoped::<ServiceAccount>(client.clone(), namespace),
        children(),
        cache::trim,
    );
    let (policies, policy_events) = cache::reflect(
        scoped::<NetworkPolicy>(client.clone(), namespace),
        children(),
        cache::trim,
    );
    let controller = Controller::for_stream(servers, store);
    let store = controller.store();
    let oidc_store = store.clone();
    tracing::info!(
        namespace = namespace.unwrap_or("(all)"),
        gateway_namespace = %gateway_namespace,
        "MCPServer operator starting"
    );
    let caches = Caches::new(deployments, services, accounts, policies);
    let context = Arc::new(Context::new(client.clone(), gateway_namespace, caches));
    let pruning = tokio::spawn(forget_deleted(
        context.clone(),
        controller.store(),
        shutdown.clone(),
    ));
    // MCPExternalAuthConfigs only get a status saying what Apiary does with them.
    let external_auth = super::external_auth::run(
        client.clone(),
        namespace.map(str::to_owned),
        shutdown.clone(),
    );
    let servers = controller
        .owns_stream(deployment_events)
        .owns_stream(service_events)
        .owns_stream(account_events)
        .owns_stream(policy_events)
        .watches(
            scoped::<DeserializeGuard<MCPToolConfig>>(client.clone(), namespace),
            watcher::Config::default(),
            move |config| {
                referencing(&store, &config, |server| {
                    server
                        .spec
                        .tool_config_ref
                        .as_ref()
                        .map(|r| r.name.as_str())
                })
            },
        )
        .watches(
            scoped::<DeserializeGuard<MCPOIDCConfig>>(client.clone(), namespace),
            watcher::Config::default(),
            move |config| {
                referencing(&oidc_store, &config, |server| {
                    server
                        .spec
                        .oidc_config_ref
                        .as_ref()
                        .and_then(|r| r.get("name"))
                        .and_then(serde_json::Value::as_str)
                })
            },
        )
        .trigger_backoff(WatchBackoff::default())
        .with_config(
            kube::runtime::controller::Config::default()
                .concurrency(CONCURRENCY)
                .debounce(DEBOUNCE),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "reconciled"),
                // A child's event for an MCPServer that is gone (its children await the GC).
                Err(kube::runtime::controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(%object, "owner is gone; nothing to do");
                }
                Err(error) => tracing::warn!(error = %error, "reconcile failed"),
            }
        });
    tokio::join!(servers, external_auth);
    pruning.abort();
    tracing::info!("MCPServer operator stopped");
}

/// Every [`RESYNC`], forgets what it remembers of deleted children and servers.
async fn forget_deleted(
    context: Arc<Context>,
    servers: kube::runtime::reflector::Store<DeserializeGuard<MCPServer>>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(RESYNC);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {
                context.caches.forget_deleted();
                let uids: std::collections::HashSet<String> =
                    servers.state().iter().filter_map(|s| s.uid()).collect();
                lock(&context.written).retain(|uid, _| uids.contains(uid));
            }
        }
    }
}

/// The servers in `store` that name `config` (by `reference`, in its namespace): the ones to
/// reconcile again when it changes.
fn referencing<K: ResourceExt>(
    store: &kube::runtime::reflector::Store<DeserializeGuard<MCPServer>>,
    config: &K,
    reference: fn(&MCPServer) -> Option<&str>,
) -> Vec<ObjectRef<DeserializeGuard<MCPServer>>> {
    let name = config.name_any();
    let namespace = config.namespace();
    store
        .state()
        .into_iter()
        .filter(|server| {
            server.namespace() == namespace
                && server
                    .0
                    .as_ref()
                    .is_ok_and(|s| reference(s) == Some(name.as_str()))
        })
        .map(|server| ObjectRef::from_obj(&*server))
        .collect()
}

/// Reconciles one object; a thin wrapper that records metrics.
#[tracing::instrument(skip_all, fields(object = %guard.name_any(), namespace = guard.namespace().unwrap_or_default()))]
async fn reconcile(
    guard: Arc<DeserializeGuard<MCPServer>>,
    context: Arc<Context>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let result = match &guard.0 {
        Ok(server) => reconcile_server(server, &context).await,
        Err(invalid) => report_malformed(invalid, &context).await,
    };
    metrics::counter!("apiary_operator_reconciles_total").increment(1);
    metrics::histogram!("apiary_operator_reconcile_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    if let Err(error) = &result {
        metrics::counter!("apiary_operator_reconcile_errors_total", "kind" => error.kind())
            .increment(1);
    } else {
        lock(&context.failures).remove(&ObjectRef::from_obj(&*guard));
    }
    result
}

/// Permanent errors wait for a change; transient ones back off exponentially per object.
fn error_policy(
    guard: Arc<DeserializeGuard<MCPServer>>,
    error: &Error,
    context: Arc<Context>,
) -> Action {
    if error.is_permanent() {
        tracing::info!(%error, "waiting for the object to change");
        return Action::await_change();
    }
    let mut failures = lock(&context.failures);
    let count = failures.entry(ObjectRef::from_obj(&*guard)).or_insert(0);
    *count = count.saturating_add(1);
    let delay = backoff(*count);
    tracing::warn!(%error, retry_in = ?delay, "transient error");
    Action::requeue(delay)
}

/// 1 s, 2 s, 4 s, ... up to [`MAX_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF)
}

async fn reconcile_server(server: &MCPServer, context: &Context) -> Result<Action, Error> {
    let client = &context.client;
    let namespace = server.namespace().unwrap_or_default();
    let name = server.name_any();
    // Dereference.
    let tool_config = match &server.spec.tool_config_ref {
        None => ToolConfigState::NotReferenced,
        Some(reference) => {
            let api: Api<MCPToolConfig> = Api::namespaced(client.clone(), &namespace);
            match api.get_opt(&reference.name).await? {
                Some(config) => ToolConfigState::Resolved {
                    name: reference.name.clone(),
                    hash: hash_json(&config.spec),
                },
                None => ToolConfigState::Missing {
                    name: reference.name.clone(),
                },
            }
        }
    };
    if server.meta().deletion_timestamp.is_some() {
        write_status(context, server, &Outcome::Terminating, &tool_config).await?;
        return Ok(Action::await_change());
    }
    // Inbound security the gateway cannot enforce: better not run than run open.
    let spec = serde_json::to_value(&server.spec).unwrap_or_default();
    let shared = read_oidc_config(server, client, &namespace).await?;
    let authz_text = read_authz_configmap(&spec, client, &namespace).await?;
    let referenced = Referenced {
        oidc: match &shared {
            None => Shared::NotRead,
            Some(Ok(config)) => Shared::Found(config),
            Some(Err(why)) => Shared::Unavailable(why),
        },
        authz: match &authz_text {
            None => authz::Source::NotRead,
            Some(Ok(text)) => authz::Source::Found(text),
            Some(Err(why)) => authz::Source::Unavailable(why),
        },
    };
    let unenforced = unsupported::unenforced_with(&spec, referenced);
    if !unenforced.is_empty() {
        let why = format!(
            "{}. The operator does not run it either",
            unsupported::withheld(&unenforced)
        );
        // A fault of the spec waits for the spec to change; one of an object it refers to (a
        // missing or bad MCPOIDCConfig or ConfigMap) is retried, since that object may change.
        let why = if unsupported::unenforced(&spec).is_empty() {
            Error::NotEnforcedYet(why)
        } else {
            Error::NotEnforced(why)
        };
        return fail(server, context, &tool_config, why).await;
    }
    let profile_text = match read_configmap_profile(server, client, &namespace).await? {
        Ok(text) => text,
        Err(missing) => {
            return fail(server, context, &tool_config, Error::Dependency(missing)).await
        }
    };
    // Validate and build: pure.
    let plan = match render::validate(server, profile_text.as_deref()) {
        Ok(plan) => plan,
        Err(invalid)
            if profile_text.is_some() && invalid.field.starts_with("spec.permissionProfile") =>
        {
            return fail(server, context, &tool_config, Error::Dependency(invalid)).await
        }
        Err(invalid) => {
            return fail(server, context, &tool_config, Error::InvalidSpec(invalid)).await
        }
    };
    let mut owner = server
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Malformed("the object has no uid yet".into()))?;
    // Foreground deletion of the MCPServer waits for its children (kube leaves this unset).
    owner.block_owner_deletion = Some(true);
    let children = match render::build(server, &plan, owner, &context.gateway_namespace) {
        Ok(children) => children,
        Err(invalid) => {
            return fail(server, context, &tool_config, Error::InvalidSpec(invalid)).await
        }
    };
    let mut children = children;
    if let Some(account) = &mut children.service_account {
        cache::stamp(account);
    }
    cache::stamp(&mut children.deployment);
    cache::stamp(&mut children.service);
    cache::stamp(&mut children.network_policy);
    // Apply, taking back what another manager changed; a child whose rendered form and live
    // version are unchanged since its last apply is left alone. The Deployment goes right
    // after its ServiceAccount; the NetworkPolicy is last. A child the apiserver refuses does
    // not stop the others.
    let caches = &context.caches;
    let applied_before = status::has_policy_condition(server);
    let mut children_applier = Applier {
        client,
        server,
        namespace: &namespace,
        applied_before,
        refused: None,
        caches,
    };
    if let Some(account) = &children.service_account {
        if caches.unchanged(&caches.accounts, account).is_none() {
            let cached = caches.accounts.get(account);
            children_applier
                .child(
                    account,
                    cached,
                    drift::service_account,
                    drift::SERVICE_ACCOUNT_SCOPE,
                )
                .await?;
        }
    }
    let deployment = match caches.unchanged(&caches.deployments, &children.deployment) {
        Some(live) => Some(live),
        None => {
            let cached = caches.deployments.get(&children.deployment);
            // A Deployment neither cached nor applied before is new: nothing to hand over.
            if plan.replicas.is_none() && (cached.is_some() || applied_before) {
                keep_replicas(client, &namespace, &children.deployment).await?;
            }
            children_applier
                .child(
                    &children.deployment,
                    cached,
                    drift::deployment,
                    drift::DEPLOYMENT_SCOPE,
                )
                .await?
        }
    };
    if caches
        .unchanged(&caches.services, &children.service)
        .is_none()
    {
        let cached = caches.services.get(&children.service);
        if cached.is_some() || applied_before {
            repair_service_ports(client, &namespace, &children.service).await?;
        }
        children_applier
            .child(&children.service, cached, |_, _| Vec::new(), &[])
            .await?;
    }
    let policy = match caches.unchanged(&caches.policies, &children.network_policy) {
        Some(live) => Some(live),
        None => {
            let cached = caches.policies.get(&children.network_policy);
            children_applier
                .child(
                    &children.network_policy,
                    cached,
                    drift::network_policy,
                    drift::NETWORK_POLICY_SCOPE,
                )
                .await?
        }
    };
    // Status, from the live objects.
    let refused = children_applier.refused;
    let outcome = Outcome::Applied {
        url: render::url(server, &plan),
        deployment: deployment.as_deref(),
        policy: status::compliance(
            &children,
            plan.policy_gap(),
            policy.as_deref(),
            deployment.as_deref(),
        ),
        refused: refused.clone(),
    };
    let was_degraded = server.status.as_ref().is_some_and(|s| {
        s.phase == Some(Phase::Degraded) && s.message.as_deref() == refused.as_deref()
    });
    write_status(context, server, &outcome, &tool_config).await?;
    let key = format!("{}/refused", server.uid().unwrap_or_default());
    match refused {
        Some(message) => {
            if !was_degraded && context.first_announcement(key, &message) {
                warn(context, server, "ApplyRefused", message.clone()).await;
            }
            return Err(Error::Refused(message));
        }
        None => context.forget_announcement(&key),
    }
    tracing::debug!(%name, "children applied");
    Ok(Action::requeue(RESYNC))
}

/// Reads a ConfigMap profile's JSON: `Ok(Ok(None))` for builtin profiles, `Ok(Err(..))` when
/// the ConfigMap or its key is missing.
async fn read_configmap_profile(
    server: &MCPServer,
    client: &Client,
    namespace: &str,
) -> Result<Result<Option<String>, InvalidSpec>, Error> {
    let Some(profile) = &server.spec.permission_profile else {
        return Ok(Ok(None));
    };
    if profile.kind != ProfileKind::Configmap {
        return Ok(Ok(None));
    }
    let key = render::profile_key(profile.key.as_deref());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let text = api
        .get_opt(&profile.name)
        .await?
        .and_then(|map| map.data?.get(key).cloned());
    Ok(text.map(Some).ok_or_else(|| {
        InvalidSpec::new(
            "spec.permissionProfile",
            format!(
                "ConfigMap {} with key {key} not found in namespace {namespace}",
                profile.name
            ),
        )
    }))
}

/// Records a failure in the status (and as an Event), then returns it for the error policy.
async fn fail(
    server: &MCPServer,
    context: &Context,
    tool_config: &ToolConfigState,
    error: Error,
) -> Result<Action, Error> {
    let (message, reason) = match &error {
        Error::InvalidSpec(invalid) => (invalid.to_string(), "InvalidSpec"),
        Error::Dependency(invalid) => (invalid.to_string(), "DependencyMissing"),
        Error::NotEnforced(why) | Error::NotEnforcedYet(why) => {
            (why.clone(), "SecurityNotEnforced")
        }
        other => (other.to_string(), "Error"),
    };
    write_status(
        context,
        server,
        &Outcome::Failed {
            message: message.clone(),
            reason,
        },
        tool_config,
    )
    .await?;
    warn(context, server, reason, message).await;
    Err(error)
}

/// Publishes a Warning Event about `server`; a failure is only logged.
async fn warn(context: &Context, server: &MCPServer, reason: &str, note: String) {
    let event = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(error) = context
        .recorder
        .publish(&event, &server.object_ref(&()))
        .await
    {
        tracing::warn!(%error, "cannot publish an event");
    }
}

/// A malformed object gets phase Failed with the decoding error, written without decoding it.
async fn report_malformed(invalid: &InvalidObject, context: &Context) -> Result<Action, Error> {
    let Some(name) = &invalid.metadata.name else {
        return Err(Error::Malformed(invalid.error.clone()));
    };
    let namespace = invalid.metadata.namespace.clone().unwrap_or_default();
    let resource = ApiResource::erase::<MCPServer>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(context.client.clone(), &namespace, &resource);
    let patch = serde_json::json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "status": {"phase": "Failed", "message": format!("cannot decode the MCPServer: {}", invalid.error)},
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(name, &params, &Patch::Apply(&patch))
        .await?;
    Err(Error::Malformed(invalid.error.clone()))
}

/// Hands the replica count of a Deployment whose `spec.replicas` was removed to another field
/// manager, so that the next apply, which leaves replicas out, does not scale it down.
///
/// Server-side apply removes a field that its manager stops sending when no other manager
/// owns it, and the apiserver then defaults `replicas` to 1. Applying the live count under
/// [`REPLICAS_HANDOFF`] first makes that manager a co-owner, so the count stays until someone
/// (`kubectl scale`, an HPA) changes it. Only done while Apiary owns the field: once released,
/// this costs one GET.
async fn keep_replicas(
    client: &Client,
    namespace: &str,
    desired: &Deployment,
) -> Result<(), kube::Error> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let name = desired.name_any();
    let Some(live) = api.get_opt(&name).await? else {
        return Ok(());
    };
    let owned = live.managed_fields().iter().any(|entry| {
        entry.manager.as_deref() == Some(FIELD_MANAGER)
            && entry.operation.as_deref() == Some("Apply")
            && entry
                .fields_v1
                .as_ref()
                .is_some_and(|fields| fields.0.pointer("/f:spec/f:replicas").is_some())
    });
    let Some(replicas) = live.spec.and_then(|spec| spec.replicas).filter(|_| owned) else {
        return Ok(());
    };
    tracing::info!(deployment = %name, replicas, "spec.replicas removed: keeping the replica count");
    let patch = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas},
    });
    api.patch(
        &name,
        &PatchParams::apply(REPLICAS_HANDOFF),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Puts back a Service's port list when someone changed a port number by hand.
///
/// Service ports are a list keyed by port and protocol, so an edited port is a *new* item that
/// the editor owns; applying Apiary's item next to it would leave two ports named `http`, which
/// the apiserver refuses. Replacing the list first lets the apply restore the Service.
async fn repair_service_ports(
    client: &Client,
    namespace: &str,
    desired: &Service,
) -> Result<(), kube::Error> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let Some(live) = api.get_opt(&desired.name_any()).await? else {
        return Ok(());
    };
    let keys = |service: &Service| {
        let mut keys: Vec<(i32, String)> = service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .into_iter()
            .flatten()
            .map(|p| (p.port, p.protocol.clone().unwrap_or_else(|| "TCP".into())))
            .collect();
        keys.sort();
        keys
    };
    if keys(&live) == keys(desired) {
        return Ok(());
    }
    tracing::info!(service = %desired.name_any(), "restoring the Service's ports");
    let ports = desired.spec.as_ref().and_then(|s| s.ports.clone());
    let patch = serde_json::json!({"spec": {"ports": ports}});
    api.patch(
        &desired.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// The text of the ConfigMap key that `spec`'s `authzConfig` names: `None` without one, `Err`
/// saying why when the ConfigMap or its key is missing.
async fn read_authz_configmap(
    spec: &serde_json::Value,
    client: &Client,
    namespace: &str,
) -> Result<Option<Result<String, String>>, Error> {
    let Some((name, key)) = authz::configmap(spec) else {
        return Ok(None);
    };
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    Ok(Some(match api.get_opt(name).await? {
        Some(map) => authz::text_of(map, key, namespace),
        None => Err(format!("not found in namespace {namespace}")),
    }))
}

/// The spec of the `MCPOIDCConfig` that `server`'s `oidcConfigRef` names: `None` without a
/// reference, `Err` saying why when it is missing.
async fn read_oidc_config(
    server: &MCPServer,
    client: &Client,
    namespace: &str,
) -> Result<Option<Result<serde_json::Value, String>>, Error> {
    let spec = serde_json::to_value(&server.spec).unwrap_or_default();
    let Some(name) = crate::resources::oidc::shared_name(&spec) else {
        return Ok(None);
    };
    let api: Api<MCPOIDCConfig> = Api::namespaced(client.clone(), namespace);
    Ok(Some(match api.get_opt(name).await? {
        Some(config) => Ok(serde_json::to_value(&config.spec).unwrap_or_default()),
        None => Err(format!("not found in namespace {namespace}")),
    }))
}

/// Server-side applies the status derived from `outcome`, bounded by [`STATUS_TIMEOUT`]. An
/// unchanged status is not written, so the controller's own writes do not wake it up again.
/// Once a status that flags a new set of unsupported fields is written, a Warning Event names
/// them (so it is published once per change, not on every reconcile).
async fn write_status(
    context: &Context,
    server: &MCPServer,
    outcome: &Outcome<'_>,
    tool_config: &ToolConfigState,
) -> Result<(), Error> {
    let unsupported = unsupported::fields(server);
    let uid = server.uid().unwrap_or_default();
    if unsupported.is_empty() {
        context.forget_announcement(&uid);
    }
    let status = status::derive(
        server,
        outcome,
        tool_config,
        &unsupported,
        &Time(k8s_openapi::jiff::Timestamp::now()),
    );
    // The registry writes the tool fields of the status (under its own field manager).
    let current = server
        .status
        .as_ref()
        .map(MCPServerStatus::written_by_operator);
    if current.as_ref() == Some(&status) {
        return Ok(());
    }
    let version = server.resource_version().unwrap_or_default();
    let fingerprint = status_fingerprint(&status);
    if lock(&context.written).get(&uid) == Some(&(version.clone(), fingerprint.clone())) {
        return Ok(());
    }
    let announce = status::newly_unsupported(server.status.as_ref(), &status);
    let api: Api<MCPServer> = Api::namespaced(
        context.client.clone(),
        &server.namespace().unwrap_or_default(),
    );
    let patch = serde_json::json!({
        "apiVersion": MCPServer::api_version(&()),
        "kind": MCPServer::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let name = server.name_any();
    let patch = Patch::Apply(&patch);
    let result =
        tokio::time::timeout(STATUS_TIMEOUT, api.patch_status(&name, &params, &patch)).await;
    let outcome = match &result {
        Ok(Ok(_)) => "ok",
        Ok(Err(_)) => "error",
        Err(_) => "timeout",
    };
    metrics::counter!("apiary_operator_status_patches_total", "result" => outcome).increment(1);
    match result {
        Ok(Ok(_)) => {
            lock(&context.written).insert(uid.clone(), (version, fingerprint));
            let note = unsupported::note(&unsupported);
            if announce && context.first_announcement(uid, &note) {
                warn(context, server, status::UNSUPPORTED_FIELDS, note).await;
            }
            Ok(())
        }
        Ok(Err(error)) => Err(error.into()),
        Err(_) => Err(Error::StatusTimeout),
    }
}

/// The hash of `status` without its conditions' transition times, which a reconcile that
/// starts from a stale copy (before its own last status write) stamps anew.
fn status_fingerprint(status: &crate::resources::crd::MCPServerStatus) -> String {
    let mut status = status.clone();
    for condition in &mut status.conditions {
        condition.last_transition_time = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    }
    hash_json(&status)
}

/// A stable hash of a spec, for change detection.
fn hash_json(value: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(20), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn the_watch_backoff_caps_at_one_second_and_resets() {
        use kube::runtime::utils::Backoff;
        let mut watch = WatchBackoff::default();
        let waits: Vec<Duration> = watch.by_ref().take(6).collect();
        assert_eq!(waits[0], Duration::from_millis(250));
        assert_eq!(waits[1], Duration::from_millis(500));
        assert_eq!(waits[5], Duration::from_secs(1));
        watch.reset();
        assert_eq!(watch.next(), Some(Duration::from_millis(250)));
    }
}
