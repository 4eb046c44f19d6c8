//! The append-only audit log (table `audit_events`): every state change writes one entry in
//! its own transaction ([`record`]); [`AuditLog`] reads them for the console and its export
//! (`console::audit_export`).

mod record;

pub use record::{record, Actor, AuditEvent};

use sqlx::Row;

use apiary_app::model::audit::{AuditEntry, AuditPage, AuditQuery, PAGE_SIZE};
use apiary_app::services::{AuditService, ServiceError};

use crate::db::{Db, DbError};
use crate::display_time::moment;

/// Reads the audit log.
#[derive(Clone, Debug)]
pub struct AuditLog {
    db: Db,
}

impl AuditLog {
    /// The log in `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Up to `limit` entries matching `query`, newest first, skipping `offset`.
    pub async fn entries(
        &self,
        query: &AuditQuery,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AuditEntry>, DbError> {
        let target = format!("%{}%", escape_like(&query.target));
        let rows = sqlx::query(
            "SELECT at, actor, actor_name, action, target, before_hash, after_hash, comment FROM audit_events \
             WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) \
             AND target LIKE $3 ESCAPE '\\' ORDER BY at DESC, id DESC LIMIT $4 OFFSET $5",
        )
        .bind(&query.actor)
        .bind(&query.action)
        .bind(target)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let at: i64 = row.try_get("at")?;
                Ok(AuditEntry {
                    at_ms: at,
                    at: moment(at),
                    actor: row.try_get("actor")?,
                    actor_name: row.try_get("actor_name")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    before_hash: row.try_get("before_hash")?,
                    after_hash: row.try_get("after_hash")?,
                    comment: row.try_get("comment")?,
                })
            })
            .collect()
    }

    /// Every action that occurs in the log, sorted.
    pub async fn actions(&self) -> Result<Vec<String>, DbError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT action FROM audit_events ORDER BY action")
                .fetch_all(self.db.pool())
                .await?;
        Ok(rows.into_iter().map(|(action,)| action).collect())
    }
}

#[async_trait::async_trait]
impl AuditService for AuditLog {
    async fn search(&self, query: &AuditQuery) -> Result<AuditPage, ServiceError> {
        let failed = |error: DbError| {
            tracing::error!(%error, "cannot read the audit log");
            ServiceError("the audit log cannot be read right now; try again shortly".into())
        };
        let size = i64::try_from(PAGE_SIZE).unwrap_or(50);
        let offset = i64::try_from(query.page().saturating_sub(1)).unwrap_or(0) * size;
        let mut entries = self
            .entries(query, size + 1, offset)
            .await
            .map_err(failed)?;
        let has_more = entries.len() > PAGE_SIZE;
        entries.truncate(PAGE_SIZE);
        Ok(AuditPage {
            entries,
            actions: self.actions().await.map_err(failed)?,
            has_more,
        })
    }
}

/// `text` as a literal inside a `LIKE … ESCAPE '\'` pattern.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
