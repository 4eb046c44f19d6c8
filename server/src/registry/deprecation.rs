//! Deprecation: the owners of a server's team (or an admin) mark it deprecated, with a message
//! and optionally the server that replaces it; both show on its catalog card, its page and in
//! the registry API (`status: deprecated`). It stays published until it is retired.
//!
//! `PUT /api/v1/servers/{namespace}/{name}/deprecation` deprecates;
//! `DELETE` of the same path makes it active again. Both are audited.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use apiary_app::access::Action;

use crate::api_error::ApiError;
use crate::api_request::{JsonBody, NoSuchServer, ServerPath};
use crate::audit::{record, AuditEvent};
use crate::auth::Principal;
use crate::db::{now_millis, DbError};
use crate::validation::FieldError;

use super::RegistryState;

/// The longest deprecation message.
const MAX_MESSAGE: usize = 500;

/// The deprecation routes.
pub fn routes() -> Router<RegistryState> {
    Router::new().route(
        "/api/v1/servers/{namespace}/{name}/deprecation",
        put(deprecate).delete(reinstate),
    )
}

/// A deprecation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deprecation {
    /// Why, and what consumers should do.
    pub message: String,
    /// The `namespace/name` of the server that replaces it, if any.
    #[serde(default)]
    pub replacement: Option<String>,
}

/// A server's lifecycle after a change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Lifecycle {
    /// `deprecated` or `active`.
    pub lifecycle: String,
    /// The replacement's `namespace/name` (deprecated only; `null` when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Option<String>>,
    /// The deprecation message (deprecated only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `PUT …/deprecation`: marks the server deprecated.
#[utoipa::path(put, path = "/api/v1/servers/{namespace}/{name}/deprecation", operation_id = "deprecate_server", tag = "servers",
    params(ServerPath),
    request_body(content = Deprecation, description = "The message and the replacement"),
    responses((status = 200, description = "Deprecated", body = Lifecycle),
               (status = 403, description = "Not an owner of the server's team or an admin", body = crate::validation::ErrorBody),
               (status = 409, description = "The server is retired", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn deprecate(
    State(state): State<RegistryState>,
    principal: Principal,
    server: ServerPath,
    body: JsonBody,
) -> Result<Json<Lifecycle>, ApiError> {
    let actor = state
        .servers
        .owner_of(&principal, Action::Review, &server)
        .await?;
    let deprecation: Deprecation = body.decode()?;
    let message = deprecation.message.trim();
    if message.is_empty() || message.chars().count() > MAX_MESSAGE {
        return Err(FieldError::new(
            "message",
            format!("say why it is deprecated and what to use instead, in 1 to {MAX_MESSAGE} characters"),
        )
        .into());
    }
    let replacement = deprecation
        .replacement
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if let Some(replacement) = replacement {
        let known = replacement
            .split_once('/')
            .filter(|other| *other != server.pair());
        let exists = match known {
            Some((ns, n)) => state.servers.id_of(ns, n).await?.is_some(),
            None => false,
        };
        if !exists {
            return Err(FieldError::new(
                "replacement",
                format!("{replacement} is not another registered server; give its namespace/name, or leave it out"),
            )
            .into());
        }
    }
    change(
        &state,
        &server,
        actor.into(),
        "deprecated",
        replacement,
        message,
    )
    .await?;
    Ok(Json(Lifecycle {
        lifecycle: "deprecated".to_owned(),
        replacement: Some(replacement.map(str::to_owned)),
        message: Some(message.to_owned()),
    }))
}

/// `DELETE …/deprecation`: makes the server active again.
#[utoipa::path(delete, path = "/api/v1/servers/{namespace}/{name}/deprecation", operation_id = "reinstate_server", tag = "servers",
    params(ServerPath),
    responses((status = 200, description = "Active again", body = Lifecycle),
               (status = 403, description = "Not an owner of the server's team or an admin", body = crate::validation::ErrorBody),
               (status = 409, description = "The server is retired", body = crate::validation::ErrorBody), NoSuchServer))]
pub async fn reinstate(
    State(state): State<RegistryState>,
    principal: Principal,
    server: ServerPath,
) -> Result<Json<Lifecycle>, ApiError> {
    let actor = state
        .servers
        .owner_of(&principal, Action::Review, &server)
        .await?;
    change(&state, &server, actor.into(), "active", None, "").await?;
    Ok(Json(Lifecycle {
        lifecycle: "active".to_owned(),
        replacement: None,
        message: None,
    }))
}

/// Sets the lifecycle of a server that is not retired, audited in the same transaction.
async fn change(
    state: &RegistryState,
    server: &ServerPath,
    actor: crate::audit::Actor<'_>,
    lifecycle: &str,
    replacement: Option<&str>,
    message: &str,
) -> Result<(), ApiError> {
    let mut tx = state.db.begin_write().await.map_err(DbError::from)?;
    let changed = sqlx::query(
        "UPDATE servers SET lifecycle = $1, replacement = $2, lifecycle_message = $3, \
         updated_at = $4 WHERE namespace = $5 AND name = $6 AND lifecycle <> 'retired'",
    )
    .bind(lifecycle)
    .bind(replacement)
    .bind(message)
    .bind(now_millis())
    .bind(&server.namespace)
    .bind(&server.name)
    .execute(&mut *tx)
    .await
    .map_err(DbError::from)?;
    if changed.rows_affected() == 0 {
        return Err(ApiError::Rejected {
            status: StatusCode::CONFLICT,
            message: format!("{server} is retired; propose it again to bring it back"),
        });
    }
    let action = if lifecycle == "deprecated" {
        "server.deprecate"
    } else {
        "server.reinstate"
    };
    record(
        &mut tx,
        AuditEvent {
            comment: None,
            actor,
            action,
            target: &server.to_string(),
            before_hash: None,
            after_hash: Some(crate::servers::content_hash(&format!(
                "{lifecycle}\n{}\n{message}",
                replacement.unwrap_or_default()
            ))),
        },
    )
    .await
    .map_err(DbError::from)?;
    tx.commit().await.map_err(DbError::from)?;
    state.gateway.forget(&server.namespace, &server.name);
    Ok(())
}
