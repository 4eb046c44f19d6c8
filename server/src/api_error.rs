//! The error every JSON API answers with ([`ApiError`]), how a request body is read
//! ([`json_body`], [`require_json`]), and how long a request may take ([`REQUEST_TIMEOUT`]).
//! It sits below the areas that serve routes, so each can answer with it.

use std::sync::LazyLock;
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::validation::{error_body, FieldError, FieldErrors};

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
        /// 400, 409 or 422.
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
                let mut body = error_body(&first.to_string(), errors.all());
                body["field"] = json!(first.field);
                // `message` is the first field's own message, as before `fields` existed.
                body["message"] = json!(first.message);
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
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

/// Decodes a JSON body as every write of a server does (a direct registration, a proposal, a
/// decision): 400 for malformed JSON, otherwise 422 naming the field (an unknown field by its
/// own name). A string value is never quoted back: it may be a secret in the wrong place.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(body_error)
}

/// Refuses (415) a body that is not sent as `application/json`.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::Rejected {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "send the body as application/json".into(),
        })
    }
}

/// A quoted string value in a serde message (`invalid type: string "…"`).
static QUOTED_STRING: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r#"string "(?:[^"\\]|\\.)*""#).expect("a valid pattern"));

fn body_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            message: format!("the body is not valid JSON: {inner}"),
        };
    }
    let text = QUOTED_STRING
        .replace_all(&inner.to_string(), "a string")
        .into_owned();
    let unknown = text
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (path.as_str(), unknown) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (_, Some(name)) if !path.ends_with(name) => format!("{path}.{name}"),
        _ => path,
    };
    let message = match unknown {
        Some(_) => format!("is not a field here; remove it or check its spelling ({text})"),
        None => format!("{text}; fix the value"),
    };
    FieldError::new(field, message).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        tags: Vec<String>,
    }

    fn refused(body: &str) -> (StatusCode, String, String) {
        match json_body::<Body>(body.as_bytes()) {
            Ok(decoded) => panic!("{body} decoded to {} tags", decoded.tags.len()),
            Err(ApiError::Invalid(errors)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                errors.first().field.clone(),
                errors.first().message.clone(),
            ),
            Err(ApiError::Rejected { status, message }) => (status, String::new(), message),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn json_bodies_are_refused_naming_the_field_without_quoting_strings() {
        let (status, field, message) = refused(r#"{"tags": "ghp_0123456789abcdef"}"#);
        assert_eq!(
            (status, field.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "tags")
        );
        assert!(!message.contains("ghp_"), "{message}");
        assert!(message.contains("a string"), "{message}");
        let (_, field, _) = refused(r#"{"tags": [], "colour": 1}"#);
        assert_eq!(field, "colour");
        let (status, _, _) = refused(r#"{"tags": "#);
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
