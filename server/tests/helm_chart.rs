//! The Helm chart `deploy/helm/apiary`, rendered by a real `helm template`: what it renders, that
//! the real kube-apiserver of `end2end/envtest` (RBAC authorization on) accepts every object, and
//! that its ServiceAccount, with exactly the chart's RBAC, runs the operator and Apiary's cluster
//! calls, in both the cluster-wide and the namespace-scoped mode, and cannot read Secrets.

mod support;

use apiary_server::onboarding::kubernetes as onboarding_cluster;
use apiary_server::operator::cluster_runtime::ClusterRuntime;
use apiary_server::operator::leader;
use apiary_server::operator::render;
use apiary_server::registry::curation::{cluster as curation_cluster, Curation};
use apiary_server::resources::crd::{MCPServer, MCPToolConfig, Phase};
use apiary_server::runtime::{Reach, ServerId};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{AttachParams, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};

use support::chart::{self, of_kind};
use support::kube::{
    apply_manifest, eventually, namespace, seed_in, service_account_client, service_account_config,
    start_operator, wait_for,
};
use tokio_util::sync::CancellationToken;

/// True for the apiserver's 403.
fn is_forbidden<T>(result: &Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

fn spec(object: &DynamicObject) -> &Value {
    &object.data["spec"]
}

/// The one rendered object of `kind`.
fn the<'a>(objects: &'a [DynamicObject], kind: &str) -> &'a DynamicObject {
    let found = of_kind(objects, kind);
    assert_eq!(found.len(), 1, "one {kind} rendered");
    found[0]
}

/// The Apiary container's environment variable `name`, as rendered.
fn env<'a>(deployment: &'a DynamicObject, name: &str) -> Option<&'a Value> {
    spec(deployment)["template"]["spec"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
}

#[test]
fn the_chart_runs_apiary_hardened_with_secrets_only_by_reference() {
    let Some(helm) = chart::helm() else {
        return;
    };
    let objects = chart::render(
        &helm,
        "apiary",
        "apiary-system",
        &["oidc.clientSecret.name=apiary-oidc", "ingress.enabled=true"],
    );
    for kind in ["Secret", "ConfigMap"] {
        assert!(
            of_kind(&objects, kind).is_empty(),
            "the chart renders no {kind}"
        );
    }
    let deployment = the(&objects, "Deployment");
    let pod = &spec(deployment)["template"];
    assert_eq!(
        pod["metadata"]["labels"]["app.kubernetes.io/component"], "apiary-gateway",
        "Apiary's pods carry the label the MCP servers' NetworkPolicies admit"
    );
    let container = &pod["spec"]["containers"][0];
    assert_eq!(
        container["args"],
        json!(["serve", "--runtime", "kubernetes"])
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let hardening = &container["securityContext"];
    assert_eq!(hardening["runAsNonRoot"], true);
    assert_eq!(hardening["readOnlyRootFilesystem"], true);
    assert_eq!(hardening["allowPrivilegeEscalation"], false);
    assert_eq!(hardening["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(hardening["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(
        env(deployment, "APIARY_DATABASE_URL").expect("the database URL")["valueFrom"]
            ["secretKeyRef"],
        json!({"name": "apiary-database", "key": "database-url"}),
        "the database URL comes from the existing Secret"
    );
    assert_eq!(
        env(deployment, "APIARY_OIDC_CLIENT_SECRET_FILE").expect("the client secret file")["value"],
        "/var/run/secrets/apiary/oidc/client-secret"
    );
    assert!(env(deployment, "APIARY_OIDC_CLIENT_SECRET").is_none());
    assert!(
        env(deployment, "APIARY_WATCH_NAMESPACE").is_none(),
        "the cluster-wide mode watches every namespace"
    );
    assert_eq!(
        env(deployment, "APIARY_GATEWAY_NAMESPACE").expect("the gateway namespace")["value"],
        "apiary-system",
        "the MCP servers admit the gateway in the release namespace"
    );
    let ingress = the(&objects, "Ingress");
    assert_eq!(
        spec(ingress)["rules"][0]["host"],
        "apiary.example.com",
        "the Ingress host defaults to the public URL's"
    );
    for kind in [
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceAccount",
    ] {
        the(&objects, kind);
    }
}

#[test]
fn the_gateway_namespace_can_point_elsewhere() {
    let Some(helm) = chart::helm() else {
        return;
    };
    for mode in [&[][..], &["scope=namespace"][..]] {
        let mut values = vec!["gateway.namespace=team-gateway"];
        values.extend(mode);
        let objects = chart::render(&helm, "apiary", "apiary-system", &values);
        assert_eq!(
            env(the(&objects, "Deployment"), "APIARY_GATEWAY_NAMESPACE").expect("the env var")
                ["value"],
            "team-gateway",
            "{mode:?}"
        );
    }
}

#[test]
fn the_chart_refuses_to_render_without_sign_in() {
    let Some(helm) = chart::helm() else {
        return;
    };
    let chart = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/helm/apiary");
    let output = std::process::Command::new(&helm)
        .args(["template", "apiary"])
        .arg(&chart)
        .output()
        .expect("run helm template");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("oidc.issuer is required"), "{stderr}");
}

/// The chart's ServiceAccount can neither read nor list Secrets, here or anywhere.
async fn assert_secrets_are_forbidden(admin: &Client, identity: &Client, namespace: &str) {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("database".into()),
            ..ObjectMeta::default()
        },
        string_data: Some([("database-url".into(), "postgres://x:y@db/apiary".into())].into()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
        .expect("the admin creates a Secret");
    let secrets: Api<Secret> = Api::namespaced(identity.clone(), namespace);
    assert!(is_forbidden(&secrets.get("database").await), "get a Secret");
    assert!(
        is_forbidden(&secrets.list(&Default::default()).await),
        "list Secrets"
    );
    let everywhere: Api<Secret> = Api::all(identity.clone());
    assert!(
        is_forbidden(&everywhere.list(&Default::default()).await),
        "list Secrets in every namespace"
    );
}

/// The operator, acting as `identity`, turns the seed manifest in `namespace` into its children
/// and a status.
async fn assert_the_seed_reconciles(admin: &Client, identity: &Client, namespace: &str) {
    let _operator = start_operator(admin.clone(), identity.clone(), namespace);
    apply_manifest(admin, namespace, &seed_in(namespace))
        .await
        .expect("apply the seed");
    let servers: Api<MCPServer> = Api::namespaced(admin.clone(), namespace);
    let server = wait_for(&servers, "osv", "the seed's status", |s| {
        s.status.as_ref().and_then(|s| s.phase) == Some(Phase::Pending)
    })
    .await;
    assert_eq!(
        server.status.and_then(|s| s.url).as_deref(),
        Some(format!("http://mcp-osv.{namespace}.svc.cluster.local:8080/mcp").as_str())
    );
    wait_for(
        &Api::<Deployment>::namespaced(admin.clone(), namespace),
        "osv",
        "the Deployment",
        |_| true,
    )
    .await;
    wait_for(
        &Api::<Service>::namespaced(admin.clone(), namespace),
        "mcp-osv",
        "the Service",
        |_| true,
    )
    .await;
    wait_for(
        &Api::<ServiceAccount>::namespaced(admin.clone(), namespace),
        "osv-sa",
        "the ServiceAccount",
        |_| true,
    )
    .await;
    wait_for(
        &Api::<NetworkPolicy>::namespaced(admin.clone(), namespace),
        "osv",
        "the NetworkPolicy",
        |_| true,
    )
    .await;
    // An invalid spec is reported as a Warning Event.
    apply_manifest(
        admin,
        namespace,
        "apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata: {name: broken}\n\
         spec: {image: 'UPPER/case'}",
    )
    .await
    .expect("apply an invalid server");
    let events: Api<Event> = Api::namespaced(admin.clone(), namespace);
    eventually("a Warning Event for the invalid spec", || async {
        let list = events.list(&Default::default()).await.expect("list events");
        list.items
            .iter()
            .any(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("broken")
                    && e.type_.as_deref() == Some("Warning")
            })
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_cluster_wide_chart_reconciles_the_seed_and_cannot_read_secrets() {
    let Some(admin) = support::kube::client().await else {
        return;
    };
    let Some(helm) = chart::helm() else {
        return;
    };
    let ns = namespace(&admin).await;
    let objects = chart::render(&helm, "apiary", &ns, &["ingress.enabled=true"]);
    assert_eq!(of_kind(&objects, "ClusterRole").len(), 1);
    let name = chart::apply(&admin, &objects).await;
    let identity = service_account_client(&ns, &name).await;
    let everywhere: Api<MCPServer> = Api::all(identity.clone());
    eventually(
        "the ClusterRole to list MCPServers in every namespace",
        || async { everywhere.list(&Default::default()).await.ok() },
    )
    .await;
    assert_the_seed_reconciles(&admin, &identity, &ns).await;
    assert_secrets_are_forbidden(&admin, &identity, &ns).await;
}

#[tokio::test]
async fn the_namespace_scoped_chart_reconciles_only_its_namespace() {
    let Some(admin) = support::kube::client().await else {
        return;
    };
    let Some(helm) = chart::helm() else {
        return;
    };
    let release = namespace(&admin).await;
    let watched = namespace(&admin).await;
    let objects = chart::render(
        &helm,
        "apiary",
        &release,
        &["scope=namespace", &format!("watchNamespace={watched}")],
    );
    assert!(of_kind(&objects, "ClusterRole").is_empty());
    assert!(of_kind(&objects, "ClusterRoleBinding").is_empty());
    assert_eq!(
        env(the(&objects, "Deployment"), "APIARY_WATCH_NAMESPACE").expect("the env var")["value"],
        watched.as_str()
    );
    assert_eq!(
        env(the(&objects, "Deployment"), "APIARY_GATEWAY_NAMESPACE").expect("the env var")["value"],
        release.as_str(),
        "the gateway runs in the release namespace, not the watched one"
    );
    let name = chart::apply(&admin, &objects).await;
    let identity = service_account_client(&release, &name).await;
    let mine: Api<MCPServer> = Api::namespaced(identity.clone(), &watched);
    eventually(
        "the Role to list MCPServers in the watched namespace",
        || async { mine.list(&Default::default()).await.ok() },
    )
    .await;
    for (what, result) in [
        (
            "the release namespace",
            Api::<MCPServer>::namespaced(identity.clone(), &release)
                .list(&Default::default())
                .await,
        ),
        (
            "every namespace",
            Api::<MCPServer>::all(identity.clone())
                .list(&Default::default())
                .await,
        ),
    ] {
        assert!(
            is_forbidden(&result),
            "listing MCPServers in {what} is refused"
        );
    }
    assert_the_seed_reconciles(&admin, &identity, &watched).await;
    assert_secrets_are_forbidden(&admin, &identity, &watched).await;
}

#[tokio::test]
async fn the_charts_identity_applies_curates_retires_and_reaches_pods() {
    let Some(admin) = support::kube::client().await else {
        return;
    };
    let Some(helm) = chart::helm() else {
        return;
    };
    let ns = namespace(&admin).await;
    let objects = chart::render(&helm, "apiary", &ns, &[]);
    let name = chart::apply(&admin, &objects).await;
    let identity = service_account_client(&ns, &name).await;
    let nobody = service_account_client(&ns, "nobody").await;

    // An approved proposal: a server-side apply that creates the MCPServer.
    let manifest = json!({
        "apiVersion": "toolhive.stacklok.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": "time", "namespace": ns},
        "spec": {"image": "ghcr.io/example/time:1", "transport": "stdio"},
    });
    eventually("the chart's identity to apply an MCPServer", || async {
        onboarding_cluster::apply(&identity, &manifest).await.ok()
    })
    .await;
    // Curation: the MCPToolConfig, referenced from the MCPServer.
    curation_cluster::apply(&identity, &ns, "time", &Curation::default())
        .await
        .expect("apply the curation");
    let servers: Api<MCPServer> = Api::namespaced(admin.clone(), &ns);
    let server = servers.get("time").await.expect("the MCPServer");
    assert_eq!(
        server.spec.tool_config_ref.map(|r| r.name).as_deref(),
        Some("time")
    );

    // The runtime API finds the running pod, reads its logs and attaches to it; a caller
    // without the chart's rights is refused.
    Api::<ServiceAccount>::namespaced(admin.clone(), &ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "default"}})).expect("an SA"),
        )
        .await
        .expect("the namespace's default ServiceAccount");
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "time-0", "labels": render::selector_labels("time")},
        "spec": {"containers": [{"name": render::CONTAINER, "image": "ghcr.io/example/time:1"}]},
    }))
    .expect("a Pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create the pod");
    pods.patch_status(
        "time-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running"}})),
    )
    .await
    .expect("mark the pod Running");
    let id = ServerId {
        namespace: ns.clone(),
        name: "time".into(),
    };
    let refused = ClusterRuntime::new(nobody.clone())
        .open_stdio(&id)
        .await
        .err();
    assert!(
        refused
            .as_ref()
            .is_some_and(|e| e.to_string().contains("403")),
        "a caller without the chart's rights cannot list pods: {refused:?}"
    );
    let runtime = ClusterRuntime::new(identity.clone());
    // Without a kubelet a pod's log is empty, where a caller without pods/log is refused.
    let logs = runtime.logs(&id).await;
    assert!(logs.is_empty(), "no error reading the logs: {logs:?}");
    Api::<Pod>::namespaced(identity.clone(), &ns)
        .logs("time-0", &Default::default())
        .await
        .expect("the chart's identity reads pod logs");
    assert!(is_forbidden(
        &Api::<Pod>::namespaced(nobody.clone(), &ns)
            .logs("time-0", &Default::default())
            .await
    ));
    // The gateway's attach to a stdio server's pod gets past authorization to the (missing)
    // node; a caller without pods/attach is refused.
    let attach = runtime.open_stdio(&id).await.err().map(|e| e.to_string());
    assert!(
        attach
            .as_deref()
            .is_some_and(|e| e.contains("does not have a host assigned")),
        "{attach:?}"
    );
    let refused = Api::<Pod>::namespaced(nobody.clone(), &ns)
        .attach("time-0", &AttachParams::default().stdin(true).stderr(false))
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        refused.as_deref().is_some_and(|e| e.contains("forbidden")),
        "{refused:?}"
    );

    // Leader election, as the chart configures it: the identity takes the Lease in the release
    // namespace, and can create none elsewhere.
    let deployment = the(&objects, "Deployment");
    let lease_name = env(deployment, "APIARY_LEASE_NAME").expect("the Lease's name")["value"]
        .as_str()
        .expect("a literal name")
        .to_owned();
    let lease_namespace = env(deployment, "APIARY_LEASE_NAMESPACE").expect("the Lease's namespace")
        ["value"]
        .as_str()
        .expect("a literal namespace")
        .to_owned();
    assert_eq!(lease_namespace, ns);
    let stop = CancellationToken::new();
    let (mut leading, election) = leader::elect(
        service_account_config(&ns, &name).await,
        leader::LeaseSettings {
            name: lease_name.clone(),
            namespace: lease_namespace,
            identity: "chart-test".into(),
            duration: std::time::Duration::from_secs(15),
        },
        stop.clone(),
    );
    tokio::time::timeout(support::kube::TIMEOUT, leading.wait_for(|now| *now))
        .await
        .expect("the chart's identity takes the Lease")
        .expect("the election runs");
    let held = Api::<Lease>::namespaced(admin.clone(), &ns)
        .get(&lease_name)
        .await
        .expect("the Lease exists");
    assert_eq!(
        held.spec.and_then(|spec| spec.holder_identity).as_deref(),
        Some("chart-test")
    );
    stop.cancel();
    election.await.expect("the election stops");
    let lease: Lease =
        serde_json::from_value(json!({"metadata": {"name": "apiary-leader"}})).expect("a Lease");
    let elsewhere = namespace(&admin).await;
    assert!(is_forbidden(
        &Api::<Lease>::namespaced(identity.clone(), &elsewhere)
            .create(&PostParams::default(), &lease)
            .await
    ));

    // A retirement deletes the MCPToolConfig and the MCPServer.
    curation_cluster::remove(&identity, &ns, "time")
        .await
        .expect("delete the MCPToolConfig");
    onboarding_cluster::remove(&identity, &ns, "time")
        .await
        .expect("delete the MCPServer");
    assert!(servers.get_opt("time").await.expect("get").is_none());
    let configs: Api<MCPToolConfig> = Api::namespaced(admin.clone(), &ns);
    assert!(configs.get_opt("time").await.expect("get").is_none());
}
