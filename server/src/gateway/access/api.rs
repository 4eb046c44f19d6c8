//! `GET` and `PUT /api/v1/servers/{namespace}/{name}/access`: the admin's view and change of
//! who may use a server through the gateway.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use apiary_app::access::Action;

use crate::api_error::ApiError;
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
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The policy", body = Access),
               (status = 403, description = "Not an admin", body = crate::validation::ErrorBody),
               (status = 404, description = "No such server", body = crate::validation::ErrorBody)))]
pub async fn show(
    State(state): State<GatewayState>,
    principal: Principal,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Access>, ApiError> {
    let (_, id) = state
        .servers
        .admin_of(&principal, Action::Curate, &namespace, &name)
        .await?;
    let access = store::load(&state.db, &id).await?;
    Ok(Json(access))
}

/// `PUT …/access`: replaces the policy; the gateway applies it to the next request.
#[utoipa::path(put, path = "/api/v1/servers/{namespace}/{name}/access", operation_id = "replace_access", tag = "gateway",
    params(("namespace" = String, Path), ("name" = String, Path)),
    request_body(content = Access, description = "Anonymous access, or the roles and teams that may use the endpoint"),
    responses((status = 200, description = "Stored", body = Access),
               (status = 400, description = "Malformed JSON", body = crate::validation::ErrorBody),
               (status = 401, description = "No session", body = crate::validation::ErrorBody),
               (status = 403, description = "Not an admin, or a cross-site request", body = crate::validation::ErrorBody),
               (status = 404, description = "No such server", body = crate::validation::ErrorBody),
               (status = 422, description = "A field is invalid; `field` names it", body = crate::validation::ErrorBody)))]
pub async fn replace(
    State(state): State<GatewayState>,
    principal: Principal,
    Path((namespace, name)): Path<(String, String)>,
    body: Result<Json<Access>, JsonRejection>,
) -> Result<Json<Access>, ApiError> {
    let actor = principal.require(Action::Curate, None)?;
    let Json(access) = body?;
    access.validate()?;
    let id = state.servers.id_or_404(&namespace, &name).await?;
    store::save(
        &state.db,
        &id,
        &format!("{namespace}/{name}"),
        &access,
        actor.into(),
    )
    .await?;
    state.gateway.forget(&namespace, &name);
    Ok(Json(access))
}
