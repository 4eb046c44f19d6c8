//! The handlers: each request goes to the server's backend with only the MCP headers, and the
//! answer comes back streamed, through the [`Inspector`] where it may hold a tool list or the
//! answer to a measured call.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde_json::Value;

use crate::auth::bearer::IssuerVerifier;
use crate::auth::resource::{self, ask_for_token};
use crate::auth::{bearer_of, Forbidden};

use super::access::Decision;
use super::authz::Caller;
use super::inbound::Inbound;
use super::GatewayState;

use super::inspect::Inspector;
use super::jsonrpc::{self, INTERNAL_ERROR, INVALID_REQUEST};
use super::target::{Backend, Target};
use super::{bridge, sse};
use super::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

/// Request headers the backend gets; nothing else (no cookies, no Apiary credentials).
const REQUEST_HEADERS: &[&str] = &[
    "content-type",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// Response headers the client gets from the backend.
const RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "allow",
    "retry-after",
    "mcp-session-id",
    "mcp-protocol-version",
];

/// The headers of a streamable HTTP client's POST of JSON, in `session` if it has one and
/// with its negotiated `version`, for the requests the gateway makes on a client's behalf.
pub(crate) fn client_post_headers(
    session: Option<HeaderValue>,
    version: Option<HeaderValue>,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    if let Some(session) = session {
        headers.insert("mcp-session-id", session);
    }
    if let Some(version) = version {
        headers.insert("mcp-protocol-version", version);
    }
    headers
}

/// `POST /mcp/{namespace}/{name}`: JSON-RPC messages from the client.
#[utoipa::path(post, path = "/mcp/{namespace}/{name}", tag = "gateway", operation_id = "gateway_post",
    request_body(content = Object, content_type = "application/json", description = "A JSON-RPC 2.0 message or batch (MCP streamable HTTP)"),
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The JSON-RPC answers, as JSON or as an event stream", content(
                   (Object = "application/json"), (String = "text/event-stream"))),
               (status = 202, description = "Only notifications or responses were sent; nothing to answer"),
               (status = 400, description = "Not a JSON-RPC message: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = 413, description = "The body is over 4 MiB: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = 401, description = "Sign-in is on and the server needs a bearer token for this endpoint (`WWW-Authenticate` names its metadata)", body = crate::validation::ErrorBody),
               (status = 403, description = "The token's holder may not use this server, or local mode and another `Host`", body = crate::validation::ErrorBody),
               (status = 404, description = "No published server of that name: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = 502, description = "The backend is unreachable, did not answer in time, or cannot run here: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = 503, description = "The registry cannot be read: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = "default", description = "Any other answer of the backend, passed through")))]
pub async fn post(
    State(state): State<GatewayState>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(state, Method::POST, (&namespace, &name), headers, body).await
}

/// [`post`] to a server the caller may use, judged as `caller` by its Cedar policies.
pub(crate) async fn post_to(
    state: &GatewayState,
    target: Arc<Target>,
    caller: Option<Arc<Caller>>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else {
        return failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            format!("the request body is larger than {MAX_REQUEST_BYTES} bytes, or was cut off"),
        );
    };
    let plan = match jsonrpc::plan_for(body, &target, caller) {
        Ok(plan) => plan,
        Err(refusal) => return failure(StatusCode::BAD_REQUEST, refusal.code, refusal.message),
    };
    if plan.refused > 0 {
        target.metrics.refused(plan.refused);
    }
    let url = match &target.backend {
        Backend::Http(url) => url.clone(),
        Backend::Stdio(_) | Backend::LegacySse(_) => {
            return bridge::post(&state.gateway, &*state.runtime, target, headers, plan).await
        }
        Backend::Unsupported(why) => return failure(StatusCode::BAD_GATEWAY, INTERNAL_ERROR, why),
    };
    let Some(forward) = plan.forward else {
        return local_answer(plan.local, plan.batch);
    };
    let started = Instant::now();
    let inspector = Inspector::new(target.clone(), plan.calls, started).judged_by(plan.caller);
    let request = state
        .gateway
        .client()
        .post(url)
        .headers(pick(headers, REQUEST_HEADERS))
        .body(forward);
    match state.gateway.send(&target, request).await {
        Ok(response) => relay(state, response, inspector, (plan.local, plan.batch), true).await,
        Err(response) => response,
    }
}

/// `GET /mcp/{namespace}/{name}`: the server-to-client event stream (resumed with
/// `Last-Event-ID` where the backend supports it).
#[utoipa::path(get, path = "/mcp/{namespace}/{name}", tag = "gateway", operation_id = "gateway_listen",
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The server-to-client event stream", content_type = "text/event-stream", body = String),
               (status = 405, description = "The backend offers no event stream"),
               (status = 401, description = "Sign-in is on and the server needs a bearer token for this endpoint (`WWW-Authenticate` names its metadata)", body = crate::validation::ErrorBody),
               (status = 403, description = "The token's holder may not use this server, or local mode and another `Host`", body = crate::validation::ErrorBody),
               (status = 404, description = "No published server of that name: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = 502, description = "The backend is unreachable, did not answer in time, or cannot run here: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = 503, description = "The registry cannot be read: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = "default", description = "Any other answer of the backend, passed through")))]
pub async fn get(
    State(state): State<GatewayState>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (method, body) = (Method::GET, Body::empty());
    serve(state, method, (&namespace, &name), headers, body).await
}

/// `DELETE /mcp/{namespace}/{name}`: ends the client's session.
#[utoipa::path(delete, path = "/mcp/{namespace}/{name}", tag = "gateway", operation_id = "gateway_end_session",
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The session ended"),
               (status = 204, description = "The session ended"),
               (status = 401, description = "Sign-in is on and the server needs a bearer token for this endpoint (`WWW-Authenticate` names its metadata)", body = crate::validation::ErrorBody),
               (status = 403, description = "The token's holder may not use this server, or local mode and another `Host`", body = crate::validation::ErrorBody),
               (status = 404, description = "No published server of that name: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = 502, description = "The backend is unreachable, did not answer in time, or cannot run here: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = 503, description = "The registry cannot be read: a JSON-RPC error", body = super::jsonrpc::ErrorResponse),
               (status = "default", description = "Any other answer of the backend, passed through")))]
pub async fn delete(
    State(state): State<GatewayState>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (method, body) = (Method::DELETE, Body::empty());
    serve(state, method, (&namespace, &name), headers, body).await
}

/// `method` to `namespace/name`: to the published server the caller may use, or to where the
/// server is served when this Apiary does not serve it.
async fn serve(
    state: GatewayState,
    method: Method,
    (namespace, name): (&str, &str),
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = match lookup(&state, namespace, name).await {
        Ok(Some(target)) => target,
        Ok(None) => {
            let request = request_of(method, (namespace, name), headers, body);
            return elsewhere(&state, (namespace, name), request).await;
        }
        Err(response) => return response,
    };
    let caller = match admit(&state, &target, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match method {
        Method::POST => post_to(&state, target, caller, &headers, body).await,
        _ => without_body_to(&state, method, target, caller, &headers).await,
    }
}

/// A `GET` or `DELETE` to a server the caller may use, judged as `caller`.
pub(crate) async fn without_body_to(
    state: &GatewayState,
    method: Method,
    target: Arc<Target>,
    caller: Option<Arc<Caller>>,
    headers: &HeaderMap,
) -> Response {
    let url = match &target.backend {
        Backend::Http(url) => url.clone(),
        Backend::Stdio(_) | Backend::LegacySse(_) => {
            let (gateway, runtime) = (&state.gateway, &*state.runtime);
            return match method {
                Method::GET => bridge::listen(gateway, runtime, target, headers).await,
                _ => bridge::close(gateway, runtime, &target, headers).await,
            };
        }
        Backend::Unsupported(why) => return failure(StatusCode::BAD_GATEWAY, INTERNAL_ERROR, why),
    };
    let inspector = Inspector::new(target.clone(), Vec::new(), Instant::now()).judged_by(caller);
    let request = state
        .gateway
        .client()
        .request(method, url)
        .headers(pick(headers, REQUEST_HEADERS));
    match state.gateway.send(&target, request).await {
        Ok(response) => relay(state, response, inspector, (Vec::new(), false), false).await,
        Err(response) => response,
    }
}

/// The published server `namespace/name`, `None` when there is none; 503 when the registry
/// cannot be read.
pub(crate) async fn lookup(
    state: &GatewayState,
    namespace: &str,
    name: &str,
) -> Result<Option<Arc<Target>>, Response> {
    state.published(namespace, name).await.map_err(|error| {
        tracing::error!(%error, server = %format!("{namespace}/{name}"), "the gateway cannot read the server");
        failure(
            StatusCode::SERVICE_UNAVAILABLE,
            INTERNAL_ERROR,
            "the gateway cannot read the registry right now; try again shortly",
        )
    })
}

/// The answer for a name no published server has: other endpoints the gateway serves (virtual
/// servers) answer it, or it is [`missing`].
async fn elsewhere(
    state: &GatewayState,
    (namespace, name): (&str, &str),
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers().clone();
    match state.gateway.fallback() {
        Some(fallback) => match fallback.serve(state, (namespace, name), request).await {
            Ok(response) => response,
            Err(_) => missing(state, (namespace, name), &headers).await,
        },
        None => missing(state, (namespace, name), &headers).await,
    }
}

/// A request for the fallback, as the client sent it.
fn request_of(
    method: Method,
    (namespace, name): (&str, &str),
    headers: HeaderMap,
    body: Body,
) -> axum::extract::Request {
    let mut request = axum::extract::Request::new(body);
    *request.method_mut() = method;
    if let Ok(uri) = format!("/mcp/{namespace}/{name}").parse() {
        *request.uri_mut() = uri;
    }
    *request.headers_mut() = headers;
    request
}

/// 404 for a name nothing is served under; which names exist is told only to holders of a
/// valid Apiary token.
pub(crate) async fn missing(
    state: &GatewayState,
    (namespace, name): (&str, &str),
    headers: &HeaderMap,
) -> Response {
    let path = format!("/mcp/{namespace}/{name}");
    if let Some(auth) = &state.auth {
        match bearer_of(headers) {
            None => return ask_for_token(auth, &path),
            Some(token) => {
                if let Err(response) = resource::verify(auth, &path, token).await {
                    return response;
                }
            }
        }
    }
    failure(
        StatusCode::NOT_FOUND,
        INVALID_REQUEST,
        format!("no published server {namespace}/{name}; the registry lists the ones there are at /v0.1/servers"),
    )
}

/// Whether the holder of the bearer token in `headers` may use `target`: the caller its Cedar
/// policies judge (if it has any), or the answer (a challenge or a refusal).
pub(crate) async fn admit(
    state: &GatewayState,
    target: &Arc<Target>,
    headers: &HeaderMap,
) -> Result<Option<Arc<Caller>>, Response> {
    let path = format!("/mcp/{}", target.id);
    let token = bearer_of(headers);
    let mut caller = None;
    match &target.inbound {
        Inbound::Oidc(verifier, policies) => {
            let Some(token) = token else {
                return Err(own_issuer_challenge(&target.id, verifier, None));
            };
            match verifier.verify(token).await {
                Ok(claims) => {
                    caller = policies
                        .as_ref()
                        .map(|policies| Arc::new(Caller::new(policies.clone(), claims)));
                }
                Err(error) => {
                    tracing::info!(%error, server = %target.id, "refused a token for a server's own issuer");
                    return Err(own_issuer_challenge(
                        &target.id,
                        verifier,
                        Some(&error.to_string()),
                    ));
                }
            }
        }
        Inbound::Apiary | Inbound::Withheld(_) => {
            if let Some(auth) = &state.auth {
                let viewer = match token {
                    Some(token) => Some(resource::verify(auth, &path, token).await?),
                    None => None,
                };
                match target.access.decide(viewer.as_ref(), &target.id) {
                    Decision::Allow => {}
                    Decision::Challenge => return Err(ask_for_token(auth, &path)),
                    Decision::Forbid(why) => return Err(Forbidden(why).into_response()),
                }
            }
            if let Inbound::Withheld(why) = &target.inbound {
                return Err(failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    INTERNAL_ERROR,
                    format!("{} is {why}", target.id),
                ));
            }
        }
    }
    Ok(caller)
}

/// 401 for a server that takes only its own issuer's tokens: the challenge names the issuer
/// and audience (and, for a bad token, why it was refused).
fn own_issuer_challenge(id: &str, verifier: &IssuerVerifier, error: Option<&str>) -> Response {
    let wanted = format!(
        "{id} takes only bearer tokens of {} for the audience {} (its manifest's OIDC settings)",
        verifier.issuer(),
        verifier.audience()
    );
    let (message, header) = match error {
        Some(reason) => {
            let reason = reason.replace(['"', '\\'], "'");
            (
                format!("{wanted}; this one was refused: {reason}"),
                format!("Bearer error=\"invalid_token\", error_description=\"{reason}\""),
            )
        }
        None => (wanted, "Bearer".to_owned()),
    };
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(crate::validation::error_body(&message, &[])),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&header) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Passes the backend's answer on, inspected where needed, with the gateway's own answers
/// (`local`, in a batch or not) added. `answering` says the stream carries answers to requests
/// (a POST's), not only notices (a GET's), which matters for the drain.
async fn relay(
    state: &GatewayState,
    upstream: reqwest::Response,
    mut inspector: Inspector,
    (local, batch): (Vec<Value>, bool),
    answering: bool,
) -> Response {
    let status = upstream.status();
    let headers = pick(upstream.headers(), RESPONSE_HEADERS);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body = if content_type.starts_with("text/event-stream") {
        let first = local
            .iter()
            .map(|answer| sse::event(answer.to_string().as_bytes()))
            .collect();
        let events = sse::inspect(
            upstream.bytes_stream().boxed(),
            first,
            inspector,
            MAX_RESPONSE_BYTES,
        );
        Body::from_stream(state.gateway.until_drained(events, answering))
    } else if content_type.starts_with("application/json") {
        let bytes = match read_bounded(upstream).await {
            Ok(bytes) => bytes,
            Err(why) => return failure(StatusCode::BAD_GATEWAY, INTERNAL_ERROR, why),
        };
        let bytes = inspector.payload(&bytes).map_or(bytes, Bytes::from);
        Body::from(with_local(bytes, local))
    } else if !local.is_empty() {
        // Everything forwarded was a notification (202, no body): only the gateway answers.
        return local_answer(local, batch);
    } else {
        Body::from_stream(state.gateway.until_drained(upstream.bytes_stream(), false))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// A JSON answer from the backend with the gateway's own answers added to its batch.
fn with_local(bytes: Bytes, local: Vec<Value>) -> Bytes {
    if local.is_empty() {
        return bytes;
    }
    let mut answers = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Array(answers)) => answers,
        Ok(answer) => vec![answer],
        Err(_) => return bytes,
    };
    answers.extend(local);
    Bytes::from(Value::Array(answers).to_string())
}

/// The gateway's own answers, when nothing needed the backend.
pub(super) fn local_answer(mut local: Vec<Value>, batch: bool) -> Response {
    if local.is_empty() {
        // Only notifications of unknown tools: nothing to answer.
        return StatusCode::ACCEPTED.into_response();
    }
    if batch {
        Json(Value::Array(local)).into_response()
    } else {
        Json(local.swap_remove(0)).into_response()
    }
}

async fn read_bounded(upstream: reqwest::Response) -> Result<Bytes, String> {
    let mut body = Vec::new();
    let mut chunks = upstream.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| format!("the backend's answer broke off: {e}"))?;
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!(
                "the backend's answer is larger than {MAX_RESPONSE_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// The headers of `from` named in `names`.
fn pick(from: &HeaderMap, names: &[&'static str]) -> HeaderMap {
    let mut picked = HeaderMap::new();
    for name in names {
        for value in from.get_all(*name) {
            picked.append(HeaderName::from_static(name), value.clone());
        }
    }
    picked
}

/// A JSON-RPC error (with a null id) as an HTTP answer.
pub(crate) fn failure(status: StatusCode, code: i64, message: impl Into<String>) -> Response {
    (status, Json(jsonrpc::error(Value::Null, code, message))).into_response()
}
