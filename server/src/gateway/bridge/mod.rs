//! Backends that speak MCP over a connection of their own rather than streamable HTTP: a
//! local stdio process ([`stdio`], one process shared by every client session) or a legacy
//! HTTP+SSE server ([`legacy_sse`], one connection per client session). The gateway speaks
//! streamable HTTP to clients and forwards through a [`Bridge`].
//!
//! Each answer travels on the event stream of the POST that asked, through the same
//! [`Inspector`] as an HTTP backend's answers, so curation and measurement are the same.
//!
//! Each session gets the protocol version it asked for where the server supports it: a legacy
//! SSE connection is initialized with the version its client asked for, a stdio process with
//! the newest the gateway knows, and [`version`] decides what each session is answered.

mod legacy_sse;
mod mux;
mod sessions;
mod stdio;
mod version;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::locks::lock;
use crate::runtime::{Reach, RuntimeError, RuntimeState};

pub use mux::{Bridge, BridgeError};
pub use sessions::BridgedSessions;

use super::inspect::Inspector;
use super::jsonrpc::{Plan, INTERNAL_ERROR, INVALID_REQUEST};
use super::proxy::{failure, local_answer};
use super::target::{Backend, Target};
use super::{sse, Gateway, MAX_RESPONSE_BYTES};

/// Messages waiting to go to a server; a full queue makes senders wait.
const OUTGOING_QUEUE: usize = 64;
/// Messages (answers and progress) a POST's stream holds for a slow client.
const REPLY_QUEUE: usize = 32;
/// Notices a session's event stream holds for a slow client.
const LISTEN_QUEUE: usize = 64;
const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// The longest the gateway waits for a stdio server to start (and initialize), so it answers
/// 502 with the reason before the request timeout answers 408.
const START_WAIT_LIMIT: Duration =
    Duration::from_secs(crate::api_error::REQUEST_TIMEOUT.as_secs() - 5);

/// The bridge to one stdio server, once connected; its lock is held while connecting.
type SharedSlot = Arc<tokio::sync::Mutex<Option<Arc<Bridge>>>>;

/// The open bridges: one per stdio server, one per legacy SSE session.
#[derive(Debug, Default)]
pub struct Bridges {
    shared: Mutex<HashMap<String, SharedSlot>>,
    sessions: Mutex<HashMap<String, Arc<Bridge>>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

impl Bridges {
    /// The bridge for a request to `target`: a new connection for a legacy SSE server's
    /// `initialize` (asking for the protocol version `initializing` names), the session's
    /// connection otherwise; the shared one for a stdio server.
    pub async fn for_request(
        &self,
        gateway: &Gateway,
        runtime: &dyn Reach,
        target: &Target,
        session: Option<&str>,
        initializing: Option<&str>,
    ) -> Result<Arc<Bridge>, Response> {
        let reached = match &target.backend {
            Backend::Stdio(server) => {
                let timeout = gateway.timeout().min(START_WAIT_LIMIT);
                return match self.shared(runtime, server, timeout).await {
                    Ok((bridge, _)) => Ok(bridge),
                    Err(why) => {
                        target.metrics.backend_error();
                        Err(failure(StatusCode::BAD_GATEWAY, INTERNAL_ERROR, why))
                    }
                };
            }
            Backend::LegacySse(url) if initializing.is_some() => {
                let asked = initializing
                    .filter(|v| !v.is_empty())
                    .unwrap_or(version::NEWEST);
                legacy_sse::connect(
                    target.id.clone(),
                    gateway.client(),
                    url,
                    asked,
                    gateway.timeout(),
                )
                .await
            }
            Backend::LegacySse(_) => {
                let known = session.and_then(|s| lock(&self.sessions).get(s).cloned());
                return known.ok_or_else(|| bridge_failure(target, BridgeError::UnknownSession));
            }
            _ => {
                return Err(failure(
                    StatusCode::BAD_GATEWAY,
                    INTERNAL_ERROR,
                    format!("{} is not reached through a bridge", target.id),
                ))
            }
        };
        reached.map_err(|error| bridge_failure(target, error))
    }

    /// Drops the connection of legacy SSE `session`, if it has one of its own.
    fn forget(&self, session: &str) {
        if let Some(bridge) = lock(&self.sessions).remove(session) {
            bridge.shut_down();
        }
    }

    /// The bridge to the stdio server `server`'s process, connecting (and initializing) it
    /// when there is none, waiting at most `timeout` for the process to start. Also says how
    /// long the start took when this call waited for it. Only callers for the same server wait
    /// for each other.
    pub(super) async fn shared(
        &self,
        runtime: &dyn Reach,
        server: &crate::runtime::ServerId,
        timeout: Duration,
    ) -> Result<(Arc<Bridge>, Option<Duration>), String> {
        let slot = lock(&self.shared)
            .entry(server.to_string())
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(bridge) = slot.as_ref().filter(|b| !b.is_closed()) {
            return Ok((bridge.clone(), None));
        }
        *slot = None;
        let started = Instant::now();
        let deadline = started + timeout;
        let handle = loop {
            let error = match runtime.open_stdio(server).await {
                Ok(handle) => break handle,
                // The process is (re)starting: its channel shows up in a moment, unless it
                // failed, and then the runtime says why.
                Err(RuntimeError::StdioUnavailable(_)) => {
                    match not_running(runtime, server).await {
                        Some(reason) => {
                            format!("the stdio server {server} is not running: {reason}")
                        }
                        None if Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        None => format!(
                            "the stdio server {server} did not start within {} s",
                            timeout.as_secs()
                        ),
                    }
                }
                Err(error) => format!("cannot reach the stdio server {server}: {error}"),
            };
            return Err(error);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let bridge = match stdio::connect(server.to_string(), handle, left).await {
            Ok(bridge) => bridge,
            Err(BridgeError::Closed(_)) => {
                // It exited during initialize: say why once the runtime has noticed.
                let why = exit_reason(runtime, server, deadline).await;
                return Err(format!(
                    "the stdio server {server} exited during initialize{}",
                    why.map(|r| format!(": {r}")).unwrap_or_default()
                ));
            }
            Err(error) => return Err(error.to_string()),
        };
        *slot = Some(bridge.clone());
        Ok((bridge, Some(started.elapsed())))
    }
}

/// Why the runtime says `server`'s process is not running, when it failed (it could not
/// start, or it exited and waits to be started again).
async fn not_running(runtime: &dyn Reach, server: &crate::runtime::ServerId) -> Option<String> {
    match runtime.status(server).await?.state {
        RuntimeState::Failed { reason, .. } => Some(reason),
        _ => None,
    }
}

/// Why `server`'s process ended, once the runtime reports it (within a second, and before
/// `deadline`).
async fn exit_reason(
    runtime: &dyn Reach,
    server: &crate::runtime::ServerId,
    deadline: Instant,
) -> Option<String> {
    let until = deadline.min(Instant::now() + Duration::from_secs(1));
    loop {
        if let Some(reason) = not_running(runtime, server).await {
            return Some(reason);
        }
        if Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `POST`: a client's planned messages, sent over the bridge.
pub async fn post(
    gateway: &Gateway,
    runtime: &dyn Reach,
    target: Arc<Target>,
    headers: &HeaderMap,
    plan: Plan,
) -> Response {
    let Some(forward) = plan.forward else {
        return local_answer(plan.local, plan.batch);
    };
    let messages = match serde_json::from_slice::<Value>(&forward) {
        Ok(Value::Array(messages)) => messages,
        Ok(message) => vec![message],
        Err(_) => Vec::new(),
    };
    let init = messages.iter().find(|m| m["method"] == "initialize");
    let requested = init.map(|m| m["params"]["protocolVersion"].as_str().unwrap_or_default());
    if init.is_some() && (messages.len() > 1 || plan.batch) {
        return failure(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Invalid Request: initialize must be sent on its own",
        );
    }
    let bridges = gateway.bridges();
    let bridge = match bridges
        .for_request(gateway, runtime, &target, session_of(headers), requested)
        .await
    {
        Ok(bridge) => bridge,
        Err(response) => return response,
    };
    if let Some(init) = init {
        let (session, answer) = bridge.open_session(init["id"].clone(), requested);
        if matches!(target.backend, Backend::LegacySse(_)) {
            lock(&bridges.sessions).insert(session.clone(), bridge);
        }
        let mut response = Json(answer).into_response();
        if let Ok(value) = HeaderValue::from_str(&session) {
            response.headers_mut().insert(SESSION_HEADER, value);
        }
        return response;
    }
    let Some(session) = session_of(headers) else {
        return failure(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Bad Request: no Mcp-Session-Id header; send initialize first",
        );
    };
    if let Err(error) = bridge.check_version(session, version_of(headers)) {
        return bridge_failure(&target, error);
    }
    let started = Instant::now();
    let (reply, answers) = mpsc::channel(REPLY_QUEUE + messages.len());
    let ids = match bridge.send(session, messages, &reply).await {
        Ok(ids) => ids,
        Err(error) => return bridge_failure(&target, error),
    };
    drop(reply);
    if ids.is_empty() {
        return local_answer(plan.local, plan.batch);
    }
    let inspector = Inspector::new(target, plan.calls, started).judged_by(plan.caller);
    let first = plan
        .local
        .iter()
        .map(|answer| sse::event(answer.to_string().as_bytes()))
        .collect();
    let events = replies(bridge, ids, answers);
    let events = sse::inspect(events, first, inspector, MAX_RESPONSE_BYTES);
    sse::event_stream(gateway.until_drained(events, true))
}

/// `GET`: the session's stream of notices that belong to no request.
pub async fn listen(
    gateway: &Gateway,
    runtime: &dyn Reach,
    target: Arc<Target>,
    headers: &HeaderMap,
) -> Response {
    let Some(session) = session_of(headers) else {
        return failure(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Bad Request: no Mcp-Session-Id header; send initialize first",
        );
    };
    let bridge = match gateway
        .bridges()
        .for_request(gateway, runtime, &target, Some(session), None)
        .await
    {
        Ok(bridge) => bridge,
        Err(response) => return response,
    };
    if let Err(error) = bridge.check_version(session, version_of(headers)) {
        return bridge_failure(&target, error);
    }
    let notices = match bridge.listen(session, LISTEN_QUEUE) {
        Ok(notices) => notices,
        Err(error) => return bridge_failure(&target, error),
    };
    let events = tokio_stream_of(notices)
        .map(|notice| Ok::<_, std::io::Error>(sse::event(notice.to_string().as_bytes())));
    let inspector = Inspector::new(target, Vec::new(), Instant::now());
    let events = sse::inspect(events.boxed(), Vec::new(), inspector, MAX_RESPONSE_BYTES);
    sse::event_stream(gateway.until_drained(events, false))
}

/// `DELETE`: ends the session.
pub async fn close(
    gateway: &Gateway,
    runtime: &dyn Reach,
    target: &Target,
    headers: &HeaderMap,
) -> Response {
    let Some(session) = session_of(headers) else {
        return failure(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Bad Request: no Mcp-Session-Id header",
        );
    };
    let bridges = gateway.bridges();
    let bridge = match bridges
        .for_request(gateway, runtime, target, Some(session), None)
        .await
    {
        Ok(bridge) => bridge,
        Err(response) => return response,
    };
    let closed = bridge.close_session(session);
    bridges.forget(session);
    match closed {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => bridge_failure(target, error),
    }
}

fn session_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok())
}

fn version_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok())
}

fn bridge_failure(target: &Target, error: BridgeError) -> Response {
    match error {
        BridgeError::UnknownSession => {
            failure(StatusCode::NOT_FOUND, INVALID_REQUEST, error.to_string())
        }
        BridgeError::WrongVersion { .. } => {
            failure(StatusCode::BAD_REQUEST, INVALID_REQUEST, error.to_string())
        }
        _ => {
            target.metrics.backend_error();
            failure(StatusCode::BAD_GATEWAY, INTERNAL_ERROR, error.to_string())
        }
    }
}

fn tokio_stream_of<T: Send + 'static>(
    mut receiver: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// The answers to the requests `ids` as events, ending after the last answer. When the client
/// leaves first, the requests still open are cancelled at the server.
fn replies(
    bridge: Arc<Bridge>,
    ids: Vec<u64>,
    answers: mpsc::Receiver<Value>,
) -> futures::stream::BoxStream<'static, Result<axum::body::Bytes, std::io::Error>> {
    struct Open {
        bridge: Arc<Bridge>,
        ids: Vec<u64>,
        left: usize,
        answers: mpsc::Receiver<Value>,
    }
    impl Drop for Open {
        fn drop(&mut self) {
            if self.left > 0 {
                self.bridge.abandon(&self.ids);
            }
        }
    }
    let open = Open {
        left: ids.len(),
        bridge,
        ids,
        answers,
    };
    futures::stream::unfold(open, |mut open| async move {
        if open.left == 0 {
            return None;
        }
        let message = open.answers.recv().await?;
        if message.get("id").is_some() {
            open.left -= 1;
        }
        Some((Ok(sse::event(message.to_string().as_bytes())), open))
    })
    .boxed()
}
