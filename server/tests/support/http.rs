//! In-process HTTP requests against the router, without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Sends `request` and returns the status and the body as text.
pub async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// A request with an optional JSON body.
pub fn request(method: &str, uri: &str, body: Option<&Value>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request")
}

/// Sends a request and decodes the JSON answer (`Null` when the body is not JSON).
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let (status, text) = send(app, request(method, uri, body)).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `html` without Leptos' hydration markers (`<!>` and `<!--…-->` comments), so a test reads
/// the page's elements and text as a person does, whatever markers the renderer adds.
pub fn without_markers(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("<!") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("<!>") {
            rest = after;
        } else if let Some(comment) = tail.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
        } else {
            // `<!DOCTYPE html>` and the like stay.
            out.push_str("<!");
            rest = &tail[2..];
        }
    }
    out.push_str(rest);
    out
}
