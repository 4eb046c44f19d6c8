//! `GET` and `PUT /api/v1/servers/{namespace}/{name}/curation`: the admin's view and change of
//! which tools a server publishes.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::{JsonBody, NoSuchServer, ServerPath};
use crate::auth::Principal;
use crate::db::{Db, DbError};
use crate::registry::model::ToolDef;
use crate::registry::publish::published_tools;
use crate::registry::store::SnapshotStore;
use crate::registry::RegistryState;

use super::{curated_tools, store, validate, Curation};

/// A server's curation with the tools before and after it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurationView {
    /// The stored curation.
    pub curation: Curation,
    /// The published tools before curation.
    pub published: Vec<ToolDef>,
    /// The tools consumers see after it.
    pub curated: Vec<ToolDef>,
}

/// The curation routes.
pub fn routes() -> Router<RegistryState> {
    Router::new().route(
        "/api/v1/servers/{namespace}/{name}/curation",
        get(show).put(replace),
    )
}

/// `GET …/curation`: the stored curation, the published tools before it and the tools
/// consumers see after it.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/curation", operation_id = "get_curation", tag = "curation",
    params(ServerPath),
    responses((status = 200, description = "The curation, the published tools before it and the tools consumers see", body = CurationView),
               (status = 403, description = "Not an admin", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn show(
    State(state): State<RegistryState>,
    principal: Principal,
    server: ServerPath,
) -> Result<Json<CurationView>, ApiError> {
    let (_, id) = state
        .servers
        .admin_of(&principal, Action::Curate, &server)
        .await?;
    let curation = store::load(&state.db, &id).await?;
    let published = published_of(&state.db, &id).await?;
    Ok(Json(view(&curation, &published)))
}

/// `PUT …/curation`: replaces the curation. The gateway and the registry use it at once.
#[utoipa::path(put, path = "/api/v1/servers/{namespace}/{name}/curation", operation_id = "replace_curation", tag = "curation",
    params(ServerPath),
    request_body(content = Curation, description = "Allow and deny globs, hidden tools and per-tool overrides"),
    responses((status = 200, description = "Stored; the same view as GET", body = CurationView),
               (status = 403, description = "Not an admin, or a cross-site request", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn replace(
    State(state): State<RegistryState>,
    principal: Principal,
    server: ServerPath,
    body: JsonBody,
) -> Result<Json<CurationView>, ApiError> {
    let (actor, id) = state
        .servers
        .admin_of(&principal, Action::Curate, &server)
        .await?;
    let curation: Curation = body.decode()?;
    let published = published_of(&state.db, &id).await?;
    validate(&curation, &published)?;
    save_everywhere(&state, &server, &id, &curation, actor.into()).await?;
    Ok(Json(view(&curation, &published)))
}

/// Stores a validated curation of `server` (database id `id`) for `actor`: first the
/// cluster's `MCPToolConfig` in Kubernetes mode (when the cluster refuses, nothing is saved),
/// then the database with its audit event; the gateway uses it at once.
pub(crate) async fn save_everywhere(
    state: &RegistryState,
    server: &ServerPath,
    id: &str,
    curation: &Curation,
    actor: crate::audit::Actor<'_>,
) -> Result<(), ApiError> {
    let (namespace, name) = server.pair();
    if let Some(client) = &state.kube {
        super::cluster::apply(client, namespace, name, curation)
            .await
            .map_err(|error| ApiError::Rejected {
                status: axum::http::StatusCode::BAD_GATEWAY,
                message: format!(
                    "the Kubernetes API refused the MCPToolConfig {namespace}/{name}: {error}; nothing was saved"
                ),
            })?;
    }
    store::save(&state.db, id, &server.to_string(), curation, actor).await?;
    state.gateway.forget(namespace, name);
    Ok(())
}

fn view(curation: &Curation, published: &[ToolDef]) -> CurationView {
    let curated = curated_tools(published, None, None, curation);
    CurationView {
        curation: curation.clone(),
        published: published.to_vec(),
        curated: curated.tools,
    }
}

/// The tools server `id` publishes before curation.
pub(crate) async fn published_of(db: &Db, id: &str) -> Result<Vec<ToolDef>, DbError> {
    let snapshots = SnapshotStore::new(db.clone());
    let Some(baseline) = snapshots.baseline(id).await? else {
        return Ok(Vec::new());
    };
    let latest = snapshots.latest(id).await?;
    Ok(published_tools(
        &baseline.tools,
        latest.as_ref().map(|l| l.tools.as_slice()),
        latest.as_ref().and_then(|l| l.drift.as_ref()),
    ))
}
