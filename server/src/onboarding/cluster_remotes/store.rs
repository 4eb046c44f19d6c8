//! The database side of remote server objects: registering the server an object declares
//! (through the registration's own validation, only when something changed), unpublishing it
//! when the object goes, and reading the registry's newest fetch for the status.

use sqlx::Row;

use crate::audit::Actor;
use crate::db::{Db, DbError};
use crate::onboarding::cluster_watch::unpublish_deleted;
use crate::onboarding::register::write_registration_from;
use crate::servers::{RegisterError, ServerRegistration};

use super::status::LastFetch;

/// What [`sync`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synced {
    /// The stored server already said it.
    Unchanged,
    /// The server was registered or updated (audited, with a revision).
    Written,
}

/// The audit actor for the object `kind` `namespace/name`.
fn actor_name(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind} {namespace}/{name}")
}

/// Registers `registration` as the server of the `kind` object `namespace/name`, unless the
/// stored server already says exactly that. Refused when Apiary or another kind registered
/// that name ([`RegisterError::Managed`]) or a field is invalid ([`RegisterError::Invalid`]).
pub async fn sync(
    db: &Db,
    kind: &str,
    (namespace, name): (&str, &str),
    registration: &ServerRegistration,
) -> Result<Synced, RegisterError> {
    let mut tx = db.begin_write().await?;
    let stored = crate::servers::stored(&mut *tx, namespace, name).await?;
    if stored.is_some_and(|(server, _, origin)| {
        origin.as_deref() == Some(kind) && &server == registration
    }) {
        return Ok(Synced::Unchanged);
    }
    let who = actor_name(kind, namespace, name);
    let actor = Actor {
        subject: Actor::CLUSTER.subject,
        name: &who,
    };
    write_registration_from(
        &mut tx,
        (namespace, name),
        registration,
        actor,
        None,
        Some(kind),
    )
    .await?;
    tx.commit().await?;
    Ok(Synced::Written)
}

/// Unpublishes the server the `kind` object `namespace/name` registered, audited; false when
/// there is none, or it is not published.
pub async fn withdraw(db: &Db, kind: &str, namespace: &str, name: &str) -> Result<bool, DbError> {
    let who = actor_name(kind, namespace, name);
    let actor = Actor {
        subject: Actor::CLUSTER.subject,
        name: &who,
    };
    let comment = Some("its object was deleted in the cluster");
    unpublish_deleted(db, namespace, name, Some(kind), actor, comment).await
}

/// The published servers that `kind` objects registered, as `(namespace, name)`.
pub async fn registered(db: &Db, kind: &str) -> Result<Vec<(String, String)>, DbError> {
    Ok(
        sqlx::query_as(
            "SELECT namespace, name FROM servers WHERE origin = $1 AND published = TRUE",
        )
        .bind(kind)
        .fetch_all(db.pool())
        .await?,
    )
}

/// The newest health sample of `namespace/name` and the tools of its newest snapshot; `None`
/// before the first fetch.
pub async fn last_fetch(
    db: &Db,
    namespace: &str,
    name: &str,
) -> Result<Option<LastFetch>, DbError> {
    let newest = sqlx::query(
        "SELECT CAST(CASE WHEN h.ok THEN 1 ELSE 0 END AS BIGINT) AS ok, h.error, \
         (SELECT t.tool_count FROM tool_snapshots t WHERE t.id = s.latest_snapshot_id) \
           AS tool_count \
         FROM health_samples h JOIN servers s ON s.id = h.server_id \
         WHERE s.namespace = $1 AND s.name = $2 ORDER BY h.at DESC LIMIT 1",
    )
    .bind(namespace)
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = newest else {
        return Ok(None);
    };
    let ok = row.try_get::<i64, _>("ok")? == 1;
    let error: Option<String> = row.try_get("error")?;
    Ok(Some(LastFetch {
        error: (!ok).then(|| error.unwrap_or_else(|| "no answer".into())),
        tool_count: row.try_get("tool_count")?,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn a_stored_row_that_does_not_parse_is_rewritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
        let db = Db::connect(&url).await.expect("open sqlite");
        db.migrate().await.expect("migrate");
        let registration = ServerRegistration {
            owner_team: "search".into(),
            tags: vec!["web".into()],
            spec: json!({"url": "https://mcp.example.com/mcp", "transport": "sse"}),
            published: true,
            ..ServerRegistration::default()
        };
        let id = ("team", "remote");
        let kind = "MCPServerEntry";
        let first = sync(&db, kind, id, &registration).await.expect("registers");
        assert_eq!(first, Synced::Written);
        let again = sync(&db, kind, id, &registration).await.expect("reads");
        assert_eq!(again, Synced::Unchanged);

        sqlx::query("UPDATE servers SET tags = 'not json' WHERE name = 'remote'")
            .execute(db.pool())
            .await
            .expect("corrupt the row");
        let repaired = sync(&db, kind, id, &registration).await.expect("rewrites");
        assert_eq!(repaired, Synced::Written);
        let tags: String = sqlx::query_scalar("SELECT tags FROM servers WHERE name = 'remote'")
            .fetch_one(db.pool())
            .await
            .expect("read tags");
        assert_eq!(tags, r#"["web"]"#);
    }
}
