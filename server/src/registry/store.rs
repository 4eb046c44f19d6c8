//! Storage of tool snapshots (with the approved baseline) and health samples.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{json_column, now_millis, Db, DbError};

use super::model::{FetchedTools, PolicyFinding, SchemaDiff, ToolDef};

/// How far back the gateway's newest interval still counts for health.
pub const GATEWAY_HEALTH_WINDOW_MS: i64 = 15 * 60 * 1000;

/// SQL for the health of the server aliased `s`, read once per row: its newest fetch
/// (`health_ok`, 0 or 1 since SQLite booleans do not decode through `Any`, and
/// `health_latency`), and the gateway's newest interval since a bound start (the last 15
/// minutes: [`gateway_window_start`]) across every replica (`gateway_calls` and
/// `gateway_errors` added up, `gateway_p95_ms` the slowest replica's). Put
/// [`LatestHealth::columns`] in the select list and [`LatestHealth::joins`] after
/// `FROM servers s`; read them with [`latest_health_evidence`].
///
/// The SQL text never changes between calls (the window start is a parameter, not a literal),
/// so each connection prepares it once: a literal time made every request a new statement,
/// which each connection's statement cache kept (issue #20's memory growth).
pub struct LatestHealth {
    /// Select-list items.
    pub columns: &'static str,
    /// Joins over `servers s` (aliases `h` and `gw`).
    pub joins: String,
}

/// The start of the gateway window that counts for health at `now` (Unix ms): bind it where
/// [`latest_health_sql`] was given its placeholder.
pub fn gateway_window_start(now: i64) -> i64 {
    now - GATEWAY_HEALTH_WINDOW_MS
}

/// [`LatestHealth`] with the gateway window's start read from the bind parameter `since`
/// (such as `$1`).
pub fn latest_health_sql(since: &str) -> LatestHealth {
    LatestHealth {
        columns: "CAST(CASE WHEN h.id IS NULL THEN NULL WHEN h.ok THEN 1 ELSE 0 END AS BIGINT) \
             AS health_ok, h.latency_ms AS health_latency, gw.calls AS gateway_calls, \
             gw.errors AS gateway_errors, gw.p95_ms AS gateway_p95_ms",
        joins: format!(
            "LEFT JOIN health_samples h ON h.id = (SELECT n.id FROM health_samples n \
             WHERE n.server_id = s.id ORDER BY n.at DESC LIMIT 1) \
             LEFT JOIN (SELECT g.server_id, CAST(SUM(g.calls) AS BIGINT) AS calls, \
             CAST(SUM(g.errors) AS BIGINT) AS errors, CAST(MAX(g.p95_ms) AS BIGINT) AS p95_ms \
             FROM gateway_samples g WHERE g.tool = '' AND g.at >= {since} AND g.at = \
             (SELECT MAX(n.at) FROM gateway_samples n WHERE n.server_id = g.server_id \
             AND n.tool = '') GROUP BY g.server_id) gw ON gw.server_id = s.id"
        ),
    }
}

/// What the health of the server in a row selected with [`latest_health_sql`] rests on
/// (against `slow_ms`); its `health()` is the worse of the newest fetch and the gateway's
/// recent calls.
pub fn latest_health_evidence(
    row: &AnyRow,
    slow_ms: i64,
) -> Result<apiary_app::model::HealthEvidence, DbError> {
    let ok = row
        .try_get::<Option<i64>, _>("health_ok")?
        .map(|ok| ok != 0);
    let latency: Option<i64> = row.try_get("health_latency")?;
    let count = |column: &str| -> Result<u64, DbError> {
        let value: Option<i64> = row.try_get(column)?;
        Ok(value.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
    };
    Ok(apiary_app::model::HealthEvidence {
        fetch: ok.map(|ok| (ok, latency.unwrap_or(0))),
        calls: count("gateway_calls")?,
        errors: count("gateway_errors")?,
        p95_ms: count("gateway_p95_ms")?,
        slow_ms,
    })
}

/// A snapshot as stored.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredSnapshot {
    /// Snapshot id.
    pub id: String,
    /// When it was fetched, in Unix milliseconds.
    pub fetched_at: i64,
    /// Canonical content hash of the tool list.
    pub content_hash: String,
    /// `serverInfo.name`.
    pub server_name: String,
    /// `serverInfo.version`.
    pub server_version: String,
    /// Negotiated protocol version.
    pub protocol_version: String,
    /// Declared capabilities.
    pub capabilities: serde_json::Value,
    /// The tools.
    pub tools: Vec<ToolDef>,
    /// Policy findings for these tools.
    pub findings: Vec<PolicyFinding>,
    /// The diff against the baseline when it was fetched; `None` for a baseline.
    pub drift: Option<SchemaDiff>,
}

/// What recording a fetch did.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// The server had no baseline: this snapshot became it.
    Baseline,
    /// Same content as the newest snapshot: nothing new was stored.
    Unchanged,
    /// New content that differs from the baseline: stored, awaiting approval.
    Drift(SchemaDiff),
    /// New content identical to the baseline again (a drift was reverted).
    BackToBaseline,
    /// The same content as the newest snapshot and the baseline (one snapshot), which was
    /// stored before the registry kept the fields it does not read (`icons`, `execution`,
    /// `_meta`): stored again with every field, as the new baseline.
    Completed,
}

/// One health measurement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthSample {
    /// When, in Unix milliseconds.
    pub at: i64,
    /// Whether `initialize` plus `tools/list` succeeded.
    pub ok: bool,
    /// Their latency in milliseconds (time to failure for errors).
    pub latency_ms: i64,
    /// The error, for failures.
    pub error: Option<String>,
    /// How long the fetch waited for the server to start, when it did.
    pub startup_ms: Option<i64>,
}

/// Snapshot and health storage.
#[derive(Clone, Debug)]
pub struct SnapshotStore {
    db: Db,
}

impl SnapshotStore {
    /// A store over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records a successful fetch of `server_id`. `drift` is the diff of `fetched` against the
    /// current baseline (`None` when there is no baseline yet).
    pub async fn record_fetch(
        &self,
        server_id: &str,
        fetched: &FetchedTools,
        content_hash: &str,
        findings: &[PolicyFinding],
        drift: Option<SchemaDiff>,
    ) -> Result<Recorded, DbError> {
        let mut tx = self.db.begin_write().await?;
        // Write first: it takes the server's row lock (PostgreSQL) or the write lock (SQLite)
        // before anything is read, so two refreshes of one server queue up instead of one
        // failing to upgrade its read lock or overwriting the other's pointers.
        sqlx::query("UPDATE servers SET updated_at = updated_at WHERE id = $1")
            .bind(server_id)
            .execute(&mut *tx)
            .await?;
        let pointers = sqlx::query(
            "SELECT s.baseline_snapshot_id, b.content_hash AS baseline_hash, l.content_hash AS latest_hash \
             FROM servers s \
             LEFT JOIN tool_snapshots b ON b.id = s.baseline_snapshot_id \
             LEFT JOIN tool_snapshots l ON l.id = s.latest_snapshot_id \
             WHERE s.id = $1",
        )
        .bind(server_id)
        .fetch_one(&mut *tx)
        .await?;
        let baseline_id: Option<String> = pointers.try_get("baseline_snapshot_id")?;
        let baseline_hash: Option<String> = pointers.try_get("baseline_hash")?;
        let latest_hash: Option<String> = pointers.try_get("latest_hash")?;
        if latest_hash.as_deref() == Some(content_hash) {
            return Ok(Recorded::Unchanged);
        }
        // A snapshot without the fields the registry did not read hashes as those fields
        // alone; a fetch that adds only such fields to it is the same content, now complete.
        let has_unread = fetched.tools.iter().any(|t| !t.extra.is_empty());
        let read_hash = has_unread.then(|| super::canonical::read_fields_hash(&fetched.tools));
        let completes = |hash: &Option<String>| read_hash.is_some() && *hash == read_hash;
        let outcome = match (&baseline_id, drift) {
            (None, _) => Recorded::Baseline,
            _ if completes(&latest_hash) && completes(&baseline_hash) => Recorded::Completed,
            _ if baseline_hash.as_deref() == Some(content_hash) => Recorded::BackToBaseline,
            (Some(_), Some(diff)) if !diff.is_empty() => Recorded::Drift(diff),
            // Different bytes, no structural difference (descriptions reworded in an
            // equivalent way are still reported by the diff, so this is rare): keep as drift
            // with an empty diff so an owner still sees it.
            (Some(_), other) => Recorded::Drift(other.unwrap_or_default()),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let drift_json = match &outcome {
            Recorded::Drift(diff) => Some(to_json(diff)),
            _ => None,
        };
        sqlx::query(
            "INSERT INTO tool_snapshots (id, server_id, fetched_at, content_hash, server_name, \
             server_version, protocol_version, capabilities, tools, tool_count, findings, drift) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(server_id)
        .bind(now_millis())
        .bind(content_hash)
        .bind(&fetched.server_name)
        .bind(&fetched.server_version)
        .bind(&fetched.protocol_version)
        .bind(fetched.capabilities.to_string())
        .bind(to_json(&fetched.tools))
        .bind(i64::try_from(fetched.tools.len()).unwrap_or(i64::MAX))
        .bind(to_json(findings))
        .bind(drift_json)
        .execute(&mut *tx)
        .await?;
        let set_baseline = matches!(outcome, Recorded::Baseline | Recorded::Completed);
        sqlx::query(
            "UPDATE servers SET latest_snapshot_id = $1, \
             baseline_snapshot_id = CASE WHEN $2 THEN $1 ELSE baseline_snapshot_id END, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(&id)
        .bind(set_baseline)
        .bind(now_millis())
        .bind(server_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// The approved baseline of `server_id`.
    pub async fn baseline(&self, server_id: &str) -> Result<Option<StoredSnapshot>, DbError> {
        self.snapshot_by_pointer(server_id, "baseline_snapshot_id")
            .await
    }

    /// The newest snapshot of `server_id`.
    pub async fn latest(&self, server_id: &str) -> Result<Option<StoredSnapshot>, DbError> {
        self.snapshot_by_pointer(server_id, "latest_snapshot_id")
            .await
    }

    async fn snapshot_by_pointer(
        &self,
        server_id: &str,
        pointer: &'static str,
    ) -> Result<Option<StoredSnapshot>, DbError> {
        let sql = format!(
            "SELECT t.* FROM tool_snapshots t JOIN servers s ON s.{pointer} = t.id WHERE s.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(server_id)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| snapshot_from_row(&r)).transpose()
    }

    /// Every snapshot of `server_id`, newest first.
    pub async fn history(&self, server_id: &str) -> Result<Vec<StoredSnapshot>, DbError> {
        let rows = sqlx::query(
            "SELECT * FROM tool_snapshots WHERE server_id = $1 ORDER BY fetched_at DESC, id",
        )
        .bind(server_id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(snapshot_from_row).collect()
    }

    /// Records one health measurement.
    pub async fn record_health(
        &self,
        server_id: &str,
        ok: bool,
        latency_ms: u64,
        error: Option<&str>,
    ) -> Result<(), DbError> {
        self.record_health_started(server_id, ok, latency_ms, error, None)
            .await
    }

    /// Records one health measurement of a fetch that waited `startup_ms` for the server to
    /// start (kept apart from `latency_ms`, the fetch's own round trip).
    pub async fn record_health_started(
        &self,
        server_id: &str,
        ok: bool,
        latency_ms: u64,
        error: Option<&str>,
        startup_ms: Option<u64>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO health_samples (id, server_id, at, ok, latency_ms, error, startup_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(server_id)
        .bind(now_millis())
        .bind(ok)
        .bind(i64::try_from(latency_ms).unwrap_or(i64::MAX))
        .bind(error)
        .bind(startup_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The newest `limit` health samples of `server_id`, oldest first (ready to plot).
    pub async fn health_history(
        &self,
        server_id: &str,
        limit: i64,
    ) -> Result<Vec<HealthSample>, DbError> {
        let rows = sqlx::query(
            "SELECT at, CAST(CASE WHEN ok THEN 1 ELSE 0 END AS BIGINT) AS ok, latency_ms, error, startup_ms FROM health_samples WHERE server_id = $1 \
             ORDER BY at DESC LIMIT $2",
        )
        .bind(server_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        let mut samples = rows
            .iter()
            .map(|row| {
                Ok(HealthSample {
                    at: row.try_get("at")?,
                    ok: row.try_get::<i64, _>("ok")? != 0,
                    latency_ms: row.try_get("latency_ms")?,
                    error: row.try_get("error")?,
                    startup_ms: row.try_get("startup_ms")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        samples.reverse();
        Ok(samples)
    }

    /// Deletes the health samples taken before `before` (Unix milliseconds), except each
    /// server's newest, which its health badge reads. The number deleted.
    pub async fn prune_health(&self, before: i64) -> Result<u64, DbError> {
        let result = sqlx::query(
            "DELETE FROM health_samples WHERE at < $1 AND at < \
             (SELECT MAX(n.at) FROM health_samples n WHERE n.server_id = health_samples.server_id)",
        )
        .bind(before)
        .execute(self.db.pool())
        .await?;
        Ok(result.rows_affected())
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// A JSON column that must be present.
fn parse_json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, DbError> {
    json_column(row, column)?.ok_or_else(|| {
        DbError::Query(sqlx::Error::ColumnDecode {
            index: column.into(),
            source: "unexpected NULL".into(),
        })
    })
}

fn snapshot_from_row(row: &AnyRow) -> Result<StoredSnapshot, DbError> {
    Ok(StoredSnapshot {
        id: row.try_get("id")?,
        fetched_at: row.try_get("fetched_at")?,
        content_hash: row.try_get("content_hash")?,
        server_name: row.try_get("server_name")?,
        server_version: row.try_get("server_version")?,
        protocol_version: row.try_get("protocol_version")?,
        capabilities: parse_json(row, "capabilities")?,
        tools: parse_json(row, "tools")?,
        findings: parse_json(row, "findings")?,
        drift: json_column(row, "drift")?,
    })
}
