//! Writing a server's registration: validated like a proposal, with its audit event and its
//! next revision in the caller's transaction. Every change of a server's spec or metadata goes
//! through here, directly (the servers API) or by an approved proposal.

use crate::audit::Actor;
use crate::db::{now_millis, DbError};
use crate::servers::{content_hash, RegisterError, ServerRegistration, ServerStore};
use crate::validation::{FieldError, FieldErrors};

use super::revisions::{self, NewRevision};
use super::validate::{self, RunsOn};

impl ServerStore {
    /// Creates or replaces `namespace/name`, recording an audit event and a revision in the
    /// same transaction. Returns true when the server was created.
    pub async fn register<'a>(
        &self,
        namespace: &str,
        name: &str,
        registration: &ServerRegistration,
        actor: impl Into<Actor<'a>>,
    ) -> Result<bool, RegisterError> {
        let mut tx = self.db().begin_write().await?;
        let id = (namespace, name);
        let created =
            write_registration_from(&mut tx, id, registration, actor.into(), None, None).await?;
        tx.commit().await?;
        Ok(created)
    }
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

/// Validates and writes a registration inside the caller's transaction: the server row, its
/// audit event and its next revision (`proposal_id` when a proposal is being applied). Every
/// change of a server's spec or metadata goes through here, directly or by proposal, and so
/// through [`validate::registration`], the checks a proposal gets too. Returns true when the
/// server was created. `origin` is the cluster kind that declares the server, or `None` for
/// Apiary itself: a server is only ever changed by whoever registered it: Apiary's API and
/// proposals do not change a server a cluster object declares, nor the other way round
/// ([`RegisterError::Managed`]).
pub async fn write_registration_from(
    conn: &mut sqlx::AnyConnection,
    (namespace, name): (&str, &str),
    registration: &ServerRegistration,
    actor: Actor<'_>,
    proposal_id: Option<&str>,
    origin: Option<&str>,
) -> Result<bool, RegisterError> {
    validate::registration(namespace, name, registration, RunsOn::Recorded)?;
    let transport = crate::runtime::spec::transport_of(&registration.spec);
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
    revisions::record(
        conn,
        NewRevision {
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
