//! What a JSON API handler reads from its request: the server it is about ([`ServerPath`])
//! and its body ([`JsonBody`]), read as every write of Apiary reads one.
//!
//! Every admin handler of `/api/v1/servers/{namespace}/{name}/…` follows one pattern:
//! 1. **Guard.** `ServerStore::admin_of` for an admin's action (403, then 404 for an unknown
//!    server) or `ServerStore::owner_of` for a team's (404, then 403), both in `auth`.
//! 2. **Body.** [`JsonBody::decode`] once the caller may act, so a refused caller learns
//!    nothing from the body's errors: 415, 400, or 422 naming the field. Then the handler's own
//!    validation (422 naming each field).
//! 3. **Save.** The area's store writes the change and its audit event in one transaction.
//! 4. **Tell.** The gateway forgets what it kept of the server, so the next request sees it.
//!
//! The OpenAPI document adds the answers every handler shares (400, 401, 408, 413, 415, 422,
//! 503: `web::openapi`), so a handler documents only its own, with [`NoSuchServer`] for the
//! 404 of a server that must exist.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use crate::api_error::ApiError;
use crate::validation::FieldError;

/// The server a `/…/{namespace}/{name}/…` request is about.
#[derive(Clone, Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ServerPath {
    /// The server's namespace.
    pub namespace: String,
    /// The server's name.
    pub name: String,
}

impl ServerPath {
    /// `(namespace, name)`, as the stores take them.
    pub fn pair(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

impl fmt::Display for ServerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ServerPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(server) = Path::<ServerPath>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::Rejected {
                status: rejection.status(),
                message: rejection.body_text(),
            })?;
        Ok(server)
    }
}

/// OpenAPI: the 404 of a handler whose server must exist (`responses(…, NoSuchServer)`).
pub struct NoSuchServer;

impl utoipa::IntoResponses for NoSuchServer {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let error = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Error")))
            .build();
        let response = ResponseBuilder::new()
            .description("No such server")
            .content("application/json", error)
            .build();
        BTreeMap::from([("404".to_owned(), response.into())])
    }
}

/// A request body, read but not yet decoded: the handler decodes it with [`JsonBody::decode`]
/// after its guard.
#[derive(Debug)]
pub struct JsonBody {
    is_json: bool,
    bytes: Bytes,
}

impl JsonBody {
    /// The body as `T`: 415 unless it was sent as `application/json`, then as [`json_body`].
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if !self.is_json {
            return Err(ApiError::Rejected {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "send the body as application/json".into(),
            });
        }
        json_body(&self.bytes)
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = is_json(request.headers());
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::Rejected {
                status: rejection.status(),
                message: rejection.body_text(),
            })?;
        Ok(Self { is_json, bytes })
    }
}

/// The media type the request's body is sent as, lower case and without parameters such as
/// `charset`; empty when it names none.
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// True for a JSON media type: `application/json`, or a `+json` type such as
/// `application/merge-patch+json`.
pub fn is_json_media(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// True when the request says its body is JSON ([`is_json_media`]).
pub fn is_json(headers: &HeaderMap) -> bool {
    is_json_media(&media_type(headers))
}

/// Decodes a JSON body as every write of a server does (a direct registration, a proposal, a
/// decision, a curation): 400 for malformed JSON, otherwise 422 naming the field (an unknown
/// field by its own name). A string value is never quoted back: it may be a secret in the
/// wrong place.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(body_error)
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

    #[test]
    fn only_application_json_counts_as_json() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().expect("a header value"));
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("application/jsonx"));
        assert!(!with("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
