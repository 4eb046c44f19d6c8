use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::db::Db;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
pub async fn live() -> &'static str {
    "ok"
}

/// How long readiness waits for the database: well under a probe's timeout, so a database
/// that does not answer reads as a 503 rather than a probe timeout.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Readiness: the database answers within [`READY_TIMEOUT`].
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = String), (status = 503, description = "The database does not answer", body = String)))]
pub async fn ready(State(db): State<Db>) -> impl IntoResponse {
    let answered = tokio::time::timeout(READY_TIMEOUT, db.ping()).await;
    match answered {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database does not answer",
            )
        }
        Err(_) => {
            tracing::warn!(timeout = ?READY_TIMEOUT, "not ready: the database does not answer in time");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database does not answer",
            )
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String)))]
pub async fn metrics(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
