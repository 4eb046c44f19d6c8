//! Applied revisions: every spec and metadata a server was given, numbered from 1, with the
//! manifest YAML that was applied. Direct registrations record revisions too, so a proposal's
//! base revision moves whenever the server changes.

use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::db::{json_column, now_millis, Db, DbError};

use super::manifest::revision_manifest;

/// One applied revision.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// 1, 2, …
    pub number: i64,
    /// The manifest YAML that was applied.
    pub manifest: String,
    /// The applied spec.
    pub spec: Value,
    /// The applied metadata.
    pub metadata: Value,
    /// The proposal it came from; `None` for a direct registration.
    pub proposal_id: Option<String>,
    /// Who applied it.
    pub actor: String,
    /// Unix milliseconds.
    pub applied_at: i64,
}

/// What a new revision records.
#[derive(Clone, Copy, Debug)]
pub struct NewRevision<'a> {
    /// The server's namespace.
    pub namespace: &'a str,
    /// The server's name.
    pub name: &'a str,
    /// The applied spec.
    pub spec: &'a Value,
    /// The applied metadata.
    pub metadata: &'a Value,
    /// The proposal it came from.
    pub proposal_id: Option<&'a str>,
    /// Who applied it.
    pub actor: &'a str,
}

/// The server's current revision number (0 before its first), inside a transaction.
pub async fn current(
    conn: &mut AnyConnection,
    namespace: &str,
    name: &str,
) -> Result<i64, DbError> {
    let number: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(number) FROM server_revisions WHERE namespace = $1 AND name = $2",
    )
    .bind(namespace)
    .bind(name)
    .fetch_one(conn)
    .await?;
    Ok(number.unwrap_or(0))
}

/// Records the next revision inside the caller's transaction and returns its number. Two
/// writers racing for one number collide on the unique constraint, and one transaction fails.
pub async fn record(conn: &mut AnyConnection, revision: NewRevision<'_>) -> Result<i64, DbError> {
    let number = current(&mut *conn, revision.namespace, revision.name).await? + 1;
    let manifest = revision_manifest(
        revision.namespace,
        revision.name,
        revision.spec,
        revision.metadata,
    );
    sqlx::query(
        "INSERT INTO server_revisions (id, namespace, name, number, manifest, spec, metadata, \
         proposal_id, actor, applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(revision.namespace)
    .bind(revision.name)
    .bind(number)
    .bind(manifest)
    .bind(revision.spec.to_string())
    .bind(revision.metadata.to_string())
    .bind(revision.proposal_id)
    .bind(revision.actor)
    .bind(now_millis())
    .execute(conn)
    .await?;
    Ok(number)
}

const COLUMNS: &str = "number, manifest, spec, metadata, proposal_id, actor, applied_at";

/// Every revision of `namespace/name`, oldest first.
pub async fn list(db: &Db, namespace: &str, name: &str) -> Result<Vec<Revision>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM server_revisions WHERE namespace = $1 AND name = $2 ORDER BY number"
    ))
    .bind(namespace)
    .bind(name)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The newest revision of `namespace/name` that an approved proposal applied (direct
/// registrations never reach the cluster), if any.
pub async fn latest_from_proposal(
    db: &Db,
    namespace: &str,
    name: &str,
) -> Result<Option<Revision>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM server_revisions WHERE namespace = $1 AND name = $2 \
         AND proposal_id IS NOT NULL ORDER BY number DESC LIMIT 1"
    ))
    .bind(namespace)
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Revision, DbError> {
    Ok(Revision {
        number: row.try_get("number")?,
        manifest: row.try_get("manifest")?,
        spec: json_column(row, "spec")?.unwrap_or(Value::Null),
        metadata: json_column(row, "metadata")?.unwrap_or(Value::Null),
        proposal_id: row.try_get("proposal_id")?,
        actor: row.try_get("actor")?,
        applied_at: row.try_get("applied_at")?,
    })
}
