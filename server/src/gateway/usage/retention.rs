//! How long measurements are kept: every hour, the gateway's rows (servers' and virtual
//! servers') and the fetches' health samples older than the retention are deleted, so the
//! tables stop growing with every sampling interval. Each server's newest health sample stays,
//! since its badge reads it. Every replica may run it: a delete by age is the same whoever
//! runs it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::{Db, DbError};
use crate::registry::store::SnapshotStore;

/// How often old rows are looked for.
const EVERY: Duration = Duration::from_secs(60 * 60);

/// Deletes what was measured more than `keep` before `now` (Unix milliseconds); the number
/// of rows deleted.
pub async fn prune(db: &Db, keep: Duration, now: i64) -> Result<u64, DbError> {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let before = now.saturating_sub(keep_ms);
    let usage = super::store::prune(db, before).await?;
    let health = SnapshotStore::new(db.clone()).prune_health(before).await?;
    Ok(usage + health)
}

/// Prunes now and then every hour until `shutdown`.
pub fn spawn(db: Db, keep: Duration, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {},
                () = shutdown.cancelled() => break,
            }
            match prune(&db, keep, crate::db::now_millis()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "old measurements deleted"),
                Err(error) => tracing::warn!(%error, "cannot delete old measurements"),
            }
        }
    })
}
