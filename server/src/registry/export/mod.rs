//! Exports for orchestrators and clients: a LiteLLM `mcp_servers` config, a ToolHive
//! `registry.json` (upstream format), and per-server connection snippets. Every export points
//! at Apiary's gateway, which serves only the curated tools.

mod litellm;
mod snippets;
mod toolhive;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::api_error::ApiError;
use crate::api_request::ServerPath;

use super::api::{find_published, published};
use super::listing::Query;
use super::RegistryState;

pub use litellm::{
    fleet_litellm_name, litellm_config, litellm_name, litellm_names, LiteLlmConfig, LiteLlmServer,
};
pub use snippets::{client_snippets, labelled_snippets, ClientSnippets};
pub use toolhive::{toolhive_registry, ToolHiveRegistry};

/// Export routes.
pub fn routes() -> Router<RegistryState> {
    Router::new()
        .route("/api/v1/exports/litellm.yaml", get(litellm))
        .route("/api/v1/exports/toolhive-registry.json", get(toolhive))
        .route("/api/v1/servers/{namespace}/{name}/snippets", get(snippets))
}

#[utoipa::path(get, path = "/api/v1/exports/litellm.yaml", operation_id = "export_litellm", tag = "exports",
    responses((status = 200, description = "LiteLLM config (YAML): `mcp_servers` maps each published server to its gateway `url`, `transport` and `description`", content_type = "application/yaml", body = LiteLlmConfig)))]
pub async fn litellm(State(state): State<RegistryState>) -> Result<impl IntoResponse, ApiError> {
    let servers = published(&state, &Query::default()).await?;
    let yaml = serde_yaml::to_string(&litellm_config(&servers, &state.settings.public_url))
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok((
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        yaml,
    ))
}

#[utoipa::path(get, path = "/api/v1/exports/toolhive-registry.json", operation_id = "export_toolhive", tag = "exports",
    responses((status = 200, description = "ToolHive registry (upstream format)", body = ToolHiveRegistry)))]
pub async fn toolhive(
    State(state): State<RegistryState>,
) -> Result<Json<ToolHiveRegistry>, ApiError> {
    let servers = published(&state, &Query::default()).await?;
    Ok(Json(toolhive_registry(
        &servers,
        &state.settings.public_url,
        crate::db::now_millis(),
    )))
}

#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/snippets", operation_id = "get_snippets", tag = "exports",
    params(ServerPath),
    responses((status = 200, description = "VS Code, Claude Desktop, Cursor and LiteLLM snippets", body = ClientSnippets),
               (status = 404, description = "No published server of that name", body = crate::validation::ErrorBody)))]
pub async fn snippets(
    State(state): State<RegistryState>,
    path: ServerPath,
) -> Result<Json<ClientSnippets>, ApiError> {
    let server = find_published(&state, &path.namespace, &path.name).await?;
    let litellm = fleet_litellm_name(&state.db, &server.namespace, &server.name).await?;
    Ok(Json(client_snippets(
        &server.namespace,
        &server.name,
        &state.settings.public_url,
        litellm,
    )))
}
