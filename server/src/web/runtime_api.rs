use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::config::{Runtime as RuntimeMode, Settings};
use crate::db::Db;
use crate::runtime::desired::{self, Desired};
use crate::runtime::{Runtime, ServerId};

use super::ApiError;

/// `GET /api/v1/servers/{namespace}/{name}/runtime`: the server's runtime status and its last
/// log lines; 422 naming the field when its spec cannot run here, 404 when nothing should run.
pub async fn status(
    State(runtime): State<Arc<dyn Runtime>>,
    State(db): State<Db>,
    State(settings): State<Arc<Settings>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = ServerId::new(namespace, name);
    if let Some(status) = runtime.status(&id).await {
        let logs = runtime.logs(&id).await;
        let mut body = json!({ "server": id.to_string(), "logs": logs });
        if let (Some(body), Value::Object(status)) = (
            body.as_object_mut(),
            serde_json::to_value(status).map_err(|e| ApiError::Internal(e.to_string()))?,
        ) {
            body.extend(status);
        }
        return Ok(Json(body));
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
