//! In Kubernetes mode, a published server whose `MCPServer` is deleted in the cluster (kubectl,
//! a GitOps prune) is unpublished at once, audited with the actor `cluster`, so consumers stop
//! seeing a server that no longer runs. Apiary's own deletions (retire, delete) find nothing
//! left to unpublish, and forget the record (`servers::forget_mcpserver`).
//!
//! The watch is a follower of [`cluster_follow`](super::cluster_follow): every `MCPServer` it
//! sees is recorded (table `cluster_mcpservers`), so one deleted while Apiary was down is
//! missing from the first full list after a start, and its server is unpublished then. Only
//! servers registered through Apiary follow their `MCPServer`; one a remote kind registered
//! follows its own object.

use std::collections::HashSet;
use std::sync::Mutex;

use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::audit::{record, Actor, AuditEvent};
use crate::db::{now_millis, Db, DbError};
use crate::resources::crd::MCPServer;

use super::cluster_follow::{follow, Follower};

/// Watches `MCPServer` deletions on a task of its own; see [`run`].
pub fn spawn(
    db: Db,
    client: Client,
    namespace: Option<String>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(db, client, namespace, shutdown))
}

/// Follows `MCPServer`s (in `namespace`, or everywhere) until `shutdown`.
pub async fn run(db: Db, client: Client, namespace: Option<String>, shutdown: CancellationToken) {
    let deletions = Deletions {
        db,
        recorded: Mutex::new(None),
    };
    follow::<MCPServer>(&client, namespace.as_deref(), &deletions, shutdown).await;
}

/// The follower of `MCPServer`s: records each one seen, unpublishes the server of one gone.
struct Deletions {
    db: Db,
    /// The recorded `(namespace, name)`s, as last read (before each sweep), so that applying
    /// the objects on a resync writes only those not recorded yet.
    recorded: Mutex<Option<HashSet<(String, String)>>>,
}

impl Deletions {
    /// Reads the recorded objects from the database, the first time only.
    async fn load(&self) -> Result<(), DbError> {
        if self.recorded.lock().expect("recorded").is_some() {
            return Ok(());
        }
        self.reload().await
    }

    /// Reads the recorded objects from the database again: Apiary's own delete and retire
    /// forget records (`servers::forget_mcpserver`), in this process or another replica.
    async fn reload(&self) -> Result<(), DbError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT namespace, name FROM cluster_mcpservers")
                .fetch_all(self.db.pool())
                .await?;
        *self.recorded.lock().expect("recorded") = Some(rows.into_iter().collect());
        Ok(())
    }

    /// Whether `key` is recorded (once loaded).
    fn knows(&self, key: &(String, String)) -> bool {
        let known = self.recorded.lock().expect("recorded");
        known.as_ref().is_some_and(|known| known.contains(key))
    }

    /// Records `namespace/name` as existing, unless it already is.
    async fn remember(&self, namespace: &str, name: &str) -> Result<(), DbError> {
        self.load().await?;
        let key = (namespace.to_owned(), name.to_owned());
        if self.knows(&key) {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO cluster_mcpservers (namespace, name) VALUES ($1, $2) \
             ON CONFLICT (namespace, name) DO NOTHING",
        )
        .bind(namespace)
        .bind(name)
        .execute(self.db.pool())
        .await?;
        if let Some(known) = self.recorded.lock().expect("recorded").as_mut() {
            known.insert(key);
        }
        Ok(())
    }

    /// Forgets `namespace/name`, once its server is unpublished.
    async fn forget(&self, namespace: &str, name: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM cluster_mcpservers WHERE namespace = $1 AND name = $2")
            .bind(namespace)
            .bind(name)
            .execute(self.db.pool())
            .await?;
        if let Some(known) = self.recorded.lock().expect("recorded").as_mut() {
            known.remove(&(namespace.to_owned(), name.to_owned()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Follower<MCPServer> for Deletions {
    /// One being deleted is not recorded again: Apiary's delete or retire may have forgotten
    /// it already, and a server registered again under its name must not follow it.
    async fn apply(&self, server: &MCPServer) {
        if server.metadata.deletion_timestamp.is_some() {
            return;
        }
        let namespace = server.namespace().unwrap_or_default();
        if let Err(error) = self.remember(&namespace, &server.name_any()).await {
            tracing::warn!(%error, "cannot record an MCPServer; retrying at the next resync");
        }
    }

    /// The server of that name is unpublished, then the object forgotten.
    async fn gone(&self, namespace: &str, name: &str) {
        let unpublished = match unpublish(&self.db, namespace, name).await {
            Ok(unpublished) => unpublished,
            Err(error) => {
                tracing::error!(%error, "cannot unpublish a deleted server");
                return;
            }
        };
        if unpublished {
            tracing::info!(server = %format!("{namespace}/{name}"),
                "its MCPServer was deleted in the cluster; unpublished");
        }
        if let Err(error) = self.forget(namespace, name).await {
            tracing::warn!(%error, "cannot forget a deleted MCPServer");
        }
    }

    /// Read again each time (after the first full list, and after each resync), so that a
    /// record Apiary forgot is not swept, and the next resync records an object again.
    async fn declared(&self) -> Option<Vec<(String, String)>> {
        if let Err(error) = self.reload().await {
            tracing::warn!(%error, "cannot read the recorded MCPServers");
            return None;
        }
        let known = self.recorded.lock().expect("recorded");
        let recorded: Vec<_> = known.iter().flatten().cloned().collect();
        (!recorded.is_empty()).then_some(recorded)
    }
}

/// Unpublishes `namespace/name`, registered through Apiary, if it is published and not
/// retired; true when it was.
pub async fn unpublish(db: &Db, namespace: &str, name: &str) -> Result<bool, DbError> {
    unpublish_deleted(db, namespace, name, None, Actor::CLUSTER, None).await
}

/// Unpublishes `namespace/name` because the cluster object that declared it was deleted, in one
/// transaction with its audit record by `actor` (with `comment`): only when it is published and
/// not retired, and only a server the kind `origin` registered (`None`: registered through
/// Apiary). True when it was unpublished.
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
    sql.push_str(match origin {
        Some(_) => " AND origin = $4",
        None => " AND origin IS NULL",
    });
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
