//! ToolHive behaviours an `MCPServer` user expects, against a real kube-apiserver
//! (`end2end/envtest`): session affinity, `resourceOverrides` metadata, the `restarted-at`
//! annotation, the `Transport` column's default, and replicas that survive removing
//! `spec.replicas`. Each test gets a fresh namespace and its own in-process controller.

mod support;

use apiary_server::resources::crd::{MCPServer, Phase, SessionAffinity, Transport};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use support::kube::{apply_manifest, operator_ns, printed_columns, server_manifest, wait_for};

fn phase_is(phase: Phase) -> impl Fn(&MCPServer) -> bool {
    move |server| server.status.as_ref().and_then(|s| s.phase) == Some(phase)
}

/// The `UnsupportedFields` condition's status and message.
fn unsupported(server: &MCPServer) -> Option<(String, String)> {
    server
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "UnsupportedFields")
        .map(|c| (c.status.clone(), c.message.clone()))
}

async fn patch_spec(servers: &Api<MCPServer>, name: &str, spec: serde_json::Value) {
    servers
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": spec })),
        )
        .await
        .expect("patch the MCPServer");
}

fn affinity(service: &Service) -> (Option<String>, Option<i32>) {
    let spec = service.spec.as_ref();
    (
        spec.and_then(|s| s.session_affinity.clone()),
        spec.and_then(|s| s.session_affinity_config.as_ref())
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds),
    )
}

/// Omitted, `sessionAffinity` is ToolHive's default `ClientIP` (filled in by the apiserver),
/// and the Service follows every change, both ways.
#[tokio::test]
async fn session_affinity_is_set_on_the_service() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(&ns.client, &ns.name, &server_manifest("sticky"))
        .await
        .expect("apply a server without sessionAffinity");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = servers.get("sticky").await.expect("the server");
    assert_eq!(
        server.spec.session_affinity,
        Some(SessionAffinity::ClientIp),
        "the CRD defaults it, as ToolHive's does"
    );
    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    let service = wait_for(&services, "mcp-sticky", "the Service", |_| true).await;
    assert_eq!(affinity(&service), (Some("ClientIP".into()), Some(10_800)));

    patch_spec(&servers, "sticky", json!({"sessionAffinity": "None"})).await;
    let service = wait_for(&services, "mcp-sticky", "sessionAffinity None", |s| {
        affinity(s).0.as_deref() == Some("None")
    })
    .await;
    assert_eq!(
        affinity(&service),
        (Some("None".into()), None),
        "the ClientIP timeout goes with it (the apiserver refuses it with None)"
    );

    patch_spec(&servers, "sticky", json!({"sessionAffinity": "ClientIP"})).await;
    wait_for(
        &services,
        "mcp-sticky",
        "sessionAffinity ClientIP again",
        |s| affinity(s) == (Some("ClientIP".into()), Some(10_800)),
    )
    .await;
    let server = wait_for(&servers, "sticky", "its status", phase_is(Phase::Pending)).await;
    assert_eq!(
        unsupported(&server).map(|(status, _)| status).as_deref(),
        Some("False")
    );

    let refused = apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: odd}\n\
         spec: {image: ghcr.io/x/y, sessionAffinity: Sticky}",
    )
    .await
    .expect_err("an unknown affinity is refused at admission");
    assert!(
        refused.to_string().contains("spec.sessionAffinity"),
        "{refused}"
    );
}

/// ToolHive's own `resourceOverrides` example: its labels and annotations land on the
/// Deployment, the pod template and the Service; only `env` stays flagged. A key that would
/// replace one of Apiary's labels fails the server, naming it.
#[tokio::test]
async fn resource_overrides_metadata_lands_on_the_children() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(
        &ns.client,
        &ns.name,
        include_str!("fixtures/toolhive/mcp-servers/mcpserver_with_resource_overrides.yaml"),
    )
    .await
    .expect("ToolHive's example is accepted strictly");
    let name = "github-with-overrides";
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    patch_spec(
        &servers,
        name,
        json!({"resourceOverrides": {"proxyDeployment": {
            "podTemplateMetadataOverrides": {"labels": {"tier": "mcp"}, "annotations": {"example.com/pod": "yes"}}}}}),
    )
    .await;

    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let deployment = wait_for(&deployments, name, "the pod template overrides", |d| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .is_some_and(|m| m.labels.as_ref().is_some_and(|l| l.contains_key("tier")))
    })
    .await;
    let labels = deployment.labels();
    assert_eq!(labels["team"], "platform");
    assert_eq!(labels["environment"], "production");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "apiary");
    let annotations = deployment.annotations();
    assert_eq!(
        annotations["example.com/deployment-annotation"],
        "custom-deployment-value"
    );
    assert_eq!(annotations["monitoring.example.com/scrape"], "true");
    let pod = deployment
        .spec
        .and_then(|s| s.template.metadata)
        .expect("pod metadata");
    let pod_labels = pod.labels.expect("pod labels");
    assert_eq!(pod_labels["tier"], "mcp");
    assert_eq!(pod_labels["app.kubernetes.io/instance"], name);
    assert!(
        !pod_labels.contains_key("team"),
        "Deployment labels stay there"
    );
    assert_eq!(
        pod.annotations.expect("pod annotations")["example.com/pod"],
        "yes"
    );

    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    let service = wait_for(&services, &format!("mcp-{name}"), "the Service", |_| true).await;
    assert_eq!(
        service.labels()["example.com/service-label"],
        "custom-service-label"
    );
    assert_eq!(
        service.annotations()["external-dns.alpha.kubernetes.io/hostname"],
        "github-mcp.example.com"
    );
    assert_eq!(
        service
            .spec
            .and_then(|s| s.selector)
            .expect("selector")
            .len(),
        2,
        "the Service still selects by Apiary's labels only"
    );

    let server = wait_for(&servers, name, "UnsupportedFields=True", |s| {
        unsupported(s).is_some_and(|(status, _)| status == "True")
    })
    .await;
    let (_, message) = unsupported(&server).expect("the condition");
    assert!(
        message.starts_with("Ignored by Apiary: spec.resourceOverrides.proxyDeployment.env ("),
        "{message}"
    );
    assert!(!message.contains("proxyService"), "{message}");

    // Removing an override removes it from the child.
    patch_spec(
        &servers,
        name,
        json!({"resourceOverrides": {"proxyService": null}}),
    )
    .await;
    wait_for(
        &services,
        &format!("mcp-{name}"),
        "the Service override gone",
        |s| {
            !s.labels().contains_key("example.com/service-label")
                && !s
                    .annotations()
                    .contains_key("external-dns.alpha.kubernetes.io/hostname")
        },
    )
    .await;

    // Apiary's own label cannot be overridden.
    patch_spec(
        &servers,
        name,
        json!({"resourceOverrides": {"proxyDeployment": {"labels": {"app.kubernetes.io/instance": "other"}}}}),
    )
    .await;
    let server = wait_for(&servers, name, "phase Failed", phase_is(Phase::Failed)).await;
    let message = server.status.and_then(|s| s.message).unwrap_or_default();
    assert!(
        message.starts_with(
            "spec.resourceOverrides.proxyDeployment.labels[app.kubernetes.io/instance]: "
        ),
        "{message}"
    );
    let deployment = deployments.get(name).await.expect("the Deployment");
    assert_eq!(deployment.labels()["app.kubernetes.io/instance"], name);
}

/// A new `mcpserver.toolhive.stacklok.dev/restarted-at` value on the MCPServer changes the pod
/// template, which rolls the Deployment; the annotation is no longer flagged.
#[tokio::test]
async fn the_restarted_at_annotation_rolls_the_deployment() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(&ns.client, &ns.name, &server_manifest("roll"))
        .await
        .expect("apply a server");
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let first = wait_for(&deployments, "roll", "the Deployment", |_| true).await;
    let restarted_at = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| {
                a.get("mcpserver.toolhive.stacklok.dev/restarted-at")
                    .cloned()
            })
    };
    assert_eq!(restarted_at(&first), None);
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let mut generation = first.metadata.generation;
    for stamp in ["2026-12-04T10:00:00Z", "2026-12-04T11:00:00Z"] {
        servers
            .patch(
                "roll",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {
                    "mcpserver.toolhive.stacklok.dev/restarted-at": stamp}}})),
            )
            .await
            .expect("annotate the MCPServer, as `kubectl annotate` would");
        let deployment = wait_for(&deployments, "roll", "the new pod annotation", |d| {
            restarted_at(d).as_deref() == Some(stamp)
        })
        .await;
        assert!(
            deployment.metadata.generation > generation,
            "a new pod template: the Deployment controller rolls the pods"
        );
        generation = deployment.metadata.generation;
    }
    let server = wait_for(&servers, "roll", "its status", |s| {
        s.status.as_ref().and_then(|s| s.observed_generation) == s.metadata.generation
            && unsupported(s).is_some()
    })
    .await;
    assert_eq!(
        unsupported(&server).map(|(status, _)| status).as_deref(),
        Some("False"),
        "restarted-at is honoured"
    );
}

/// `transport` omitted is `stdio`: the CRD fills it in, so `kubectl get` shows it.
#[tokio::test]
async fn the_transport_column_shows_the_default() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: plain}\n\
         spec: {image: ghcr.io/example/plain:1.0}",
    )
    .await
    .expect("apply a server without transport");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = servers.get("plain").await.expect("the server");
    assert_eq!(server.spec.transport, Some(Transport::Stdio));
    let columns = printed_columns(&ns.client, &ns.name, "plain").await;
    assert_eq!(columns["Transport"], "stdio", "{columns:?}");
}

/// Removing `spec.replicas` leaves the count where it was (it does not fall back to 1), and a
/// later manual scale survives the reconciles that follow.
#[tokio::test]
async fn removing_spec_replicas_keeps_the_replica_count() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    apply_manifest(
        &ns.client,
        &ns.name,
        &format!("{}  replicas: 3\n", server_manifest("scaled")),
    )
    .await
    .expect("apply a server with 3 replicas");
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let replicas = |d: &Deployment| d.spec.as_ref().and_then(|s| s.replicas);
    wait_for(&deployments, "scaled", "3 replicas", |d| {
        replicas(d) == Some(3)
    })
    .await;

    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    // The manifest's owner removes the field, as `kubectl apply` of a manifest without it would.
    apply_manifest(&ns.client, &ns.name, &server_manifest("scaled"))
        .await
        .expect("apply the server without replicas");
    assert_eq!(
        servers.get("scaled").await.expect("server").spec.replicas,
        None
    );
    let apiary_owns_replicas = |d: &Deployment| {
        d.managed_fields().iter().any(|entry| {
            entry.manager.as_deref() == Some("apiary")
                && entry
                    .fields_v1
                    .as_ref()
                    .is_some_and(|f| f.0.pointer("/f:spec/f:replicas").is_some())
        })
    };
    let deployment = wait_for(&deployments, "scaled", "Apiary to release replicas", |d| {
        !apiary_owns_replicas(d)
    })
    .await;
    assert_eq!(replicas(&deployment), Some(3), "not scaled down");

    // A manual scale now survives a reconcile: the NetworkPolicy is applied after the
    // Deployment, so once it is back, that pass has applied the Deployment again.
    deployments
        .patch_scale(
            "scaled",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale by hand");
    let policies: Api<NetworkPolicy> = Api::namespaced(ns.client.clone(), &ns.name);
    let policy = wait_for(&policies, "scaled", "the NetworkPolicy", |_| true).await;
    policies
        .delete("scaled", &DeleteParams::default())
        .await
        .expect("delete the NetworkPolicy");
    wait_for(
        &policies,
        "scaled",
        "the NetworkPolicy to be recreated",
        |p| p.uid() != policy.uid(),
    )
    .await;
    let deployment = deployments.get("scaled").await.expect("the Deployment");
    assert_eq!(replicas(&deployment), Some(5), "the manual scale survives");
}

/// The status message, when the phase is `phase`.
fn message_in(phase: Phase) -> impl Fn(&MCPServer) -> bool {
    move |server| {
        server.status.as_ref().and_then(|s| s.phase) == Some(phase)
            && server.metadata.generation
                == server.status.as_ref().and_then(|s| s.observed_generation)
    }
}

/// ToolHive's shared-OIDC example, every document applied unchanged: the server references the
/// inline `MCPOIDCConfig`, which the gateway enforces, so it runs with no unsupported field.
/// Pointed at the `kubernetesServiceAccount` one, or at one that does not exist, it is
/// withheld (phase `Failed`, naming `spec.oidcConfigRef.name`); an MCPOIDCConfig created later
/// brings it back without touching the server.
#[tokio::test]
async fn oidc_config_ref_runs_with_an_inline_mcpoidcconfig_and_is_withheld_otherwise() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    let example = include_str!("fixtures/toolhive/mcp-servers/mcpserver_with_oidcconfig_ref.yaml");
    for document in example.split("\n---\n").filter(|d| d.contains("\nkind: ")) {
        apply_manifest(&ns.client, &ns.name, document)
            .await
            .expect("ToolHive's example is accepted strictly");
    }
    let name = "fetch-with-shared-oidc";
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = wait_for(&servers, name, "phase Pending", phase_is(Phase::Pending)).await;
    assert_eq!(
        unsupported(&server).map(|(status, _)| status).as_deref(),
        Some("False"),
        "oidcConfigRef is honoured"
    );
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    wait_for(&deployments, name, "the Deployment", |_| true).await;

    patch_spec(
        &servers,
        name,
        json!({"oidcConfigRef": {"name": "k8s-sa-idp"}}),
    )
    .await;
    let server = wait_for(&servers, name, "phase Failed", message_in(Phase::Failed)).await;
    let message = server.status.and_then(|s| s.message).unwrap_or_default();
    assert!(
        message.contains(
            "spec.oidcConfigRef.name (MCPOIDCConfig k8s-sa-idp is of type kubernetesServiceAccount"
        ),
        "{message}"
    );

    patch_spec(
        &servers,
        name,
        json!({"oidcConfigRef": {"name": "late-idp"}}),
    )
    .await;
    let server = wait_for(&servers, name, "phase Failed", |s| {
        message_in(Phase::Failed)(s)
            && s.status
                .as_ref()
                .and_then(|s| s.message.as_deref())
                .is_some_and(|m| m.contains("MCPOIDCConfig late-idp: not found"))
    })
    .await;
    assert!(server.status.is_some());

    apply_manifest(
        &ns.client,
        &ns.name,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPOIDCConfig\nmetadata: {name: late-idp}\n\
         spec: {type: inline, inline: {issuer: 'https://auth.example.com'}}",
    )
    .await
    .expect("apply the MCPOIDCConfig");
    wait_for(
        &servers,
        name,
        "phase Pending again",
        phase_is(Phase::Pending),
    )
    .await;
}

/// The `Ready` condition's status and reason.
fn ready(server: &MCPServer) -> Option<(String, String)> {
    server
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// Cedar policies in a ConfigMap (ToolHive's `authzConfig: {type: configMap}`, its authz file
/// under the default key `authz.json`), with the inline OIDC whose tokens they judge. While the
/// ConfigMap is missing the server is withheld (phase `Failed`, `Ready=False` with reason
/// `SecurityNotEnforced`, naming the field); once it exists the server runs without touching
/// it. A ConfigMap whose policy does not parse withholds it again with Cedar's message.
#[tokio::test]
async fn authz_config_in_a_configmap_runs_once_it_exists_and_parses() {
    let Some(ns) = operator_ns().await else {
        return;
    };
    let name = "cedar-guarded";
    let manifest = format!(
        "{}  oidcConfig:\n    type: inline\n    inline: {{issuer: 'https://auth.example.com', audience: {name}}}\n  \
         authzConfig:\n    type: configMap\n    configMap: {{name: tool-policies}}\n",
        server_manifest(name)
    );
    apply_manifest(&ns.client, &ns.name, &manifest)
        .await
        .expect("the manifest is accepted strictly");
    let servers: Api<MCPServer> = Api::namespaced(ns.client.clone(), &ns.name);
    let server = wait_for(&servers, name, "phase Failed", message_in(Phase::Failed)).await;
    let message = server
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains(&format!(
            "spec.authzConfig.configMap.name (ConfigMap tool-policies: not found in namespace {})",
            ns.name
        )),
        "{message}"
    );
    assert_eq!(
        ready(&server),
        Some(("False".to_owned(), "SecurityNotEnforced".to_owned()))
    );
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    assert!(
        deployments.get_opt(name).await.expect("read").is_none(),
        "the operator does not run it"
    );

    // ToolHive's authz file (examples/authz-config.json's shape), policies from its docs.
    let file = json!({
        "version": "1.0",
        "type": "cedarv1",
        "cedar": {
            "policies": [
                "permit(principal, action == Action::\"call_tool\", resource == Tool::\"weather\");",
                "permit(principal, action == Action::\"call_tool\", resource) when { principal.claim_roles.contains(\"admin\") };"
            ],
            "entities_json": "[]"
        }
    });
    let configmap = |name: &str, file: &serde_json::Value| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata:\n  authz.json: {}\n",
            serde_json::to_string(&file.to_string()).expect("JSON")
        )
    };
    apply_manifest(&ns.client, &ns.name, &configmap("tool-policies", &file))
        .await
        .expect("apply the ConfigMap");
    let server = wait_for(&servers, name, "phase Pending", phase_is(Phase::Pending)).await;
    assert_eq!(
        unsupported(&server).map(|(status, _)| status).as_deref(),
        Some("False"),
        "authzConfig is honoured"
    );
    wait_for(&deployments, name, "the Deployment", |_| true).await;

    let mut bad = file;
    bad["cedar"]["policies"] =
        json!(["permit(principal, action == Action::\"call_tool\" resource);"]);
    apply_manifest(&ns.client, &ns.name, &configmap("bad-policies", &bad))
        .await
        .expect("apply the ConfigMap");
    patch_spec(
        &servers,
        name,
        json!({"authzConfig": {"configMap": {"name": "bad-policies"}}}),
    )
    .await;
    let server = wait_for(&servers, name, "phase Failed", message_in(Phase::Failed)).await;
    let message = server.status.and_then(|s| s.message).unwrap_or_default();
    assert!(
        message.contains(
            "spec.authzConfig.configMap.name (ConfigMap bad-policies key authz.json: policy 0 does not parse: "
        ),
        "{message}"
    );
}

/// ToolHive's `MCPExternalAuthConfig` examples, applied unchanged, are served (kept as
/// written) and each gets condition `Enforced=False` saying that Apiary performs none of it
/// and that a server referencing it is withheld.
#[tokio::test]
async fn external_auth_configs_are_kept_and_say_they_are_not_enforced() {
    use apiary_server::resources::crd::MCPExternalAuthConfig;
    let Some(ns) = operator_ns().await else {
        return;
    };
    let examples = [
        (
            "oauth-token-exchange",
            "tokenExchange",
            include_str!("fixtures/toolhive/external-auth/mcpexternalauthconfig_basic.yaml"),
        ),
        (
            "auth-with-redis",
            "embeddedAuthServer",
            include_str!(
                "fixtures/toolhive/redis-storage/mcpexternalauthconfig-redis-storage.yaml"
            ),
        ),
    ];
    let configs: Api<MCPExternalAuthConfig> = Api::namespaced(ns.client.clone(), &ns.name);
    for (name, type_, example) in examples {
        for document in example
            .split("\n---\n")
            .filter(|d| d.contains("kind: MCPExternalAuthConfig"))
        {
            apply_manifest(&ns.client, &ns.name, document)
                .await
                .expect("ToolHive's example is accepted strictly");
        }
        let config = wait_for(&configs, name, "condition Enforced", |c| {
            c.status.as_ref().is_some_and(|s| !s.conditions.is_empty())
        })
        .await;
        assert_eq!(config.spec.type_, type_);
        let status = config.status.expect("a status");
        assert_eq!(status.observed_generation, config.metadata.generation);
        let condition = &status.conditions[0];
        assert_eq!(
            (
                condition.type_.as_str(),
                condition.status.as_str(),
                condition.reason.as_str()
            ),
            ("Enforced", "False", "NotEnforcedByApiary")
        );
        assert!(
            condition
                .message
                .starts_with(&format!("Apiary does not perform {type_} authentication"))
                && condition
                    .message
                    .contains("is withheld: not run, not served"),
            "{}",
            condition.message
        );
    }
}
