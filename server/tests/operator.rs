//! The MCPServer operator against a real kube-apiserver (`end2end/envtest`): each test gets a
//! fresh namespace and its own in-process controller, and waits (bounded) for convergence.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use apiary_server::resources::crd::{MCPServer, MCPToolConfig, Phase};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use support::kube::{
    apply_manifest, eventually, namespace, operator_ns, printed_columns, recording_client, seed_in,
    service_account_client, start_operator, wait_for, Writes, SEED,
};

fn phase_is(phase: Phase) -> impl Fn(&MCPServer) -> bool {
    move |server| server.status.as_ref().and_then(|s| s.phase) == Some(phase)
}

fn condition<'a>(server: &'a MCPServer, type_: &str) -> Option<(&'a str, &'a str)> {
    server
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

fn is_controller_ref_to(server: &MCPServer) -> impl Fn(&[OwnerReference]) -> bool + '_ {
    move |refs| {
        refs.iter().any(|r| {
            r.kind == "MCPServer"
                && r.uid == server.uid().unwrap_or_default()
                && r.controller == Some(true)
                && r.block_owner_deletion == Some(true)
        })
    }
}

#[tokio::test]
async fn the_seed_manifest_reconciles_into_hardened_children_and_becomes_ready() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(&ns.client, &ns.name, &seed_in(&ns.name))
        .await
        .expect("the seed (v1alpha1, port/targetPort) is accepted verbatim");

    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let deployment = wait_for(&deployments, "osv", "the Deployment", |_| true).await;
    let spec = deployment.spec.expect("spec");
    assert_eq!(
        spec.replicas,
        Some(1),
        "defaulted by the apiserver, not set by Apiary"
    );
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.service_account_name.as_deref(), Some("osv-sa"));
    let container = &pod.containers[0];
    assert_eq!(container.name, "mcp");
    assert_eq!(
        container.image.as_deref(),
        Some("ghcr.io/stackloklabs/osv-mcp/server")
    );
    let security = container.security_context.as_ref().expect("hardened");
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(
        security.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_owned()])
    );
    assert_eq!(
        security.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
        Some("RuntimeDefault")
    );
    let resources = container.resources.as_ref().expect("resources");
    let limits = resources.limits.as_ref().expect("limits");
    assert_eq!(limits["cpu"].0, "100m");
    assert_eq!(limits["memory"].0, "128Mi");
    let requests = resources.requests.as_ref().expect("requests");
    assert_eq!(requests["cpu"].0, "50m");
    assert_eq!(requests["memory"].0, "64Mi");
    assert_eq!(
        container.ports.as_ref().map(|p| p[0].container_port),
        Some(8080)
    );
    let labels = deployment.metadata.labels.expect("labels");
    assert_eq!(labels["app.kubernetes.io/instance"], "osv");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "apiary");
    assert!(labels.contains_key("app.kubernetes.io/name"));

    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    let service = wait_for(&services, "mcp-osv", "the Service", |_| true).await;
    let port = &service.spec.expect("spec").ports.expect("ports")[0];
    assert_eq!(port.port, 8080);
    assert_eq!(
        port.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8080))
    );

    let accounts: Api<ServiceAccount> = Api::namespaced(ns.client.clone(), &ns.name);
    let account = wait_for(&accounts, "osv-sa", "the ServiceAccount", |_| true).await;
    assert_eq!(account.automount_service_account_token, Some(false));

    let policies: Api<NetworkPolicy> = Api::namespaced(ns.client.clone(), &ns.name);
    let policy = wait_for(&policies, "osv", "the NetworkPolicy", |_| true).await;
    let policy = serde_json::to_value(policy.spec.expect("spec")).expect("json");
    assert_eq!(policy["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(policy["egress"], json!([{}]), "builtin network: all egress");
    assert_eq!(
        policy["ingress"],
        json!([{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.client.default_namespace()}},
                      "podSelector": {"matchLabels": {"app.kubernetes.io/component": "apiary-gateway"}}}],
            "ports": [{"port": 8080, "protocol": "TCP"}]
        }]),
        "ingress only from the gateway's pods in its namespace (by default the client's)"
    );

    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = wait_for(&servers, "osv", "phase Pending", phase_is(Phase::Pending)).await;
    let status = server.status.expect("status");
    assert_eq!(
        status.url.as_deref(),
        Some(format!("http://mcp-osv.{}.svc.cluster.local:8080/mcp", ns.name).as_str())
    );
    assert_eq!(status.observed_generation, server.metadata.generation);

    // No kubelet: pretend the pod became ready.
    deployments
        .patch_status(
            "osv",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 1, "readyReplicas": 1}})),
        )
        .await
        .expect("patch the Deployment's status");
    let server = wait_for(&servers, "osv", "phase Ready", phase_is(Phase::Ready)).await;
    assert_eq!(condition(&server, "Ready"), Some(("True", "Ready")));
    assert_eq!(server.status.and_then(|s| s.ready_replicas), Some(1));
}

#[tokio::test]
async fn a_toolhive_v1beta1_manifest_with_a_tool_config_reconciles_the_same_way() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPToolConfig\nmetadata: {name: fetch-tools}\n\
         spec: {toolsFilter: [fetch], toolsOverride: {fetch: {name: web_fetch, description: Fetch a URL}},\n\
         deny: ['admin_*']}",
    )
    .await
    .expect("the MCPToolConfig is accepted");
    // Enforced at the gateway: an oidcConfigRef to an inline MCPOIDCConfig runs.
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPOIDCConfig\nmetadata: {name: oidc}\n\
         spec: {type: inline, inline: {issuer: 'https://idp.example.com'}}",
    )
    .await
    .expect("the MCPOIDCConfig is accepted");
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: fetch}\n\
         spec:\n  image: ghcr.io/stackloklabs/gofetch/server\n  transport: streamable-http\n\
         \x20 toolConfigRef: {name: fetch-tools}\n  proxyPort: 9090\n  mcpPort: 8081\n\
         \x20 args: [--verbose]\n  env: [{name: LOG, value: debug}]\n\
         \x20 secrets: [{name: fetch-secret, key: token, targetEnvName: FETCH_TOKEN}]\n\
         \x20 permissionProfile: {type: builtin, name: none}\n\
         \x20 resources: {limits: {cpu: 100m, memory: 128Mi}, requests: {cpu: 50m, memory: 64Mi}}\n\
         \x20 proxyMode: streamable-http\n  sessionAffinity: ClientIP\n  trustProxyHeaders: true\n\
         \x20 groupRef: {name: team}\n  oidcConfigRef: {name: oidc, audience: fetch}\n\
         \x20 audit: {enabled: true}\n  telemetryConfigRef: {name: otel}\n\
         \x20 resourceOverrides: {proxyDeployment: {labels: {a: b}}}\n\
         \x20 volumes: [{name: data, hostPath: /data, mountPath: /data, readOnly: true}]\n\
         \x20 podTemplateSpec:\n    metadata: {annotations: {team: search}}\n\
         \x20   spec:\n      nodeSelector: {disk: ssd}\n\
         \x20     containers: [{name: mcp, env: [{name: EXTRA, value: '1'}]}, {name: sidecar, image: busybox}]\n",
    )
    .await
    .expect("the ToolHive manifest, with fields Apiary does not act on, is accepted strictly");

    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = wait_for(&servers, "fetch", "ToolConfigResolved=True", |s| {
        condition(s, "ToolConfigResolved") == Some(("True", "Resolved"))
    })
    .await;
    let status = server.status.expect("status");
    assert_eq!(status.phase, Some(Phase::Pending));
    assert!(status.tool_config_hash.is_some_and(|h| h.len() == 64));
    assert_eq!(
        status.url.as_deref(),
        Some(format!("http://mcp-fetch.{}.svc.cluster.local:9090/mcp", ns.name).as_str())
    );

    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    let service = wait_for(&services, "mcp-fetch", "the Service", |_| true).await;
    let port = &service.spec.expect("spec").ports.expect("ports")[0];
    assert_eq!(port.port, 9090);
    assert_eq!(
        port.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8081))
    );
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let deployment = wait_for(&deployments, "fetch", "the Deployment", |_| true).await;
    let template = deployment.spec.expect("spec").template;
    assert_eq!(
        template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .map(|a| a["team"].as_str()),
        Some("search")
    );
    let pod = serde_json::to_value(template.spec.expect("pod")).expect("json");
    assert_eq!(pod["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(pod["containers"][1]["name"], "sidecar");
    let container = pod["containers"][0].clone();
    assert_eq!(container["name"], "mcp");
    assert_eq!(container["ports"][0]["containerPort"], 8081);
    assert_eq!(container["args"], json!(["--verbose"]));
    assert_eq!(
        container["env"],
        json!([{"name": "LOG", "value": "debug"},
               {"name": "FETCH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "fetch-secret", "key": "token"}}},
               {"name": "EXTRA", "value": "1"}]),
        "podTemplateSpec env merged into the mcp container by name"
    );
    assert_eq!(container["securityContext"]["runAsNonRoot"], true);
    let policies: Api<NetworkPolicy> = Api::namespaced(ns.client.clone(), &ns.name);
    let policy = wait_for(&policies, "fetch", "the NetworkPolicy", |_| true).await;
    let policy = serde_json::to_value(policy.spec.expect("spec")).expect("json");
    assert_eq!(policy["policyTypes"], json!(["Ingress", "Egress"]));
    assert!(
        policy.get("egress").is_none() || policy["egress"] == json!([]),
        "builtin none: no egress, got {policy}"
    );
}

#[tokio::test]
async fn drift_is_repaired_and_a_manual_scale_survives() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(&ns.client, &ns.name, &seed_in(&ns.name))
        .await
        .expect("apply the seed");
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let first = wait_for(&deployments, "osv", "the Deployment", |_| true).await;

    // A deleted child is recreated.
    deployments
        .delete("osv", &DeleteParams::default())
        .await
        .expect("delete the Deployment");
    let old_uid = first.uid();
    wait_for(&deployments, "osv", "the Deployment to be recreated", |d| {
        d.uid() != old_uid
    })
    .await;

    // A child edited by hand is put back.
    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    wait_for(&services, "mcp-osv", "the Service", |_| true).await;
    services
        .patch(
            "mcp-osv",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"ports": [
                {"$patch": "replace"},
                {"name": "http", "port": 9999, "targetPort": 8080, "protocol": "TCP"}]}})),
        )
        .await
        .expect("edit the Service's port by hand");
    let ports = |s: &Service| {
        s.spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .map(|p| p.iter().map(|p| p.port).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    wait_for(
        &services,
        "mcp-osv",
        "the Service port to be restored",
        |s| ports(s) == [8080],
    )
    .await;

    // With spec.replicas unset, a manual scale is left alone.
    deployments
        .patch_scale(
            "osv",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale by hand");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    servers
        .patch(
            "osv",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"test/touch": "1"}}})),
        )
        .await
        .expect("touch the MCPServer");
    // Force a reconcile we can observe: the NetworkPolicy is applied after the Deployment, so
    // once it is back, that pass has re-applied the Deployment.
    let policies: Api<NetworkPolicy> = Api::namespaced(ns.client.clone(), &ns.name);
    let policy = wait_for(&policies, "osv", "the NetworkPolicy", |_| true).await;
    policies
        .delete("osv", &DeleteParams::default())
        .await
        .expect("delete the NetworkPolicy");
    wait_for(&policies, "osv", "the NetworkPolicy to be recreated", |p| {
        p.uid() != policy.uid()
    })
    .await;
    let deployment = deployments.get("osv").await.expect("the Deployment");
    assert_eq!(
        deployment.spec.and_then(|s| s.replicas),
        Some(3),
        "the manual scale survives a re-reconcile"
    );
}

#[tokio::test]
async fn invalid_specs_fail_with_the_field_named() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    // The schema refuses an out-of-range port at admission, naming the field.
    let refused = apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: badport}\n\
         spec: {image: ghcr.io/x/y, port: 70000}",
    )
    .await
    .expect_err("port 70000 is refused by the apiserver");
    assert!(
        refused.to_string().contains("spec.port"),
        "the refusal names the field: {refused}"
    );

    // What only the operator can check: a bad image reference and an unknown builtin profile.
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    for (name, spec, field) in [
        (
            "badimage",
            "{image: 'Not A/Valid Image', transport: sse}",
            "spec.image",
        ),
        (
            "badprofile",
            "{image: ghcr.io/x/y, permissionProfile: {type: builtin, name: internet}}",
            "spec.permissionProfile.name",
        ),
    ] {
        apply_manifest(
            &ns.client,
            &ns.name,
            &format!(
                "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {{name: {name}}}\nspec: {spec}"
            ),
        )
        .await
        .expect("structurally valid, so admitted");
        let server = wait_for(&servers, name, "phase Failed", phase_is(Phase::Failed)).await;
        let message = server.status.and_then(|s| s.message).unwrap_or_default();
        assert!(message.contains(field), "{name}: {message}");
        assert!(
            deployments.get_opt(name).await.expect("get").is_none(),
            "{name}: nothing is deployed for an invalid spec"
        );
    }

    // Fixing the spec is noticed (the permanent error waits for this change).
    servers
        .patch(
            "badimage",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"image": "ghcr.io/x/y:1.0"}})),
        )
        .await
        .expect("fix the image");
    wait_for(
        &servers,
        "badimage",
        "phase Pending after the fix",
        phase_is(Phase::Pending),
    )
    .await;
    wait_for(
        &deployments,
        "badimage",
        "the Deployment after the fix",
        |_| true,
    )
    .await;
}

#[tokio::test]
async fn a_missing_tool_config_is_reported_until_it_appears() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: gh}\n\
         spec: {image: ghcr.io/github/github-mcp-server, toolConfigRef: {name: gh-tools}}",
    )
    .await
    .expect("apply the MCPServer");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = wait_for(&servers, "gh", "ToolConfigResolved=False", |s| {
        condition(s, "ToolConfigResolved").is_some_and(|(status, _)| status == "False")
    })
    .await;
    assert_eq!(
        condition(&server, "ToolConfigResolved"),
        Some(("False", "ToolConfigNotFound"))
    );
    let message = server
        .status
        .as_ref()
        .and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == "ToolConfigResolved")
        })
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("gh-tools"), "{message}");

    // Creating the MCPToolConfig alone (no change to the MCPServer) flips it: the watch works.
    let configs: Api<MCPToolConfig> = Api::namespaced(ns.client.clone(), &ns.name);
    let config: MCPToolConfig = serde_yaml::from_str(
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPToolConfig\nmetadata: {name: gh-tools}\n\
         spec: {toolsFilter: [get_issue], allow: ['get_*'], deny: ['*_delete']}",
    )
    .expect("parses");
    configs
        .create(&Default::default(), &config)
        .await
        .expect("create the MCPToolConfig");
    let server = wait_for(&servers, "gh", "ToolConfigResolved=True", |s| {
        condition(s, "ToolConfigResolved") == Some(("True", "Resolved"))
    })
    .await;
    let first_hash = server.status.and_then(|s| s.tool_config_hash);
    assert!(first_hash.is_some());

    // A change to the MCPToolConfig is seen too.
    configs
        .patch(
            "gh-tools",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"deny": ["*_delete", "*_admin"]}})),
        )
        .await
        .expect("edit the MCPToolConfig");
    wait_for(&servers, "gh", "a new toolConfigHash", |s| {
        let hash = s.status.as_ref().and_then(|s| s.tool_config_hash.clone());
        hash.is_some() && hash != first_hash
    })
    .await;
}

#[tokio::test]
async fn deletion_leaves_only_children_the_garbage_collector_removes() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(&ns.client, &ns.name, &seed_in(&ns.name))
        .await
        .expect("apply the seed");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = wait_for(&servers, "osv", "phase Pending", phase_is(Phase::Pending)).await;
    assert!(
        server.finalizers().is_empty(),
        "no finalizer: nothing outside the cluster to clean up"
    );
    let owned = is_controller_ref_to(&server);

    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    let accounts: Api<ServiceAccount> = Api::namespaced(ns.client.clone(), &ns.name);
    let policies: Api<NetworkPolicy> = Api::namespaced(ns.client.clone(), &ns.name);
    let refs: BTreeMap<&str, Vec<OwnerReference>> = BTreeMap::from([
        (
            "Deployment",
            wait_for(&deployments, "osv", "the Deployment", |_| true)
                .await
                .owner_references()
                .to_vec(),
        ),
        (
            "Service",
            wait_for(&services, "mcp-osv", "the Service", |_| true)
                .await
                .owner_references()
                .to_vec(),
        ),
        (
            "ServiceAccount",
            wait_for(&accounts, "osv-sa", "the ServiceAccount", |_| true)
                .await
                .owner_references()
                .to_vec(),
        ),
        (
            "NetworkPolicy",
            wait_for(&policies, "osv", "the NetworkPolicy", |_| true)
                .await
                .owner_references()
                .to_vec(),
        ),
    ]);
    for (kind, refs) in &refs {
        assert!(
            owned(refs),
            "{kind} carries a controller ownerReference with blockOwnerDeletion to the MCPServer: {refs:?}"
        );
    }

    servers
        .delete("osv", &DeleteParams::default())
        .await
        .expect("delete the MCPServer");
    eventually(
        "the MCPServer to be gone (no finalizer holds it)",
        || async {
            servers
                .get_opt("osv")
                .await
                .expect("get")
                .is_none()
                .then_some(())
        },
    )
    .await;
    // There is no garbage collector here: do its job, then make sure the operator, which still
    // sees child events, recreates nothing for a server that is gone.
    deployments
        .delete("osv", &DeleteParams::default())
        .await
        .expect("delete the Deployment as the GC would");
    services
        .delete("mcp-osv", &DeleteParams::default())
        .await
        .expect("delete the Service as the GC would");
    let quiet = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet {
        assert!(
            deployments.get_opt("osv").await.expect("get").is_none(),
            "the Deployment was recreated for a deleted MCPServer"
        );
        assert!(
            services.get_opt("mcp-osv").await.expect("get").is_none(),
            "the Service was recreated for a deleted MCPServer"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_documented_rbac_is_enough() {
    let Some(admin) = support::kube::client().await else {
        return;
    };
    let ns = namespace(&admin).await;
    // The ClusterRole of deploy/rbac/operator.yaml, bound in this namespace only.
    let role_yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rbac/operator.yaml"),
    )
    .expect("read deploy/rbac/operator.yaml");
    let role: k8s_openapi::api::rbac::v1::ClusterRole =
        serde_yaml::from_str(&role_yaml).expect("a ClusterRole");
    Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(admin.clone())
        .patch(
            "apiary-operator",
            &PatchParams::apply("apiary-tests").force(),
            &Patch::Apply(&role),
        )
        .await
        .expect("apply the ClusterRole");
    let binding: k8s_openapi::api::rbac::v1::RoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "apiary-operator", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "apiary-operator"},
        "subjects": [{"kind": "ServiceAccount", "name": "apiary-operator", "namespace": ns}],
    }))
    .expect("a RoleBinding");
    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(admin.clone(), &ns)
        .create(&Default::default(), &binding)
        .await
        .expect("bind the role");
    let operator = service_account_client(&ns, "apiary-operator").await;
    let ns = start_operator(admin, operator, &ns);

    apply_manifest(&ns.client, &ns.name, &seed_in(&ns.name))
        .await
        .expect("apply the seed");
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: custom}\n\
         spec: {image: ghcr.io/x/y, transport: sse, permissionProfile: {type: configmap, name: prof}}",
    )
    .await
    .expect("apply a server with a ConfigMap profile");
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: prof}\n\
         data: {profile.json: '{\"network\":{\"outbound\":{\"allow_host\":[\"10.0.0.0/8\"],\"allow_port\":[443]}}}'}",
    )
    .await
    .expect("apply the profile");
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: broken}\n\
         spec: {image: 'UPPER/case'}",
    )
    .await
    .expect("apply an invalid server");

    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    wait_for(&servers, "osv", "phase Pending", phase_is(Phase::Pending)).await;
    for (kind, found) in [
        (
            "Deployment",
            Api::<Deployment>::namespaced(ns.client.clone(), &ns.name)
                .get_opt("osv")
                .await
                .map(|o| o.is_some()),
        ),
        (
            "Service",
            Api::<Service>::namespaced(ns.client.clone(), &ns.name)
                .get_opt("mcp-osv")
                .await
                .map(|o| o.is_some()),
        ),
        (
            "ServiceAccount",
            Api::<ServiceAccount>::namespaced(ns.client.clone(), &ns.name)
                .get_opt("osv-sa")
                .await
                .map(|o| o.is_some()),
        ),
        (
            "NetworkPolicy",
            Api::<NetworkPolicy>::namespaced(ns.client.clone(), &ns.name)
                .get_opt("osv")
                .await
                .map(|o| o.is_some()),
        ),
    ] {
        assert!(
            found.expect("get"),
            "{kind} applied with the documented RBAC"
        );
    }
    // The ConfigMap profile is read (it may appear after the server: the backoff retries).
    wait_for(
        &servers,
        "custom",
        "phase Pending",
        phase_is(Phase::Pending),
    )
    .await;
    let policies: Api<NetworkPolicy> = Api::namespaced(ns.client.clone(), &ns.name);
    let policy = wait_for(&policies, "custom", "the NetworkPolicy", |_| true).await;
    let egress = serde_json::to_value(policy.spec.expect("spec")).expect("json")["egress"].clone();
    assert_eq!(
        egress[1],
        json!({"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 443, "protocol": "TCP"}]})
    );
    // Failures are reported in the status and as an Event.
    wait_for(&servers, "broken", "phase Failed", phase_is(Phase::Failed)).await;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(ns.client.clone(), &ns.name);
    eventually("a Warning event for the invalid spec", || async {
        let list = events.list(&Default::default()).await.expect("list events");
        list.items
            .iter()
            .any(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("broken")
                    && e.reason.as_deref() == Some("InvalidSpec")
                    && e.note.as_deref().is_some_and(|n| n.contains("spec.image"))
            })
            .then_some(())
    })
    .await;
    // Drift repair (managedFields taken back, an Event of its own) needs nothing more.
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    deployments
        .patch(
            "osv",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"hostNetwork": true}}}})),
        )
        .await
        .expect("put the pod on the host network");
    wait_for(&deployments, "osv", "hostNetwork removed", |d| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .is_some_and(|p| p.host_network.is_none())
    })
    .await;
    eventually("a DriftReverted event", || async {
        let list = events.list(&Default::default()).await.expect("list events");
        list.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("DriftReverted"))
            .then_some(())
    })
    .await;
}

/// `apiary serve --runtime kubernetes` runs the operator next to the web server, and SIGTERM
/// stops both (the process exits 0 promptly).
#[tokio::test]
async fn serve_with_the_kubernetes_runtime_runs_the_operator_and_stops_on_sigterm() {
    let Some(admin) = support::kube::client().await else {
        return;
    };
    let ns = namespace(&admin).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = support::ports::PassedSocket::bind();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_apiary"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "KUBECONFIG",
            std::env::var("APIARY_TEST_KUBECONFIG").expect("set when a client exists"),
        )
        .env("APIARY_WATCH_NAMESPACE", &ns)
        .env("APIARY_LEASE_NAMESPACE", &ns)
        .env("APIARY_GATEWAY_NAMESPACE", "apiary-gateway-ns")
        .env("APIARY_DATA_DIR", dir.path())
        .args(["serve", "--runtime", "kubernetes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    socket.pass_to(command.as_std_mut());
    let mut child = command.spawn().expect("start apiary");
    drop(socket);

    apply_manifest(&admin, &ns, &seed_in(&ns))
        .await
        .expect("apply the seed");
    let servers: Api<MCPServer> = Api::namespaced(admin.clone(), &ns);
    wait_for(
        &servers,
        "osv",
        "phase Pending, set by the embedded operator",
        phase_is(Phase::Pending),
    )
    .await;
    assert_admits_only(&admin, &ns, "osv", "apiary-gateway-ns").await;

    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &child.id().expect("running").to_string()])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("apiary stops within 10 s of SIGTERM")
        .expect("wait");
    assert!(status.success(), "a graceful stop exits 0: {status}");
}

/// The NetworkPolicy of server `name`, as stored, admits only the gateway's pods in
/// `gateway_namespace` (there is no CNI here: the object is what is checked).
async fn assert_admits_only(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    gateway_namespace: &str,
) {
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
    let policy = wait_for(&policies, name, "the NetworkPolicy", |_| true).await;
    let policy = serde_json::to_value(policy.spec.expect("spec")).expect("json");
    assert_eq!(
        policy["ingress"][0]["from"],
        json!([{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": gateway_namespace}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "apiary-gateway"}},
        }]),
        "{policy}"
    );
}

/// The standalone `apiary operator` takes the gateway's namespace from
/// `APIARY_GATEWAY_NAMESPACE`, and refuses a value that is not a namespace name.
#[tokio::test]
async fn apiary_operator_admits_the_gateway_namespace_it_is_given() {
    let Some(admin) = support::kube::client().await else {
        return;
    };
    let ns = namespace(&admin).await;
    let kubeconfig = std::env::var("APIARY_TEST_KUBECONFIG").expect("set when a client exists");
    let operator = |gateway_namespace: &str| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_apiary"));
        command
            .env_clear()
            .env("KUBECONFIG", &kubeconfig)
            .env("APIARY_LEASE_NAMESPACE", &ns)
            .env("APIARY_GATEWAY_NAMESPACE", gateway_namespace)
            .args(["operator", "--namespace", &ns])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    };
    let refused = operator("Apiary_System")
        .stderr(std::process::Stdio::piped())
        .output()
        .await
        .expect("run apiary operator");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("APIARY_GATEWAY_NAMESPACE") && stderr.contains("Apiary_System"),
        "{stderr}"
    );

    let _running = operator("team-gateway")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start apiary operator");
    apply_manifest(&admin, &ns, &seed_in(&ns))
        .await
        .expect("apply the seed");
    assert_admits_only(&admin, &ns, "osv", "team-gateway").await;
}

#[test]
fn apiary_crds_prints_both_crds() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_apiary"))
        .env_clear()
        .arg("crds")
        .output()
        .expect("run apiary crds");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let expected: Vec<String> = apiary_server::resources::manifests::crd_manifests()
        .into_iter()
        .map(|(_, yaml)| yaml)
        .collect();
    assert_eq!(text, expected.join("---\n"));
}

#[test]
fn the_committed_crds_match_the_generated_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds");
    for (file, generated) in apiary_server::resources::manifests::crd_manifests() {
        let path = dir.join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale or missing: regenerate it with `cargo run -p apiary-server -- crds --out deploy/crds` and commit it",
            path.display()
        );
    }
}

#[test]
fn the_seed_fixture_is_the_shared_seed_verbatim() {
    // The fixture is a copy; the test only rewrites its namespace in memory.
    assert!(SEED.contains("namespace: my-namespace # Update with your namespace"));
    assert!(SEED.starts_with("apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\n"));
}

/// Once a server has converged the operator leaves it alone: no child, and not the server,
/// changes again. Covers both a server without a permission profile (deny-all egress) and the
/// seed's builtin `network` profile.
#[tokio::test]
async fn a_converged_server_is_left_alone() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(&ns.client, &ns.name, &seed_in(&ns.name))
        .await
        .expect("apply the seed");
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata:\n  name: closed\n\
         spec:\n  image: ghcr.io/example/closed:1.0\n  transport: streamable-http\n  port: 8080\n",
    )
    .await
    .expect("apply a server without a permission profile");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    for name in ["osv", "closed"] {
        wait_for(&servers, name, "its status", phase_is(Phase::Pending)).await;
    }
    // Versions of everything the operator writes, after the dust of the first reconciles.
    let versions = || async {
        let mut versions = BTreeMap::new();
        for name in ["osv", "closed"] {
            let child = name.to_owned();
            let server = servers.get(name).await.expect("the server");
            versions.insert(format!("MCPServer/{name}"), server.resource_version());
            let deployment = Api::<Deployment>::namespaced(ns.client.clone(), &ns.name)
                .get(&child)
                .await
                .expect("its Deployment");
            versions.insert(format!("Deployment/{name}"), deployment.resource_version());
            let policy = Api::<NetworkPolicy>::namespaced(ns.client.clone(), &ns.name)
                .get(&child)
                .await
                .expect("its NetworkPolicy");
            versions.insert(format!("NetworkPolicy/{name}"), policy.resource_version());
            let account = Api::<ServiceAccount>::namespaced(ns.client.clone(), &ns.name)
                .get(&format!("{name}-sa"))
                .await
                .expect("its ServiceAccount");
            versions.insert(format!("ServiceAccount/{name}"), account.resource_version());
            let service = Api::<Service>::namespaced(ns.client.clone(), &ns.name)
                .get(&format!("mcp-{name}"))
                .await
                .expect("its Service");
            versions.insert(format!("Service/{name}"), service.resource_version());
        }
        versions
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = versions().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        versions().await,
        settled,
        "something kept being rewritten after convergence"
    );
}

/// The writes recorded so far, emptied.
fn take(writes: &Writes) -> Vec<String> {
    std::mem::take(&mut *writes.lock().expect("the write log"))
}

/// A converged server costs the apiserver no write: a reconcile forced by touching the server
/// applies no child and writes no status (so no child's `resourceVersion` moves), while a
/// tampering is still repaired, by writing the tampered child alone.
#[tokio::test]
async fn a_forced_reconcile_of_a_converged_server_writes_nothing_and_tampering_is_still_repaired() {
    let Some(config) = support::kube::config().await else {
        return;
    };
    let client = kube::Client::try_from(config.clone()).expect("a client");
    let name = namespace(&client).await;
    let (operator_client, writes) = recording_client(config);
    let ns = start_operator(client, operator_client, &name);
    apply_manifest(&ns.client, &ns.name, &seed_in(&ns.name))
        .await
        .expect("apply the seed");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    wait_for(&servers, "osv", "its status", phase_is(Phase::Pending)).await;
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let policies: Api<NetworkPolicy> = Api::namespaced(ns.client.clone(), &ns.name);
    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    let accounts: Api<ServiceAccount> = Api::namespaced(ns.client.clone(), &ns.name);
    let versions = || async {
        [
            deployments.get("osv").await.map(|o| o.resource_version()),
            policies.get("osv").await.map(|o| o.resource_version()),
            services.get("mcp-osv").await.map(|o| o.resource_version()),
            accounts.get("osv-sa").await.map(|o| o.resource_version()),
        ]
        .map(|version| version.expect("a child"))
    };
    let written = take(&writes);
    assert!(
        written
            .iter()
            .any(|w| w.starts_with("PATCH ") && w.ends_with("/deployments/osv")),
        "the operator's writes are recorded: {written:?}"
    );
    // Let the reconciles its own writes triggered pass.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = versions().await;
    take(&writes);

    servers
        .patch(
            "osv",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"test/touch": "1"}}})),
        )
        .await
        .expect("touch the MCPServer");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        take(&writes),
        Vec::<String>::new(),
        "a reconcile of a converged server writes nothing"
    );
    assert_eq!(versions().await, settled, "no child changed");

    // A tampering is still repaired: the NetworkPolicy alone is written (and an Event).
    policies
        .patch(
            "osv",
            &PatchParams {
                field_manager: Some("tamperer".into()),
                ..PatchParams::default()
            },
            &Patch::Strategic(json!({"spec": {"ingress": [{}]}})),
        )
        .await
        .expect("open the ingress");
    let closed = |policy: &NetworkPolicy| {
        policy
            .spec
            .as_ref()
            .and_then(|s| s.ingress.as_ref())
            .is_some_and(|rules| rules.iter().all(|rule| rule.from.is_some()))
    };
    wait_for(&policies, "osv", "the ingress to be closed again", closed).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let written = take(&writes);
    assert!(
        written
            .iter()
            .any(|w| w.starts_with("PATCH ") && w.ends_with("/networkpolicies/osv")),
        "the repair applies the NetworkPolicy: {written:?}"
    );
    assert!(
        written
            .iter()
            .all(|w| w.ends_with("/networkpolicies/osv") || w.ends_with("/events")),
        "only the tampered child is written: {written:?}"
    );
    let now = versions().await;
    assert_eq!(
        (&now[0], &now[2], &now[3]),
        (&settled[0], &settled[2], &settled[3]),
        "the other children are untouched"
    );
}

/// The MCPServer document of a (possibly multi-document) ToolHive example, unchanged.
fn toolhive_mcpserver(text: &str) -> &str {
    text.split("\n---\n")
        .find(|document| document.contains("\nkind: MCPServer\n"))
        .expect("an MCPServer document")
}

/// The `UnsupportedFields` condition's status, reason and message.
fn unsupported(server: &MCPServer) -> Option<(String, String, String)> {
    server
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "UnsupportedFields")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// ToolHive fields Apiary does not act on are named in condition `UnsupportedFields`, a Warning
/// Event and `kubectl get`; the security ones are called "not enforced"; removing the field
/// clears the condition.
#[tokio::test]
async fn fields_apiary_does_not_act_on_are_flagged() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    // ToolHive's own examples, unchanged but for the namespace (apply_manifest sets it).
    let overrides =
        include_str!("fixtures/toolhive/mcp-servers/mcpserver_with_resource_overrides.yaml");
    let external = toolhive_mcpserver(include_str!(
        "fixtures/toolhive/external-auth/mcpserver_with_external_auth.yaml"
    ));
    for manifest in [overrides, external] {
        apply_manifest(&ns.client, &ns.name, manifest)
            .await
            .expect("ToolHive's example is accepted strictly");
    }
    apply_manifest(
        &ns.client,
        &ns.name,
        &support::kube::server_manifest("plain"),
    )
    .await
    .expect("apply a plain server");

    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let flagged = |s: &MCPServer| unsupported(s).is_some_and(|(status, _, _)| status == "True");
    let server = wait_for(
        &servers,
        "github-with-overrides",
        "UnsupportedFields=True",
        flagged,
    )
    .await;
    let (_, reason, message) = unsupported(&server).expect("the condition");
    assert_eq!(reason, "FieldsIgnored");
    assert!(
        message.starts_with("Ignored by Apiary: spec.resourceOverrides.proxyDeployment.env ("),
        "only the part Apiary does not apply: {message}"
    );
    assert!(!message.contains("NOT ENFORCED"), "{message}");

    let server = wait_for(
        &servers,
        "fetch-with-auth",
        "UnsupportedFields=True",
        flagged,
    )
    .await;
    let (_, reason, message) = unsupported(&server).expect("the condition");
    assert_eq!(reason, "FieldsIgnored");
    assert!(
        message.starts_with("NOT ENFORCED (security): spec.externalAuthConfigRef ("),
        "the security field comes first, marked not enforced: {message}"
    );
    // Unenforced inbound security: not run (so not served either), and the phase says why.
    let server = wait_for(
        &servers,
        "fetch-with-auth",
        "phase Failed",
        phase_is(Phase::Failed),
    )
    .await;
    let status = server.status.expect("a status");
    let message = status.message.unwrap_or_default();
    assert!(
        message.starts_with("withheld: the manifest declares security that Apiary does not enforce: spec.externalAuthConfigRef ("),
        "{message}"
    );
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SecurityNotEnforced")
    );
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    assert!(
        deployments
            .get_opt("fetch-with-auth")
            .await
            .expect("read")
            .is_none(),
        "the operator does not run it"
    );

    let plain = wait_for(&servers, "plain", "its status", phase_is(Phase::Pending)).await;
    let (status, reason, _) = unsupported(&plain).expect("the condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "AllFieldsHonoured")
    );

    // kubectl get shows it.
    let columns = printed_columns(&ns.client, &ns.name, "fetch-with-auth").await;
    assert_eq!(columns["Unsupported"], "True", "{columns:?}");
    let columns = printed_columns(&ns.client, &ns.name, "plain").await;
    assert_eq!(columns["Unsupported"], "False", "{columns:?}");

    // One Warning Event per object, naming the fields.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(ns.client.clone(), &ns.name);
    let warnings = |name: &'static str| {
        let events = events.clone();
        async move {
            events
                .list(&Default::default())
                .await
                .expect("list events")
                .items
                .into_iter()
                .filter(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                        && e.reason.as_deref() == Some("UnsupportedFields")
                })
                .collect::<Vec<_>>()
        }
    };
    for (name, field) in [
        (
            "github-with-overrides",
            "spec.resourceOverrides.proxyDeployment.env",
        ),
        ("fetch-with-auth", "spec.externalAuthConfigRef"),
    ] {
        let event = eventually("a Warning event naming the fields", || async {
            warnings(name).await.into_iter().next()
        })
        .await;
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        let note = event.note.unwrap_or_default();
        assert!(note.contains(field), "{name}: {note}");
    }
    assert!(
        warnings("plain").await.is_empty(),
        "no Warning for a plain server"
    );

    // Another reconcile (a deleted child brings one) announces nothing new.
    let policies: Api<NetworkPolicy> = Api::namespaced(ns.client.clone(), &ns.name);
    let policy = wait_for(
        &policies,
        "github-with-overrides",
        "the NetworkPolicy",
        |_| true,
    )
    .await;
    policies
        .delete("github-with-overrides", &DeleteParams::default())
        .await
        .expect("delete the NetworkPolicy");
    wait_for(
        &policies,
        "github-with-overrides",
        "the NetworkPolicy to be recreated",
        |p| p.uid() != policy.uid(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let repeated = warnings("github-with-overrides").await;
    assert_eq!(repeated.len(), 1, "{repeated:#?}");
    assert!(
        repeated[0].series.is_none(),
        "published once, not on every reconcile: {repeated:#?}"
    );

    // Removing the field clears the condition.
    servers
        .patch(
            "github-with-overrides",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resourceOverrides": null}})),
        )
        .await
        .expect("remove resourceOverrides");
    let server = wait_for(
        &servers,
        "github-with-overrides",
        "UnsupportedFields=False",
        |s| unsupported(s).is_some_and(|(status, _, _)| status == "False"),
    )
    .await;
    assert!(server.spec.resource_overrides.is_none());
    let (_, reason, message) = unsupported(&server).expect("the condition");
    assert_eq!(reason, "AllFieldsHonoured");
    assert_eq!(message, "every field is honoured");
}
