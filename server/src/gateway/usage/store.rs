//! Rows of `gateway_samples` (servers) and `virtual_samples` (virtual servers): written by the
//! flush, read by the console's pages and, for servers, for health.

use std::collections::HashMap;

use sqlx::Row;

use crate::db::{Db, DbError};

use super::{Counts, BUCKET_COUNT};

/// The tool name of a server's total row.
pub const TOTAL: &str = "";

/// Whose rows: a server's (`gateway_samples`) or a virtual server's (`virtual_samples`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A server, by its `servers.id`.
    Server,
    /// A virtual server, by its `virtual_servers.id`.
    VirtualServer,
}

impl Owner {
    /// Inserts one row for the owner named `$10/$11`, if there is one.
    const fn insert(self) -> &'static str {
        match self {
            Self::Server => {
                "INSERT INTO gateway_samples (id, server_id, tool, at, calls, errors, p50_ms, \
                 p95_ms, max_ms, buckets) SELECT $1, s.id, $2, $3, $4, $5, $6, $7, $8, $9 \
                 FROM servers s WHERE s.namespace = $10 AND s.name = $11"
            }
            Self::VirtualServer => {
                "INSERT INTO virtual_samples (id, virtual_server_id, tool, at, calls, errors, \
                 p50_ms, p95_ms, max_ms, buckets) SELECT $1, v.id, $2, $3, $4, $5, $6, $7, $8, \
                 $9 FROM virtual_servers v WHERE v.namespace = $10 AND v.name = $11"
            }
        }
    }

    /// The newest `$3` periods of the owner `$1`'s tool `$2`.
    const fn recent(self) -> &'static str {
        match self {
            Self::Server => {
                "SELECT at, calls, errors, max_ms, buckets FROM gateway_samples \
                 WHERE server_id = $1 AND tool = $2 AND at IN (SELECT DISTINCT at FROM \
                 gateway_samples WHERE server_id = $1 AND tool = $2 ORDER BY at DESC LIMIT $3)"
            }
            Self::VirtualServer => {
                "SELECT at, calls, errors, max_ms, buckets FROM virtual_samples \
                 WHERE virtual_server_id = $1 AND tool = $2 AND at IN (SELECT DISTINCT at FROM \
                 virtual_samples WHERE virtual_server_id = $1 AND tool = $2 ORDER BY at DESC \
                 LIMIT $3)"
            }
        }
    }

    /// The owner `$1`'s rows of tools other than `$2` since `$3`.
    const fn since(self) -> &'static str {
        match self {
            Self::Server => {
                "SELECT tool, calls, errors, max_ms, buckets FROM gateway_samples \
                 WHERE server_id = $1 AND tool <> $2 AND at >= $3"
            }
            Self::VirtualServer => {
                "SELECT tool, calls, errors, max_ms, buckets FROM virtual_samples \
                 WHERE virtual_server_id = $1 AND tool <> $2 AND at >= $3"
            }
        }
    }
}

/// Writes one row per tool and a total per server or virtual server (a name is one or the
/// other), at `at`; names that are gone are skipped.
pub async fn write(
    db: &Db,
    at: i64,
    taken: &HashMap<String, Vec<(String, Counts)>>,
) -> Result<usize, DbError> {
    let mut tx = db.begin_write().await?;
    let mut written = 0;
    for (server, tools) in taken {
        let Some(name) = server.split_once('/') else {
            continue;
        };
        let mut total = Counts::default();
        for (_, counts) in tools {
            total.add(counts);
        }
        // The total decides whose rows these are: the first owner that has the name.
        let mut owner = None;
        for candidate in [Owner::Server, Owner::VirtualServer] {
            if insert(&mut tx, candidate, name, TOTAL, at, &total).await? > 0 {
                owner = Some(candidate);
                break;
            }
        }
        let Some(owner) = owner else {
            continue;
        };
        written += 1;
        for (tool, counts) in tools {
            written += insert(&mut tx, owner, name, tool, at, counts).await?;
        }
    }
    tx.commit().await?;
    Ok(written)
}

/// Inserts one row of `tool` for `owner` `namespace/name`; the rows written (0 when there is
/// no such owner).
async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: Owner,
    (namespace, name): (&str, &str),
    tool: &str,
    at: i64,
    counts: &Counts,
) -> Result<usize, DbError> {
    let result = sqlx::query(owner.insert())
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
        .execute(&mut **tx)
        .await?;
    Ok(usize::try_from(result.rows_affected()).unwrap_or(0))
}

/// Deletes the rows of servers and virtual servers taken before `before` (Unix
/// milliseconds). The number deleted.
pub async fn prune(db: &Db, before: i64) -> Result<u64, DbError> {
    let mut deleted = 0;
    for table in ["gateway_samples", "virtual_samples"] {
        let sql = format!("DELETE FROM {table} WHERE at < $1");
        deleted += sqlx::query(&sql)
            .bind(before)
            .execute(db.pool())
            .await?
            .rows_affected();
    }
    Ok(deleted)
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

/// The newest `limit` intervals of `owner` `id`'s total across replicas, oldest first: the
/// rows of one period are added up, and the percentiles come from their merged buckets.
pub async fn recent_totals(
    db: &Db,
    owner: Owner,
    id: &str,
    limit: i64,
) -> Result<Vec<Interval>, DbError> {
    let rows = sqlx::query(owner.recent())
        .bind(id)
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

/// Each tool's counts of `owner` `id` since `since`, summed, by tool name.
pub async fn tools_since(
    db: &Db,
    owner: Owner,
    id: &str,
    since: i64,
) -> Result<Vec<(String, Counts)>, DbError> {
    let rows = sqlx::query(owner.since())
        .bind(id)
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
