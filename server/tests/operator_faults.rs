//! The operator when the apiserver goes away in the middle of reconciling, on a control plane
//! of the test's own: it spins no hot loop while the apiserver is gone, and when it is back it
//! converges to exactly one set of children per server and picks up what is new.

mod support;

use std::time::Duration;

use apiary_server::resources::crd::MCPServer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::ListParams;
use kube::{Api, Client};
use support::kube::{
    apply_manifest, eventually, namespace, server_manifest, start_operator, PrivateCluster,
};

const SERVERS: usize = 5;
const OUTAGE: Duration = Duration::from_secs(8);

/// CPU time this process has used (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name (which is in parentheses and may contain spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Names of the managed children of `kind` in `namespace`.
async fn children<K>(client: &Client, namespace: &str) -> Vec<String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    <K as kube::Resource>::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let mut names: Vec<String> = api
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=apiary"))
        .await
        .expect("list children")
        .items
        .iter()
        .map(|child| child.meta().name.clone().unwrap_or_default())
        .collect();
    names.sort();
    names
}

/// Every server has a status for its current generation, and each kind of child exists
/// exactly once per server.
async fn converged(client: &Client, namespace: &str, servers: usize) -> Option<()> {
    let mcp: Api<MCPServer> = Api::namespaced(client.clone(), namespace);
    let all = mcp.list(&ListParams::default()).await.ok()?.items;
    let written = all.iter().filter(|server| {
        server
            .status
            .as_ref()
            .and_then(|status| status.observed_generation)
            == server.metadata.generation
    });
    if all.len() != servers || written.count() != servers {
        return None;
    }
    let counts = [
        children::<Deployment>(client, namespace).await.len(),
        children::<Service>(client, namespace).await.len(),
        children::<ServiceAccount>(client, namespace).await.len(),
        children::<NetworkPolicy>(client, namespace).await.len(),
    ];
    counts.iter().all(|count| *count == servers).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_converges_after_the_apiserver_restarts_mid_reconcile_without_a_hot_loop() {
    let Some(cluster) = PrivateCluster::start().await else {
        return;
    };
    let client = cluster.client();
    let ns = namespace(&client).await;
    let _operator = start_operator(client.clone(), client.clone(), &ns);

    for index in 0..SERVERS {
        apply_manifest(&client, &ns, &server_manifest(&format!("server-{index}")))
            .await
            .expect("create an MCPServer");
    }
    // Away while those are being reconciled.
    cluster.stop_apiserver().await;
    let before = cpu_time();
    tokio::time::sleep(OUTAGE).await;
    let spent = cpu_time() - before;
    assert!(
        spent < Duration::from_secs(2),
        "the operator used {spent:?} of CPU in {OUTAGE:?} without an apiserver: a hot loop"
    );

    cluster.start_apiserver().await;
    eventually("every server converged after the restart", || {
        converged(&client, &ns, SERVERS)
    })
    .await;
    // The watch is back: a server created after the restart is reconciled too.
    apply_manifest(&client, &ns, &server_manifest("after-restart"))
        .await
        .expect("create an MCPServer after the restart");
    eventually("the new server converged", || {
        converged(&client, &ns, SERVERS + 1)
    })
    .await;
    let deployments = children::<Deployment>(&client, &ns).await;
    let mut expected: Vec<String> = (0..SERVERS).map(|i| format!("server-{i}")).collect();
    expected.push("after-restart".into());
    expected.sort();
    assert_eq!(
        deployments, expected,
        "one Deployment per server, no duplicates"
    );
}
