//! Drift repair against a real kube-apiserver (`end2end/envtest`): every security-relevant
//! field another manager changes on a child is put back within two seconds, with a Normal
//! Event naming the field and the manager, and a count in `apiary_operator_drift_repairs_total`;
//! an apply the apiserver refuses turns the server `Degraded`, and a later spec change still
//! rolls out.

mod support;

use std::time::{Duration, Instant};

use apiary_server::resources::crd::{MCPServer, Phase};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};

use support::kube::{apply_manifest, eventually, operator_ns, server_manifest, wait_for};

/// How soon a tampering must be reverted.
const REPAIR_WITHIN: Duration = Duration::from_secs(2);

/// The server every test tampers with: streamable-http, no permission profile (deny all
/// egress), so Apiary sends no `egress` at all.
const NAME: &str = "closed";

fn phase_is(phase: Phase) -> impl Fn(&MCPServer) -> bool {
    move |server| server.status.as_ref().and_then(|s| s.phase) == Some(phase)
}

fn condition(server: &MCPServer, type_: &str) -> Option<(String, String, String)> {
    server
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// The objects of one test namespace.
struct Children {
    client: Client,
    namespace: String,
}

impl Children {
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The live object of `kind` (Deployment, NetworkPolicy, ServiceAccount) as JSON.
    async fn live(&self, kind: Kind) -> Option<Value> {
        let account = format!("{NAME}-sa");
        let value = match kind {
            Kind::Deployment => json_of(self.api::<Deployment>().get_opt(NAME).await),
            Kind::NetworkPolicy => json_of(self.api::<NetworkPolicy>().get_opt(NAME).await),
            Kind::ServiceAccount => json_of(self.api::<ServiceAccount>().get_opt(&account).await),
        };
        value.filter(|v| !v.is_null())
    }

    /// Strategic-merge patches `kind` as field manager `manager`, like `kubectl patch`.
    async fn tamper(&self, kind: Kind, manager: &str, patch: &Value) {
        let params = PatchParams {
            field_manager: Some(manager.into()),
            ..PatchParams::default()
        };
        let patch = Patch::Strategic(patch);
        let result = match kind {
            Kind::Deployment => self
                .api::<Deployment>()
                .patch(NAME, &params, &patch)
                .await
                .map(drop),
            Kind::NetworkPolicy => self
                .api::<NetworkPolicy>()
                .patch(NAME, &params, &patch)
                .await
                .map(drop),
            Kind::ServiceAccount => self
                .api::<ServiceAccount>()
                .patch(&format!("{NAME}-sa"), &params, &patch)
                .await
                .map(drop),
        };
        result.unwrap_or_else(|error| panic!("tamper with the {kind:?} as {manager}: {error}"));
    }

    /// `DriftReverted` Events about the server.
    async fn repairs(&self) -> Vec<Event> {
        self.api::<Event>()
            .list(&Default::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(NAME)
                    && e.reason.as_deref() == Some("DriftReverted")
            })
            .collect()
    }

    /// Waits (at most [`REPAIR_WITHIN`] from `since`) until `restored` holds for the live
    /// `kind`, then for the Event that names `path` and `manager`.
    async fn expect_repair(
        &self,
        since: Instant,
        kind: Kind,
        restored: &dyn Fn(&Value) -> bool,
        what: &str,
        path: &str,
        manager: &str,
    ) {
        loop {
            let live = self.live(kind).await;
            if live.as_ref().is_some_and(restored) {
                break;
            }
            assert!(
                since.elapsed() < REPAIR_WITHIN,
                "{what}: not restored within {REPAIR_WITHIN:?}; live {kind:?}: {live:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let event = eventually(&format!("a DriftReverted Event for {what}"), || async {
            self.repairs().await.into_iter().find(|e| {
                e.note
                    .as_deref()
                    .is_some_and(|n| n.contains(path) && n.contains(manager))
            })
        })
        .await;
        assert_eq!(event.type_.as_deref(), Some("Normal"), "{what}");
    }
}

fn json_of<K: serde::Serialize>(object: Result<Option<K>, kube::Error>) -> Option<Value> {
    serde_json::to_value(object.expect("read a child")?).ok()
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Deployment,
    NetworkPolicy,
    ServiceAccount,
}

/// The pod template of a live Deployment, and its `mcp` container.
fn pod(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]
}

fn mcp(deployment: &Value) -> &Value {
    pod(deployment)["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "mcp"))
        .unwrap_or(&Value::Null)
}

fn container_names(deployment: &Value, list: &str) -> Vec<String> {
    pod(deployment)[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

fn hardened(deployment: &Value) -> bool {
    let context = &mcp(deployment)["securityContext"];
    context["privileged"].is_null()
        && context["allowPrivilegeEscalation"] == false
        && context["runAsNonRoot"] == true
        && context["runAsUser"].is_null()
        && context["capabilities"] == json!({"drop": ["ALL"]})
}

fn gateway_only(policy: &Value) -> bool {
    policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        ["app.kubernetes.io/component"]
        == "apiary-gateway"
}

/// One tampering: what is patched, and how to see it was put back.
struct Tampering {
    what: &'static str,
    kind: Kind,
    patch: Value,
    /// A part of the path the Event names.
    path: &'static str,
    restored: fn(&Value) -> bool,
}

fn container_patch(context: Value) -> Value {
    json!({"spec": {"template": {"spec": {"containers": [{"name": "mcp", "securityContext": context}]}}}})
}

fn pod_patch(pod: Value) -> Value {
    json!({"spec": {"template": {"spec": pod}}})
}

fn tamperings() -> Vec<Tampering> {
    vec![
        Tampering {
            what: "egress opened",
            kind: Kind::NetworkPolicy,
            patch: json!({"spec": {"egress": [{}]}}),
            path: "spec.egress",
            restored: |p| p["spec"]["egress"].is_null(),
        },
        Tampering {
            what: "ingress opened",
            kind: Kind::NetworkPolicy,
            patch: json!({"spec": {"ingress": [{}]}}),
            path: "spec.ingress",
            restored: gateway_only,
        },
        Tampering {
            what: "privileged",
            kind: Kind::Deployment,
            // allowPrivilegeEscalation must go too, or the apiserver refuses the patch.
            patch: container_patch(json!({"privileged": true, "allowPrivilegeEscalation": true})),
            path: "containers[mcp].securityContext.privileged",
            restored: hardened,
        },
        Tampering {
            what: "allowPrivilegeEscalation",
            kind: Kind::Deployment,
            patch: container_patch(json!({"allowPrivilegeEscalation": true})),
            path: "containers[mcp].securityContext.allowPrivilegeEscalation",
            restored: hardened,
        },
        Tampering {
            what: "runAsUser 0",
            kind: Kind::Deployment,
            patch: container_patch(json!({"runAsUser": 0})),
            path: "containers[mcp].securityContext.runAsUser",
            restored: hardened,
        },
        Tampering {
            what: "runAsNonRoot false",
            kind: Kind::Deployment,
            patch: container_patch(json!({"runAsNonRoot": false})),
            path: "containers[mcp].securityContext.runAsNonRoot",
            restored: hardened,
        },
        Tampering {
            what: "capabilities.add",
            kind: Kind::Deployment,
            patch: container_patch(json!({"capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]}})),
            path: "containers[mcp].securityContext.capabilities",
            restored: hardened,
        },
        Tampering {
            what: "hostNetwork",
            kind: Kind::Deployment,
            patch: pod_patch(json!({"hostNetwork": true})),
            path: "spec.template.spec.hostNetwork",
            restored: |d| pod(d)["hostNetwork"].is_null(),
        },
        Tampering {
            what: "hostPID",
            kind: Kind::Deployment,
            patch: pod_patch(json!({"hostPID": true})),
            path: "spec.template.spec.hostPID",
            restored: |d| pod(d)["hostPID"].is_null(),
        },
        Tampering {
            what: "hostIPC",
            kind: Kind::Deployment,
            patch: pod_patch(json!({"hostIPC": true})),
            path: "spec.template.spec.hostIPC",
            restored: |d| pod(d)["hostIPC"].is_null(),
        },
        Tampering {
            what: "an extra container",
            kind: Kind::Deployment,
            patch: pod_patch(json!({"containers": [{"name": "sidecar", "image": "busybox:1"}]})),
            path: "containers[sidecar]",
            restored: |d| container_names(d, "containers") == ["mcp"],
        },
        Tampering {
            what: "an extra init container",
            kind: Kind::Deployment,
            patch: pod_patch(json!({"initContainers": [{"name": "init", "image": "busybox:1"}]})),
            path: "initContainers[init]",
            restored: |d| container_names(d, "initContainers").is_empty(),
        },
        Tampering {
            what: "image replaced",
            kind: Kind::Deployment,
            patch: pod_patch(
                json!({"containers": [{"name": "mcp", "image": "evil.example/miner:1"}]}),
            ),
            path: "containers[mcp].image",
            restored: |d| mcp(d)["image"] == "ghcr.io/example/closed:1.0",
        },
        Tampering {
            what: "serviceAccountName replaced",
            kind: Kind::Deployment,
            patch: pod_patch(json!({"serviceAccountName": "default"})),
            path: "spec.template.spec.serviceAccountName",
            restored: |d| pod(d)["serviceAccountName"] == "closed-sa",
        },
        Tampering {
            what: "token automount on the pod",
            kind: Kind::Deployment,
            patch: pod_patch(json!({"automountServiceAccountToken": true})),
            path: "spec.template.spec.automountServiceAccountToken",
            restored: |d| pod(d)["automountServiceAccountToken"] == false,
        },
        Tampering {
            what: "token automount on the ServiceAccount",
            kind: Kind::ServiceAccount,
            patch: json!({"automountServiceAccountToken": true}),
            path: "automountServiceAccountToken",
            restored: |a| a["automountServiceAccountToken"] == false,
        },
    ]
}

/// The value of `apiary_operator_drift_repairs_total{kind, field}` in this process.
fn repairs_counted(kind: &str, field: &str) -> u64 {
    let text = apiary_server::telemetry::metrics_handle().render();
    text.lines()
        .filter(|line| line.starts_with("apiary_operator_drift_repairs_total{"))
        .filter(|line| {
            line.contains(&format!("kind=\"{kind}\""))
                && line.contains(&format!("field=\"{field}\""))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A namespace with the operator and the converged server [`NAME`].
async fn converged() -> Option<(support::kube::OperatorNs, Children)> {
    apiary_server::telemetry::metrics_handle();
    let ns = operator_ns().await?;
    apply_manifest(&ns.client, &ns.name, &server_manifest(NAME))
        .await
        .expect("apply the server");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = wait_for(&servers, NAME, "phase Pending", phase_is(Phase::Pending)).await;
    let (status, reason, _) = condition(&server, "PolicyCompliant").expect("PolicyCompliant");
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Enforced"));
    let children = Children {
        client: ns.client.clone(),
        namespace: ns.name.clone(),
    };
    for kind in [Kind::Deployment, Kind::NetworkPolicy, Kind::ServiceAccount] {
        eventually(&format!("the {kind:?}"), || async {
            children.live(kind).await
        })
        .await;
    }
    Some((ns, children))
}

#[tokio::test]
async fn each_tampering_is_reverted_with_an_event_naming_field_and_manager() {
    let Some((_ns, children)) = converged().await else {
        return;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        children.repairs().await.is_empty(),
        "a converged server has nothing to revert"
    );
    let egress_before = repairs_counted("NetworkPolicy", "egress");
    for (i, tampering) in tamperings().into_iter().enumerate() {
        let manager = format!("tamperer-{i}");
        let since = Instant::now();
        children
            .tamper(tampering.kind, &manager, &tampering.patch)
            .await;
        children
            .expect_repair(
                since,
                tampering.kind,
                &tampering.restored,
                tampering.what,
                tampering.path,
                &manager,
            )
            .await;
    }
    assert!(
        repairs_counted("NetworkPolicy", "egress") > egress_before,
        "the repair is counted"
    );

    // The NetworkPolicy deleted.
    let policies = children.api::<NetworkPolicy>();
    let uid = policies.get(NAME).await.expect("the policy").uid();
    let since = Instant::now();
    policies
        .delete(NAME, &DeleteParams::default())
        .await
        .expect("delete the NetworkPolicy");
    let recreated = move |p: &Value| p["metadata"]["uid"].as_str() != uid.as_deref();
    children
        .expect_repair(
            since,
            Kind::NetworkPolicy,
            &recreated,
            "the NetworkPolicy deleted",
            "deletion",
            "NetworkPolicy",
        )
        .await;
}

#[tokio::test]
async fn every_tampering_at_once_is_reverted() {
    let Some((ns, children)) = converged().await else {
        return;
    };
    let since = Instant::now();
    children
        .tamper(
            Kind::NetworkPolicy,
            "tamperer",
            &json!({"spec": {"egress": [{}], "ingress": [{}]}}),
        )
        .await;
    children
        .tamper(
            Kind::Deployment,
            "tamperer",
            &json!({"spec": {"template": {"spec": {
                "hostNetwork": true, "hostPID": true, "hostIPC": true,
                "serviceAccountName": "default", "automountServiceAccountToken": true,
                "initContainers": [{"name": "init", "image": "busybox:1"}],
                "containers": [
                    {"name": "mcp", "image": "evil.example/miner:1", "securityContext": {
                        "privileged": true, "allowPrivilegeEscalation": true, "runAsUser": 0,
                        "runAsNonRoot": false, "capabilities": {"add": ["SYS_ADMIN"]}}},
                    {"name": "sidecar", "image": "busybox:1"}]}}}}),
        )
        .await;
    children
        .tamper(
            Kind::ServiceAccount,
            "tamperer",
            &json!({"automountServiceAccountToken": true}),
        )
        .await;
    for tampering in tamperings() {
        children
            .expect_repair(
                since,
                tampering.kind,
                &tampering.restored,
                tampering.what,
                tampering.path,
                "tamperer",
            )
            .await;
    }
    // Everything is back as rendered: PolicyCompliant reads the live objects.
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = servers.get(NAME).await.expect("the server");
    let (status, reason, message) = condition(&server, "PolicyCompliant").expect("condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "Enforced"),
        "{message}"
    );
}

#[tokio::test]
async fn a_stalled_apply_recovers_and_a_later_spec_change_rolls_out() {
    let Some((ns, children)) = converged().await else {
        return;
    };
    // privileged: true makes every apply of allowPrivilegeEscalation: false invalid.
    let since = Instant::now();
    children
        .tamper(
            Kind::Deployment,
            "kubectl-patch",
            &container_patch(json!({"privileged": true, "allowPrivilegeEscalation": true})),
        )
        .await;
    children
        .expect_repair(
            since,
            Kind::Deployment,
            &hardened,
            "privileged",
            "securityContext.privileged",
            "kubectl-patch",
        )
        .await;
    // A spec change afterwards rolls out, and the status catches up with it.
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = servers
        .patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"image": "ghcr.io/example/closed:2.0"}})),
        )
        .await
        .expect("change the image");
    eventually("the new image rolled out", || async {
        let live = children.live(Kind::Deployment).await?;
        (mcp(&live)["image"] == "ghcr.io/example/closed:2.0").then_some(())
    })
    .await;
    let server = wait_for(&servers, NAME, "the new generation observed", |s| {
        s.status.as_ref().and_then(|s| s.observed_generation) == server.metadata.generation
    })
    .await;
    assert_eq!(
        server.status.and_then(|s| s.phase),
        Some(Phase::Pending),
        "not Degraded"
    );
}

#[tokio::test]
async fn a_refused_apply_is_degraded_until_the_spec_is_fixed() {
    let Some((ns, children)) = converged().await else {
        return;
    };
    // The user's own overlay asks for what the apiserver refuses next to Apiary's hardening.
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    servers
        .patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"podTemplateSpec": {"spec": {"containers": [
                {"name": "mcp", "securityContext": {"privileged": true}}]}}}})),
        )
        .await
        .expect("set the overlay");
    let server = wait_for(&servers, NAME, "phase Degraded", phase_is(Phase::Degraded)).await;
    let message = server.status.and_then(|s| s.message).unwrap_or_default();
    assert!(
        message.starts_with(&format!("Deployment {NAME}: ")) && message.contains("privileged"),
        "the apiserver's message: {message}"
    );
    let warning = eventually("an ApplyRefused Warning", || async {
        children
            .api::<Event>()
            .list(&Default::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("ApplyRefused"))
    })
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert!(
        warning.note.unwrap_or_default().contains("privileged"),
        "the Event carries the apiserver's message"
    );
    // The refused Deployment stays as it was; the NetworkPolicy is still applied.
    let live = children
        .live(Kind::Deployment)
        .await
        .expect("the Deployment");
    assert!(hardened(&live));
    assert!(children.live(Kind::NetworkPolicy).await.is_some());

    // Fixing the spec (and changing the image with it) rolls out.
    let server = servers
        .patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"podTemplateSpec": null, "image": "ghcr.io/example/closed:3.0"}}),
            ),
        )
        .await
        .expect("fix the spec");
    let server = wait_for(&servers, NAME, "phase Pending again", |s| {
        phase_is(Phase::Pending)(s)
            && s.status.as_ref().and_then(|s| s.observed_generation) == server.metadata.generation
    })
    .await;
    let live = children
        .live(Kind::Deployment)
        .await
        .expect("the Deployment");
    assert_eq!(mcp(&live)["image"], "ghcr.io/example/closed:3.0");
    let (status, _, _) = condition(&server, "PolicyCompliant").expect("condition");
    assert_eq!(status, "True");
}

/// What the user's own `podTemplateSpec` asks for is rendered, so it is not drift: a converged
/// server with an overlay (and the seed, with all egress open) gets no repair, and a tampering
/// next to the overlay removes only the stranger's container.
#[tokio::test]
async fn the_users_overlay_is_not_drift() {
    apiary_server::telemetry::metrics_handle();
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(&ns.client, &ns.name, &support::kube::seed_in(&ns.name))
        .await
        .expect("apply the seed");
    apply_manifest(
        &ns.client,
        &ns.name,
        &format!(
            "{}  podTemplateSpec:\n    spec:\n      nodeSelector: {{disk: ssd}}\n      \
             volumes: [{{name: certs, secret: {{secretName: certs}}}}]\n      \
             initContainers: [{{name: setup, image: 'busybox:1'}}]\n      \
             containers:\n      - {{name: mcp, securityContext: {{capabilities: {{add: [NET_BIND_SERVICE]}}}}}}\n      \
             - {{name: proxy, image: 'busybox:1', securityContext: {{runAsUser: 1000}}}}\n",
            server_manifest(NAME)
        ),
    )
    .await
    .expect("apply a server with an overlay");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    for name in ["osv", NAME] {
        let server = wait_for(&servers, name, "phase Pending", phase_is(Phase::Pending)).await;
        let (status, reason, message) = condition(&server, "PolicyCompliant").expect("condition");
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("True", "Enforced"),
            "{name}: {message}"
        );
    }
    let children = Children {
        client: ns.client.clone(),
        namespace: ns.name.clone(),
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events: Vec<Event> = children
        .api::<Event>()
        .list(&Default::default())
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("DriftReverted"))
        .collect();
    assert!(events.is_empty(), "nothing to revert: {events:#?}");

    let since = Instant::now();
    children
        .tamper(
            Kind::Deployment,
            "tamperer",
            &pod_patch(json!({"containers": [{"name": "miner", "image": "busybox:1"}]})),
        )
        .await;
    let restored = |d: &Value| {
        container_names(d, "containers") == ["mcp", "proxy"]
            && mcp(d)["securityContext"]["capabilities"]["add"] == json!(["NET_BIND_SERVICE"])
            && container_names(d, "initContainers") == ["setup"]
    };
    children
        .expect_repair(
            since,
            Kind::Deployment,
            &restored,
            "a container next to the overlay's",
            "containers[miner]",
            "tamperer",
        )
        .await;
}
