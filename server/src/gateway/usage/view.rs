//! What the gateway measured, as the console shows it: the chart of calls per sampling
//! interval and the table of each tool's calls over the last day. Shared by the pages of
//! servers and of virtual servers.

use apiary_app::model::server_detail::{CallPoint, ToolUsage};

use super::store::{self, Interval, Owner};
use super::Counts;
use crate::db::{Db, DbError};
use crate::display_time::display_time;

/// The most sampling intervals a chart shows.
pub const CHART_SAMPLES: i64 = 200;

/// The span of the table of each tool's calls.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The chart's points, oldest first.
pub fn call_points(intervals: &[Interval]) -> Vec<CallPoint> {
    intervals
        .iter()
        .map(|c| CallPoint {
            at_ms: c.at,
            at_label: display_time(c.at),
            calls: c.calls,
            errors: c.errors,
            p50_ms: c.p50_ms,
            p95_ms: c.p95_ms,
        })
        .collect()
}

/// Each tool's calls of `owner` `id` over the last day, by tool name.
pub async fn tool_usage(db: &Db, owner: Owner, id: &str) -> Result<Vec<ToolUsage>, DbError> {
    let since = crate::db::now_millis() - DAY_MS;
    Ok(store::tools_since(db, owner, id, since)
        .await?
        .into_iter()
        .map(|(tool, counts): (String, Counts)| ToolUsage {
            tool,
            calls: counts.calls,
            errors: counts.errors,
            p50_ms: counts.quantile_ms(0.5),
            p95_ms: counts.quantile_ms(0.95),
        })
        .collect())
}
