//! Kubernetes mode against the real apiserver:
//! - a server whose MCPServer is deleted in the cluster (kubectl, a GitOps prune) is
//!   unpublished at once, and the audit log says so, also when it was deleted while Apiary
//!   was down;
//! - the gateway and the registry reach cluster servers where the operator runs them: an
//!   HTTP server at its Service, a stdio server through its pod's attach API.
//!
//! - the MCPServer status shows the tools the registry found, beside the operator's status;
//! - ToolHive's `MCPRemoteProxy` and `MCPServerEntry` register remote servers, served by the
//!   gateway, refused by name where Apiary cannot honour them, and unpublished when deleted
//!   (also while Apiary was down).
//!
//! Envtest has neither a kubelet nor Service DNS, so these tests mostly show that each request
//! goes to the right place and that its failure is told clearly and in time; where a live
//! answer is needed, an HTTP proxy stands in for Service DNS.

mod support;

use support::http::without_markers;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

use apiary_server::operator::cluster_runtime::ClusterRuntime;
use apiary_server::resources::crd::MCPServer;
use apiary_server::servers::{ServerRegistration, ServerStore};
use apiary_server::web::AppState;

#[tokio::test]
async fn a_workload_deleted_in_the_cluster_is_unpublished() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let db = support::sqlite().await;
    let namespace = support::kube::namespace(&cluster).await;
    let servers = registered_with_mcpservers(
        &cluster,
        &db.db,
        &namespace,
        &["osv", "kept"],
        &["osv", "kept"],
    )
    .await;
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

    let deadline = Instant::now() + Duration::from_secs(15);
    while published(&db.db, &namespace, "osv").await {
        assert!(
            Instant::now() < deadline,
            "osv was not unpublished within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        published(&db.db, &namespace, "kept").await,
        "the other server stays published"
    );
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, target FROM audit_events WHERE action = 'server.unpublish'")
            .fetch_all(db.db.pool())
            .await
            .expect("audit");
    assert_eq!(audit, [("cluster".to_owned(), format!("{namespace}/osv"))]);
    shutdown.cancel();
    watch.await.expect("the watch stops");
}

/// Registers the servers `registered` (published, a stdio image) in `namespace` and applies an
/// `MCPServer` for each of `applied`; the `MCPServer` API of that namespace.
async fn registered_with_mcpservers(
    cluster: &kube::Client,
    db: &apiary_server::db::Db,
    namespace: &str,
    registered: &[&str],
    applied: &[&str],
) -> Api<MCPServer> {
    let spec = json!({ "image": "ghcr.io/example/osv:1", "transport": "stdio" });
    let registration: ServerRegistration =
        serde_json::from_value(json!({ "ownerTeam": "search", "published": true, "spec": spec }))
            .expect("registration");
    let store = ServerStore::new(db.clone());
    for name in registered {
        store
            .register(namespace, name, &registration, "tester")
            .await
            .expect("register");
    }
    let servers: Api<MCPServer> = Api::namespaced(cluster.clone(), namespace);
    for name in applied {
        let object = json!({
            "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServer",
            "metadata": { "name": name, "namespace": namespace }, "spec": spec,
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
    servers
}

/// Whether the server `namespace/name` is published.
async fn published(db: &apiary_server::db::Db, namespace: &str, name: &str) -> bool {
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
    let runtime = apiary_server::runtime::AnyRuntime::Cluster(std::sync::Arc::new(
        ClusterRuntime::new(cluster.clone()),
    ));
    let state = AppState::with_runtime(settings, db.db.clone(), runtime).with_kube(cluster.clone());
    // The database lives as long as the test: the served state keeps its pool open.
    std::mem::forget(db);
    (support::serve_state(state).await, namespace)
}

/// Apiary's server in Kubernetes mode over the test cluster, watching `namespace`, with the
/// `extra` environment.
async fn kubernetes_apiary(
    namespace: &str,
    extra: &[(&str, String)],
) -> support::process::ApiaryProcess {
    let mut env = vec![
        (
            "KUBECONFIG",
            std::env::var("APIARY_TEST_KUBECONFIG").expect("set when a client exists"),
        ),
        ("APIARY_RUNTIME", "kubernetes".into()),
        ("APIARY_WATCH_NAMESPACE", namespace.to_owned()),
        ("APIARY_LEASE_NAMESPACE", namespace.to_owned()),
    ];
    env.extend(extra.iter().cloned());
    support::process::ApiaryProcess::start(&env).await
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

/// The MCPServer's status shows what the registry's newest fetch found: `toolCount` (the
/// `Tools` column of `kubectl get mcpservers`), `toolsHash` and condition `ToolsDiscovered`,
/// next to what the embedded operator writes, neither removing the other's. A failed fetch
/// keeps the tools last seen and says why.
///
/// Envtest has no Service DNS, so Apiary reaches the server's Service URL through an HTTP
/// proxy (`HTTP_PROXY`, which Apiary's HTTP clients honour): the proxy is the MCP server
/// itself, which answers for the Service's host name.
#[tokio::test]
async fn the_mcpserver_status_shows_the_tools_the_registry_found() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let namespace = support::kube::namespace(&cluster).await;
    let service = format!("mcp-web.{namespace}.svc.cluster.local:9090");
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        json!([
            { "name": "search", "inputSchema": { "type": "object" } },
            { "name": "fetch", "inputSchema": { "type": "object" } },
        ])
        .to_string(),
    )
    .expect("write the tools");
    let backend = support::mcp_servers::testmcp_http(&[
        "--tools",
        tools.to_str().expect("path"),
        "--allowed-host",
        &service,
    ])
    .await;
    let proxy = backend.url.trim_end_matches("/mcp").to_owned();
    let apiary = kubernetes_apiary(
        &namespace,
        &[
            ("APIARY_FETCH_TIMEOUT_SECS", "5".into()),
            ("HTTP_PROXY", proxy),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
        ],
    )
    .await;
    let spec = json!({ "image": "ghcr.io/example/web:1", "transport": "streamable-http",
                       "proxyPort": 9090 });
    support::kube::apply_manifest(
        &cluster,
        &namespace,
        &serde_json::to_string(&json!({
            "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServer",
            "metadata": { "name": "web" }, "spec": spec,
        }))
        .expect("manifest"),
    )
    .await
    .expect("apply the MCPServer");
    let http = reqwest::Client::new();
    let id = format!("{namespace}/web");
    support::gateway::register_spec(&http, &apiary.url, &id, spec).await;
    let outcome = support::gateway::try_refresh(&http, &apiary.url, &id).await;
    assert_eq!(outcome["outcome"], "fetched", "{outcome}\n{}", apiary.log());

    let servers: Api<MCPServer> = Api::namespaced(cluster.clone(), &namespace);
    let tools_discovered = |server: &MCPServer| {
        server.status.as_ref().and_then(|status| {
            status
                .conditions
                .iter()
                .find(|c| c.type_ == "ToolsDiscovered")
                .map(|c| (c.status.clone(), c.message.clone()))
        })
    };
    let found = support::kube::wait_for(
        &servers,
        "web",
        "2 tools and phase Pending in the status",
        |server| {
            let status = server.status.clone().unwrap_or_default();
            status.tool_count == Some(2)
                && status.phase.is_some()
                && status.conditions.iter().any(|c| c.type_ == "Ready")
        },
    )
    .await;
    let status = found.status.clone().expect("status");
    assert!(
        status.tools_hash.as_deref().is_some_and(|h| !h.is_empty()),
        "{status:?}"
    );
    let (condition, message) = tools_discovered(&found).expect("ToolsDiscovered");
    assert_eq!(condition, "True");
    assert!(message.contains("found 2 tools"), "{message}");
    let columns = support::kube::printed_columns(&cluster, &namespace, "web").await;
    assert_eq!(columns["Tools"], json!(2), "{columns:?}");

    // A spec change makes the operator write its part again; the registry's part stays.
    servers
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "image": "ghcr.io/example/web:2" } })),
        )
        .await
        .expect("change the image");
    let generation = servers.get("web").await.expect("web").metadata.generation;
    let rewritten = support::kube::wait_for(
        &servers,
        "web",
        "the operator's status for the new generation",
        |server| server.status.as_ref().and_then(|s| s.observed_generation) == generation,
    )
    .await;
    assert_eq!(
        rewritten.status.as_ref().and_then(|s| s.tool_count),
        Some(2)
    );
    assert!(tools_discovered(&rewritten).is_some(), "{rewritten:?}");

    // The server goes away: the fetch fails, the status says why and keeps what was seen.
    drop(backend);
    let outcome = support::gateway::try_refresh(&http, &apiary.url, &id).await;
    assert_eq!(outcome["outcome"], "failed", "{outcome}");
    let failed = support::kube::wait_for(&servers, "web", "ToolsDiscovered False", |server| {
        tools_discovered(server).is_some_and(|(status, _)| status == "False")
    })
    .await;
    let (_, message) = tools_discovered(&failed).expect("ToolsDiscovered");
    assert!(message.starts_with("the newest fetch failed"), "{message}");
    assert_eq!(failed.status.as_ref().and_then(|s| s.tool_count), Some(2));
    assert!(
        failed
            .status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "PolicyCompliant")),
        "the operator's conditions stay: {failed:?}"
    );
}

/// In Kubernetes mode the server page says what the cluster says: the phase and its message,
/// the `MCPServer`'s conditions, and the newest Events about it (secrets redacted).
#[tokio::test]
async fn the_server_page_shows_the_mcpservers_phase_conditions_and_events() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let spec = json!({ "image": "ghcr.io/example/osv:1", "transport": "stdio" });
    let (base, namespace) = kubernetes_mode(&cluster, "failing", spec.clone()).await;
    let servers: Api<MCPServer> = Api::namespaced(cluster.clone(), &namespace);
    let object = json!({
        "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServer",
        "metadata": { "name": "failing", "namespace": namespace }, "spec": spec,
    });
    servers
        .patch(
            "failing",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&object),
        )
        .await
        .expect("create the MCPServer");
    let condition = json!({
        "type": "Ready", "status": "False", "reason": "InvalidSpec",
        "message": "spec.image: pull refused", "lastTransitionTime": "2026-01-01T00:00:00Z",
    });
    servers
        .patch_status(
            "failing",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": {
                "phase": "Failed", "message": "spec.image: pull refused", "conditions": [condition],
            } })),
        )
        .await
        .expect("write a status");
    let event: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
        "metadata": { "name": "failing.1", "namespace": namespace },
        "involvedObject": {
            "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServer",
            "name": "failing", "namespace": namespace,
        },
        "reason": "PullRefused", "type": "Warning",
        "message": "the registry refused the pull with token=abcd1234secret",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }))
    .expect("an Event");
    Api::<k8s_openapi::api::core::v1::Event>::namespaced(cluster.clone(), &namespace)
        .create(&PostParams::default(), &event)
        .await
        .expect("create the Event");

    let page = reqwest::Client::new()
        .get(format!("{base}/servers/{namespace}/failing"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("GET the page")
        .text()
        .await
        .map(|html| without_markers(&html))
        .expect("HTML");
    assert!(page.contains("data-state=\"crashed\""), "{page}");
    assert!(page.contains("spec.image: pull refused"), "{page}");
    assert!(
        page.contains("data-testid=\"runtime-condition\" data-condition=\"Ready\""),
        "{page}"
    );
    assert!(
        page.contains("data-testid=\"runtime-event\" data-reason=\"PullRefused\""),
        "{page}"
    );
    assert!(
        page.contains("token=[redacted]") && !page.contains("abcd1234secret"),
        "{page}"
    );
    assert!(
        !page.contains("data-testid=\"snippets\""),
        "no snippets for a failed server: {page}"
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
        &kube::api::ApiResource::erase::<apiary_server::resources::crd::MCPOIDCConfig>(&()),
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

/// In Kubernetes mode the gateway reads the ConfigMap of Cedar policies that a server's
/// `authzConfig` names (ToolHive's authz file under `authz.json`): missing, or with a policy
/// that does not parse, the server is withheld (503 naming the field and why); with good
/// policies it is served to its issuer's tokens (401 for anyone else).
#[tokio::test]
async fn the_gateway_reads_the_configmap_of_a_servers_cedar_policies() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    support::kube::install_crds(&cluster).await;
    let spec = json!({ "image": "ghcr.io/example/web:1", "transport": "streamable-http",
                       "oidcConfig": { "type": "inline", "inline": {
                           "issuer": "https://idp.example.com", "audience": "https://web.example.com" } },
                       "authzConfig": { "type": "configMap", "configMap": { "name": "policies" } } });
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
    let (status, body) = answer_with("ConfigMap policies: not found").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("spec.authzConfig.configMap.name"), "{body}");

    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(cluster.clone(), &namespace);
    let apply = |policy: &'static str| {
        let maps = maps.clone();
        async move {
            let file = json!({ "version": "1.0", "type": "cedarv1",
                               "cedar": { "policies": [policy], "entities_json": "[]" } });
            let object = json!({ "apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": { "name": "policies" },
                                 "data": { "authz.json": file.to_string() } });
            maps.patch(
                "policies",
                &PatchParams::apply("test").force(),
                &Patch::Apply(&object),
            )
            .await
            .expect("apply the ConfigMap");
        }
    };
    apply("permit(principal, action == Action::\"call_tool\", resource == Tool::\"fetch\")").await;
    let wanted = "spec.authzConfig.configMap.name (ConfigMap policies key authz.json: policy 0 \
                  does not parse: ";
    let (status, body) = answer_with(wanted).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(wanted), "{body}");

    apply("permit(principal, action == Action::\"call_tool\", resource == Tool::\"fetch\");").await;
    let (status, body) = answer_with("takes only bearer tokens of https://idp.example.com").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("takes only bearer tokens of"), "{body}");
}

/// A phase, a message, and the status, reason and message of condition `type_` among
/// `conditions`.
type State = (String, String, Option<(String, String, String)>);

fn state_of(
    (phase, message): (Option<String>, Option<String>),
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> State {
    let condition = conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()));
    (
        phase.unwrap_or_default(),
        message.unwrap_or_default(),
        condition,
    )
}

/// A remote server object's phase, message and condition `type_`.
fn remote_state(
    status: Option<&apiary_server::resources::remote_crd::RemoteServerStatus>,
    type_: &str,
) -> State {
    let status = status.cloned().unwrap_or_default();
    state_of((status.phase, status.message), &status.conditions, type_)
}

/// ToolHive's remote kinds in the cluster: an `MCPRemoteProxy` registers its remote server
/// (no pod), which the registry fetches and the gateway serves, with the proxy-pod fields
/// flagged in its status; an `MCPServerEntry` pointing at a loopback address with headers to
/// forward is refused with both fields named and a Warning Event; Apiary's API cannot change a
/// server the cluster declares; deleting the object unpublishes the server.
///
/// The remote server's host name is answered by an HTTP proxy that is the MCP server itself
/// (as in the test above), so the URL is a public-looking one, as remote servers have.
#[tokio::test]
async fn remote_server_objects_register_servers_the_gateway_serves() {
    use apiary_server::resources::remote_crd::{MCPRemoteProxy, MCPServerEntry};
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let namespace = support::kube::namespace(&cluster).await;
    let remote_host = "search.remote.example:9090";
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        json!([
            { "name": "search", "inputSchema": { "type": "object" } },
            { "name": "fetch", "inputSchema": { "type": "object" } },
        ])
        .to_string(),
    )
    .expect("write the tools");
    let backend = support::mcp_servers::testmcp_http(&[
        "--tools",
        tools.to_str().expect("path"),
        "--allowed-host",
        remote_host,
    ])
    .await;
    let proxy = backend.url.trim_end_matches("/mcp").to_owned();
    let apiary = kubernetes_apiary(
        &namespace,
        &[
            ("APIARY_FETCH_TIMEOUT_SECS", "5".into()),
            ("HTTP_PROXY", proxy),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
        ],
    )
    .await;

    // An MCPRemoteProxy as ToolHive's docs write one, with Apiary's metadata annotations.
    support::kube::apply_manifest(
        &cluster,
        &namespace,
        &serde_json::to_string(&json!({
            "apiVersion": "toolhive.stacklok.dev/v1alpha1", "kind": "MCPRemoteProxy",
            "metadata": { "name": "search",
                          "annotations": { "apiary.dev/owner-team": "search",
                                           "apiary.dev/description": "Web search" } },
            "spec": { "remoteUrl": format!("http://{remote_host}/mcp"),
                      "transport": "streamable-http", "proxyPort": 8080,
                      "resources": { "limits": { "cpu": "500m" } } },
        }))
        .expect("manifest"),
    )
    .await
    .expect("apply the MCPRemoteProxy");
    let proxies: Api<MCPRemoteProxy> = Api::namespaced(cluster.clone(), &namespace);
    let ready = support::kube::wait_for(&proxies, "search", "the proxy to be Ready", |p| {
        remote_state(p.status.as_ref(), "Accepted").0 == "Ready"
    })
    .await;
    let status = ready.status.clone().expect("status");
    assert_eq!(status.tool_count, Some(2), "{status:?}\n{}", apiary.log());
    let gateway = status.url.clone().expect("the gateway endpoint");
    assert!(
        gateway.ends_with(&format!("/mcp/{namespace}/search")),
        "{gateway}"
    );
    let (_, _, unsupported) = remote_state(Some(&status), "UnsupportedFields");
    let (flag, _, why) = unsupported.expect("UnsupportedFields");
    assert_eq!(flag, "True");
    assert!(
        why.contains("spec.proxyPort") && why.contains("spec.resources"),
        "{why}"
    );

    // The registry lists it with its metadata, and the gateway serves its tools.
    let http = reqwest::Client::new();
    let listed: serde_json::Value = http
        .get(format!("{}/v0.1/servers?search=search", apiary.url))
        .send()
        .await
        .expect("registry")
        .json()
        .await
        .expect("JSON");
    let entry = listed["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .find(|s| s["server"]["name"] == format!("{namespace}/search"))
        .unwrap_or_else(|| panic!("listed: {listed}"))
        .clone();
    assert_eq!(entry["_meta"]["dev.apiary/server"]["ownerTeam"], "search");
    let mut names =
        support::mcp_client::tool_names(&format!("{}/mcp/{namespace}/search", apiary.url)).await;
    names.sort();
    assert_eq!(names, ["fetch", "search"]);

    // Apiary's API does not change a server the cluster declares.
    let refused = http
        .put(format!("{}/api/v1/servers/{namespace}/search", apiary.url))
        .json(&json!({ "spec": { "url": "https://elsewhere.example/mcp",
                                 "transport": "streamable-http" }, "published": true }))
        .send()
        .await
        .expect("register");
    assert_eq!(refused.status().as_u16(), 409);
    let body = refused.text().await.expect("body");
    assert!(body.contains("MCPRemoteProxy"), "{body}");

    // An entry Apiary cannot honour is refused with each field named, and nothing is served.
    support::kube::apply_manifest(
        &cluster,
        &namespace,
        &serde_json::to_string(&json!({
            "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServerEntry",
            "metadata": { "name": "internal" },
            "spec": { "remoteUrl": "http://127.0.0.1:9/mcp", "transport": "sse",
                      "groupRef": { "name": "tools" },
                      "headerForward": { "addPlaintextHeaders": { "X-Tenant": "a" } } },
        }))
        .expect("manifest"),
    )
    .await
    .expect("apply the MCPServerEntry");
    let entries: Api<MCPServerEntry> = Api::namespaced(cluster.clone(), &namespace);
    let failed = support::kube::wait_for(&entries, "internal", "the entry to fail", |e| {
        remote_state(e.status.as_ref(), "Accepted").0 == "Failed"
    })
    .await;
    let (_, message, accepted) = remote_state(failed.status.as_ref(), "Accepted");
    let (accepted, reason, _) = accepted.expect("Accepted");
    assert_eq!(
        (accepted.as_str(), reason.as_str()),
        ("False", "FieldsRefused")
    );
    assert!(
        message.contains("spec.remoteUrl") && message.contains("spec.headerForward"),
        "{message}"
    );
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(cluster.clone(), &namespace);
    let warned = support::kube::eventually("a Warning Event about the entry", || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items.into_iter().find(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("internal")
                && e.type_.as_deref() == Some("Warning")
        })
    })
    .await;
    assert!(
        warned
            .note
            .unwrap_or_default()
            .contains("spec.headerForward"),
        "the Event names the field"
    );
    let missing = http
        .get(format!(
            "{}/v0.1/servers/{namespace}%2Finternal/versions/latest",
            apiary.url
        ))
        .send()
        .await
        .expect("registry");
    assert_eq!(missing.status().as_u16(), 404);

    // Deleting the proxy unpublishes its server, audited as the cluster.
    proxies
        .delete("search", &DeleteParams::default())
        .await
        .expect("delete the MCPRemoteProxy");
    support::kube::eventually("the server to be unpublished", || async {
        let listed: serde_json::Value = http
            .get(format!("{}/v0.1/servers?search=search", apiary.url))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let gone = !listed["servers"]
            .as_array()?
            .iter()
            .any(|s| s["server"]["name"] == format!("{namespace}/search"));
        gone.then_some(())
    })
    .await;
}

/// A remote server object deleted while Apiary was down: the first full list after Apiary
/// starts again unpublishes its server, audited as the cluster.
#[tokio::test]
async fn an_object_deleted_while_apiary_is_down_is_swept_when_it_starts() {
    use apiary_server::resources::remote_crd::MCPServerEntry;
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let namespace = support::kube::namespace(&cluster).await;
    let test_db = support::sqlite().await;
    let env = [("APIARY_DATABASE_URL", test_db.url.clone())];
    let published = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT CAST(CASE WHEN published THEN 1 ELSE 0 END AS BIGINT) FROM servers \
             WHERE namespace = $1 AND name = 'entry'",
        )
        .bind(&namespace)
        .fetch_optional(test_db.db.pool())
        .await
        .expect("query")
    };
    let mut apiary = kubernetes_apiary(&namespace, &env).await;
    support::kube::apply_manifest(
        &cluster,
        &namespace,
        &serde_json::to_string(&json!({
            "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServerEntry",
            "metadata": { "name": "entry", "annotations": { "apiary.dev/owner-team": "search" } },
            "spec": { "remoteUrl": "http://search.remote.example:9090/mcp",
                      "transport": "streamable-http" },
        }))
        .expect("manifest"),
    )
    .await
    .expect("apply the MCPServerEntry");
    support::kube::eventually("the entry's server to be published", || async {
        (published().await == Some(1)).then_some(())
    })
    .await;

    apiary.kill();
    let entries: Api<MCPServerEntry> = Api::namespaced(cluster.clone(), &namespace);
    entries
        .delete("entry", &DeleteParams::default())
        .await
        .expect("delete the MCPServerEntry");
    let apiary = kubernetes_apiary(&namespace, &env).await;
    support::kube::eventually("the entry's server to be unpublished", || async {
        (published().await == Some(0)).then_some(())
    })
    .await;
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT actor FROM audit_events WHERE action = 'server.unpublish' AND target = $1",
    )
    .bind(format!("{namespace}/entry"))
    .fetch_all(test_db.db.pool())
    .await
    .expect("audit");
    assert_eq!(actors, ["cluster"], "{}", apiary.log());
}

/// An `MCPServer` deleted while Apiary was down: the first full list after Apiary starts again
/// unpublishes its server, audited as the cluster. A server whose `MCPServer` still exists, one
/// registered before any `MCPServer` was made for it, and one deleted through Apiary and
/// registered again before its new `MCPServer` exists, stay published.
#[tokio::test]
async fn an_mcpserver_deleted_while_apiary_is_down_is_unpublished_when_it_starts() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let namespace = support::kube::namespace(&cluster).await;
    let test_db = support::sqlite().await;
    let (registered, applied) = (
        ["gone", "kept", "unmade", "again"],
        ["gone", "kept", "again"],
    );
    let servers =
        registered_with_mcpservers(&cluster, &test_db.db, &namespace, &registered, &applied).await;
    let is_published = |name| published(&test_db.db, &namespace, name);
    let recorded = || async {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM cluster_mcpservers WHERE namespace = $1 ORDER BY name",
        )
        .bind(&namespace)
        .fetch_all(test_db.db.pool())
        .await
        .expect("query");
        names
    };
    let env = [("APIARY_DATABASE_URL", test_db.url.clone())];
    let mut apiary = kubernetes_apiary(&namespace, &env).await;
    support::kube::eventually("Apiary to see the three MCPServers", || async {
        (recorded().await.len() == 3).then_some(())
    })
    .await;

    apiary.kill();
    servers
        .delete("gone", &DeleteParams::default())
        .await
        .expect("kubectl delete");
    // "again" is deleted through Apiary, then registered anew; its new MCPServer does not
    // exist yet when Apiary starts.
    let store = ServerStore::new(test_db.db.clone());
    assert!(store
        .delete(&namespace, "again", "tester")
        .await
        .expect("delete"));
    servers
        .delete("again", &DeleteParams::default())
        .await
        .expect("kubectl delete");
    registered_with_mcpservers(&cluster, &test_db.db, &namespace, &["again"], &[]).await;
    let apiary = kubernetes_apiary(&namespace, &env).await;
    support::kube::eventually(
        "the deleted MCPServer's server to be unpublished, and its record forgotten",
        || async {
            let swept = !is_published("gone").await && recorded().await == ["kept"];
            swept.then_some(())
        },
    )
    .await;
    assert!(is_published("kept").await, "{}", apiary.log());
    assert!(is_published("unmade").await, "{}", apiary.log());
    assert!(
        is_published("again").await,
        "a server registered again is not swept: {}",
        apiary.log()
    );
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, target FROM audit_events WHERE action = 'server.unpublish'")
            .fetch_all(test_db.db.pool())
            .await
            .expect("audit");
    assert_eq!(audit, [("cluster".to_owned(), format!("{namespace}/gone"))]);
}

/// A `VirtualMCPServer`'s phase, message and condition `type_`.
fn virtual_state(
    status: Option<&apiary_server::resources::virtual_crd::VirtualMCPServerStatus>,
    type_: &str,
) -> State {
    let status = status.cloned().unwrap_or_default();
    state_of((status.phase, status.message), &status.conditions, type_)
}

/// ToolHive's `MCPGroup` and `VirtualMCPServer`: the virtual server is served by Apiary's
/// gateway (no pod) from the group's servers published in the registry, with their tools
/// prefixed as `prefixFormat` says; a member that is not published is named and degrades it;
/// fields without effect are flagged; the group's status lists its members; Apiary's API does
/// not change it; a missing group fails it; deleting it removes the endpoint.
#[tokio::test]
async fn a_virtual_mcp_server_serves_its_groups_published_servers_through_the_gateway() {
    use apiary_server::resources::virtual_crd::{MCPGroup, VirtualMCPServer};
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let namespace = support::kube::namespace(&cluster).await;
    let hosts = ["alpha.remote.example:9090", "beta.remote.example:9090"];
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        json!([
            { "name": "search", "inputSchema": { "type": "object" } },
            { "name": "fetch", "inputSchema": { "type": "object" } },
        ])
        .to_string(),
    )
    .expect("write the tools");
    let backend = support::mcp_servers::testmcp_http(&[
        "--tools",
        tools.to_str().expect("path"),
        "--allowed-host",
        hosts[0],
        "--allowed-host",
        hosts[1],
    ])
    .await;
    let proxy = backend.url.trim_end_matches("/mcp").to_owned();
    let apiary = kubernetes_apiary(
        &namespace,
        &[
            ("APIARY_FETCH_TIMEOUT_SECS", "5".into()),
            ("HTTP_PROXY", proxy),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
        ],
    )
    .await;
    let apply = |object: serde_json::Value| {
        let cluster = cluster.clone();
        let namespace = namespace.clone();
        async move {
            support::kube::apply_manifest(
                &cluster,
                &namespace,
                &serde_json::to_string(&object).expect("manifest"),
            )
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", object["kind"]));
        }
    };
    apply(
        json!({ "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPGroup",
                  "metadata": { "name": "team" }, "spec": { "description": "The team's" } }),
    )
    .await;
    for (name, host) in [("alpha", hosts[0]), ("beta", hosts[1])] {
        apply(
            json!({ "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServerEntry",
                      "metadata": { "name": name },
                      "spec": { "remoteUrl": format!("http://{host}/mcp"),
                                "transport": "streamable-http", "groupRef": { "name": "team" } } }),
        )
        .await;
    }
    // In the group, but never registered in Apiary: named, its tools not drawn.
    apply(
        json!({ "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPServer",
                  "metadata": { "name": "gamma" },
                  "spec": { "image": "ghcr.io/example/gamma:1", "groupRef": { "name": "team" } } }),
    )
    .await;
    apply(json!({
        "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "VirtualMCPServer",
        "metadata": { "name": "team-tools",
                      "annotations": { "apiary.dev/owner-team": "search",
                                       "apiary.dev/description": "All of the team's tools" } },
        "spec": {
            "groupRef": { "name": "team" },
            "incomingAuth": { "type": "anonymous", "authzConfig": { "type": "inline",
                "inline": { "policies": ["permit(principal, action, resource);"] } } },
            "outgoingAuth": { "source": "discovered" },
            "serviceType": "ClusterIP",
            "config": { "aggregation": { "conflictResolution": "prefix",
                                         "conflictResolutionConfig": { "prefixFormat": "{workload}_" } },
                        "compositeToolRefs": [{ "name": "deploy" }] },
        },
    }))
    .await;

    let virtuals: Api<VirtualMCPServer> = Api::namespaced(cluster.clone(), &namespace);
    let served = support::kube::wait_for(&virtuals, "team-tools", "4 tools served", |v| {
        v.status.as_ref().and_then(|s| s.tool_count) == Some(4)
    })
    .await;
    let status = served.status.clone().expect("status");
    let (phase, message, resolved) = virtual_state(Some(&status), "MembersResolved");
    assert_eq!(phase, "Degraded", "{message}\n{}", apiary.log());
    let (flag, _, why) = resolved.expect("MembersResolved");
    assert_eq!(flag, "False");
    assert!(why.contains("MCPServer gamma: not published"), "{why}");
    assert_eq!(status.backend_count, Some(2));
    let backends: Vec<(&str, &str)> = status
        .discovered_backends
        .iter()
        .map(|b| (b.name.as_str(), b.status.as_str()))
        .collect();
    assert_eq!(
        backends,
        [
            ("alpha", "ready"),
            ("beta", "ready"),
            ("gamma", "unavailable")
        ]
    );
    let (_, _, unsupported) = virtual_state(Some(&status), "UnsupportedFields");
    let why = unsupported.expect("UnsupportedFields").2;
    assert!(
        why.contains("spec.config.compositeToolRefs") && why.contains("spec.serviceType"),
        "{why}"
    );
    let url = status.url.clone().expect("the gateway endpoint");
    assert!(
        url.ends_with(&format!("/mcp/{namespace}/team-tools")),
        "{url}"
    );

    // The gateway serves it: every member's tools, prefixed, each call reaching its member.
    let endpoint = format!("{}/mcp/{namespace}/team-tools", apiary.url);
    let client = support::mcp_client::connect(&endpoint).await;
    let listed = client.list_all_tools().await.expect("tools/list");
    assert_eq!(
        support::mcp_client::names(&listed),
        ["alpha_search", "alpha_fetch", "beta_search", "beta_fetch"]
    );
    let result = client
        .call_tool(support::mcp_client::call("beta_fetch", json!({ "q": "x" })))
        .await
        .expect("tools/call");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    client.cancel().await.expect("close");

    // The group lists its members, by kind.
    let groups: Api<MCPGroup> = Api::namespaced(cluster.clone(), &namespace);
    let group = support::kube::wait_for(&groups, "team", "its members listed", |g| {
        g.status.as_ref().and_then(|s| s.entry_count) == Some(2)
    })
    .await
    .status
    .expect("status");
    assert_eq!(group.phase.as_deref(), Some("Ready"));
    assert_eq!(group.entries, ["alpha", "beta"]);
    assert_eq!(group.servers, ["gamma"]);

    // Apiary's API shows it but does not change it: the cluster declares it.
    let http = reqwest::Client::new();
    let shown: serde_json::Value = http
        .get(format!(
            "{}/api/v1/virtual-servers/{namespace}/team-tools",
            apiary.url
        ))
        .send()
        .await
        .expect("show")
        .json()
        .await
        .expect("JSON");
    assert_eq!(shown["spec"]["ownerTeam"], "search", "{shown}");
    let refused = http
        .put(format!("{}/api/v1/virtual-servers/{namespace}/team-tools", apiary.url))
        .json(&json!({ "ownerTeam": "search", "members": [{ "server": format!("{namespace}/alpha") }] }))
        .send()
        .await
        .expect("save");
    assert_eq!(refused.status().as_u16(), 409);
    let body = refused.text().await.expect("body");
    assert!(body.contains("VirtualMCPServer"), "{body}");

    // A VirtualMCPServer whose group does not exist is not served, and says so.
    apply(json!({
        "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "VirtualMCPServer",
        "metadata": { "name": "orphan", "annotations": { "apiary.dev/owner-team": "search" } },
        "spec": { "groupRef": { "name": "nobody" }, "incomingAuth": { "type": "anonymous" } },
    }))
    .await;
    let orphan = support::kube::wait_for(&virtuals, "orphan", "it to fail", |v| {
        virtual_state(v.status.as_ref(), "Accepted").0 == "Failed"
    })
    .await;
    let (_, message, group_ref) = virtual_state(orphan.status.as_ref(), "GroupRefValidated");
    assert_eq!(group_ref.expect("GroupRefValidated").0, "False");
    assert!(message.contains("nobody"), "{message}");

    // Deleting the object removes the virtual server and its endpoint.
    virtuals
        .delete("team-tools", &DeleteParams::default())
        .await
        .expect("delete the VirtualMCPServer");
    support::kube::eventually("the virtual server to be removed", || async {
        let status = http
            .get(format!(
                "{}/api/v1/virtual-servers/{namespace}/team-tools",
                apiary.url
            ))
            .send()
            .await
            .ok()?
            .status();
        (status.as_u16() == 404).then_some(())
    })
    .await;
}

/// ToolHive's own `MCPGroup` and `VirtualMCPServer` examples (`server/tests/fixtures/toolhive/
/// virtual-mcps`, unchanged but for the namespace) apply under strict field validation, and
/// each `VirtualMCPServer` gets a status: without Apiary's owner-team annotation none is served,
/// and the status says which annotation to add (the fields each example refuses or flags are
/// checked one by one in `onboarding::cluster_virtual::declaration`'s tests).
#[tokio::test]
async fn toolhives_virtual_server_examples_apply_unchanged_and_get_a_status() {
    use apiary_server::resources::virtual_crd::VirtualMCPServer;
    use serde::Deserialize;
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let namespace = support::kube::namespace(&cluster).await;
    let _apiary = kubernetes_apiary(&namespace, &[]).await;
    let examples = [
        include_str!("fixtures/toolhive/virtual-mcps/composite_tool_simple.yaml"),
        include_str!("fixtures/toolhive/virtual-mcps/vmcp_codemode.yaml"),
        include_str!("fixtures/toolhive/virtual-mcps/vmcp_conflict_resolution.yaml"),
        include_str!("fixtures/toolhive/virtual-mcps/vmcp_inline_incoming_auth.yaml"),
        include_str!("fixtures/toolhive/virtual-mcps/vmcp_optimizer_all_options.yaml"),
        include_str!("fixtures/toolhive/virtual-mcps/vmcp_production_full.yaml"),
        include_str!("fixtures/toolhive/virtual-mcps/vmcp_simple_discovered.yaml"),
        include_str!("fixtures/toolhive/virtual-mcps/vmcp_with_telemetry_ref.yaml"),
    ];
    let mut names = Vec::new();
    for example in examples {
        for document in serde_yaml::Deserializer::from_str(example) {
            let object = serde_json::Value::deserialize(document).expect("a YAML document");
            let kind = object["kind"].as_str().unwrap_or_default();
            if kind != "MCPGroup" && kind != "VirtualMCPServer" {
                continue;
            }
            support::kube::apply_manifest(
                &cluster,
                &namespace,
                &serde_json::to_string(&object).expect("JSON"),
            )
            .await
            .unwrap_or_else(|error| panic!("{kind} applies unchanged: {error}"));
            if kind == "VirtualMCPServer" {
                names.push(
                    object["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    }
    assert_eq!(names.len(), 10);
    let virtuals: Api<VirtualMCPServer> = Api::namespaced(cluster.clone(), &namespace);
    for name in names {
        let object =
            support::kube::wait_for(&virtuals, &name, "its status", |v| v.status.is_some()).await;
        let (phase, message, accepted) = virtual_state(object.status.as_ref(), "Accepted");
        assert_eq!(phase, "Failed", "{name}: {message}");
        assert_eq!(accepted.expect("Accepted").1, "FieldsRefused", "{name}");
        assert!(
            message.contains("apiary.dev/owner-team"),
            "{name}: {message}"
        );
    }
}

/// ToolHive's own remote server examples (`server/tests/fixtures/toolhive`, unchanged but for
/// the namespace), each with the outcome a ToolHive user should expect from Apiary: the
/// objects they reference (`MCPOIDCConfig`, `MCPExternalAuthConfig`) are applied too; other
/// kinds (`MCPGroup` and `VirtualMCPServer` are tested above) and plain Secrets and ConfigMaps
/// are left out. `mcpserverentry_mixed_group.yaml` holds the same `context7` entry as the
/// basic example, in another group.
#[tokio::test]
async fn toolhives_remote_server_examples_get_the_outcome_their_fields_call_for() {
    use apiary_server::resources::remote_crd::{MCPRemoteProxy, MCPServerEntry};
    use serde::Deserialize;
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    let namespace = support::kube::namespace(&cluster).await;
    let _apiary = kubernetes_apiary(&namespace, &[("APIARY_FETCH_TIMEOUT_SECS", "3".into())]).await;
    let examples = [
        include_str!("fixtures/toolhive/mcp-server-entries/mcpserverentry_basic.yaml"),
        include_str!(
            "fixtures/toolhive/mcp-server-entries/mcpserverentry_with_header_forward.yaml"
        ),
        include_str!(
            "fixtures/toolhive/mcp-server-entries/mcpserverentry_with_token_exchange.yaml"
        ),
        include_str!("fixtures/toolhive/mcp-server-entries/mcpserverentry_with_ca_bundle.yaml"),
        include_str!("fixtures/toolhive/mcp-servers/mcpremoteproxy_with_oidcconfig_ref.yaml"),
        include_str!("fixtures/toolhive/external-auth/mcpremoteproxy_with_bearer_token.yaml"),
    ];
    for example in examples {
        for document in serde_yaml::Deserializer::from_str(example) {
            let object = serde_json::Value::deserialize(document).expect("a YAML document");
            let kind = object["kind"].as_str().unwrap_or_default();
            let served = [
                "MCPRemoteProxy",
                "MCPServerEntry",
                "MCPOIDCConfig",
                "MCPExternalAuthConfig",
            ];
            if !served.contains(&kind) {
                continue;
            }
            support::kube::apply_manifest(
                &cluster,
                &namespace,
                &serde_json::to_string(&object).expect("JSON"),
            )
            .await
            .unwrap_or_else(|error| panic!("{kind} applies unchanged: {error}"));
        }
    }

    /// One example's object: its name, condition `Accepted`, the fields its message names,
    /// the fields flagged, and whether the gateway serves it.
    type Expected<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str], bool);
    let entries: Api<MCPServerEntry> = Api::namespaced(cluster.clone(), &namespace);
    let proxies: Api<MCPRemoteProxy> = Api::namespaced(cluster.clone(), &namespace);
    let expectations: [Expected; 6] = [
        ("context7", "True", &[], &[], true),
        ("internal-api", "False", &["spec.headerForward"], &[], false),
        (
            "salesforce-mcp",
            "True",
            &["spec.externalAuthConfigRef"],
            &[],
            false,
        ),
        ("internal-mcp", "True", &[], &["spec.caBundleRef"], true),
        (
            "github-proxy",
            "True",
            &["oidcConfigRef"],
            &["spec.resources"],
            false,
        ),
        (
            "api-proxy",
            "True",
            &["spec.externalAuthConfigRef"],
            &["spec.proxyPort", "spec.resources"],
            false,
        ),
    ];
    for (name, accepted, named, flagged, served) in expectations {
        let settled =
            |status: Option<&apiary_server::resources::remote_crd::RemoteServerStatus>| {
                // Settled: refused, withheld, or fetched once (these hosts are not reachable here).
                let (phase, _, available) = remote_state(status, "RemoteAvailable");
                let (_, _, accepted) = remote_state(status, "Accepted");
                phase == "Failed"
                    && (accepted.is_some_and(|a| a.0 == "False")
                        || available.is_some_and(|a| a.0 != "Unknown"))
                    || phase == "Ready"
            };
        let status = if name.ends_with("-proxy") {
            support::kube::wait_for(&proxies, name, "its status", |p| settled(p.status.as_ref()))
                .await
                .status
        } else {
            support::kube::wait_for(&entries, name, "its status", |e| settled(e.status.as_ref()))
                .await
                .status
        };
        let (phase, message, condition) = remote_state(status.as_ref(), "Accepted");
        assert_eq!(
            condition.map(|c| c.0).as_deref(),
            Some(accepted),
            "{name}: {message}"
        );
        for field in named {
            assert!(message.contains(field), "{name} names {field}: {message}");
        }
        if !served {
            assert_eq!(phase, "Failed", "{name}: {message}");
            assert!(message.starts_with("not "), "{name}: {message}");
        }
        let (_, _, unsupported) = remote_state(status.as_ref(), "UnsupportedFields");
        let unsupported = unsupported.expect("UnsupportedFields").2;
        for field in flagged {
            assert!(
                unsupported.contains(field),
                "{name} flags {field}: {unsupported}"
            );
        }
    }
}
