//! Every error answer of the HTTP API is JSON of one shape ([`error_body`]), also
//! those that axum and tower write themselves as plain text or an empty body: an unknown API
//! path (404), a method the route lacks (405), the request timeout (408), a body over the limit
//! (413), and query strings that do not parse (400).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::validation::error_body;

/// The longest plain-text error body kept as the message.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Whether `path` is part of the JSON API (the console's pages and the MCP gateway answer in
/// their own formats).
fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/v0.1/") || path == "/openapi.json"
}

/// Middleware: rewrites an API error answer that is not JSON into the one JSON shape, keeping
/// its status and headers (such as `Allow` or `Retry-After`).
pub async fn json_errors(request: Request, next: Next) -> Response {
    // Only API paths are kept (the gateway's requests pass through without a copy).
    let Some(path) = is_api(request.uri().path()).then(|| request.uri().path().to_owned()) else {
        return next.run(request).await;
    };
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_MESSAGE_BYTES)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .filter(|text| !text.trim().is_empty() && !text.trim_start().starts_with('<'));
    let message = text
        .map(|t| t.trim().to_owned())
        .unwrap_or_else(|| match status.as_u16() {
            404 => format!("there is no API endpoint at {path}; see /openapi.json"),
            405 => {
                format!("{path} does not take this method; the Allow header lists those it takes")
            }
            408 => "the request took too long and was stopped; try again".to_owned(),
            413 => "the request body is larger than Apiary accepts".to_owned(),
            _ => status
                .canonical_reason()
                .unwrap_or("the request failed")
                .to_owned(),
        });
    let body = serde_json::to_vec(&error_body(&message, &[])).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"))
}
