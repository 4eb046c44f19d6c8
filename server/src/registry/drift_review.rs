//! Drift reviews: a server whose newest tool snapshot differs from its approved baseline waits
//! for an owner of its team (or an admin) to approve the new tools. Until then consumers see
//! the baseline (added tools and broadened schemas stay unpublished); approval makes the
//! newest snapshot the baseline, audited.
//!
//! `GET /api/v1/drift-reviews` lists the open ones the caller may decide;
//! `POST /api/v1/servers/{namespace}/{name}/drift/approve` approves one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use apiary_app::access::{Action, Viewer};

use crate::api_error::ApiError;
use crate::api_request::{JsonBody, NoSuchServer, ServerPath};
use crate::audit::{record, AuditEvent};
use crate::auth::Principal;
use crate::db::{json_column, now_millis, Db, DbError};
use crate::validation::FieldError;

use super::model::SchemaDiff;
use super::RegistryState;

/// The answer of `GET /api/v1/drift-reviews`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DriftReviews {
    /// The open reviews the caller may approve.
    pub reviews: Vec<DriftReview>,
}

/// The answer of an approval.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Approved {
    /// The snapshot that is now the baseline.
    pub approved: String,
}

/// The drift review routes.
pub fn routes() -> Router<RegistryState> {
    Router::new()
        .route("/api/v1/drift-reviews", get(list))
        .route(
            "/api/v1/servers/{namespace}/{name}/drift/approve",
            post(approve),
        )
}

/// One server waiting for its drift to be approved.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftReview {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The team whose owners decide.
    pub owner_team: String,
    /// The snapshot an approval makes the baseline.
    pub snapshot_id: String,
    /// When it was fetched, Unix milliseconds.
    pub fetched_at: i64,
    /// What changed against the baseline.
    pub drift: SchemaDiff,
}

/// An approval: which snapshot (so a newer fetch is not approved unseen) and why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    /// The snapshot the reviewer looked at (`snapshotId` of the review).
    pub snapshot_id: String,
    /// Why the change is fine.
    pub comment: String,
}

/// The servers with open drift: the newest snapshot is not the approved baseline.
const OPEN_DRIFT: &str = "SELECT s.namespace, s.name, s.owner_team, l.id, l.fetched_at, l.drift \
     FROM servers s JOIN tool_snapshots l ON l.id = s.latest_snapshot_id \
     WHERE s.baseline_snapshot_id IS NOT NULL \
     AND s.latest_snapshot_id <> s.baseline_snapshot_id";

/// Every open drift review, by namespace and name.
pub async fn pending(db: &Db) -> Result<Vec<DriftReview>, DbError> {
    let rows = sqlx::query(&format!("{OPEN_DRIFT} ORDER BY s.namespace, s.name"))
        .fetch_all(db.pool())
        .await?;
    reviews(&rows)
}

/// The open drift review of `namespace/name`, if it has one.
pub async fn pending_for(
    db: &Db,
    namespace: &str,
    name: &str,
) -> Result<Option<DriftReview>, DbError> {
    let rows = sqlx::query(&format!(
        "{OPEN_DRIFT} AND s.namespace = $1 AND s.name = $2"
    ))
    .bind(namespace)
    .bind(name)
    .fetch_all(db.pool())
    .await?;
    Ok(reviews(&rows)?.pop())
}

/// The reviews of [`OPEN_DRIFT`] rows; a snapshot whose drift is empty (different bytes, no
/// structural change) is left out.
fn reviews(rows: &[sqlx::any::AnyRow]) -> Result<Vec<DriftReview>, DbError> {
    let mut reviews = Vec::new();
    for row in rows {
        let drift: Option<SchemaDiff> = json_column(row, "drift")?;
        let Some(drift) = drift.filter(|d| !d.is_empty()) else {
            continue;
        };
        reviews.push(DriftReview {
            namespace: row.try_get("namespace")?,
            name: row.try_get("name")?,
            owner_team: row.try_get("owner_team")?,
            snapshot_id: row.try_get("id")?,
            fetched_at: row.try_get("fetched_at")?,
            drift,
        });
    }
    Ok(reviews)
}

/// Why an approval did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    /// The snapshot is no longer the newest one, or was already approved.
    #[error("{0}")]
    Stale(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Makes `snapshot_id` the baseline of server `server_id` (called `target` in the audit log),
/// if it is still the newest snapshot and not yet approved; one transaction with its audit.
pub async fn approve_snapshot(
    db: &Db,
    server_id: &str,
    target: &str,
    snapshot_id: &str,
    (actor, comment): (crate::audit::Actor<'_>, &str),
) -> Result<(), ApproveError> {
    let mut tx = db.begin_write().await.map_err(DbError::from)?;
    let hashes: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT b.content_hash, l.content_hash FROM servers s \
         JOIN tool_snapshots l ON l.id = s.latest_snapshot_id \
         LEFT JOIN tool_snapshots b ON b.id = s.baseline_snapshot_id WHERE s.id = $1",
    )
    .bind(server_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(DbError::from)?;
    let moved = sqlx::query(
        "UPDATE servers SET baseline_snapshot_id = latest_snapshot_id, updated_at = $1 \
         WHERE id = $2 AND latest_snapshot_id = $3 \
         AND (baseline_snapshot_id IS NULL OR baseline_snapshot_id <> $3)",
    )
    .bind(now_millis())
    .bind(server_id)
    .bind(snapshot_id)
    .execute(&mut *tx)
    .await
    .map_err(DbError::from)?;
    if moved.rows_affected() == 0 {
        return Err(ApproveError::Stale(format!(
            "{target} has no open drift for snapshot {snapshot_id}: it was approved already, \
             or a newer fetch replaced it; reload the review"
        )));
    }
    let (before, after) = hashes.map_or((None, None), |(b, l)| (b, Some(l)));
    record(
        &mut tx,
        AuditEvent {
            comment: Some(comment),
            actor,
            action: "server.drift.approve",
            target,
            before_hash: before,
            after_hash: after,
        },
    )
    .await
    .map_err(DbError::from)?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}

/// `GET /api/v1/drift-reviews`: the open drift reviews the caller may approve.
#[utoipa::path(get, path = "/api/v1/drift-reviews", operation_id = "list_drift_reviews", tag = "registry-internal",
    responses((status = 200, description = "Open drift reviews the caller may approve", body = DriftReviews)))]
pub async fn list(
    State(state): State<RegistryState>,
    principal: Principal,
) -> Result<Json<DriftReviews>, ApiError> {
    let viewer = principal.require(Action::Browse, None)?;
    let reviews = pending(&state.db).await?;
    let mine: Vec<_> = reviews
        .into_iter()
        .filter(|r| viewer.may(Action::Review, Some(&r.owner_team)))
        .collect();
    Ok(Json(DriftReviews { reviews: mine }))
}

/// `POST …/drift/approve`: approves the newest snapshot's drift; owners of the server's team
/// and admins.
#[utoipa::path(post, path = "/api/v1/servers/{namespace}/{name}/drift/approve", operation_id = "approve_drift", tag = "registry-internal",
    params(ServerPath),
    request_body(content = Approval, description = "The snapshot reviewed and a comment"),
    responses((status = 200, description = "Approved: the snapshot is the baseline", body = Approved),
               (status = 403, description = "Not an owner of the server's team or an admin", body = crate::validation::ErrorBody),
               (status = 409, description = "Already approved, or a newer fetch replaced the snapshot", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn approve(
    State(state): State<RegistryState>,
    principal: Principal,
    server: ServerPath,
    body: JsonBody,
) -> Result<Json<Approved>, ApiError> {
    let viewer = state
        .servers
        .owner_of(&principal, Action::Review, &server)
        .await?;
    let approval: Approval = body.decode()?;
    approve_as(&state, viewer, &server, &approval).await?;
    Ok(Json(Approved {
        approved: approval.snapshot_id,
    }))
}

/// Approves for `viewer` (already authorized): checks the comment, moves the baseline, and
/// makes the registry and the gateway use it at once.
pub async fn approve_as(
    state: &RegistryState,
    viewer: &Viewer,
    server: &ServerPath,
    approval: &Approval,
) -> Result<(), ApiError> {
    if approval.comment.trim().is_empty() {
        return Err(FieldError::new(
            "comment",
            "say why the new tools are fine to publish; an approval needs a comment",
        )
        .into());
    }
    let id = state.servers.id_or_404(server).await?;
    let target = server.to_string();
    let comment = (viewer.into(), approval.comment.trim());
    approve_snapshot(&state.db, &id, &target, &approval.snapshot_id, comment)
        .await
        .map_err(|error| match error {
            ApproveError::Stale(message) => ApiError::Rejected {
                status: StatusCode::CONFLICT,
                message,
            },
            ApproveError::Db(error) => error.into(),
        })?;
    tracing::info!(server = %target, "drift approved");
    state.gateway.forget(&server.namespace, &server.name);
    Ok(())
}

/// The console's drift approvals, over the registry's state (the gateway forgets the server's
/// tools after an approval).
pub struct DriftApprovals(pub RegistryState);

#[async_trait::async_trait]
impl apiary_app::services::DriftService for DriftApprovals {
    async fn owner_team(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<String>, apiary_app::services::ServiceError> {
        self.0
            .servers
            .owner_team_of(namespace, name)
            .await
            .map_err(|error| service_error(error.into()))
    }

    async fn approve(
        &self,
        viewer: &Viewer,
        namespace: &str,
        name: &str,
        snapshot_id: &str,
        comment: &str,
    ) -> Result<(), apiary_app::services::ServiceError> {
        let approval = Approval {
            snapshot_id: snapshot_id.to_owned(),
            comment: comment.to_owned(),
        };
        let server = ServerPath {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        approve_as(&self.0, viewer, &server, &approval)
            .await
            .map_err(service_error)
    }
}

/// An API error as words the person can act on.
fn service_error(error: ApiError) -> apiary_app::services::ServiceError {
    let message = match error {
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "drift approval failed");
            "Apiary could not approve the drift; see the server log".to_owned()
        }
        other => other.to_string(),
    };
    apiary_app::services::ServiceError(message)
}
