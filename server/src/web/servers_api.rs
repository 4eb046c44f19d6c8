use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::catalog::{ServerRegistration, ServerStore};
use crate::runtime::{desired, Runtime, ServerId};

use super::ApiError;

/// `PUT /api/v1/servers/{namespace}/{name}`: registers or replaces a server (201 or 200), then
/// brings the runtime in line with it.
pub async fn register(
    State(servers): State<ServerStore>,
    State(db): State<crate::db::Db>,
    State(runtime): State<std::sync::Arc<dyn Runtime>>,
    Path((namespace, name)): Path<(String, String)>,
    body: Result<Json<ServerRegistration>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(registration) = body?;
    let created = servers
        .register(&namespace, &name, &registration, "local-admin")
        .await?;
    desired::sync(&db, runtime.as_ref(), &ServerId::new(&namespace, &name)).await;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "namespace": namespace, "name": name })),
    ))
}
