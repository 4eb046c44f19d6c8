//! In Kubernetes mode a server whose MCPServer is deleted in the cluster (kubectl, a GitOps
//! prune) is unpublished at once, against the real apiserver, and the audit log says so.

mod support;

use std::time::{Duration, Instant};

use kube::api::{DeleteParams, Patch, PatchParams};
use kube::Api;
use serde_json::json;

use apiary_server::catalog::{ServerRegistration, ServerStore};
use apiary_server::operator::crd::MCPServer;

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
