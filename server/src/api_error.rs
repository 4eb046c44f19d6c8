//! The error every JSON API answers with ([`ApiError`]) and how long a request may take
//! ([`REQUEST_TIMEOUT`]). It sits below the areas that serve routes, so each can answer with it.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::validation::{error_body, FieldError, FieldErrors};

/// An API failure: the client gets a clear, safe JSON message; the cause is logged on the server.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Fields of the request are invalid (422): the first is named at the top level, every
    /// one under `fields`.
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// A path or query parameter is invalid (400); the error names it as `Invalid` does.
    #[error(transparent)]
    BadParameter(FieldErrors),
    /// Refused with `status` for what `message` says: malformed JSON (400), a conflict (409),
    /// a body too large (413) or not JSON (415), or what the cluster refused (502).
    #[error("{message}")]
    Rejected {
        /// The status to answer with.
        status: StatusCode,
        /// What was wrong.
        message: String,
    },
    /// The person may not do this (403); the message says who and what.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (404); the message says what.
    #[error("{0}")]
    NotFound(String),
    /// The database does not answer (503); the same request may succeed once it is back.
    #[error("{}", UNAVAILABLE)]
    Unavailable(String),
    /// Something failed inside Apiary (500).
    #[error("internal error")]
    Internal(String),
}

/// What a client is told while the database does not answer.
pub const UNAVAILABLE: &str =
    "Apiary's database is unavailable right now, so nothing could be read or saved; try again in a moment";

/// The longest any request may take before it is answered with 408; the gateway gives up
/// waiting for a server to start before this, so it can say why.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl ApiError {
    /// A 400 naming the parameter `field`.
    pub fn bad_parameter(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadParameter(FieldError::new(field, message).into())
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::Invalid(error.into())
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        if error.is_unavailable() {
            ApiError::Unavailable(error.to_string())
        } else {
            ApiError::Internal(error.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid(errors) => fields(StatusCode::UNPROCESSABLE_ENTITY, &errors),
            ApiError::BadParameter(errors) => fields(StatusCode::BAD_REQUEST, &errors),
            ApiError::Rejected { status, message } => {
                (status, Json(error_body(&message, &[]))).into_response()
            }
            ApiError::Forbidden(message) => {
                (StatusCode::FORBIDDEN, Json(error_body(&message, &[]))).into_response()
            }
            ApiError::NotFound(message) => {
                (StatusCode::NOT_FOUND, Json(error_body(&message, &[]))).into_response()
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(%cause, "request failed: the database is unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "5")],
                    Json(error_body(UNAVAILABLE, &[])),
                )
                    .into_response()
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(error_body(
                        "Apiary could not complete the request; see the server log",
                        &[],
                    )),
                )
                    .into_response()
            }
        }
    }
}

/// An answer naming each invalid field: the first at the top level, every one under `fields`.
fn fields(status: StatusCode, errors: &FieldErrors) -> Response {
    let first = errors.first();
    let mut body = error_body(&first.to_string(), errors.all());
    body["field"] = json!(first.field);
    // `message` is the first field's own message, as before `fields` existed.
    body["message"] = json!(first.message);
    (status, Json(body)).into_response()
}
