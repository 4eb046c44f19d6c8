//! The console's tool refreshes ([`RefreshService`]): one server now, through the same
//! [`Refresher`] the API and the periodic refresh use, and the fleet-wide background job.

use async_trait::async_trait;

use apiary_app::access::Viewer;
use apiary_app::model::refresh::{FleetProgress, RefreshReport};
use apiary_app::services::{RefreshService, ServiceError};

use crate::db::DbError;
use crate::registry::fleet::FleetRefresh;
use crate::registry::refresh::{RefreshError, RefreshOutcome, Refresher};
use crate::servers::ServerStore;

/// Refreshes over the server records, the refresher and the shared fleet job.
#[derive(Clone)]
pub struct ConsoleRefresh {
    servers: ServerStore,
    refresher: Refresher,
    fleet: FleetRefresh,
}

impl ConsoleRefresh {
    /// Refreshes over `servers` with `refresher`; `fleet` is shared by every request.
    pub fn new(servers: ServerStore, refresher: Refresher, fleet: FleetRefresh) -> Self {
        Self {
            servers,
            refresher,
            fleet,
        }
    }
}

fn failed(error: DbError) -> ServiceError {
    tracing::error!(%error, "console refresh");
    ServiceError("the server records could not be read; try again".into())
}

/// The console's view of a refresh outcome.
pub fn report(outcome: RefreshOutcome) -> RefreshReport {
    match outcome {
        RefreshOutcome::Fetched {
            tool_count,
            snapshot,
            findings,
            latency_ms,
            startup_ms,
        } => RefreshReport::Fetched {
            tools: tool_count,
            snapshot: snapshot.into(),
            findings,
            latency_ms,
            startup_ms,
        },
        RefreshOutcome::Failed { error } => RefreshReport::Failed { error },
        RefreshOutcome::Unreachable { reason } => RefreshReport::Unreachable { error: reason },
    }
}

#[async_trait]
impl RefreshService for ConsoleRefresh {
    async fn owner_team(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<String>, ServiceError> {
        self.servers
            .owner_team_of(namespace, name)
            .await
            .map_err(failed)
    }

    async fn refresh(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<RefreshReport>, ServiceError> {
        match self.refresher.refresh(namespace, name).await {
            Ok(outcome) => Ok(Some(report(outcome))),
            Err(RefreshError::NotFound(_)) => Ok(None),
            Err(RefreshError::Db(error)) => Err(failed(error)),
        }
    }

    async fn start_fleet(&self, viewer: &Viewer) -> Result<FleetProgress, ServiceError> {
        if !self.fleet.progress().running {
            let servers = self.servers.published_ids().await.map_err(failed)?;
            if self
                .fleet
                .start(self.refresher.clone(), servers, &viewer.name)
            {
                tracing::info!(by = %viewer.subject, "fleet tool refresh started");
            }
        }
        Ok(self.fleet.progress())
    }

    fn fleet(&self) -> FleetProgress {
        self.fleet.progress()
    }
}
