//! Exports for orchestrators and clients: a LiteLLM `mcp_servers` config, a ToolHive
//! `registry.json` (upstream format), and per-server connection snippets. Every export points
//! at Apiary's gateway, which serves only the curated tools.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::web::AppState;

use super::api::{find_published, RegistryError};
use super::listing::{list_published, PublishedServer, Query};
use super::server_json::{gateway_url, rfc3339, server_detail};

/// Export routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/exports/litellm.yaml", get(litellm))
        .route("/api/v1/exports/toolhive-registry.json", get(toolhive))
        .route("/api/v1/servers/{namespace}/{name}/snippets", get(snippets))
}

/// The LiteLLM server name of `namespace/name`: LiteLLM prefixes tools with it and splits on
/// `-`, so only `_`.
pub fn litellm_name(namespace: &str, name: &str) -> String {
    format!("{namespace}_{name}").replace('-', "_")
}

/// LiteLLM's `mcp_servers` map for `servers`.
pub fn litellm_config(servers: &[PublishedServer], public_url: &str) -> Value {
    let entries: Map<String, Value> = servers
        .iter()
        .map(|s| {
            let entry = json!({
                "url": gateway_url(public_url, &s.namespace, &s.name),
                "transport": "http",
                "description": s.description,
            });
            (litellm_name(&s.namespace, &s.name), entry)
        })
        .collect();
    json!({ "mcp_servers": entries })
}

/// ToolHive's upstream registry format: server.json entries in an envelope.
pub fn toolhive_registry(servers: &[PublishedServer], public_url: &str, now_millis: i64) -> Value {
    let entries: Vec<Value> = servers
        .iter()
        .map(|s| {
            let mut detail = serde_json::to_value(server_detail(s, public_url))
                .expect("a server.json serializes");
            let extension = json!({
                "status": if s.lifecycle == "deprecated" { "Deprecated" } else { "Active" },
                "tier": "Official",
                "tools": s.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
                "tool_definitions": s.tools,
                "tags": s.tags,
            });
            detail["_meta"] = json!({
                "io.modelcontextprotocol.registry/publisher-provided": {
                    "io.github.stacklok": { gateway_url(public_url, &s.namespace, &s.name): extension }
                }
            });
            detail
        })
        .collect();
    json!({
        "$schema": "https://raw.githubusercontent.com/stacklok/toolhive-core/main/registry/types/data/upstream-registry.schema.json",
        "version": "1.0.0",
        "meta": { "last_updated": rfc3339(now_millis) },
        "data": { "servers": entries }
    })
}

/// Client configuration snippets for the published server `namespace/name`, keyed `vscode`,
/// `claudeDesktop`, `cursor` and `litellm`; the registry API and the console share them.
pub fn client_snippets(namespace: &str, name: &str, public_url: &str) -> Value {
    let url = gateway_url(public_url, namespace, name);
    let key = name.to_owned();
    json!({
        "vscode": { "servers": { key.clone(): { "type": "http", "url": url } } },
        "claudeDesktop": { "mcpServers": { key.clone(): { "command": "npx", "args": ["-y", "mcp-remote", url] } } },
        "cursor": { "mcpServers": { key: { "url": url } } },
        "litellm": { "mcp_servers": { litellm_name(namespace, name): { "url": url, "transport": "http" } } },
    })
}

async fn all_published(state: &AppState) -> Result<Vec<PublishedServer>, RegistryError> {
    list_published(&state.db, &Query::default(), state.registry.slow_ms)
        .await
        .map_err(RegistryError::from)
}

#[utoipa::path(get, path = "/api/v1/exports/litellm.yaml", operation_id = "export_litellm", tag = "exports",
    responses((status = 200, description = "LiteLLM config (YAML): `mcp_servers` maps each published server to its gateway `url`, `transport` and `description`", content_type = "application/yaml", body = Object)))]
pub async fn litellm(State(state): State<AppState>) -> Result<impl IntoResponse, RegistryError> {
    let servers = all_published(&state).await?;
    let yaml = serde_yaml::to_string(&litellm_config(&servers, &state.registry.public_url))
        .map_err(RegistryError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        yaml,
    ))
}

#[utoipa::path(get, path = "/api/v1/exports/toolhive-registry.json", operation_id = "export_toolhive", tag = "exports",
    responses((status = 200, description = "ToolHive registry (upstream format)", body = Object)))]
pub async fn toolhive(State(state): State<AppState>) -> Result<Json<Value>, RegistryError> {
    let servers = all_published(&state).await?;
    Ok(Json(toolhive_registry(
        &servers,
        &state.registry.public_url,
        crate::db::now_millis(),
    )))
}

#[utoipa::path(get, path = "/api/v1/servers/{namespace}/{name}/snippets", operation_id = "get_snippets", tag = "exports",
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "VS Code, Claude Desktop, Cursor and LiteLLM snippets", body = Object),
               (status = 404, description = "No published server of that name", body = crate::validation::ErrorBody)))]
pub async fn snippets(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Value>, RegistryError> {
    let server = find_published(&state, &namespace, &name).await?;
    Ok(Json(client_snippets(
        &server.namespace,
        &server.name,
        &state.registry.public_url,
    )))
}
