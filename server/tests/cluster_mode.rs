//! Kubernetes mode against the real apiserver:
//! - a server whose MCPServer is deleted in the cluster (kubectl, a GitOps prune) is
//!   unpublished at once, and the audit log says so;
//! - the gateway and the registry reach cluster servers where the operator runs them: an
//!   HTTP server at its Service, a stdio server through its pod's attach API.
//!
//! Envtest has neither a kubelet nor Service DNS, so these tests can only show that each
//! request goes to the right place and that its failure is told clearly and in time.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

use apiary_server::catalog::{ServerRegistration, ServerStore};
use apiary_server::operator::crd::MCPServer;
use apiary_server::runtime::cluster::ClusterRuntime;
use apiary_server::web::AppState;

#[tokio::test]
async fn a_workload_deleted_in_the_cluster_is_unpublished() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let db = support::sqlite().await;
    let namespace = support::kube::namespace(&cluster).await;
    let registration: ServerRegistration = serde_json::from_value(json!({
        "ownerTeam": "search", "published": true,
        "spec": { "image": "ghcr.io/example/osv:1", "transport": "stdio" }
    }))
    .expect("registration");
    let store = ServerStore::new(db.db.clone());
    for name in ["osv", "kept"] {
        store
            .register(&namespace, name, &registration, "tester")
            .await
            .expect("register");
    }
    let servers: Api<MCPServer> = Api::namespaced(cluster.clone(), &namespace);
    for name in ["osv", "kept"] {
        let object = json!({
            "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServer",
            "metadata": { "name": name, "namespace": namespace },
            "spec": { "image": "ghcr.io/example/osv:1", "transport": "stdio" },
        });
        servers
            .patch(
                name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&object),
            )
            .await
            .expect("create the MCPServer");
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let watch = apiary_server::onboarding::cluster_watch::spawn(
        db.db.clone(),
        cluster.clone(),
        Some(namespace.clone()),
        shutdown.clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    servers
        .delete("osv", &DeleteParams::default())
        .await
        .expect("kubectl delete");

    let published = |name: &'static str| {
        let db = db.db.clone();
        let namespace = namespace.clone();
        async move {
            let value: i64 = sqlx::query_scalar(
                "SELECT CAST(CASE WHEN published THEN 1 ELSE 0 END AS BIGINT) FROM servers \
                 WHERE namespace = $1 AND name = $2",
            )
            .bind(namespace)
            .bind(name)
            .fetch_one(db.pool())
            .await
            .expect("read");
            value == 1
        }
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while published("osv").await {
        assert!(
            Instant::now() < deadline,
            "osv was not unpublished within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published("kept").await, "the other server stays published");
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, target FROM audit_events WHERE action = 'server.unpublish'")
            .fetch_all(db.db.pool())
            .await
            .expect("audit");
    assert_eq!(audit, [("cluster".to_owned(), format!("{namespace}/osv"))]);
    shutdown.cancel();
    watch.await.expect("the watch stops");
}

/// A Kubernetes-mode Apiary over the cluster, serving `server` (published, with `spec`) in a
/// fresh namespace; returns its base URL and the namespace.
async fn kubernetes_mode(
    cluster: &kube::Client,
    server: &str,
    spec: serde_json::Value,
) -> (String, String) {
    let db = support::sqlite().await;
    let namespace = support::kube::namespace(cluster).await;
    let registration: ServerRegistration =
        serde_json::from_value(json!({ "ownerTeam": "search", "published": true, "spec": spec }))
            .expect("registration");
    ServerStore::new(db.db.clone())
        .register(&namespace, server, &registration, "tester")
        .await
        .expect("register");
    let mut settings = support::settings();
    settings.runtime = apiary_server::config::Runtime::Kubernetes;
    settings.fetch_timeout_secs = 3;
    let runtime = std::sync::Arc::new(ClusterRuntime::new(cluster.clone()));
    let state = AppState::with_runtime(settings, db.db.clone(), runtime).with_kube(cluster.clone());
    // The database lives as long as the test: the served state keeps its pool open.
    std::mem::forget(db);
    (support::serve_state(state).await, namespace)
}

/// Sends an MCP `initialize` through the gateway; returns the status, the body and how long
/// it took.
async fn initialize(base: &str, namespace: &str, name: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{base}/mcp/{namespace}/{name}"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": { "name": "test", "version": "1" } }
        }))
        .send()
        .await
        .expect("gateway");
    let status = response.status().as_u16();
    (
        status,
        response.text().await.expect("body"),
        started.elapsed(),
    )
}

#[tokio::test]
async fn the_gateway_reaches_an_http_server_at_its_service() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let spec = json!({ "image": "ghcr.io/example/web:1", "transport": "streamable-http", "proxyPort": 9090 });
    let (base, namespace) = kubernetes_mode(&cluster, "web", spec).await;
    let (status, body, took) = initialize(&base, &namespace, "web").await;
    assert_eq!(status, 502, "{body}");
    let service = format!("http://mcp-web.{namespace}.svc.cluster.local:9090/mcp");
    assert!(
        body.contains(&service),
        "the error names the Service URL: {body}"
    );
    assert!(
        took < Duration::from_secs(10),
        "answered within the timeout, took {took:?}"
    );
    // The registry fetches its tools from the same place.
    let refreshed =
        support::gateway::try_refresh(&reqwest::Client::new(), &base, &format!("{namespace}/web"))
            .await;
    assert_eq!(refreshed["outcome"], "failed", "{refreshed}");
}

#[tokio::test]
async fn the_gateway_attaches_to_a_stdio_servers_pod() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let spec = json!({ "image": "ghcr.io/example/osv:1", "transport": "stdio" });
    let (base, namespace) = kubernetes_mode(&cluster, "osv", spec).await;

    // No pod yet: the error says so and how to look.
    let (status, body, _) = initialize(&base, &namespace, "osv").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("has no running pod"), "{body}");
    assert!(body.contains("app.kubernetes.io/instance=osv"), "{body}");

    // A running pod of the server (as the Deployment would make it, on a node envtest does
    // not have): the gateway attaches to it through the apiserver, which cannot reach a
    // kubelet here and says so.
    // Envtest runs no controller that makes the namespace's default ServiceAccount.
    let accounts: Api<ServiceAccount> = Api::namespaced(cluster.clone(), &namespace);
    let account: ServiceAccount =
        serde_json::from_value(json!({ "metadata": { "name": "default" } })).expect("account");
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("create the account");
    let pods: Api<Pod> = Api::namespaced(cluster.clone(), &namespace);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "osv-1", "labels": {
            "app.kubernetes.io/name": "mcpserver", "app.kubernetes.io/instance": "osv" } },
        "spec": { "nodeName": "node-1", "containers": [
            { "name": "mcp", "image": "ghcr.io/example/osv:1", "stdin": true } ] }
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create the pod");
    pods.patch_status(
        "osv-1",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "phase": "Running" } })),
    )
    .await
    .expect("mark it running");
    let (status, body, took) = initialize(&base, &namespace, "osv").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("cannot attach to pod osv-1"), "{body}");
    assert!(
        took < Duration::from_secs(10),
        "answered within the timeout, took {took:?}"
    );

    // The runtime API says when there is no MCPServer to report on yet…
    let missing = reqwest::get(format!("{base}/api/v1/servers/{namespace}/osv/runtime"))
        .await
        .expect("runtime");
    assert_eq!(missing.status(), 404);
    let missing = missing.text().await.expect("body");
    assert!(
        missing.contains("has no MCPServer in the cluster"),
        "{missing}"
    );

    // …and then what the operator wrote, and why the pod's logs are missing.
    let servers: Api<MCPServer> = Api::namespaced(cluster.clone(), &namespace);
    let object = json!({
        "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServer",
        "metadata": { "name": "osv", "namespace": namespace },
        "spec": { "image": "ghcr.io/example/osv:1", "transport": "stdio" },
    });
    servers
        .patch(
            "osv",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&object),
        )
        .await
        .expect("create the MCPServer");
    servers
        .patch_status(
            "osv",
            &PatchParams::default(),
            &Patch::Merge(
                json!({ "status": { "phase": "Failed", "message": "spec.image: pull refused" } }),
            ),
        )
        .await
        .expect("write a status");
    let runtime: serde_json::Value =
        reqwest::get(format!("{base}/api/v1/servers/{namespace}/osv/runtime"))
            .await
            .expect("runtime")
            .json()
            .await
            .expect("JSON");
    assert_eq!(runtime["state"], "failed", "{runtime}");
    assert_eq!(runtime["reason"], "spec.image: pull refused", "{runtime}");
    let logs = runtime["logs"].to_string();
    assert!(
        logs.contains("cannot read the logs of pod osv-1"),
        "{runtime}"
    );
}

/// In Kubernetes mode the gateway reads the `MCPOIDCConfig` a server's `oidcConfigRef` names:
/// missing, or of a type it does not enforce, the server is withheld (503 naming it); inline,
/// the server takes only that issuer's tokens (401 naming issuer and audience).
#[tokio::test]
async fn the_gateway_enforces_the_mcpoidcconfig_a_server_references() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    support::kube::install_crds(&cluster).await;
    let spec = json!({ "image": "ghcr.io/example/web:1", "transport": "streamable-http",
                       "oidcConfigRef": { "name": "idp", "audience": "https://web.example.com" } });
    let (base, namespace) = kubernetes_mode(&cluster, "web", spec).await;
    // The gateway keeps what it loaded for a few seconds.
    let answer_with = |wanted: &'static str| {
        let (base, namespace) = (base.clone(), namespace.clone());
        async move {
            let started = Instant::now();
            loop {
                let (status, body, _) = initialize(&base, &namespace, "web").await;
                if body.contains(wanted) || started.elapsed() > Duration::from_secs(15) {
                    return (status, body);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let (status, body) = answer_with("MCPOIDCConfig idp: not found").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("spec.oidcConfigRef.name"), "{body}");

    let configs: Api<kube::api::DynamicObject> = Api::namespaced_with(
        cluster.clone(),
        &namespace,
        &kube::api::ApiResource::erase::<apiary_server::operator::crd::MCPOIDCConfig>(&()),
    );
    let apply = |spec: serde_json::Value| {
        let configs = configs.clone();
        async move {
            let object = json!({ "apiVersion": "toolhive.stacklok.dev/v1beta1",
                                 "kind": "MCPOIDCConfig", "metadata": { "name": "idp" },
                                 "spec": spec });
            configs
                .patch(
                    "idp",
                    &PatchParams::apply("test").force(),
                    &Patch::Apply(&object),
                )
                .await
                .expect("apply the MCPOIDCConfig");
        }
    };
    apply(json!({ "type": "kubernetesServiceAccount", "kubernetesServiceAccount": {} })).await;
    let (status, body) = answer_with("is of type kubernetesServiceAccount").await;
    assert_eq!(status, 503, "{body}");

    apply(json!({ "type": "inline", "inline": { "issuer": "https://idp.example.com" } })).await;
    let (status, body) = answer_with("takes only bearer tokens of https://idp.example.com").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("for the audience https://web.example.com"),
        "{body}"
    );
}
