//! "Changed outside Apiary" against the real apiserver: an approved proposal matches the
//! cluster; a change made with another field manager (as kubectl does) shows in the API and on
//! the server page with the approved and live values and who made it; a deleted `MCPServer`
//! is reported missing; a cluster Apiary may not read is a message. In local mode nothing is
//! compared.

mod support;

use kube::api::{DeleteParams, Patch, PatchParams};
use kube::Api;
use reqwest::StatusCode;
use serde_json::{json, Value};

use apiary_server::config::Runtime;
use apiary_server::onboarding::kubernetes::mcpservers;
use apiary_server::resources::crd::MCPToolConfig;
use support::proposals::{decide, propose};
use support::signed_in::{self, Client};

const IMAGE: &str = "ghcr.io/stackloklabs/osv-mcp/server:0.1.0";

async fn changes(client: &Client, namespace: &str) -> Value {
    let path = format!("/api/v1/servers/{namespace}/osv/cluster-changes");
    let (status, body) = client.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn page(client: &Client, namespace: &str) -> String {
    let response = client.page(&format!("/servers/{namespace}/osv")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("the page")
}

/// `PatchParams` for a write by `manager`, as kubectl (`kubectl-edit`) or a GitOps tool would.
fn as_manager(manager: &str) -> PatchParams {
    PatchParams {
        field_manager: Some(manager.into()),
        ..PatchParams::default()
    }
}

#[tokio::test]
async fn a_resource_changed_outside_apiary_shows_against_the_approved_revision() {
    let Some(cluster) = support::kube::client().await else {
        return;
    };
    for db in support::all_backends().await {
        let namespace = support::kube::namespace(&cluster).await;
        let client = cluster.clone();
        let Some(app) = signed_in::start_configured(
            &db,
            Default::default(),
            |settings| settings.runtime = Runtime::Kubernetes,
            |state| state.with_kube(client),
        )
        .await
        else {
            return;
        };
        let (paul, olga) = (
            Client::signed_in(&app, "paul").await,
            Client::signed_in(&app, "olga").await,
        );
        let carol = Client::signed_in(&app, "carol").await;
        let proposal = propose(
            &paul,
            &json!({
                "kind": "create", "namespace": namespace, "name": "osv",
                "description": "OSV", "ownerTeam": "search",
                "spec": { "image": IMAGE, "transport": "streamable-http",
                          "env": [{ "name": "LOG_LEVEL", "value": "info" }] },
            }),
        )
        .await;
        let (status, applied) = decide(&olga, &proposal, "approve", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{applied}");
        assert_eq!(applied["status"], "applied", "{applied}");

        // Just applied: nothing changed outside Apiary (the apiserver's defaults and the
        // curation's toolConfigRef are not changes).
        assert_eq!(
            changes(&carol, &namespace).await,
            json!({ "status": "in-sync", "revision": 1 })
        );
        assert!(!page(&olga, &namespace)
            .await
            .contains("Changed outside Apiary"));

        // kubectl edit: another image and log level.
        let servers = mcpservers(&cluster, &namespace);
        servers
            .patch(
                "osv",
                &as_manager("kubectl-edit"),
                &Patch::Merge(json!({ "spec": {
                    "image": "ghcr.io/example/osv:evil",
                    "env": [{ "name": "LOG_LEVEL", "value": "debug" }],
                } })),
            )
            .await
            .expect("kubectl edit");
        // A GitOps tool turns a curation's deny list off.
        let configs: Api<MCPToolConfig> = Api::namespaced(cluster.clone(), &namespace);
        configs
            .patch(
                "osv",
                &PatchParams::apply("argocd-controller").force(),
                &Patch::Apply(json!({
                    "apiVersion": "toolhive.stacklok.dev/v1beta1", "kind": "MCPToolConfig",
                    "metadata": { "name": "osv", "namespace": namespace },
                    "spec": { "deny": ["drop_*"] },
                })),
            )
            .await
            .expect("argocd apply");

        let body = changes(&carol, &namespace).await;
        assert_eq!(body["status"], "changed", "{body}");
        assert_eq!(body["revision"], 1);
        assert_eq!(body["missing"], json!([]));
        assert_eq!(
            body["fields"],
            json!([
                { "kind": "MCPServer", "path": "spec.env[0].value", "approved": "info",
                  "live": "debug", "changedBy": ["kubectl-edit"] },
                { "kind": "MCPServer", "path": "spec.image", "approved": IMAGE,
                  "live": "ghcr.io/example/osv:evil", "changedBy": ["kubectl-edit"] },
                { "kind": "MCPToolConfig", "path": "spec.deny", "live": ["drop_*"],
                  "changedBy": ["argocd-controller"] },
            ]),
            "{body}"
        );

        // The server page says so, with both values and who changed them; owners get the way
        // forward, consumers only the facts.
        let html = page(&olga, &namespace).await;
        for text in [
            "Changed outside Apiary",
            "MCPServer spec.image",
            IMAGE,
            "ghcr.io/example/osv:evil",
            "kubectl-edit",
            "argocd-controller",
            "data-testid=\"cluster-next-steps\"",
            &format!("/servers/{namespace}/osv/change"),
            &format!("/api/v1/servers/{namespace}/osv/revisions/1/manifest"),
        ] {
            assert!(html.contains(text), "the owner's page lacks {text:?}");
        }
        let html = page(&carol, &namespace).await;
        assert!(html.contains("ghcr.io/example/osv:evil"));
        assert!(
            !html.contains("cluster-next-steps"),
            "consumers get no next steps"
        );

        // A cluster Apiary may not read: a message, not an error page.
        let forbidden = support::kube::service_account_client(&namespace, "nobody").await;
        let Some(blind) = signed_in::start_configured(
            &db,
            Default::default(),
            |settings| settings.runtime = Runtime::Kubernetes,
            |state| state.with_kube(forbidden),
        )
        .await
        else {
            return;
        };
        let carol_blind = Client::signed_in(&blind, "carol").await;
        let body = changes(&carol_blind, &namespace).await;
        assert_eq!(body["status"], "unreadable", "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains("403")),
            "{body}"
        );
        let html = page(&carol_blind, &namespace).await;
        assert!(html.contains("could not compare this server with the cluster"));

        // Deleted in the cluster: reported missing, and the cluster watch unpublishes it.
        let stop = tokio_util::sync::CancellationToken::new();
        let watch = apiary_server::onboarding::cluster_watch::spawn(
            db.db.clone(),
            cluster.clone(),
            Some(namespace.clone()),
            stop.clone(),
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        servers
            .delete("osv", &DeleteParams::default())
            .await
            .expect("kubectl delete");
        let body = changes(&carol, &namespace).await;
        assert_eq!(body["status"], "changed", "{body}");
        assert_eq!(body["missing"], json!(["MCPServer"]), "{body}");
        support::kube::eventually("the page to say the server is unpublished", || async {
            let html = page(&olga, &namespace).await;
            (html.contains("is missing in the cluster")
                && html.contains("the server is unpublished"))
            .then_some(())
        })
        .await;
        stop.cancel();
        watch.await.expect("the watch stops");
    }
}

#[tokio::test]
async fn in_local_mode_nothing_is_compared() {
    let db = support::sqlite().await;
    let app = support::app(&db.db);
    support::http::call(
        &app,
        "PUT",
        "/api/v1/servers/tools/osv",
        Some(&json!({ "ownerTeam": "search",
            "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" } })),
    )
    .await;
    let (status, body) = support::http::call(
        &app,
        "GET",
        "/api/v1/servers/tools/osv/cluster-changes",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "not-applied", "{body}");
    let (status, _) = support::http::call(
        &app,
        "GET",
        "/api/v1/servers/tools/absent/cluster-changes",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
