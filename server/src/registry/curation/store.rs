//! Storage of curations (table `tool_curations`), with an audit event for every change.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{json_column, now_millis, Db, DbError};
use crate::servers::content_hash;

use super::{curated_tools, CuratedTools, Curation, UnknownTools};
use crate::registry::model::{SchemaDiff, ToolDef};

/// SQL select-list items for the curation of the server aliased `s`, through
/// `LEFT JOIN tool_curations c ON c.server_id = s.id`; read them with [`from_row`].
pub const CURATION_COLUMNS: &str = "c.allow_globs AS curation_allow, \
    c.deny_globs AS curation_deny, c.hidden AS curation_hidden, \
    c.overrides AS curation_overrides, c.unknown_tools AS curation_unknown_tools";

/// The joins that [`CURATED_TOOL_COLUMNS`] read, for a query over `servers s`.
pub const CURATED_TOOL_JOINS: &str = "\
    LEFT JOIN tool_snapshots b ON b.id = s.baseline_snapshot_id \
    LEFT JOIN tool_snapshots l ON l.id = s.latest_snapshot_id \
    LEFT JOIN tool_curations c ON c.server_id = s.id";

/// SQL select-list items for everything [`curated_from_row`] needs: the baseline and newest
/// snapshot's tools, the newest drift, and the curation (needs [`CURATED_TOOL_JOINS`]).
pub const CURATED_TOOL_COLUMNS: &str = "b.tools AS baseline_tools, l.tools AS latest_tools, \
    l.drift AS latest_drift, c.allow_globs AS curation_allow, \
    c.deny_globs AS curation_deny, c.hidden AS curation_hidden, \
    c.overrides AS curation_overrides, c.unknown_tools AS curation_unknown_tools";

/// What a row selected with [`CURATED_TOOL_COLUMNS`] says about a server's tools.
#[derive(Debug, Default)]
pub struct CuratedRow {
    /// The tools consumers see (none before the first fetch).
    pub tools: CuratedTools,
    /// The server's curation.
    pub curation: Curation,
    /// The newest snapshot's drift against the baseline, if any.
    pub drift: Option<SchemaDiff>,
}

/// Reads a row selected with [`CURATED_TOOL_COLUMNS`].
pub fn curated_from_row(row: &AnyRow) -> Result<CuratedRow, DbError> {
    let curation = from_row(row)?;
    let drift: Option<SchemaDiff> = json_column(row, "latest_drift")?;
    let tools = match json_column::<Vec<ToolDef>>(row, "baseline_tools")? {
        Some(baseline) => {
            let latest: Option<Vec<ToolDef>> = json_column(row, "latest_tools")?;
            curated_tools(&baseline, latest.as_deref(), drift.as_ref(), &curation)
        }
        None => CuratedTools::default(),
    };
    Ok(CuratedRow {
        tools,
        curation,
        drift,
    })
}

/// The curation in a row selected with [`CURATION_COLUMNS`]; the default when there is none.
pub fn from_row(row: &AnyRow) -> Result<Curation, DbError> {
    Ok(Curation {
        allow: json_column(row, "curation_allow")?.unwrap_or_default(),
        deny: json_column(row, "curation_deny")?.unwrap_or_default(),
        hidden: json_column(row, "curation_hidden")?.unwrap_or_default(),
        overrides: json_column(row, "curation_overrides")?.unwrap_or_default(),
        unknown_tools: row
            .try_get::<Option<String>, _>("curation_unknown_tools")?
            .map(|text| UnknownTools::parse(&text))
            .unwrap_or_default(),
    })
}

/// The curation of server `server_id` (the default when none was stored).
pub async fn load(db: &Db, server_id: &str) -> Result<Curation, DbError> {
    let sql = format!(
        "SELECT {CURATION_COLUMNS} FROM servers s \
         LEFT JOIN tool_curations c ON c.server_id = s.id WHERE s.id = $1"
    );
    let row = sqlx::query(&sql)
        .bind(server_id)
        .fetch_optional(db.pool())
        .await?;
    row.map_or_else(|| Ok(Curation::default()), |row| from_row(&row))
}

/// Stores `curation` for server `server_id` (called `target` in the audit log) on behalf of
/// `actor`, replacing any earlier one, and records an audit event in the same transaction.
pub async fn save(
    db: &Db,
    server_id: &str,
    target: &str,
    curation: &Curation,
    actor: crate::audit::Actor<'_>,
) -> Result<(), DbError> {
    let now = now_millis();
    let mut tx = db.begin_write().await?;
    let before: Option<Stored> = sqlx::query_as(
        "SELECT allow_globs, deny_globs, hidden, overrides, unknown_tools FROM tool_curations \
         WHERE server_id = $1",
    )
    .bind(server_id)
    .fetch_optional(&mut *tx)
    .await?;
    let after = (
        to_json(&curation.allow),
        to_json(&curation.deny),
        to_json(&curation.hidden),
        to_json(&curation.overrides),
        curation.unknown_tools.as_str().to_owned(),
    );
    sqlx::query(
        "INSERT INTO tool_curations (server_id, allow_globs, deny_globs, hidden, overrides, \
         unknown_tools, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (server_id) DO UPDATE SET allow_globs = excluded.allow_globs, \
         deny_globs = excluded.deny_globs, hidden = excluded.hidden, \
         overrides = excluded.overrides, unknown_tools = excluded.unknown_tools, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
    )
    .bind(server_id)
    .bind(&after.0)
    .bind(&after.1)
    .bind(&after.2)
    .bind(&after.3)
    .bind(&after.4)
    .bind(now)
    .bind(actor.subject)
    .execute(&mut *tx)
    .await?;
    // The registry API lists servers changed since a time; a curation changes what it shows.
    sqlx::query("UPDATE servers SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(server_id)
        .execute(&mut *tx)
        .await?;
    let hash = |(a, d, h, o, u): &Stored| content_hash(&format!("{a}\n{d}\n{h}\n{o}\n{u}"));
    crate::audit::record(
        &mut tx,
        crate::audit::AuditEvent {
            actor,
            action: "server.curate",
            target,
            before_hash: before.as_ref().map(hash),
            after_hash: Some(hash(&after)),
            comment: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A stored curation's columns: allow, deny, hidden, overrides and unknown tools.
type Stored = (String, String, String, String, String);

/// A value as JSON text.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
