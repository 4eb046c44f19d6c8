use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::{JsonBody, NoSuchServer, ServerPath};
use crate::audit::Actor;
use crate::auth::Principal;
use crate::config::Runtime::Local;
use crate::runtime::{desired, ServerId};
use crate::servers::ServerRegistration;

use super::AppState;

/// The server a registration stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerRef {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// `PUT /api/v1/servers/{namespace}/{name}`: registers or replaces a server (201 or 200), then
/// brings the runtime in line with it and, for a published server, fetches its tools.
#[utoipa::path(put, path = "/api/v1/servers/{namespace}/{name}", operation_id = "register_server", tag = "servers",
    params(ServerPath),
    request_body(content = ServerRegistration, description = "Metadata plus `spec` (transport and image, command or url)"),
    responses((status = 201, description = "Created", body = ServerRef),
               (status = 200, description = "Updated", body = ServerRef),
               (status = 403, description = "Not an admin, or a cross-site request", body = crate::validation::ErrorBody),
               (status = 409, description = "The server is declared by a cluster object (`MCPRemoteProxy`, `MCPServerEntry`); change that object instead", body = crate::validation::ErrorBody),
               (status = 422, description = "Fields are invalid (the checks a proposal gets): `field` and `message` name the first, `fields` lists every one", body = crate::validation::ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    principal: Principal,
    server: ServerPath,
    body: JsonBody,
) -> Result<(StatusCode, Json<ServerRef>), ApiError> {
    let actor = principal.require(Action::Register, None)?;
    // Decoded as a proposal's body is, so a misshapen field is named the same way.
    let registration: ServerRegistration = body.decode()?;
    let ServerPath { namespace, name } = server;
    let created = state
        .servers
        .register(&namespace, &name, &registration, Actor::from(actor))
        .await?;
    state.gateway.forget(&namespace, &name);
    // In Kubernetes mode the operator runs servers from MCPServer resources instead.
    if let (Local, Some(runtime)) = (state.settings.runtime, state.runtime.runs()) {
        desired::sync(&state.db, runtime, &ServerId::new(&namespace, &name)).await;
    }
    if registration.published {
        // Record the live tools in the background; the answer does not wait for the server.
        let (ns, n) = (namespace.clone(), name.clone());
        let refresher = state.refresher.clone();
        tokio::spawn(async move {
            if let Err(error) = refresher.refresh(&ns, &n).await {
                tracing::error!(%error, server = %format!("{ns}/{n}"), "tool refresh after registration failed");
            }
        });
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ServerRef { namespace, name })))
}

/// `DELETE /api/v1/servers/{namespace}/{name}`: removes a server from the registry (admins):
/// its workload first (the local process, or the `MCPServer` and `MCPToolConfig` in Kubernetes
/// mode; a refusal deletes nothing), then the registry's records, audited. A server a cluster
/// object declares is deleted with its object, not here (409).
#[utoipa::path(delete, path = "/api/v1/servers/{namespace}/{name}", operation_id = "delete_server", tag = "servers",
    params(ServerPath),
    responses((status = 204, description = "Deleted"),
               (status = 403, description = "Not an admin, or a cross-site request", body = crate::validation::ErrorBody),
               (status = 409, description = "The server is declared by a cluster object (`MCPRemoteProxy`, `MCPServerEntry`); delete that object instead", body = crate::validation::ErrorBody),
               (status = 502, description = "The cluster refused; nothing was deleted", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    server: ServerPath,
) -> Result<StatusCode, ApiError> {
    let (actor, _) = state
        .servers
        .admin_of(&principal, Action::Register, &server)
        .await?;
    let ServerPath { namespace, name } = &server;
    if let Some(kind) = state.servers.origin_of(namespace, name).await? {
        // Deleting it here would not last: its object registers it again.
        return Err(crate::servers::RegisterError::Managed {
            server: server.to_string(),
            by: Some(kind),
        }
        .into());
    }
    if let Some(client) = &state.kube {
        let removed = match crate::onboarding::kubernetes::remove(client, namespace, name).await {
            Ok(()) => crate::registry::curation::cluster::remove(client, namespace, name).await,
            Err(error) => Err(error),
        };
        removed.map_err(|error| ApiError::Rejected {
            status: StatusCode::BAD_GATEWAY,
            message: format!(
                "the Kubernetes API refused to delete {server}: {error}; nothing was deleted"
            ),
        })?;
    }
    let deleted = state
        .servers
        .delete(namespace, name, Actor::from(actor))
        .await?;
    state.gateway.forget(namespace, name);
    if let (Local, Some(runtime)) = (state.settings.runtime, state.runtime.runs()) {
        desired::sync(&state.db, runtime, &ServerId::new(namespace, name)).await;
    }
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no server {server}")))
    }
}
