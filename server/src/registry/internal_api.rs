//! JSON endpoints for the console and operators: every server's snapshots, drift and health,
//! published or not.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::{NoSuchServer, ServerPath};
use crate::auth::Principal;

use super::model::SchemaDiff;
use super::refresh::{RefreshError, RefreshOutcome};
use super::store::{HealthSample, SnapshotStore, StoredSnapshot};
use super::RegistryState;

/// The answer of `GET …/snapshots`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotHistory {
    /// The approved baseline snapshot's id, if there is one.
    pub baseline_id: Option<String>,
    /// Every snapshot, newest first.
    pub snapshots: Vec<StoredSnapshot>,
}

/// The answer of `GET …/drift`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftView {
    /// The approved baseline's content hash.
    pub baseline_hash: Option<String>,
    /// The newest snapshot's content hash.
    pub latest_hash: Option<String>,
    /// Whether the newest snapshot differs from the baseline and waits for approval.
    pub pending_approval: bool,
    /// The difference, while an approval is pending.
    pub diff: Option<SchemaDiff>,
}

/// The answer of `GET …/health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthHistory {
    /// The samples, oldest first.
    pub samples: Vec<HealthSample>,
}

/// Internal registry routes under `/api/v1/servers/{namespace}/{name}`.
pub fn routes() -> Router<RegistryState> {
    Router::new()
        .route(
            "/api/v1/servers/{namespace}/{name}/snapshots",
            get(snapshots),
        )
        .route("/api/v1/servers/{namespace}/{name}/drift", get(drift))
        .route("/api/v1/servers/{namespace}/{name}/health", get(health))
        .route("/api/v1/servers/{namespace}/{name}/refresh", post(refresh))
}

/// `GET …/snapshots`: every tool snapshot, newest first, with its findings and drift.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/snapshots", operation_id = "list_snapshots", tag = "registry-internal",
    params(ServerPath),
    responses((status = 200, description = "Tool snapshots, newest first", body = SnapshotHistory), NoSuchServer))]
pub async fn snapshots(
    State(state): State<RegistryState>,
    server: ServerPath,
) -> Result<Json<SnapshotHistory>, ApiError> {
    let id = state.servers.id_or_404(&server).await?;
    let store = SnapshotStore::new(state.db.clone());
    let history = store.history(&id).await?;
    let baseline = store.baseline(&id).await?;
    Ok(Json(SnapshotHistory {
        baseline_id: baseline.map(|b| b.id),
        snapshots: history,
    }))
}

/// `GET …/drift`: the newest snapshot's diff against the approved baseline.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/drift", operation_id = "get_drift", tag = "registry-internal",
    params(ServerPath),
    responses((status = 200, description = "Drift of the newest snapshot against the baseline", body = DriftView), NoSuchServer))]
pub async fn drift(
    State(state): State<RegistryState>,
    server: ServerPath,
) -> Result<Json<DriftView>, ApiError> {
    let id = state.servers.id_or_404(&server).await?;
    let store = SnapshotStore::new(state.db.clone());
    let baseline = store.baseline(&id).await?;
    let latest = store.latest(&id).await?;
    let pending = matches!((&baseline, &latest), (Some(b), Some(l)) if b.id != l.id);
    Ok(Json(DriftView {
        baseline_hash: baseline.map(|b| b.content_hash),
        latest_hash: latest.as_ref().map(|l| l.content_hash.clone()),
        pending_approval: pending,
        diff: latest.and_then(|l| l.drift).filter(|_| pending),
    }))
}

/// Query of `GET …/health`.
#[derive(Debug, Deserialize)]
pub struct HealthParams {
    /// How many samples.
    pub limit: Option<i64>,
}

/// `GET …/health?limit=N`: the newest health samples, oldest first.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/health", operation_id = "get_server_health", tag = "registry-internal",
    params(ServerPath,
           ("limit" = Option<i64>, Query, description = "How many samples, 1 to 1000 (default 100)")),
    responses((status = 200, description = "Health samples, oldest first", body = HealthHistory),
               (status = 400, description = "Bad limit", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn health(
    State(state): State<RegistryState>,
    server: ServerPath,
    Query(params): Query<HealthParams>,
) -> Result<Json<HealthHistory>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_parameter(
            "limit",
            "use a number from 1 to 1000",
        ));
    }
    let id = state.servers.id_or_404(&server).await?;
    let samples = SnapshotStore::new(state.db.clone())
        .health_history(&id, limit)
        .await?;
    Ok(Json(HealthHistory { samples }))
}

/// `POST …/refresh`: fetches the server's tools now and reports what was recorded.
#[utoipa::path(post, path = "/api/v1/servers/{namespace}/{name}/refresh", operation_id = "refresh_server", tag = "registry-internal",
    params(ServerPath),
    responses((status = 200, description = "The outcome: fetched, failed or unreachable", body = RefreshOutcome),
               (status = 403, description = "Not an owner of the server's team or an admin", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn refresh(
    State(state): State<RegistryState>,
    principal: Principal,
    server: ServerPath,
) -> Result<Json<RefreshOutcome>, ApiError> {
    state
        .servers
        .owner_of(&principal, Action::Refresh, &server)
        .await?;
    match state
        .refresher
        .refresh(&server.namespace, &server.name)
        .await
    {
        Ok(outcome) => Ok(Json(outcome)),
        Err(RefreshError::NotFound(id)) => Err(ApiError::NotFound(format!("no server {id}"))),
        Err(RefreshError::Db(error)) => Err(error.into()),
    }
}
