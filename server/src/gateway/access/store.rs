//! Storage of gateway access policies (table `gateway_access`), with an audit event for every
//! change.

use crate::db::{now_millis, Db, DbError};
use crate::servers::content_hash;

use super::Access;

/// The policy of server `server_id`; the default when it has none.
pub async fn load(db: &Db, server_id: &str) -> Result<Access, DbError> {
    let stored: Option<(String,)> =
        sqlx::query_as("SELECT policy FROM gateway_access WHERE server_id = $1")
            .bind(server_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(parse(stored))
}

/// The policy of server `namespace/name`; the default when it has none.
pub async fn load_by_name(db: &Db, namespace: &str, name: &str) -> Result<Access, DbError> {
    let stored: Option<(String,)> = sqlx::query_as(
        "SELECT a.policy FROM gateway_access a JOIN servers s ON s.id = a.server_id \
         WHERE s.namespace = $1 AND s.name = $2",
    )
    .bind(namespace)
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    Ok(parse(stored))
}

/// A stored policy; the default when there is none, or when it cannot be read (only a
/// hand-edited row causes that, and the default needs a token with an Apiary role).
fn parse(stored: Option<(String,)>) -> Access {
    stored
        .and_then(|(policy,)| {
            serde_json::from_str(&policy)
                .inspect_err(|error| {
                    tracing::error!(%error, "a stored gateway access policy is unreadable; using the default");
                })
                .ok()
        })
        .unwrap_or_default()
}

/// Stores `access` for server `server_id` (called `target` in the audit log) on behalf of
/// `actor`, and records an audit event in the same transaction.
pub async fn save(
    db: &Db,
    server_id: &str,
    target: &str,
    access: &Access,
    actor: crate::audit::Actor<'_>,
) -> Result<(), DbError> {
    let now = now_millis();
    let policy = serde_json::to_string(access).unwrap_or_else(|_| "{}".into());
    let mut tx = db.begin_write().await?;
    let before: Option<(String,)> =
        sqlx::query_as("SELECT policy FROM gateway_access WHERE server_id = $1")
            .bind(server_id)
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO gateway_access (server_id, policy, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (server_id) DO UPDATE SET \
         policy = excluded.policy, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
    )
    .bind(server_id)
    .bind(&policy)
    .bind(now)
    .bind(actor.subject)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        crate::audit::AuditEvent {
            comment: None,
            actor,
            action: "server.access",
            target,
            before_hash: before.map(|(policy,)| content_hash(&policy)),
            after_hash: Some(content_hash(&policy)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
