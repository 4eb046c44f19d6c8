//! `GET` and `PUT /api/v1/servers/{namespace}/{name}/access`: the admin's view and change of
//! who may use a server through the gateway.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::{JsonBody, NoSuchServer, ServerPath};
use crate::auth::Principal;
use crate::gateway::GatewayState;

use super::{store, Access};

/// The access routes.
pub fn routes() -> Router<GatewayState> {
    Router::new().route(
        "/api/v1/servers/{namespace}/{name}/access",
        get(show).put(replace),
    )
}

/// `GET …/access`: the server's gateway access policy.
#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/access", operation_id = "get_access", tag = "gateway",
    params(ServerPath),
    responses((status = 200, description = "The policy", body = Access),
               (status = 403, description = "Not an admin", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn show(
    State(state): State<GatewayState>,
    principal: Principal,
    server: ServerPath,
) -> Result<Json<Access>, ApiError> {
    let (_, id) = state
        .servers
        .admin_of(&principal, Action::Curate, &server)
        .await?;
    Ok(Json(store::load(&state.db, &id).await?))
}

/// `PUT …/access`: replaces the policy; the gateway applies it to the next request.
#[utoipa::path(put, path = "/api/v1/servers/{namespace}/{name}/access", operation_id = "replace_access", tag = "gateway",
    params(ServerPath),
    request_body(content = Access, description = "Anonymous access, or the roles and teams that may use the endpoint"),
    responses((status = 200, description = "Stored", body = Access),
               (status = 403, description = "Not an admin, or a cross-site request", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn replace(
    State(state): State<GatewayState>,
    principal: Principal,
    server: ServerPath,
    body: JsonBody,
) -> Result<Json<Access>, ApiError> {
    let (actor, id) = state
        .servers
        .admin_of(&principal, Action::Curate, &server)
        .await?;
    let access: Access = body.decode()?;
    access.validate()?;
    store::save(&state.db, &id, &server.to_string(), &access, actor.into()).await?;
    state.gateway.forget(&server.namespace, &server.name);
    Ok(Json(access))
}
