//! The official MCP Registry API (`/v0.1/servers`), serving only published servers with their
//! published tools.

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::api_error::ApiError;

use super::listing::{list_all_published, Query as ListQuery};
use super::server_json::{parse_rfc3339, registry_entry, ListMetadata, RegistryEntry, ServerList};
use super::RegistryState;

/// Routes under `/v0.1` (and `/v0`, which the official registry serves identically).
pub fn routes() -> Router<RegistryState> {
    Router::new()
        .route("/v0.1/servers", get(list))
        .route("/v0.1/servers/{name}/versions", get(versions))
        .route("/v0.1/servers/{name}/versions/{version}", get(version))
        .route("/v0/servers", get(list))
        .route("/v0/servers/{name}/versions", get(versions))
        .route("/v0/servers/{name}/versions/{version}", get(version))
}

/// Query parameters of `GET /v0.1/servers`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<String>,
    search: Option<String>,
    updated_since: Option<String>,
    version: Option<String>,
    include_deleted: Option<String>,
    owner_team: Option<String>,
    category: Option<String>,
    cost_class: Option<String>,
    sensitivity: Option<String>,
}

#[utoipa::path(get, path = "/v0.1/servers", operation_id = "list_servers", tag = "registry",
    params(
        ("cursor" = Option<String>, Query, description = "Opaque cursor from metadata.nextCursor"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 100 (default 30)"),
        ("search" = Option<String>, Query, description = "Case-insensitive substring of the name or description"),
        ("updated_since" = Option<String>, Query, description = "RFC 3339 time; only servers changed after it"),
        ("version" = Option<String>, Query, description = "`latest` or an exact version"),
        ("owner_team" = Option<String>, Query, description = "Exact owner team"),
        ("category" = Option<String>, Query, description = "Exact category"),
        ("cost_class" = Option<String>, Query, description = "Exact cost class"),
        ("sensitivity" = Option<String>, Query, description = "Exact sensitivity"),
        ("include_deleted" = Option<bool>, Query, description = "`true` or `false`; Apiary lists no deleted servers either way"),
    ),
    responses(
        (status = 200, description = "Published servers in the official MCP Registry shape", body = ServerList),
        (status = 400, description = "A parameter is invalid; `field` names it", body = crate::validation::ErrorBody),
    ))]
pub async fn list(
    State(state): State<RegistryState>,
    RawQuery(raw_query): RawQuery,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_parameter("query", e.body_text()))?;
    let limit = match params.limit.as_deref() {
        None => 30,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::bad_parameter("limit", format!("{text:?} is not a number from 1 to 100"))
            })?,
    };
    let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => Some(split_name(cursor).ok_or_else(|| {
            ApiError::bad_parameter(
                "cursor",
                "is not a cursor from metadata.nextCursor; start without one",
            )
        })?),
    };
    let updated_since = match params.updated_since.as_deref() {
        None => None,
        Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
            ApiError::bad_parameter(
                "updated_since",
                format!("{text:?} is not an RFC 3339 time such as 2026-01-31T12:00:00Z"),
            )
        })?),
    };
    if let Some(flag) = params.include_deleted.as_deref() {
        if flag != "true" && flag != "false" {
            return Err(ApiError::bad_parameter(
                "include_deleted",
                "use true or false",
            ));
        }
    }
    let raw_query = raw_query.unwrap_or_default();
    let body = state
        .pages
        .get_or_load(&state.db, &raw_query, |_| async {
            let query = ListQuery {
                search: params.search,
                updated_since,
                after,
                limit: Some(limit + 1),
                owner_team: params.owner_team,
                category: params.category,
                cost_class: params.cost_class,
                sensitivity: params.sensitivity,
                ..ListQuery::default()
            };
            let mut servers = published(&state, &query).await?;
            if let Some(version) = params.version.as_deref().filter(|v| *v != "latest") {
                servers.retain(|s| s.version == version);
            }
            let more = servers.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            servers.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let metadata = ListMetadata {
                count: servers.len(),
                next_cursor: servers.last().filter(|_| more).map(|last| last.id()),
            };
            let servers = servers
                .iter()
                .map(|s| registry_entry(s, &state.settings.public_url))
                .collect();
            let body = serde_json::to_vec(&ServerList { servers, metadata })
                .map_err(|error| ApiError::Internal(error.to_string()))?;
            Ok::<_, ApiError>(Bytes::from(body))
        })
        .await?;
    Ok(json_answer(body))
}

/// A `200` with a JSON `body` written before.
fn json_answer(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[utoipa::path(get, path = "/v0.1/servers/{name}/versions", operation_id = "list_server_versions", tag = "registry",
    params(("name" = String, Path, description = "URL-encoded `namespace/name`")),
    responses((status = 200, description = "Every version of the server", body = ServerList),
               (status = 404, description = "No published server of that name", body = crate::validation::ErrorBody)))]
pub async fn versions(
    State(state): State<RegistryState>,
    Path(name): Path<String>,
) -> Result<Json<ServerList>, ApiError> {
    let server = find(&state, &name).await?;
    Ok(Json(ServerList {
        servers: vec![registry_entry(&server, &state.settings.public_url)],
        metadata: ListMetadata {
            count: 1,
            next_cursor: None,
        },
    }))
}

#[utoipa::path(get, path = "/v0.1/servers/{name}/versions/{version}", operation_id = "get_server_version", tag = "registry",
    params(("name" = String, Path, description = "URL-encoded `namespace/name`"),
           ("version" = String, Path, description = "A version, or `latest`")),
    responses((status = 200, description = "One server version", body = RegistryEntry),
               (status = 404, description = "No such server or version", body = crate::validation::ErrorBody)))]
pub async fn version(
    State(state): State<RegistryState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<RegistryEntry>, ApiError> {
    let server = find(&state, &name).await?;
    if version != "latest" && version != server.version {
        return Err(ApiError::NotFound(format!(
            "{name} has no version {version:?}"
        )));
    }
    Ok(Json(registry_entry(&server, &state.settings.public_url)))
}

async fn find(
    state: &RegistryState,
    name: &str,
) -> Result<super::listing::PublishedServer, ApiError> {
    let (namespace, server) =
        split_name(name).ok_or_else(|| ApiError::NotFound(format!("no server named {name:?}")))?;
    find_published(state, &namespace, &server).await
}

/// The published server `namespace/name`, or a 404.
pub async fn find_published(
    state: &RegistryState,
    namespace: &str,
    name: &str,
) -> Result<super::listing::PublishedServer, ApiError> {
    let query = ListQuery {
        exact: Some((namespace.to_owned(), name.to_owned())),
        ..ListQuery::default()
    };
    published(state, &query)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("no published server {namespace}/{name}")))
}

/// The published servers `query` selects, with what the registry lists beside them (the
/// virtual servers).
pub(super) async fn published(
    state: &RegistryState,
    query: &ListQuery,
) -> Result<Vec<super::listing::PublishedServer>, ApiError> {
    Ok(list_all_published(
        &state.db,
        state.more_published.as_deref(),
        query,
        state.settings.slow_ms,
        &state.listing,
    )
    .await?)
}

fn split_name(name: &str) -> Option<(String, String)> {
    let (namespace, server) = name.split_once('/')?;
    (!namespace.is_empty() && !server.is_empty()).then(|| (namespace.to_owned(), server.to_owned()))
}
