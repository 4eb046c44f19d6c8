//! Writing the audit log: one row per change, in the transaction of the change.

use sqlx::AnyConnection;

use apiary_app::access::Viewer;

use crate::db::now_millis;

/// Who acted: the stable subject, and the name people know them by (`name`, else
/// `preferred_username`, else `email`; a machine client's id).
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    /// `local-admin`, `cluster`, or the provider's `iss#sub`.
    pub subject: &'a str,
    /// The display name.
    pub name: &'a str,
}

impl Actor<'static> {
    /// Apiary itself, following the cluster (a server deleted there).
    pub const CLUSTER: Actor<'static> = Actor {
        subject: "cluster",
        name: "cluster",
    };
}

impl<'a> From<&'a Viewer> for Actor<'a> {
    fn from(viewer: &'a Viewer) -> Self {
        Actor {
            subject: &viewer.subject,
            name: &viewer.name,
        }
    }
}

impl<'a> From<&'a str> for Actor<'a> {
    /// A system or test actor whose subject is its name.
    fn from(subject: &'a str) -> Self {
        Actor {
            subject,
            name: subject,
        }
    }
}

/// One audit event: who did what to which target, with hashes of the state before and after.
#[derive(Clone, Debug)]
pub struct AuditEvent<'a> {
    /// Who did it.
    pub actor: Actor<'a>,
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
        "INSERT INTO audit_events (id, at, actor, actor_name, action, target, before_hash, \
         after_hash, comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(now_millis())
    .bind(event.actor.subject)
    .bind(event.actor.name)
    .bind(event.action)
    .bind(event.target)
    .bind(event.before_hash)
    .bind(event.after_hash)
    .bind(event.comment)
    .execute(conn)
    .await?;
    Ok(())
}
