//! Rows of `gateway_samples`: written by the flush, read by the server page and for health.

use std::collections::HashMap;

use sqlx::Row;

use crate::db::{Db, DbError};

use super::{Counts, BUCKET_COUNT};

/// The tool name of a server's total row.
pub const TOTAL: &str = "";

/// Writes one row per tool and a total per server, at `at`; servers that are gone are skipped.
pub async fn write(
    db: &Db,
    at: i64,
    taken: &HashMap<String, Vec<(String, Counts)>>,
) -> Result<usize, DbError> {
    let mut tx = db.begin_write().await?;
    let mut written = 0;
    for (server, tools) in taken {
        let Some((namespace, name)) = server.split_once('/') else {
            continue;
        };
        let mut total = Counts::default();
        for (_, counts) in tools {
            total.add(counts);
        }
        for (tool, counts) in tools
            .iter()
            .map(|(t, c)| (t.as_str(), c))
            .chain([(TOTAL, &total)])
        {
            let result = sqlx::query(
                "INSERT INTO gateway_samples (id, server_id, tool, at, calls, errors, p50_ms, \
                 p95_ms, max_ms, buckets) SELECT $1, s.id, $2, $3, $4, $5, $6, $7, $8, $9 \
                 FROM servers s WHERE s.namespace = $10 AND s.name = $11",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(tool)
            .bind(at)
            .bind(to_i64(counts.calls))
            .bind(to_i64(counts.errors))
            .bind(to_i64(counts.quantile_ms(0.5)))
            .bind(to_i64(counts.quantile_ms(0.95)))
            .bind(to_i64(counts.max_ms))
            .bind(serde_json::to_string(&counts.buckets.to_vec()).unwrap_or_default())
            .bind(namespace)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            written += usize::try_from(result.rows_affected()).unwrap_or(0);
        }
    }
    tx.commit().await?;
    Ok(written)
}

/// One sampling interval of a server's total.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// When it was taken, Unix milliseconds.
    pub at: i64,
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Median latency, ms.
    pub p50_ms: u64,
    /// 95th percentile latency, ms.
    pub p95_ms: u64,
}

/// The newest `limit` intervals of server `server_id`'s total across replicas, oldest first:
/// the rows of one period are added up, and the percentiles come from their merged buckets.
pub async fn recent_totals(db: &Db, server_id: &str, limit: i64) -> Result<Vec<Interval>, DbError> {
    let rows = sqlx::query(
        "SELECT at, calls, errors, max_ms, buckets FROM gateway_samples \
         WHERE server_id = $1 AND tool = $2 AND at IN (SELECT DISTINCT at FROM gateway_samples \
         WHERE server_id = $1 AND tool = $2 ORDER BY at DESC LIMIT $3)",
    )
    .bind(server_id)
    .bind(TOTAL)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let mut by_period: std::collections::BTreeMap<i64, Counts> = Default::default();
    for row in &rows {
        by_period
            .entry(row.try_get("at")?)
            .or_default()
            .add(&counts_of(row)?);
    }
    Ok(by_period
        .into_iter()
        .map(|(at, counts)| Interval {
            at,
            calls: counts.calls,
            errors: counts.errors,
            p50_ms: counts.quantile_ms(0.5),
            p95_ms: counts.quantile_ms(0.95),
        })
        .collect())
}

/// Each tool's counts of server `server_id` since `since`, summed, by tool name.
pub async fn tools_since(
    db: &Db,
    server_id: &str,
    since: i64,
) -> Result<Vec<(String, Counts)>, DbError> {
    let rows = sqlx::query(
        "SELECT tool, calls, errors, max_ms, buckets FROM gateway_samples \
         WHERE server_id = $1 AND tool <> $2 AND at >= $3",
    )
    .bind(server_id)
    .bind(TOTAL)
    .bind(since)
    .fetch_all(db.pool())
    .await?;
    let mut by_tool: std::collections::BTreeMap<String, Counts> = Default::default();
    for row in &rows {
        by_tool
            .entry(row.try_get("tool")?)
            .or_default()
            .add(&counts_of(row)?);
    }
    Ok(by_tool.into_iter().collect())
}

/// The counts of one row: calls, errors, the slowest call and the latency buckets.
fn counts_of(row: &sqlx::any::AnyRow) -> Result<Counts, DbError> {
    let buckets: Vec<u64> =
        serde_json::from_str(&row.try_get::<String, _>("buckets")?).unwrap_or_default();
    let mut counts = Counts {
        calls: to_u64(row.try_get("calls")?),
        errors: to_u64(row.try_get("errors")?),
        max_ms: to_u64(row.try_get("max_ms")?),
        ..Counts::default()
    };
    for (slot, value) in counts
        .buckets
        .iter_mut()
        .zip(buckets.into_iter().take(BUCKET_COUNT))
    {
        *slot = value;
    }
    Ok(counts)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
