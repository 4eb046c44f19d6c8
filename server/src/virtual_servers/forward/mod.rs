//! The short way through a virtual server, for the two requests that make up nearly all of
//! its traffic:
//!
//! - a `tools/call` goes to its member on the session the client already has with it, with
//!   only the tool's name and the request id changed, and the member's result or error comes
//!   back with its bytes as the member sent them (key order and fields rmcp does not model
//!   included), with the member's notifications about the call ([`call`]);
//! - a `tools/list` page is answered from the view's pages, written once per view, as JSON;
//! - a client's `notifications/cancelled` of such a call goes to the member, with the id the
//!   member got;
//! - a client's answer to a request a member sent it during such a call goes to the member,
//!   with the member's id.
//!
//! A call of a member the client session has no session with yet opens one first (rmcp's
//! client does the handshake). Anything else, and anything unusual (the finder, an unknown
//! tool, a member the caller may not use, a header rmcp checks), goes on to the session's rmcp
//! handler, which answers it as before.

mod call;

use std::sync::Arc;
use std::time::Instant;

use apiary_app::access::Viewer;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rmcp::model::{CallToolResult, ContentBlock};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::gateway::jsonrpc::INVALID_REQUEST;
use crate::gateway::measure::{CallOutcome, ToolMetrics};
use crate::gateway::proxy::{failure, post_to};
use crate::gateway::target::Target;
use crate::gateway::{GatewayState, MAX_REQUEST_BYTES};

use super::finder::FINDER;
use super::links::{Link, Links, Sent};
use super::member::MemberSession;
use super::session::reach;
use super::views::{View, PAGE};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const CANCELLED: &str = "notifications/cancelled";

/// A JSON-RPC request from the client, as far as the short way reads it.
#[derive(Deserialize)]
struct Incoming {
    jsonrpc: String,
    #[serde(default)]
    id: Value,
    method: String,
    #[serde(default)]
    params: Option<Map<String, Value>>,
}

impl Incoming {
    /// True for a JSON-RPC 2.0 request with an id (a string or a number).
    fn is_request(&self) -> bool {
        self.jsonrpc == "2.0" && (self.id.is_string() || self.id.is_number())
    }
}

/// The answer to the client: its own id, with the result or error as written before.
#[derive(Serialize)]
struct Answer<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RawValue>,
}

/// Answers `request` to the virtual server `view` the short way, or gives it back for the
/// session's rmcp handler.
pub async fn answer(
    state: &GatewayState,
    view: &View,
    viewer: Option<&Viewer>,
    links: &Links,
    request: Request,
) -> Result<Response, Request> {
    let Some(link) = eligible(&request, view, links) else {
        return Err(request);
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else {
        return Ok(failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            format!("the request body is larger than {MAX_REQUEST_BYTES} bytes, or was cut off"),
        ));
    };
    let answered = match serde_json::from_slice::<Incoming>(&bytes) {
        Ok(incoming) if incoming.is_request() => match incoming.method.as_str() {
            "tools/call" => call(state, view, viewer, link, &incoming).await,
            "tools/list" => list(view, &incoming),
            _ => None,
        },
        Ok(incoming) if incoming.jsonrpc == "2.0" && incoming.method == CANCELLED => {
            cancel(state, &link, &incoming)
        }
        Ok(_) => None,
        Err(_) => reply(state, &link, &bytes),
    };
    answered.ok_or_else(|| Request::from_parts(parts, Body::from(bytes)))
}

/// The client session's link, when `request` is one the short way may take: a POST of
/// JSON in an open session of this virtual server, with no header rmcp would check beyond
/// a known protocol version.
fn eligible(request: &Request, view: &View, links: &Links) -> Option<Arc<Link>> {
    if request.method() != Method::POST {
        return None;
    }
    let headers = request.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let json = text(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("application/json"));
    let accepted = text(header::ACCEPT)
        .is_some_and(|a| a.contains("application/json") && a.contains("text/event-stream"));
    let known_version = headers.get(VERSION_HEADER).is_none_or(|version| {
        rmcp::model::ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .any(|known| known.as_str().as_bytes() == version.as_bytes())
    });
    let other_mcp_headers = headers.keys().any(|name| {
        name.as_str().starts_with("mcp-") && name != SESSION_HEADER && name != VERSION_HEADER
    });
    if !json || !accepted || !known_version || other_mcp_headers {
        return None;
    }
    let session = headers.get(SESSION_HEADER)?.to_str().ok()?;
    let server = (view.server.namespace.as_str(), view.server.name.as_str());
    links.get(session, server)
}

/// A page of the tool list, from the view's pages; `None` for a cursor that is not a page's.
fn list(view: &View, incoming: &Incoming) -> Option<Response> {
    let start = match incoming.params.as_ref().and_then(|p| p.get("cursor")) {
        None | Some(Value::Null) => 0,
        Some(Value::String(cursor)) => cursor.parse::<usize>().ok()?,
        Some(_) => return None,
    };
    if start % PAGE != 0 {
        return None;
    }
    let page = view.pages.get(start / PAGE)?;
    Some(json(written(&incoming.id, Some(page), None)))
}

/// A call of one of the view's tools on the member's session that is open.
async fn call(
    state: &GatewayState,
    view: &View,
    viewer: Option<&Viewer>,
    link: Arc<Link>,
    incoming: &Incoming,
) -> Option<Response> {
    let params = incoming.params.as_ref()?;
    let name = params.get("name")?.as_str()?;
    if view.server.spec.finder.enabled && name == FINDER {
        return None;
    }
    let (exposed, metrics) = view.tool(name)?;
    let target = reach(state, viewer, exposed).await.ok()?;
    let member = match link.opened(&target.id) {
        Some(member) => member,
        None => match open(state, &link, &target, incoming, metrics).await {
            Ok(member) => member,
            Err(answer) => return Some(answer),
        },
    };
    let address = member.address()?;
    let mut params = params.clone();
    params.insert("name".into(), Value::String(exposed.member_tool.clone()));
    let client = (&incoming.id, &params);
    call::send(state, (target, address), link, client, metrics.cloned()).await
}

/// Opens the client session's session with `target` for `incoming`, the client's first call
/// of that member; the client's answer instead when the member cannot be reached (counted as
/// a failure) or the client cancelled the call meanwhile (not counted).
async fn open(
    state: &GatewayState,
    link: &Link,
    target: &Arc<Target>,
    incoming: &Incoming,
    metrics: Option<&ToolMetrics>,
) -> Result<Arc<MemberSession>, Response> {
    let (started, opening) = (Instant::now(), link.opening(&incoming.id));
    let opened = link.member(state, target.clone()).await;
    let answer = |text: String| json(written(&incoming.id, Some(&tool_error(text)), None));
    if opening.cancelled() {
        let text = format!("the call was cancelled before it reached {}", target.id);
        return Err(answer(text));
    }
    opened.map_err(|why| {
        if let Some(metrics) = metrics {
            metrics.record(CallOutcome::Failed, started.elapsed());
        }
        answer(format!("{} did not answer: {why}", target.id))
    })
}

/// A tool result with `isError` saying `text`, which the client's model can read, written as
/// rmcp's handler writes it for clients of the protocol versions before `2026-07-28` (no
/// `resultType`).
pub(super) fn tool_error(text: String) -> Box<RawValue> {
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.result_type = None;
    serde_json::value::to_raw_value(&result).unwrap_or_default()
}

/// Passes the client's cancellation of a call sent the short way on to its member, with the id
/// the member got, and accepts it at once; a call still waiting for its member session is not
/// sent. `None` for any other call (rmcp's handler cancels those).
fn cancel(state: &GatewayState, link: &Link, incoming: &Incoming) -> Option<Response> {
    let params = incoming.params.as_ref()?;
    let key = Link::key(params.get("requestId")?);
    let Some(sent) = link.settle(&key) else {
        return link
            .cancel_opening(&key)
            .then(|| StatusCode::ACCEPTED.into_response());
    };
    let mut params = params.clone();
    params.insert("requestId".into(), Value::String(sent.id.clone()));
    let notification =
        serde_json::json!({ "jsonrpc": "2.0", "method": CANCELLED, "params": params });
    let state = state.clone();
    tokio::spawn(async move { tell(&state, &sent, notification.to_string()).await });
    Some(StatusCode::ACCEPTED.into_response())
}

/// The client's answers (one, or a batch) to members' requests passed on to it, each sent on
/// to its member with the member's id, and accepted at once; `None` unless every message is
/// such an answer.
fn reply(state: &GatewayState, link: &Link, bytes: &[u8]) -> Option<Response> {
    #[derive(Deserialize)]
    struct Reply<'a> {
        jsonrpc: &'a str,
        id: &'a str,
        #[serde(borrow, default)]
        result: Option<&'a RawValue>,
        #[serde(borrow, default)]
        error: Option<&'a RawValue>,
    }
    let replies: Vec<Reply<'_>> = if bytes.trim_ascii_start().starts_with(b"[") {
        serde_json::from_slice(bytes).ok()?
    } else {
        vec![serde_json::from_slice(bytes).ok()?]
    };
    let answers = |r: &Reply<'_>| {
        r.jsonrpc == "2.0" && r.result.is_some() != r.error.is_some() && link.was_asked(r.id)
    };
    if replies.is_empty() || !replies.iter().all(answers) {
        return None;
    }
    for reply in replies {
        let Some(asked) = link.answered(reply.id) else {
            continue;
        };
        let answer = written(&asked.id, reply.result, reply.error);
        let state = state.clone();
        tokio::spawn(async move { tell(&state, &asked.on, answer).await });
    }
    Some(StatusCode::ACCEPTED.into_response())
}

/// Sends `message` (a notification, or an answer to the member's request) to the member on
/// the session `sent` went out on; a refusal is logged.
async fn tell(state: &GatewayState, sent: &Sent, message: impl Into<Body>) {
    let body = message.into();
    let headers = sent.address.headers();
    let response = post_to(state, sent.target.clone(), None, &headers, body).await;
    if !response.status().is_success() {
        tracing::warn!(status = %response.status(), member = %sent.target.id,
            "a message did not reach the member");
    }
}

/// `answer` as JSON.
fn written(id: &Value, result: Option<&RawValue>, error: Option<&RawValue>) -> Bytes {
    let answer = Answer {
        jsonrpc: "2.0",
        id,
        result,
        error,
    };
    // Only strings, JSON values and JSON text: nothing that can fail to be written.
    Bytes::from(serde_json::to_vec(&answer).unwrap_or_default())
}

/// An HTTP answer of the JSON `answer`.
fn json(answer: Bytes) -> Response {
    let media = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, media)], answer).into_response()
}
