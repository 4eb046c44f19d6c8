//! The fleet-wide refresh an admin starts from the console: every published server's tools
//! fetched in a background task, a few at a time ([`super::refresh::FLEET_CONCURRENCY`]), with
//! its progress (n of m done, the servers being fetched, the failures) kept for the page that
//! polls it. One runs at a time.

use std::sync::{Arc, Mutex};

use futures::StreamExt;

use apiary_app::model::refresh::{FleetFailure, FleetProgress};

use crate::db::now_millis;
use crate::display_time::display_time;

use super::refresh::{RefreshOutcome, Refresher};

/// The newest fleet refresh and its progress, shared by every request.
#[derive(Clone, Debug, Default)]
pub struct FleetRefresh {
    progress: Arc<Mutex<FleetProgress>>,
}

impl FleetRefresh {
    /// The progress of the newest fleet refresh.
    pub fn progress(&self) -> FleetProgress {
        crate::locks::lock(&self.progress).clone()
    }

    fn update(&self, change: impl FnOnce(&mut FleetProgress)) {
        change(&mut crate::locks::lock(&self.progress));
    }

    /// Starts refreshing `servers` with `refresher` on behalf of `by`, unless a fleet refresh
    /// runs already; returns false then.
    pub fn start(&self, refresher: Refresher, servers: Vec<(String, String)>, by: &str) -> bool {
        {
            let mut progress = crate::locks::lock(&self.progress);
            if progress.running {
                return false;
            }
            *progress = FleetProgress {
                running: true,
                started: true,
                started_by: by.to_owned(),
                started_label: display_time(now_millis()),
                total: servers.len(),
                ..FleetProgress::default()
            };
        }
        let job = self.clone();
        tokio::spawn(async move {
            let shown = job.clone();
            let starting = move |namespace: &str, name: &str| {
                shown.update(|p| p.in_flight.push(format!("{namespace}/{name}")));
            };
            let mut done = std::pin::pin!(refresher.refresh_each(servers, starting));
            while let Some(((namespace, name), outcome)) = done.next().await {
                let server = format!("{namespace}/{name}");
                let failure = match outcome {
                    Ok(RefreshOutcome::Fetched { snapshot, .. }) => {
                        if snapshot == "drift" {
                            job.update(|p| p.drift += 1);
                        }
                        None
                    }
                    Ok(RefreshOutcome::Failed { error }) => Some(error),
                    Ok(RefreshOutcome::Unreachable { reason }) => Some(reason),
                    Err(error) => Some(error.to_string()),
                };
                job.update(|p| {
                    p.done += 1;
                    p.in_flight.retain(|s| *s != server);
                    if let Some(error) = failure {
                        p.failures.push(FleetFailure { server, error });
                    }
                });
            }
            job.update(|p| {
                p.running = false;
                p.in_flight.clear();
                p.finished_label = display_time(now_millis());
            });
        });
        true
    }
}
