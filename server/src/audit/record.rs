//! Writing the audit log: one row per change, in the transaction of the change.

use sqlx::AnyConnection;

use crate::db::now_millis;

/// One audit event: who did what to which target, with hashes of the state before and after.
#[derive(Clone, Debug)]
pub struct AuditEvent<'a> {
    /// The actor's subject (`local-admin`, or the provider's `iss`/`sub`).
    pub actor: &'a str,
    /// What happened, such as `proposal.approved`.
    pub action: &'a str,
    /// What it happened to, such as `proposal/<id>` or `namespace/name`.
    pub target: &'a str,
    /// Hash of the state before, when there was one.
    pub before_hash: Option<String>,
    /// Hash of the state after, when there is one.
    pub after_hash: Option<String>,
    /// The reviewer's comment, for a decision or an approval.
    pub comment: Option<&'a str>,
}

/// Appends `event` inside the caller's transaction.
pub async fn record(conn: &mut AnyConnection, event: AuditEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor, action, target, before_hash, after_hash, \
         comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(now_millis())
    .bind(event.actor)
    .bind(event.action)
    .bind(event.target)
    .bind(event.before_hash)
    .bind(event.after_hash)
    .bind(event.comment)
    .execute(conn)
    .await?;
    Ok(())
}
