//! The server records: what a registration holds, why one is refused, and the reads and the
//! deletion of a server row. Writing a registration (validated, audited, with its revision) is
//! onboarding's (`onboarding::register`); the catalog's search is the console's
//! (`console::catalog`).

use serde::Deserialize;
use sqlx::Row;

use crate::api_error::ApiError;
use crate::db::{Db, DbError};
use crate::validation::FieldErrors;

/// A request to register or update a server directly (admin API).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerRegistration {
    /// One-paragraph description.
    #[serde(default)]
    pub description: String,
    /// Owning team.
    #[serde(default)]
    pub owner_team: String,
    /// Category, such as `search`.
    #[serde(default)]
    pub category: String,
    /// Cost class, such as `free` or `metered`.
    #[serde(default)]
    pub cost_class: String,
    /// Data sensitivity, such as `public` or `internal`.
    #[serde(default)]
    pub sensitivity: String,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Link to the server's documentation.
    #[serde(default)]
    pub docs_url: String,
    /// The `MCPServer` spec: `transport` plus `image` (or `npx://`, `uvx://`), `command` or `url`.
    pub spec: serde_json::Value,
    /// Whether consumers see it.
    #[serde(default)]
    pub published: bool,
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Fields are invalid; nothing was written.
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// The server is declared elsewhere (`by`: a cluster kind, or `None` for Apiary's own
    /// registrations) and only changes there; nothing was written.
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

fn managed_message(server: &str, by: Option<&str>) -> String {
    match by {
        Some(kind) => format!(
            "{server} is declared by the {kind} of that name in the cluster; change or delete \
             the {kind} instead (its curation and access are still set in Apiary)"
        ),
        None => format!(
            "{server} is a server registered through Apiary; a cluster object cannot take over \
             its name, so give the object another name"
        ),
    }
}

impl From<sqlx::Error> for RegisterError {
    fn from(error: sqlx::Error) -> Self {
        RegisterError::Db(DbError::Query(error))
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::Invalid(field) => ApiError::Invalid(field),
            managed @ RegisterError::Managed { .. } => ApiError::Rejected {
                status: axum::http::StatusCode::CONFLICT,
                message: managed.to_string(),
            },
            RegisterError::Db(db) => db.into(),
        }
    }
}

/// Forgets that the `MCPServer` of `namespace/name` was seen in the cluster, when Apiary deletes
/// or retires the server (its `MCPServer` goes with it). Were the record kept while the deletion
/// watch is down, a server registered again under this name before its new `MCPServer` exists
/// would be swept as deleted when the watch starts (`onboarding::cluster_watch`).
pub(crate) async fn forget_mcpserver(
    conn: &mut sqlx::AnyConnection,
    namespace: &str,
    name: &str,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM cluster_mcpservers WHERE namespace = $1 AND name = $2")
        .bind(namespace)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// The id of the server `namespace/name`, if there is one: on a pooled connection or in a
/// transaction.
pub(crate) async fn server_id<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    namespace: &str,
    name: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM servers WHERE namespace = $1 AND name = $2")
        .bind(namespace)
        .bind(name)
        .fetch_optional(executor)
        .await
}

/// The stored server `namespace/name` (on a pooled connection or in a transaction): its
/// registration, its lifecycle, and the cluster kind that declares it (`None`: Apiary). A
/// `spec` or `tags` that does not parse reads as empty, so the cluster's sync rewrites it.
pub(crate) async fn stored<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    namespace: &str,
    name: &str,
) -> Result<Option<(ServerRegistration, String, Option<String>)>, DbError> {
    let row = sqlx::query(
        "SELECT spec, description, owner_team, category, cost_class, sensitivity, tags, \
         docs_url, CAST(CASE WHEN published THEN 1 ELSE 0 END AS BIGINT) AS published, \
         lifecycle, origin FROM servers WHERE namespace = $1 AND name = $2",
    )
    .bind(namespace)
    .bind(name)
    .fetch_optional(executor)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let text = |column: &str| row.try_get::<String, _>(column);
    let registration = ServerRegistration {
        description: text("description")?,
        owner_team: text("owner_team")?,
        category: text("category")?,
        cost_class: text("cost_class")?,
        sensitivity: text("sensitivity")?,
        tags: serde_json::from_str(&text("tags")?).unwrap_or_default(),
        docs_url: text("docs_url")?,
        spec: serde_json::from_str(&text("spec")?).unwrap_or_default(),
        published: row.try_get::<i64, _>("published")? == 1,
    };
    Ok(Some((
        registration,
        text("lifecycle")?,
        row.try_get("origin")?,
    )))
}

/// The server records in the database. Its `register` (the one write of a registration)
/// is in `onboarding::register`, and the guards of who may act on a server in
/// `auth::server_guard`.
#[derive(Clone, Debug)]
pub struct ServerStore {
    db: Db,
}

impl ServerStore {
    /// A store over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The database it reads.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Removes `namespace/name` from the registry (its snapshots, health, curation, access and
    /// measurements go with it; revisions and proposals stay as history), audited for `actor`
    /// in the same transaction. False when there was no such server.
    pub async fn delete<'a>(
        &self,
        namespace: &str,
        name: &str,
        actor: impl Into<crate::audit::Actor<'a>>,
    ) -> Result<bool, DbError> {
        let actor = actor.into();
        let mut tx = self.db.begin_write().await?;
        let existing: Option<(String, String)> =
            sqlx::query_as("SELECT id, spec FROM servers WHERE namespace = $1 AND name = $2")
                .bind(namespace)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((id, spec)) = existing else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM servers WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        forget_mcpserver(&mut tx, namespace, name).await?;
        crate::audit::record(
            &mut tx,
            crate::audit::AuditEvent {
                comment: None,
                actor,
                action: "server.delete",
                target: &format!("{namespace}/{name}"),
                before_hash: Some(content_hash(&spec)),
                after_hash: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The cluster kind that declares `namespace/name` (`MCPRemoteProxy`, `MCPServerEntry`);
    /// `None` for a server registered through Apiary, or no such server.
    pub async fn origin_of(&self, namespace: &str, name: &str) -> Result<Option<String>, DbError> {
        let origin: Option<Option<String>> =
            sqlx::query_scalar("SELECT origin FROM servers WHERE namespace = $1 AND name = $2")
                .bind(namespace)
                .bind(name)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(origin.flatten())
    }

    /// The id of `namespace/name`, if it exists.
    pub async fn id_of(&self, namespace: &str, name: &str) -> Result<Option<String>, DbError> {
        Ok(server_id(self.db.pool(), namespace, name).await?)
    }

    /// The owner team of `namespace/name`, if the server exists.
    pub async fn owner_team_of(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<String>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT owner_team FROM servers WHERE namespace = $1 AND name = $2")
                .bind(namespace)
                .bind(name)
                .fetch_optional(self.db.pool())
                .await?,
        )
    }

    /// The id and spec of `namespace/name`, if it exists.
    pub async fn spec_of(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<(String, serde_json::Value)>, DbError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT id, spec FROM servers WHERE namespace = $1 AND name = $2")
                .bind(namespace)
                .bind(name)
                .fetch_optional(self.db.pool())
                .await?;
        row.map(|(id, spec)| {
            serde_json::from_str(&spec)
                .map(|spec| (id, spec))
                .map_err(|e| DbError::Query(sqlx::Error::Decode(Box::new(e))))
        })
        .transpose()
    }

    /// `(namespace, name)` of every published, non-retired server.
    pub async fn published_ids(&self) -> Result<Vec<(String, String)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT namespace, name FROM servers WHERE published = TRUE AND lifecycle <> 'retired' \
             ORDER BY namespace, name",
        )
        .fetch_all(self.db.pool())
        .await?)
    }
}

/// Hex SHA-256 of `text`, for audit before/after hashes.
pub fn content_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}
