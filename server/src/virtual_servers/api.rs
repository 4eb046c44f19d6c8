//! `/api/v1/virtual-servers`: list, show, preview, save and remove virtual servers. Saving and
//! removing are the admin's (`register` right, as for registering a server directly); every
//! save is validated and composed the same way, and a conflict no rule resolves is a 422.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::{JsonBody, ServerPath};
use crate::auth::Principal;
use crate::db::Db;
use crate::gateway::Gateway;
use crate::registry::listing::ListingCache;
use crate::registry::server_json::gateway_url;
use crate::registry::RegistrySettings;

use super::compose::{Composition, Shadowed};
use super::model::VirtualSpec;
use super::store::{self, SaveError, VirtualServer};
use super::views::compose_now;

/// What the virtual server API reaches.
#[derive(Clone)]
pub struct VirtualServersState {
    /// The database.
    pub db: Db,
    /// The gateway, which serves a change at once.
    pub gateway: Gateway,
    /// The registry's settings (the public URL of the endpoints).
    pub registry: Arc<RegistrySettings>,
}

/// The routes.
pub fn routes() -> Router<VirtualServersState> {
    Router::new()
        .route("/api/v1/virtual-servers", get(list))
        .route(
            "/api/v1/virtual-servers/{namespace}/{name}",
            get(show).put(save).delete(remove),
        )
        .route(
            "/api/v1/virtual-servers/{namespace}/{name}/preview",
            post(preview),
        )
}

/// A virtual server with what it shows now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualServerView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Its MCP endpoint.
    pub url: String,
    /// Its definition.
    pub spec: VirtualSpec,
    /// The tools its clients see, in order.
    pub tools: Vec<ExposedToolView>,
    /// Tools left out because a member listed earlier in `priority` has one of that name.
    pub shadowed: Vec<Shadowed>,
    /// Members not published now; their tools are not shown.
    pub unresolved: Vec<String>,
    /// Name conflicts that arose after saving; the later tool is not shown.
    pub conflicts: Vec<String>,
}

/// One tool a virtual server shows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExposedToolView {
    /// The name its clients call.
    pub name: String,
    /// The description its clients see.
    pub description: Option<String>,
    /// The member server, `namespace/name`.
    pub member: String,
    /// The tool's name on the member's endpoint.
    pub member_tool: String,
}

fn view_of(
    state: &VirtualServersState,
    (namespace, name): (&str, &str),
    spec: VirtualSpec,
    composition: Composition,
) -> VirtualServerView {
    VirtualServerView {
        url: gateway_url(&state.registry.public_url, namespace, name),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        spec,
        tools: composition
            .tools
            .into_iter()
            .map(|t| ExposedToolView {
                name: t.tool.name,
                description: t.tool.description,
                member: t.member,
                member_tool: t.member_tool,
            })
            .collect(),
        shadowed: composition.shadowed,
        unresolved: composition.unresolved,
        conflicts: composition.conflicts,
    }
}

async fn composed(
    state: &VirtualServersState,
    server: VirtualServer,
) -> Result<VirtualServerView, ApiError> {
    let (namespace, name) = (server.namespace.clone(), server.name.clone());
    let view = compose_now(&state.db, server, &ListingCache::default()).await?;
    Ok(view_of(
        state,
        (&namespace, &name),
        view.server.spec,
        view.composition,
    ))
}

/// `GET /api/v1/virtual-servers`: every virtual server with what it shows now.
#[utoipa::path(get, path = "/api/v1/virtual-servers", tag = "virtual-servers", operation_id = "list_virtual_servers",
    responses((status = 200, description = "The virtual servers", body = [VirtualServerView]),
               (status = 403, description = "No Apiary role", body = crate::validation::ErrorBody)))]
pub async fn list(
    State(state): State<VirtualServersState>,
    principal: Principal,
) -> Result<Json<Vec<VirtualServerView>>, ApiError> {
    principal.require(Action::Browse, None)?;
    let mut views = Vec::new();
    for server in store::list(&state.db).await? {
        views.push(composed(&state, server).await?);
    }
    Ok(Json(views))
}

/// `GET /api/v1/virtual-servers/{namespace}/{name}`: one virtual server with what it shows.
#[utoipa::path(get, path = "/api/v1/virtual-servers/{namespace}/{name}", tag = "virtual-servers", operation_id = "get_virtual_server",
    params(ServerPath),
    responses((status = 200, description = "The virtual server", body = VirtualServerView),
               (status = 403, description = "No Apiary role", body = crate::validation::ErrorBody),
               (status = 404, description = "No such virtual server", body = crate::validation::ErrorBody)))]
pub async fn show(
    State(state): State<VirtualServersState>,
    principal: Principal,
    server: ServerPath,
) -> Result<Json<VirtualServerView>, ApiError> {
    principal.require(Action::Browse, None)?;
    let found = store::load(&state.db, &server.namespace, &server.name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no virtual server {server}")))?;
    Ok(Json(composed(&state, found).await?))
}

/// Validates and composes `body` for `server` as saving does.
async fn checked(
    state: &VirtualServersState,
    server: &ServerPath,
    body: &JsonBody,
) -> Result<(VirtualSpec, Composition), ApiError> {
    let spec: VirtualSpec = body.decode()?;
    let composition = super::check(&state.db, server.pair(), &spec)
        .await
        .map_err(save_error)?;
    Ok((spec, composition))
}

/// The answer for a refused save: 422 naming the field, or the database's failure.
pub fn save_error(error: SaveError) -> ApiError {
    match error {
        SaveError::Invalid(errors) => ApiError::Invalid(errors),
        managed @ SaveError::Managed { .. } => ApiError::Rejected {
            status: StatusCode::CONFLICT,
            message: managed.to_string(),
        },
        SaveError::Db(error) => error.into(),
    }
}

/// `POST …/preview`: what the virtual server would show, without saving it.
#[utoipa::path(post, path = "/api/v1/virtual-servers/{namespace}/{name}/preview", tag = "virtual-servers", operation_id = "preview_virtual_server",
    params(ServerPath),
    request_body(content = VirtualSpec, description = "The definition to preview"),
    responses((status = 200, description = "What its clients would see", body = VirtualServerView),
               (status = 403, description = "Not an admin", body = crate::validation::ErrorBody),
               (status = 422, description = "A field is invalid, or two tools would share a name: `field` names it", body = crate::validation::ErrorBody)))]
pub async fn preview(
    State(state): State<VirtualServersState>,
    principal: Principal,
    server: ServerPath,
    body: JsonBody,
) -> Result<Json<VirtualServerView>, ApiError> {
    principal.require(Action::Register, None)?;
    let (spec, composition) = checked(&state, &server, &body).await?;
    Ok(Json(view_of(&state, server.pair(), spec, composition)))
}

/// `PUT /api/v1/virtual-servers/{namespace}/{name}`: creates or replaces it; its endpoint
/// serves the change at once.
#[utoipa::path(put, path = "/api/v1/virtual-servers/{namespace}/{name}", tag = "virtual-servers", operation_id = "save_virtual_server",
    params(ServerPath),
    request_body(content = VirtualSpec, description = "The definition"),
    responses((status = 200, description = "Replaced", body = VirtualServerView),
               (status = 201, description = "Created", body = VirtualServerView),
               (status = 403, description = "Not an admin, or a cross-site request", body = crate::validation::ErrorBody),
               (status = 409, description = "Declared by a VirtualMCPServer in the cluster: change it there", body = crate::validation::ErrorBody),
               (status = 422, description = "A field is invalid, the name is a server's, or two tools would share a name: `field` names it", body = crate::validation::ErrorBody)))]
pub async fn save(
    State(state): State<VirtualServersState>,
    principal: Principal,
    server: ServerPath,
    body: JsonBody,
) -> Result<(StatusCode, Json<VirtualServerView>), ApiError> {
    let actor = principal.require(Action::Register, None)?;
    let (spec, composition) = checked(&state, &server, &body).await?;
    let created = store::save(&state.db, server.pair(), &spec, actor.into(), None)
        .await
        .map_err(save_error)?;
    state
        .gateway
        .forget_other(&server.namespace, &server.name, false);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(view_of(&state, server.pair(), spec, composition)),
    ))
}

/// `DELETE /api/v1/virtual-servers/{namespace}/{name}`: removes it and ends its sessions.
#[utoipa::path(delete, path = "/api/v1/virtual-servers/{namespace}/{name}", tag = "virtual-servers", operation_id = "delete_virtual_server",
    params(ServerPath),
    responses((status = 204, description = "Removed"),
               (status = 403, description = "Not an admin, or a cross-site request", body = crate::validation::ErrorBody),
               (status = 404, description = "No such virtual server", body = crate::validation::ErrorBody),
               (status = 409, description = "Declared by a VirtualMCPServer in the cluster: change it there", body = crate::validation::ErrorBody)))]
pub async fn remove(
    State(state): State<VirtualServersState>,
    principal: Principal,
    server: ServerPath,
) -> Result<StatusCode, ApiError> {
    let actor = principal.require(Action::Register, None)?;
    let removed = store::delete(&state.db, server.pair(), actor.into(), None)
        .await
        .map_err(save_error)?;
    if !removed {
        return Err(ApiError::NotFound(format!("no virtual server {server}")));
    }
    state
        .gateway
        .forget_other(&server.namespace, &server.name, true);
    Ok(StatusCode::NO_CONTENT)
}
