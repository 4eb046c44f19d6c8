use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::catalog::RegisterError;
use crate::validation::{FieldError, FieldErrors};

/// An API failure: the client gets a clear, safe JSON message; the cause is logged on the server.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Fields of the request are invalid (422): the first is named at the top level, every
    /// one under `fields`.
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// The body was refused before validation: malformed JSON (400), or JSON of the wrong
    /// shape (422); the message names the field.
    #[error("{message}")]
    Rejected {
        /// 400 or 422.
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

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::Invalid(field) => ApiError::Invalid(field),
            RegisterError::Db(db) => db.into(),
        }
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

impl From<crate::auth::Forbidden> for ApiError {
    fn from(refused: crate::auth::Forbidden) -> Self {
        ApiError::Forbidden(refused.0)
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::Rejected {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid(errors) => {
                let first = errors.first();
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({
                        "error": first.to_string(),
                        "field": first.field,
                        "message": first.message,
                        "fields": errors.all(),
                    })),
                )
                    .into_response()
            }
            ApiError::Rejected { status, message } => {
                (status, Json(json!({ "error": message }))).into_response()
            }
            ApiError::Forbidden(message) => {
                (StatusCode::FORBIDDEN, Json(json!({ "error": message }))).into_response()
            }
            ApiError::NotFound(message) => {
                (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(%cause, "request failed: the database is unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "5")],
                    Json(json!({ "error": UNAVAILABLE })),
                )
                    .into_response()
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({ "error": "Apiary could not complete the request; see the server log" })),
                )
                    .into_response()
            }
        }
    }
}
