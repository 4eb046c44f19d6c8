//! Leader election between replicas: two `apiary serve --runtime kubernetes` processes on
//! one apiserver and one database (PostgreSQL when the harness started one). Exactly one
//! holds the Lease and reconciles; when it is killed, the other takes over within the
//! Lease's duration and reconciles what was created after the kill.

mod support;

use std::time::{Duration, Instant};

use apiary_server::resources::crd::MCPServer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use support::kube::{apply_manifest, namespace, server_manifest, wait_for};
use support::process::ApiaryProcess;

/// Short, so the test is quick; production defaults to 15 s.
const LEASE_SECS: u64 = 6;

/// Whether each replica says it leads (`apiary_leader` on its `/metrics`).
async fn leaders(replicas: &[&ApiaryProcess]) -> Vec<bool> {
    let mut leading = Vec::new();
    for replica in replicas {
        leading.push(replica.metric("apiary_leader").await == Some(1.0));
    }
    leading
}

async fn reconciles(replica: &ApiaryProcess) -> f64 {
    replica
        .metric("apiary_operator_reconciles_total")
        .await
        .unwrap_or(0.0)
}

#[tokio::test]
async fn one_replica_reconciles_and_a_follower_takes_over_within_the_lease_when_it_dies() {
    let Some(admin) = support::kube::client().await else {
        return;
    };
    let ns = namespace(&admin).await;
    let database = match support::postgres().await {
        Some(database) => database,
        None => support::sqlite().await,
    };
    let env = [
        (
            "KUBECONFIG",
            std::env::var("APIARY_TEST_KUBECONFIG").expect("set when a client exists"),
        ),
        ("APIARY_RUNTIME", "kubernetes".to_owned()),
        ("APIARY_DATABASE_URL", database.url.clone()),
        ("APIARY_WATCH_NAMESPACE", ns.clone()),
        ("APIARY_LEASE_NAMESPACE", ns.clone()),
        ("APIARY_LEASE_DURATION_SECS", LEASE_SECS.to_string()),
    ];
    let (first, second) = tokio::join!(ApiaryProcess::start(&env), ApiaryProcess::start(&env));
    let mut replicas = [first, second];

    // Exactly one leads, and the Lease says so.
    let started = Instant::now();
    let leader = loop {
        let seen = leaders(&[&replicas[0], &replicas[1]]).await;
        match seen[..] {
            [true, false] => break 0,
            [false, true] => break 1,
            _ => assert!(
                started.elapsed() < Duration::from_secs(LEASE_SECS * 3),
                "not exactly one leader ({seen:?}):\n--- first ---\n{}\n--- second ---\n{}",
                replicas[0].log(),
                replicas[1].log()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let follower = 1 - leader;
    let leases: Api<Lease> = Api::namespaced(admin.clone(), &ns);
    let lease = leases.get("apiary-leader").await.expect("the Lease exists");
    let spec = lease.spec.expect("a Lease spec");
    assert!(spec.holder_identity.is_some(), "the Lease has a holder");
    assert_eq!(spec.lease_duration_seconds, Some(LEASE_SECS as i32));

    // Only the leader reconciles.
    let servers: Api<MCPServer> = Api::namespaced(admin.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &ns);
    apply_manifest(&admin, &ns, &server_manifest("before"))
        .await
        .expect("create an MCPServer");
    wait_for(&servers, "before", "a status from the leader", |server| {
        server.status.is_some()
    })
    .await;
    wait_for(&deployments, "before", "the Deployment", |_| true).await;
    assert!(reconciles(&replicas[leader]).await > 0.0);
    assert_eq!(
        reconciles(&replicas[follower]).await,
        0.0,
        "the follower must not reconcile while the leader lives:\n{}",
        replicas[follower].log()
    );

    // Kill the leader without a chance to hand the Lease over.
    replicas[leader].kill();
    let killed = Instant::now();
    apply_manifest(&admin, &ns, &server_manifest("after"))
        .await
        .expect("create an MCPServer after the kill");
    let took_over = loop {
        if replicas[follower].metric("apiary_leader").await == Some(1.0) {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(LEASE_SECS * 3),
            "the follower did not take over:\n{}",
            replicas[follower].log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The Lease runs out at most LEASE_SECS after the kill; the lease manager then waits up to
    // a second (against collisions) before it takes the Lease.
    assert!(
        took_over <= Duration::from_secs(LEASE_SECS + 2),
        "took over after {took_over:?}, more than the {LEASE_SECS} s Lease"
    );
    wait_for(&deployments, "after", "the new leader's Deployment", |_| {
        true
    })
    .await;
    wait_for(
        &servers,
        "after",
        "a status from the new leader",
        |server| server.status.is_some(),
    )
    .await;
    assert!(reconciles(&replicas[follower]).await > 0.0);
}
