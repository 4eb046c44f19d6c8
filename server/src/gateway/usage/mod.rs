//! What the gateway measured, kept for the console and the registry's health: every call lands
//! in its tool's [`Window`] (atomics only), and every sampling interval the windows are taken
//! and written as rows, one per tool plus one total per server: `gateway_samples` for servers,
//! `virtual_samples` for virtual servers.
//!
//! Prometheus' `/metrics` shows the same calls for this one process; these rows are the fleet's
//! history that the console plots and that sets health: each replica writes its own rows, at
//! the start of the sampling period, and readers add up the rows of one period.

pub mod retention;
pub mod store;
pub mod view;
mod window;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::{Db, DbError};

pub use window::{Counts, Window, BUCKETS_MS, BUCKET_COUNT};

/// The windows of every tool the gateway has served, by `(namespace/name, tool)`.
#[derive(Debug, Default)]
pub struct Usage {
    windows: Mutex<HashMap<(String, String), Arc<Window>>>,
}

impl Usage {
    /// The window of `tool` (its published name) on `server`; made once and shared, so
    /// reloading a server's target keeps counting into the same window.
    pub fn window(&self, server: &str, tool: &str) -> Arc<Window> {
        self.lock()
            .entry((server.to_owned(), tool.to_owned()))
            .or_default()
            .clone()
    }

    /// Takes every window with calls: per server, its tools' counts.
    pub fn take(&self) -> HashMap<String, Vec<(String, Counts)>> {
        let mut taken: HashMap<String, Vec<(String, Counts)>> = HashMap::new();
        for ((server, tool), window) in self.lock().iter() {
            let counts = window.take();
            if counts.calls > 0 {
                taken
                    .entry(server.clone())
                    .or_default()
                    .push((tool.clone(), counts));
            }
        }
        taken
    }

    /// Takes the windows and writes them to `db`, stamped with the start of the current
    /// sampling `period`: every replica's rows for one period share that time, so readers add
    /// them up into the fleet's. The number of rows written.
    pub async fn flush(&self, db: &Db, period: Duration) -> Result<usize, DbError> {
        let taken = self.take();
        if taken.is_empty() {
            return Ok(0);
        }
        let now = crate::db::now_millis();
        let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1);
        store::write(db, now - now.rem_euclid(period_ms), &taken).await
    }

    /// Flushes every `interval` until `shutdown`, and once more then.
    pub fn spawn_periodic(
        self: Arc<Self>,
        db: Db,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                let stop = tokio::select! {
                    _ = ticks.tick() => false,
                    () = shutdown.cancelled() => true,
                };
                if let Err(error) = self.flush(&db, interval).await {
                    tracing::warn!(%error, "cannot store the gateway's measurements");
                }
                if stop {
                    break;
                }
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<Window>>> {
        crate::locks::lock(&self.windows)
    }
}
