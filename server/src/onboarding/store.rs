//! Proposal rows: creating one (validated and audited in one transaction), reading them, and
//! moving one from state to state under the optimistic lock.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use apiary_app::access::Viewer;

use crate::audit::{self, AuditEvent};
use crate::config::Runtime;
use crate::db::{json_column, now_millis, Db, DbError};
use crate::servers::{content_hash, server_id};
use crate::validation::FieldErrors;

use super::model::{DecisionRecord, Proposal, ProposalKind, ProposalStatus};
use super::revisions;
use super::validate::{validate, Context, Existing, ProposalInput};

/// Why a proposal was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// Fields are invalid; nothing was stored.
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// The database failed; nothing was stored.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ProposeError {
    fn from(error: sqlx::Error) -> Self {
        ProposeError::Db(DbError::Query(error))
    }
}

/// Filters for [`ProposalStore::list`].
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Only proposals in this state.
    pub status: Option<ProposalStatus>,
    /// Only proposals reviewed by this team.
    pub team: Option<String>,
}

/// A state change of one proposal, guarded by the version the caller read.
#[derive(Clone, Debug)]
pub struct Transition<'a> {
    /// The proposal.
    pub id: &'a str,
    /// The version the caller read; the change happens only if it is still current.
    pub version: i64,
    /// The state it moves from (also checked).
    pub from: ProposalStatus,
    /// The state it moves to.
    pub to: ProposalStatus,
    /// The decision to record, if this transition is one.
    pub decision: Option<&'a DecisionRecord>,
    /// Why it failed or was superseded.
    pub error: Option<&'a str>,
}

const COLUMNS: &str = "id, kind, namespace, name, author_subject, author_name, owner_team, \
     base_revision, spec, metadata, status, version, created_at, updated_at, decided_by, \
     decided_by_name, decided_at, decision_comment, override_reason, error";

/// Proposal storage.
#[derive(Clone, Debug)]
pub struct ProposalStore {
    db: Db,
}

impl ProposalStore {
    /// A store over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Validates `input` exactly as [`Self::propose`] does, without storing anything: every
    /// invalid field, for a form that has other refusals to report alongside.
    pub async fn check(&self, input: &ProposalInput, runtime: Runtime) -> Result<(), ProposeError> {
        let mut conn = self.db.pool().acquire().await?;
        let context = context(&mut conn, input, runtime).await?;
        validate(input, &context)?;
        Ok(())
    }

    /// Validates `input` against the current state of its target and stores it with its audit
    /// event, all in one transaction: when validation fails, nothing is written.
    pub async fn propose(
        &self,
        input: &ProposalInput,
        author: &Viewer,
        runtime: Runtime,
    ) -> Result<Proposal, ProposeError> {
        let mut tx = self.db.begin_write().await?;
        let context = context(&mut tx, input, runtime).await?;
        let valid = validate(input, &context)?;
        let new = NewProposal {
            kind: valid.kind,
            target: (&valid.namespace, &valid.name),
            owner_team: &valid.owner_team,
            base_revision: valid.base_revision,
            spec: &valid.spec,
            metadata: &valid.metadata,
        };
        let proposal = insert(&mut tx, new, author).await?;
        tx.commit().await?;
        Ok(proposal)
    }

    /// Stores a proposal of the virtual server `namespace/name` with `spec` (checked by the
    /// caller as every save is), reviewed by the owners of `owner_team`, with its audit event.
    /// `base` is when the virtual server last changed, `None` for a new one.
    pub async fn propose_virtual(
        &self,
        (namespace, name): (&str, &str),
        spec: &Value,
        owner_team: &str,
        base: Option<i64>,
        author: &Viewer,
    ) -> Result<Proposal, DbError> {
        let mut tx = self.db.begin_write().await?;
        let new = NewProposal {
            kind: ProposalKind::Virtual,
            target: (namespace, name),
            owner_team,
            base_revision: base,
            spec,
            metadata: &Value::Object(serde_json::Map::new()),
        };
        let proposal = insert(&mut tx, new, author).await?;
        tx.commit().await?;
        Ok(proposal)
    }

    /// One proposal.
    pub async fn get(&self, id: &str) -> Result<Option<Proposal>, DbError> {
        let mut conn = self.db.pool().acquire().await?;
        fetch(&mut conn, id).await
    }

    /// Proposals matching `filter`, newest first.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Proposal>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM proposals \
             WHERE ($1 = '' OR status = $1) AND ($2 = '' OR owner_team = $2) \
             ORDER BY created_at DESC, id"
        ))
        .bind(filter.status.map(|s| s.as_str()).unwrap_or_default())
        .bind(filter.team.clone().unwrap_or_default())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Moves a proposal as `change` says, writing its audit event in the same transaction.
    /// Returns the proposal after the change, or `None` when another change won the race (the
    /// version or state no longer matched) and nothing was written.
    pub async fn transition<'a>(
        &self,
        change: Transition<'_>,
        actor: impl Into<audit::Actor<'a>>,
    ) -> Result<Option<Proposal>, DbError> {
        let actor = actor.into();
        let mut tx = self.db.begin_write().await?;
        if !transition_in(&mut tx, &change, actor).await? {
            return Ok(None);
        }
        let after = fetch(&mut tx, change.id).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// The database, for the apply step's transaction.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// A proposal to store: open, version 1.
struct NewProposal<'a> {
    kind: ProposalKind,
    target: (&'a str, &'a str),
    owner_team: &'a str,
    base_revision: Option<i64>,
    spec: &'a Value,
    metadata: &'a Value,
}

/// Stores `new` by `author` with its audit event in the caller's transaction, and reads it
/// back.
async fn insert(
    conn: &mut AnyConnection,
    new: NewProposal<'_>,
    author: &Viewer,
) -> Result<Proposal, DbError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_millis();
    let (spec, metadata) = (new.spec.to_string(), new.metadata.to_string());
    sqlx::query(
        "INSERT INTO proposals (id, kind, namespace, name, author_subject, author_name, \
         owner_team, base_revision, spec, metadata, status, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', 1, $11, $11)",
    )
    .bind(&id)
    .bind(new.kind.as_str())
    .bind(new.target.0)
    .bind(new.target.1)
    .bind(&author.subject)
    .bind(&author.name)
    .bind(new.owner_team)
    .bind(new.base_revision)
    .bind(&spec)
    .bind(&metadata)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    audit::record(
        &mut *conn,
        AuditEvent {
            comment: None,
            actor: author.into(),
            action: "proposal.proposed",
            target: &target(&id),
            before_hash: None,
            after_hash: Some(content_hash(&format!("{spec}\n{metadata}"))),
        },
    )
    .await?;
    fetch(conn, &id)
        .await?
        .ok_or_else(|| DbError::Query(sqlx::Error::RowNotFound))
}

/// The audit target of a proposal.
pub fn target(id: &str) -> String {
    format!("proposal/{id}")
}

/// Applies `change` inside the caller's transaction: `UPDATE … WHERE id AND version AND
/// status`, then the audit event. Returns false, having written nothing, when no row matched.
pub async fn transition_in(
    conn: &mut AnyConnection,
    change: &Transition<'_>,
    actor: audit::Actor<'_>,
) -> Result<bool, DbError> {
    let now = now_millis();
    let decision = change.decision;
    let updated = sqlx::query(
        "UPDATE proposals SET status = $1, version = version + 1, updated_at = $2, \
         decided_by = COALESCE($3, decided_by), decided_by_name = COALESCE($4, decided_by_name), \
         decided_at = COALESCE($5, decided_at), decision_comment = COALESCE($6, decision_comment), \
         override_reason = COALESCE($7, override_reason), error = COALESCE($8, error) \
         WHERE id = $9 AND version = $10 AND status = $11",
    )
    .bind(change.to.as_str())
    .bind(now)
    .bind(decision.map(|d| d.by.clone()))
    .bind(decision.map(|d| d.by_name.clone()))
    .bind(decision.map(|d| d.at))
    .bind(decision.map(|d| d.comment.clone()))
    .bind(decision.and_then(|d| d.override_reason.clone()))
    .bind(change.error)
    .bind(change.id)
    .bind(change.version)
    .bind(change.from.as_str())
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    let self_approved =
        change.to == ProposalStatus::Approved && decision.is_some_and(|d| d.self_approval);
    let action = if self_approved {
        "proposal.self_approved".to_owned()
    } else {
        format!("proposal.{}", change.to.as_str())
    };
    audit::record(
        conn,
        AuditEvent {
            comment: decision.map(|d| d.comment.as_str()),
            actor,
            action: &action,
            target: &target(change.id),
            before_hash: Some(content_hash(&format!(
                "{}:{}",
                change.from.as_str(),
                change.version
            ))),
            after_hash: Some(content_hash(&format!(
                "{}:{}",
                change.to.as_str(),
                change.version + 1
            ))),
        },
    )
    .await?;
    Ok(true)
}

/// The validation context: the target's owner team and revision, and the replacement.
async fn context(
    conn: &mut AnyConnection,
    input: &ProposalInput,
    runtime: Runtime,
) -> Result<Context, DbError> {
    let owner: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT owner_team, origin FROM servers WHERE namespace = $1 AND name = $2")
            .bind(&input.namespace)
            .bind(&input.name)
            .fetch_optional(&mut *conn)
            .await?;
    let existing = match owner {
        Some((owner_team, origin)) => Some(Existing {
            owner_team,
            revision: revisions::current(&mut *conn, &input.namespace, &input.name).await?,
            origin,
        }),
        None => None,
    };
    let replacement_exists = match input
        .replacement
        .as_deref()
        .and_then(|r| r.trim().split_once('/'))
    {
        Some((ns, name)) => server_id(&mut *conn, ns, name).await?.is_some(),
        None => false,
    };
    Ok(Context {
        existing,
        replacement_exists,
        runtime,
    })
}

/// Reads one proposal inside a transaction or on a pooled connection.
pub async fn fetch(conn: &mut AnyConnection, id: &str) -> Result<Option<Proposal>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM proposals WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

fn decode(row: &AnyRow) -> Result<Proposal, DbError> {
    let text = |column: &str| -> Result<String, DbError> { Ok(row.try_get(column)?) };
    let bad = |column: &str, value: String| {
        DbError::Query(sqlx::Error::ColumnDecode {
            index: column.into(),
            source: format!("unknown value {value:?}").into(),
        })
    };
    let kind = text("kind")?;
    let kind = ProposalKind::parse(&kind).ok_or_else(|| bad("kind", kind.clone()))?;
    let status = text("status")?;
    let status = ProposalStatus::parse(&status).ok_or_else(|| bad("status", status.clone()))?;
    let decided_at: Option<i64> = row.try_get("decided_at")?;
    let author_subject = text("author_subject")?;
    let approved = matches!(
        status,
        ProposalStatus::Approved | ProposalStatus::Applied | ProposalStatus::Failed
    );
    let decision = match decided_at {
        Some(at) => Some({
            let by = row
                .try_get::<Option<String>, _>("decided_by")?
                .unwrap_or_default();
            DecisionRecord {
                self_approval: approved && by == author_subject,
                by,
                by_name: row
                    .try_get::<Option<String>, _>("decided_by_name")?
                    .unwrap_or_default(),
                at,
                comment: row
                    .try_get::<Option<String>, _>("decision_comment")?
                    .unwrap_or_default(),
                override_reason: row.try_get("override_reason")?,
            }
        }),
        None => None,
    };
    Ok(Proposal {
        id: text("id")?,
        kind,
        namespace: text("namespace")?,
        name: text("name")?,
        author_subject,
        author_name: text("author_name")?,
        owner_team: text("owner_team")?,
        base_revision: row.try_get("base_revision")?,
        spec: json_column(row, "spec")?.unwrap_or(Value::Null),
        metadata: json_column(row, "metadata")?.unwrap_or(Value::Null),
        status,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        decision,
        error: row.try_get("error")?,
    })
}
