//! The short way through a virtual server, for the two requests that make up nearly all of
//! its traffic:
//!
//! - a `tools/call` goes to its member on the session the client already has with it, with
//!   only the tool's name and the request id changed, and the member's result or error comes
//!   back with its bytes as the member sent them (key order and fields rmcp does not model
//!   included);
//! - a `tools/list` page is answered from the view's pages, written once per view.
//!
//! Both answer as JSON, which every protocol version allows. Anything else, and anything
//! unusual (a member session not yet open, the finder, an unknown tool, a member the caller
//! may not use, a header rmcp checks), goes on to the session's rmcp handler, which answers
//! it as before.

use std::sync::Arc;
use std::time::Instant;

use apiary_app::access::Viewer;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::gateway::measure::CallOutcome;
use crate::gateway::proxy::post_to;
use crate::gateway::target::Target;
use crate::gateway::{GatewayState, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

use super::finder::FINDER;
use super::links::{Link, Links};
use super::member::{self, Address};
use super::session::reach;
use super::views::{View, PAGE};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// A JSON-RPC request from the client, as far as the short way reads it.
#[derive(Deserialize)]
struct Incoming {
    jsonrpc: String,
    id: Value,
    method: String,
    #[serde(default)]
    params: Option<Map<String, Value>>,
}

/// A request sent to a member.
#[derive(Serialize)]
struct Outgoing<'a> {
    jsonrpc: &'static str,
    id: &'a str,
    method: &'static str,
    params: &'a Map<String, Value>,
}

/// A message from a member, as far as finding the answer needs: the rest stays unread.
#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(default)]
    id: Option<Value>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
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
    let bytes = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => bytes,
        // Cut off or too large: rmcp's handler answers with an empty body as it would.
        Err(_) => return Err(Request::from_parts(parts, Body::empty())),
    };
    let answered = match serde_json::from_slice::<Incoming>(&bytes) {
        Ok(incoming) if incoming.jsonrpc == "2.0" => match incoming.method.as_str() {
            "tools/call" => call(state, view, viewer, &link, &incoming).await,
            "tools/list" => list(view, &incoming),
            _ => None,
        },
        _ => None,
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
    Some(json(&Answer {
        jsonrpc: "2.0",
        id: &incoming.id,
        result: Some(page),
        error: None,
    }))
}

/// A call of one of the view's tools on the member's session that is open.
async fn call(
    state: &GatewayState,
    view: &View,
    viewer: Option<&Viewer>,
    link: &Link,
    incoming: &Incoming,
) -> Option<Response> {
    let params = incoming.params.as_ref()?;
    let name = params.get("name")?.as_str()?;
    if view.server.spec.finder.enabled && name == FINDER {
        return None;
    }
    let (exposed, metrics) = view.tool(name)?;
    let target = reach(state, viewer, exposed).await.ok()?;
    let member = link.opened(&target.id)?;
    let address = member.address()?;
    let mut params = params.clone();
    params.insert("name".into(), Value::String(exposed.member_tool.clone()));
    let id = link.call_id();
    let body = serde_json::to_vec(&Outgoing {
        jsonrpc: "2.0",
        id: &id,
        method: "tools/call",
        params: &params,
    })
    .ok()?;
    let started = Instant::now();
    let (outcome, response) = match send(state, target.clone(), &address, body, &id).await {
        Ok(reply) => {
            let outcome = outcome_of(&reply);
            let response = json(&Answer {
                jsonrpc: "2.0",
                id: &incoming.id,
                result: reply.result.as_deref(),
                error: reply.error.as_deref(),
            });
            (outcome, response)
        }
        Err(why) => {
            link.forget(&target.id);
            let result = rmcp::model::CallToolResult::error(vec![rmcp::model::ContentBlock::text(
                format!("{} did not answer: {why}", target.id),
            )]);
            let result = serde_json::value::to_raw_value(&result).ok()?;
            let response = json(&Answer {
                jsonrpc: "2.0",
                id: &incoming.id,
                result: Some(&result),
                error: None,
            });
            (CallOutcome::Failed, response)
        }
    };
    if let Some(metrics) = metrics {
        metrics.record(outcome, started.elapsed());
    }
    Some(response)
}

/// The member's answer to a call: its result or its error, as written.
struct MemberAnswer {
    result: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
}

/// Sends `body` (a request with id `id`) to `target` on the session at `address`, through
/// the gateway's own handler, and reads the member's answer to it.
async fn send(
    state: &GatewayState,
    target: Arc<Target>,
    address: &Address,
    body: Vec<u8>,
    id: &str,
) -> Result<MemberAnswer, String> {
    let response = post_to(
        state,
        target.clone(),
        None,
        &address.headers(),
        Body::from(body),
    )
    .await;
    if !response.status().is_success() {
        return Err(member::failure(response, &target.id).await);
    }
    if member::is(&response, "text/event-stream") {
        let mut events = member::events(response);
        while let Some(event) = events.next().await {
            let event = event.map_err(|error| format!("its event stream failed: {error}"))?;
            if let Some(answer) = event
                .data
                .as_deref()
                .and_then(|data| answer_to(data.as_bytes(), id))
            {
                return Ok(answer);
            }
        }
        return Err("its event stream ended without an answer".into());
    }
    let bytes = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BYTES)
        .await
        .map_err(|error| format!("its answer could not be read: {error}"))?;
    answer_to(&bytes, id).ok_or_else(|| "it answered something other than the call's answer".into())
}

/// The answer with id `id` in `data` (a JSON-RPC message or batch), if it is there.
fn answer_to(data: &[u8], id: &str) -> Option<MemberAnswer> {
    let owned = |reply: Reply<'_>| MemberAnswer {
        result: reply.result.map(ToOwned::to_owned),
        error: reply.error.map(ToOwned::to_owned),
    };
    let is_ours = |reply: &Reply<'_>| {
        reply.id.as_ref().and_then(Value::as_str) == Some(id)
            && (reply.result.is_some() || reply.error.is_some())
    };
    if data.trim_ascii_start().starts_with(b"[") {
        let replies: Vec<Reply<'_>> = serde_json::from_slice(data).ok()?;
        return replies.into_iter().find(is_ours).map(owned);
    }
    let reply: Reply<'_> = serde_json::from_slice(data).ok()?;
    is_ours(&reply).then(|| owned(reply))
}

/// How the member's answer ends the call, for the metrics.
fn outcome_of(reply: &MemberAnswer) -> CallOutcome {
    #[derive(Deserialize)]
    struct Error {
        code: Option<i64>,
    }
    #[derive(Deserialize)]
    struct Result {
        #[serde(rename = "isError")]
        is_error: Option<bool>,
    }
    if let Some(error) = &reply.error {
        let code = serde_json::from_str::<Error>(error.get())
            .ok()
            .and_then(|e| e.code);
        return CallOutcome::of_code(code);
    }
    let is_error = reply
        .result
        .as_ref()
        .and_then(|r| serde_json::from_str::<Result>(r.get()).ok())
        .and_then(|r| r.is_error);
    if is_error == Some(true) {
        CallOutcome::ToolError
    } else {
        CallOutcome::Ok
    }
}

fn json(answer: &Answer<'_>) -> Response {
    match serde_json::to_vec(answer) {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Bytes::from(bytes),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "a virtual server's answer cannot be written as JSON");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
