//! `GET /api/v1/servers/{namespace}/{name}/revisions/diff?from=A&to=B`: a unified diff of two
//! applied revisions' manifests, so any two can be compared.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::ServerPath;
use crate::auth::Principal;
use crate::db::Db;
use crate::validation::FieldError;

use super::revisions;

/// The diff route.
pub fn routes() -> Router<Db> {
    Router::new().route(
        "/api/v1/servers/{namespace}/{name}/revisions/diff",
        get(diff),
    )
}

/// Which two revisions.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DiffQuery {
    /// The older revision's number.
    from: i64,
    /// The newer revision's number.
    to: i64,
}

/// The unified diff of revision `from`'s manifest to revision `to`'s.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/revisions/diff", operation_id = "diff_revisions", tag = "onboarding",
    params(ServerPath, DiffQuery),
    responses((status = 200, description = "A unified diff of the two manifests (empty when equal)", content_type = "text/plain", body = String),
               (status = 404, description = "No such revision", body = crate::validation::ErrorBody),
               (status = 422, description = "`from` and `to` are the same revision; `field` names `to`", body = crate::validation::ErrorBody)))]
pub async fn diff(
    State(db): State<Db>,
    principal: Principal,
    server: ServerPath,
    Query(query): Query<DiffQuery>,
) -> Result<Response, ApiError> {
    principal.require(Action::Browse, None)?;
    if query.from == query.to {
        return Err(FieldError::new("to", "pick two different revisions to compare").into());
    }
    let all = revisions::list(&db, &server.namespace, &server.name).await?;
    let find = |number: i64| {
        all.iter()
            .find(|r| r.number == number)
            .ok_or_else(|| ApiError::NotFound(format!("{server} has no revision {number}")))
    };
    let (old, new) = (find(query.from)?, find(query.to)?);
    let text = similar::TextDiff::from_lines(&old.manifest, &new.manifest)
        .unified_diff()
        .header(
            &format!("{server} revision {}", old.number),
            &format!("{server} revision {}", new.number),
        )
        .to_string();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
