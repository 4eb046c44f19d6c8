//! Virtual servers in the database, each change audited in the same transaction.

use crate::audit::{self, Actor, AuditEvent};
use crate::db::{now_millis, Db, DbError};
use crate::registry::listing::{list_published, ListingCache, PublishedServer, Query};
use crate::servers::{content_hash, server_id};
use crate::validation::{FieldError, FieldErrors};

use super::model::VirtualSpec;

/// A stored virtual server.
#[derive(Clone, Debug, PartialEq)]
pub struct VirtualServer {
    /// The row's key, which its measurements refer to.
    pub record_id: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Its definition.
    pub spec: VirtualSpec,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// The cluster kind that declares it (`VirtualMCPServer`); `None` when defined in Apiary.
    pub origin: Option<String>,
}

impl VirtualServer {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Why a virtual server was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// A field is invalid, or the name is a server's (422); nothing was written.
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// It is declared elsewhere (`by`: a cluster kind, or `None` for Apiary) and only changes
    /// there (409); nothing was written.
    #[error("{}", managed_message(server, by.as_deref()))]
    Managed {
        /// `namespace/name`.
        server: String,
        /// Who declares it.
        by: Option<String>,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for SaveError {
    fn from(error: sqlx::Error) -> Self {
        SaveError::Db(error.into())
    }
}

fn managed_message(server: &str, by: Option<&str>) -> String {
    match by {
        Some(kind) => format!(
            "{server} is declared by the {kind} of that name in the cluster; change or delete \
             the {kind} instead"
        ),
        None => format!(
            "{server} is a virtual server defined through Apiary; a cluster object cannot take \
             it over: give the object another name"
        ),
    }
}

type Row = (String, String, String, String, i64, i64, Option<String>);

const COLUMNS: &str = "id, namespace, name, spec, created_at, updated_at, origin";

fn from_row(
    (record_id, namespace, name, spec, created_at, updated_at, origin): Row,
) -> Result<VirtualServer, DbError> {
    let spec = serde_json::from_str(&spec).map_err(|error| {
        DbError::Query(sqlx::Error::ColumnDecode {
            index: "spec".into(),
            source: Box::new(error),
        })
    })?;
    Ok(VirtualServer {
        record_id,
        namespace,
        name,
        spec,
        created_at,
        updated_at,
        origin,
    })
}

/// The virtual server `namespace/name`, if there is one.
pub async fn load(db: &Db, namespace: &str, name: &str) -> Result<Option<VirtualServer>, DbError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM virtual_servers WHERE namespace = $1 AND name = $2"
    ))
    .bind(namespace)
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    row.map(from_row).transpose()
}

/// Every virtual server, by namespace and name.
pub async fn list(db: &Db) -> Result<Vec<VirtualServer>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM virtual_servers ORDER BY namespace, name"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(from_row).collect()
}

/// The members of `spec` that are published now, with their curated tools.
/// `cache` holds the members' curated tools between calls.
pub async fn published_members(
    db: &Db,
    spec: &VirtualSpec,
    cache: &ListingCache,
) -> Result<Vec<PublishedServer>, DbError> {
    let mut members = Vec::with_capacity(spec.members.len());
    for member in &spec.members {
        let Some((namespace, name)) = member.server_id() else {
            continue;
        };
        let query = Query {
            exact: Some((namespace.to_owned(), name.to_owned())),
            ..Query::default()
        };
        members.extend(list_published(db, &query, i64::MAX, cache).await?);
    }
    Ok(members)
}

/// Creates or replaces `namespace/name` with `spec` (already validated and composed) for
/// `actor`, as declared by `origin` (a cluster kind, or `None` for Apiary's API and
/// proposals). A server of that name makes it invalid: a name is either a server's or a
/// virtual server's; one that another origin declares is [`SaveError::Managed`]. True when it
/// was created.
pub async fn save(
    db: &Db,
    id: (&str, &str),
    spec: &VirtualSpec,
    actor: Actor<'_>,
    origin: Option<&str>,
) -> Result<bool, SaveError> {
    let mut tx = db.begin_write().await?;
    let created = save_in(&mut tx, id, spec, actor, origin).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`save`] within the caller's transaction (an approved proposal is applied with its state
/// change).
pub async fn save_in(
    conn: &mut sqlx::AnyConnection,
    (namespace, name): (&str, &str),
    spec: &VirtualSpec,
    actor: Actor<'_>,
    origin: Option<&str>,
) -> Result<bool, SaveError> {
    let now = now_millis();
    let text = serde_json::to_string(spec).unwrap_or_else(|_| "{}".into());
    refuse_server_name(conn, (namespace, name)).await?;
    let before = declared(conn, (namespace, name), origin).await?;
    match &before {
        Some((id, _)) => {
            sqlx::query("UPDATE virtual_servers SET spec = $1, updated_at = $2, updated_by = $3 WHERE id = $4")
                .bind(&text)
                .bind(now)
                .bind(actor.subject)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        None => {
            sqlx::query(
                "INSERT INTO virtual_servers (id, namespace, name, spec, created_at, updated_at, updated_by, origin) \
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(namespace)
            .bind(name)
            .bind(&text)
            .bind(now)
            .bind(actor.subject)
            .bind(origin)
            .execute(&mut *conn)
            .await?;
        }
    }
    audit::record(
        &mut *conn,
        AuditEvent {
            comment: None,
            actor,
            action: "virtual_server.save",
            target: &format!("{namespace}/{name}"),
            before_hash: before.as_ref().map(|(_, spec)| content_hash(spec)),
            after_hash: Some(content_hash(&text)),
        },
    )
    .await?;
    Ok(before.is_none())
}

/// The id and spec of `namespace/name`, if stored; [`SaveError::Managed`] when another origin
/// than `origin` declares it.
async fn declared(
    conn: &mut sqlx::AnyConnection,
    (namespace, name): (&str, &str),
    origin: Option<&str>,
) -> Result<Option<(String, String)>, SaveError> {
    let stored: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, spec, origin FROM virtual_servers WHERE namespace = $1 AND name = $2",
    )
    .bind(namespace)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    match stored {
        Some((_, _, by)) if by.as_deref() != origin => Err(SaveError::Managed {
            server: format!("{namespace}/{name}"),
            by,
        }),
        stored => Ok(stored.map(|(id, spec, _)| (id, spec))),
    }
}

/// The virtual servers `origin` declares, as `(namespace, name)`.
pub async fn declared_by(db: &Db, origin: &str) -> Result<Vec<(String, String)>, DbError> {
    Ok(
        sqlx::query_as("SELECT namespace, name FROM virtual_servers WHERE origin = $1")
            .bind(origin)
            .fetch_all(db.pool())
            .await?,
    )
}

/// Refuses `namespace/name` when a server has it: a name is a server's or a virtual
/// server's, never both.
pub async fn refuse_server_name(
    conn: &mut sqlx::AnyConnection,
    (namespace, name): (&str, &str),
) -> Result<(), SaveError> {
    match server_id(&mut *conn, namespace, name).await? {
        Some(_) => Err(FieldErrors::from(FieldError::new(
            "name",
            format!("{namespace}/{name} is a server's name; a virtual server needs a name no server has"),
        ))
        .into()),
        None => Ok(()),
    }
}

/// When `namespace/name` last changed (Unix milliseconds), `None` when there is no such
/// virtual server: what a proposal is made against.
pub async fn changed_at(
    conn: &mut sqlx::AnyConnection,
    namespace: &str,
    name: &str,
) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT updated_at FROM virtual_servers WHERE namespace = $1 AND name = $2",
    )
    .bind(namespace)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Removes `namespace/name` for `actor`, as `origin` (see [`save`]); false when there was
/// none.
pub async fn delete(
    db: &Db,
    (namespace, name): (&str, &str),
    actor: Actor<'_>,
    origin: Option<&str>,
) -> Result<bool, SaveError> {
    let mut tx = db.begin_write().await?;
    let Some((id, spec)) = declared(&mut tx, (namespace, name), origin).await? else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM virtual_servers WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        AuditEvent {
            comment: None,
            actor,
            action: "virtual_server.delete",
            target: &format!("{namespace}/{name}"),
            before_hash: Some(content_hash(&spec)),
            after_hash: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
