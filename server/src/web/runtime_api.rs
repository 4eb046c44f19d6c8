use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::api_error::ApiError;
use crate::api_request::ServerPath;
use crate::config::{Runtime as RuntimeMode, Settings};
use crate::db::Db;
use crate::runtime::desired::{self, Desired};
use crate::runtime::{AnyRuntime, LogLine, RuntimeStatus, ServerId};

/// The answer of `GET …/runtime`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuntimeView {
    /// `namespace/name`.
    pub server: String,
    /// The runtime's status.
    #[serde(flatten)]
    pub status: RuntimeStatus,
    /// The last lines the server wrote, oldest first.
    pub logs: Vec<LogLine>,
}

/// `GET /api/v1/servers/{namespace}/{name}/runtime`: the server's runtime status and its last
/// log lines; 422 naming the field when its spec cannot run here, 404 when nothing should run.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/runtime", operation_id = "get_runtime", tag = "servers",
    params(ServerPath),
    responses((status = 200, description = "The runtime status and the last log lines", body = RuntimeView),
               (status = 404, description = "No such server, or nothing runs for it (not published, not yet started, or no MCPServer in the cluster)", body = crate::validation::ErrorBody),
               (status = 422, description = "The stored spec cannot run here; `field` names the field", body = crate::validation::ErrorBody)))]
pub async fn status(
    State(runtime): State<AnyRuntime>,
    State(db): State<Db>,
    State(settings): State<Arc<Settings>>,
    server: ServerPath,
) -> Result<Json<RuntimeView>, ApiError> {
    let id = ServerId::new(server.namespace, server.name);
    let runtime = runtime.reach();
    if let Some(status) = runtime.status(&id).await {
        let logs = runtime.logs(&id).await;
        return Ok(Json(RuntimeView {
            server: id.to_string(),
            status,
            logs,
        }));
    }
    if settings.runtime == RuntimeMode::Kubernetes {
        return Err(ApiError::NotFound(format!(
            "{id} has no MCPServer in the cluster; an approved proposal applies one"
        )));
    }
    match desired::load_one(&db, &id).await? {
        Desired::Unknown => Err(ApiError::NotFound(format!("there is no server {id}"))),
        Desired::Idle { reason } => {
            Err(ApiError::NotFound(format!("{reason}, so it does not run")))
        }
        Desired::Invalid(error) => Err(error.into()),
        Desired::Run(_) => Err(ApiError::NotFound(format!(
            "{id} is not running yet; try again shortly"
        ))),
    }
}
