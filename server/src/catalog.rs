//! The server records behind the catalog: registration, listing, and their audit trail.

use async_trait::async_trait;
use serde::Deserialize;

use apiary_app::model::catalog_search::{CatalogQuery, CatalogResults};
use apiary_app::model::ServerCard;
use apiary_app::services::{CatalogService, ServiceError};

use crate::api_error::ApiError;
use crate::console::catalog_index::{load_catalog, CatalogCache};
use crate::console::catalog_search::search;
use crate::db::{now_millis, Db, DbError};
use crate::onboarding::validate::{self, RunsOn};
use crate::validation::{FieldError, FieldErrors};

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

/// The server records in the database.
#[derive(Clone, Debug)]
pub struct ServerStore {
    db: Db,
    slow_ms: i64,
    catalog: CatalogCache,
}

impl ServerStore {
    /// A store over `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            slow_ms: 1_000,
            catalog: CatalogCache::default(),
        }
    }

    /// The same store, calling a server slow above `slow_ms` milliseconds.
    pub fn slow_after(self, slow_ms: i64) -> Self {
        Self { slow_ms, ..self }
    }

    /// Creates or replaces `namespace/name`, recording an audit event and a revision in the
    /// same transaction. Returns true when the server was created.
    pub async fn register<'a>(
        &self,
        namespace: &str,
        name: &str,
        registration: &ServerRegistration,
        actor: impl Into<crate::audit::Actor<'a>>,
    ) -> Result<bool, RegisterError> {
        let actor = actor.into();
        let mut tx = self.db.begin_write().await?;
        let created =
            write_registration(&mut tx, namespace, name, registration, actor, None).await?;
        tx.commit().await?;
        Ok(created)
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
        Ok(
            sqlx::query_scalar("SELECT id FROM servers WHERE namespace = $1 AND name = $2")
                .bind(namespace)
                .bind(name)
                .fetch_optional(self.db.pool())
                .await?,
        )
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

    /// Every server that is not retired, by namespace and name.
    pub async fn list(&self) -> Result<Vec<ServerCard>, DbError> {
        Ok(load_catalog(&self.db, self.slow_ms, &self.catalog)
            .await?
            .into_iter()
            .map(|entry| entry.card)
            .collect())
    }
}

/// Validates and writes a registration inside the caller's transaction: the server row, its
/// audit event and its next revision (`proposal_id` when a proposal is being applied). Every
/// change of a server's spec or metadata goes through here, directly or by proposal, and so
/// through [`validate::registration`], the checks a proposal gets too. Returns true when the
/// server was created.
pub async fn write_registration(
    conn: &mut sqlx::AnyConnection,
    namespace: &str,
    name: &str,
    registration: &ServerRegistration,
    actor: crate::audit::Actor<'_>,
    proposal_id: Option<&str>,
) -> Result<bool, RegisterError> {
    write_registration_from(
        conn,
        (namespace, name),
        registration,
        actor,
        proposal_id,
        None,
    )
    .await
}

/// True when `namespace/name` is a virtual server's name (a name is one or the other).
async fn is_virtual_server(
    conn: &mut sqlx::AnyConnection,
    namespace: &str,
    name: &str,
) -> Result<bool, DbError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM virtual_servers WHERE namespace = $1 AND name = $2")
            .bind(namespace)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// [`write_registration`] for a server that `origin` (a cluster kind) declares, or Apiary
/// itself (`None`). A server is only ever changed by whoever registered it: Apiary's API and
/// proposals do not change a server a cluster object declares, nor the other way round
/// ([`RegisterError::Managed`]).
pub async fn write_registration_from(
    conn: &mut sqlx::AnyConnection,
    (namespace, name): (&str, &str),
    registration: &ServerRegistration,
    actor: crate::audit::Actor<'_>,
    proposal_id: Option<&str>,
    origin: Option<&str>,
) -> Result<bool, RegisterError> {
    validate::registration(namespace, name, registration, RunsOn::Recorded)?;
    let transport = crate::registry::source::transport_of(&registration.spec);
    let now = now_millis();
    let tags = serde_json::to_string(&registration.tags).unwrap_or_else(|_| "[]".into());
    let spec = registration.spec.to_string();
    let existing: Option<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, spec, origin FROM servers WHERE namespace = $1 AND name = $2")
            .bind(namespace)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((_, _, current)) = &existing {
        if current.as_deref() != origin {
            return Err(RegisterError::Managed {
                server: format!("{namespace}/{name}"),
                by: current.clone(),
            });
        }
    }
    let existing = existing.map(|(id, spec, _)| (id, spec));
    let created = existing.is_none();
    if created && is_virtual_server(conn, namespace, name).await? {
        return Err(FieldErrors::from(FieldError::new(
            "name",
            format!("{namespace}/{name} is a virtual server's name; a server needs a name no virtual server has"),
        ))
        .into());
    }
    let before_hash = existing.as_ref().map(|(_, old)| content_hash(old));
    let id = existing.map_or_else(|| uuid::Uuid::new_v4().to_string(), |(id, _)| id);
    sqlx::query(
        "INSERT INTO servers (id, namespace, name, description, owner_team, category, cost_class, \
         sensitivity, tags, docs_url, transport, spec, published, created_at, updated_at, origin) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15) \
         ON CONFLICT (id) DO UPDATE SET description = $4, owner_team = $5, category = $6, \
         cost_class = $7, sensitivity = $8, tags = $9, docs_url = $10, transport = $11, \
         spec = $12, published = $13, updated_at = $14",
    )
    .bind(&id)
    .bind(namespace)
    .bind(name)
    .bind(&registration.description)
    .bind(&registration.owner_team)
    .bind(&registration.category)
    .bind(&registration.cost_class)
    .bind(&registration.sensitivity)
    .bind(&tags)
    .bind(&registration.docs_url)
    .bind(transport.as_str())
    .bind(&spec)
    .bind(registration.published)
    .bind(now)
    .bind(origin)
    .execute(&mut *conn)
    .await?;
    let target = format!("{namespace}/{name}");
    crate::audit::record(
        &mut *conn,
        crate::audit::AuditEvent {
            comment: None,
            actor,
            action: if created {
                "server.register"
            } else {
                "server.update"
            },
            target: &target,
            before_hash,
            after_hash: Some(content_hash(&spec)),
        },
    )
    .await?;
    crate::onboarding::revisions::record(
        conn,
        crate::onboarding::revisions::NewRevision {
            namespace,
            name,
            spec: &registration.spec,
            metadata: &validate::metadata_json(registration),
            proposal_id,
            actor: actor.subject,
        },
    )
    .await?;
    Ok(created)
}

#[async_trait]
impl CatalogService for ServerStore {
    async fn search(&self, query: &CatalogQuery) -> Result<CatalogResults, ServiceError> {
        let entries = load_catalog(&self.db, self.slow_ms, &self.catalog)
            .await
            .map_err(|error| {
                tracing::error!(%error, "loading the catalog failed");
                ServiceError("the catalog is unavailable; try again shortly".into())
            })?;
        Ok(search(&entries, query))
    }
}

/// Hex SHA-256 of `text`, for audit before/after hashes.
pub fn content_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}
