//! In Kubernetes mode, a published server whose `MCPServer` is deleted in the cluster (kubectl,
//! a GitOps prune) is unpublished at once, audited with the actor `cluster`, so consumers stop
//! seeing a server that no longer runs. Apiary's own deletions (retire, delete) find nothing
//! left to unpublish.
//!
//! It follows deletions as the watch reports them; a deletion that happens while the watch is
//! down (Apiary restarting) is not seen.

use futures::StreamExt;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::audit::{record, Actor, AuditEvent};
use crate::db::{now_millis, Db, DbError};
use crate::resources::crd::MCPServer;

/// Watches `MCPServer` deletions on a task of its own; see [`run`].
pub fn spawn(
    db: Db,
    client: Client,
    namespace: Option<String>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(db, client, namespace, shutdown))
}

/// Watches `MCPServer` deletions (in `namespace`, or everywhere) until `shutdown`.
pub async fn run(db: Db, client: Client, namespace: Option<String>, shutdown: CancellationToken) {
    let servers: Api<MCPServer> = match &namespace {
        Some(namespace) => Api::namespaced(client, namespace),
        None => Api::all(client),
    };
    let mut events = watcher(servers, watcher::Config::default())
        .backoff(crate::operator::reconcile::WatchBackoff::default())
        .boxed();
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            () = shutdown.cancelled() => break,
        };
        match event {
            Some(Ok(Event::Delete(server))) => {
                let namespace = server.namespace().unwrap_or_default();
                let name = server.name_any();
                match unpublish(&db, &namespace, &name).await {
                    Ok(true) => tracing::info!(server = %format!("{namespace}/{name}"),
                        "its MCPServer was deleted in the cluster; unpublished"),
                    Ok(false) => {}
                    Err(error) => tracing::error!(%error, "cannot unpublish a deleted server"),
                }
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => tracing::warn!(%error, "the MCPServer watch failed; retrying"),
            None => break,
        }
    }
}

/// Unpublishes `namespace/name` if it is published and not retired; true when it was.
pub async fn unpublish(db: &Db, namespace: &str, name: &str) -> Result<bool, DbError> {
    unpublish_deleted(db, namespace, name, None, Actor::CLUSTER, None).await
}

/// Unpublishes `namespace/name` because the cluster object that declared it was deleted, in one
/// transaction with its audit record by `actor` (with `comment`): only when it is published and
/// not retired, and, when `origin` names a kind, only a server that kind registered. True when
/// it was unpublished.
pub async fn unpublish_deleted(
    db: &Db,
    namespace: &str,
    name: &str,
    origin: Option<&str>,
    actor: Actor<'_>,
    comment: Option<&str>,
) -> Result<bool, DbError> {
    let mut sql = "UPDATE servers SET published = FALSE, updated_at = $1 \
         WHERE namespace = $2 AND name = $3 AND published = TRUE AND lifecycle <> 'retired'"
        .to_owned();
    if origin.is_some() {
        sql.push_str(" AND origin = $4");
    }
    let mut query = sqlx::query(&sql)
        .bind(now_millis())
        .bind(namespace)
        .bind(name);
    if let Some(kind) = origin {
        query = query.bind(kind);
    }
    let mut tx = db.begin_write().await?;
    if query.execute(&mut *tx).await?.rows_affected() == 0 {
        return Ok(false);
    }
    record(
        &mut tx,
        AuditEvent {
            comment,
            actor,
            action: "server.unpublish",
            target: &format!("{namespace}/{name}"),
            before_hash: None,
            after_hash: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
