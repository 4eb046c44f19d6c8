//! The legacy HTTP+SSE transport (MCP 2024-11-05) for older clients, in front of the same
//! endpoint: `GET /mcp/{ns}/{name}/sse` opens the event stream and names the message URL,
//! `POST /mcp/{ns}/{name}/messages?sessionId=…` takes JSON-RPC messages and answers 202; the
//! answers arrive on the event stream.
//!
//! It adapts, nothing more: each posted message goes through the streamable HTTP handlers
//! ([`super::proxy`]) with the session's `Mcp-Session-Id`, so curation, measurement, access and
//! every backend kind are the same, and their answers (JSON or events) are copied to the
//! session's stream. The protocol version the backend negotiated in `initialize` goes with
//! every later request as `MCP-Protocol-Version`, as a streamable HTTP client sends it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::locks::lock;

use super::jsonrpc::INVALID_REQUEST;
use super::proxy::{self, failure};
use super::{sse, GatewayState};

/// Events a session's stream holds for a slow client; a full stream slows the backend.
const STREAM_QUEUE: usize = 64;
const SESSION_HEADER: &str = "mcp-session-id";

/// Open legacy sessions by id.
#[derive(Debug, Default)]
pub struct LegacySessions {
    open: Mutex<HashMap<String, Arc<Session>>>,
}

#[derive(Debug)]
struct Session {
    namespace: String,
    name: String,
    events: mpsc::Sender<Bytes>,
    /// The `Authorization` it was opened with (marked sensitive), for the requests the
    /// gateway makes on the session's behalf.
    authorization: Option<HeaderValue>,
    /// The streamable session behind it, once `initialize` was answered.
    upstream: Mutex<Option<HeaderValue>>,
    /// The protocol version `initialize` negotiated.
    version: Mutex<Option<HeaderValue>>,
}

/// The message URL's query.
#[derive(Debug, Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// `GET /mcp/{namespace}/{name}/sse`: opens a session and its event stream.
pub async fn open(
    State(state): State<GatewayState>,
    Path((namespace, name)): Path<(String, String)>,
    request_headers: HeaderMap,
) -> Response {
    let admitted = match proxy::lookup(&state, &namespace, &name).await {
        Ok(Some(target)) => proxy::admit(&state, &target, &request_headers)
            .await
            .map(drop),
        Ok(None) => match state.gateway.fallback() {
            Some(fallback) => match fallback
                .admits(&state, (&namespace, &name), &request_headers)
                .await
            {
                Some(admitted) => admitted,
                None => Err(proxy::missing(&state, (&namespace, &name), &request_headers).await),
            },
            None => Err(proxy::missing(&state, (&namespace, &name), &request_headers).await),
        },
        Err(response) => Err(response),
    };
    if let Err(refusal) = admitted {
        return refusal;
    }
    let authorization = request_headers
        .get(header::AUTHORIZATION)
        .cloned()
        .map(|mut value| {
            value.set_sensitive(true);
            value
        });
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (events, stream) = mpsc::channel(STREAM_QUEUE);
    let endpoint = format!("/mcp/{namespace}/{name}/messages?sessionId={id}");
    let first = Bytes::from(format!("event: endpoint\ndata: {endpoint}\n\n"));
    let session = Arc::new(Session {
        namespace,
        name,
        events,
        authorization,
        upstream: Mutex::new(None),
        version: Mutex::new(None),
    });
    lock(&state.gateway.legacy().open).insert(id.clone(), session.clone());
    let closer = Closer {
        state: state.clone(),
        id,
        session,
    };
    let body = futures::stream::once(async move { first })
        .chain(futures::stream::unfold(
            (stream, closer),
            |(mut stream, closer)| async move {
                let event = stream.recv().await?;
                Some((event, (stream, closer)))
            },
        ))
        .map(Ok::<_, std::io::Error>);
    sse::event_stream(state.gateway.until_drained(body, false))
}

/// `POST /mcp/{namespace}/{name}/messages?sessionId=…`: one message (or batch) of a session.
pub async fn message(
    State(state): State<GatewayState>,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<SessionQuery>,
    request_headers: HeaderMap,
    body: Body,
) -> Response {
    let open = lock(&state.gateway.legacy().open)
        .get(&query.session_id)
        .cloned();
    let Some(session) = open.filter(|s| s.namespace == namespace && s.name == name) else {
        return failure(
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            "unknown or ended session; open a new one at the sse endpoint",
        );
    };
    let upstream = lock(&session.upstream).clone();
    let version = lock(&session.version).clone();
    let mut headers = proxy::client_post_headers(upstream.clone(), version);
    if let Some(authorization) = request_headers.get(header::AUTHORIZATION) {
        headers.insert(header::AUTHORIZATION, authorization.clone());
    }
    let answer = proxy::post(
        State(state.clone()),
        Path((namespace.clone(), name.clone())),
        headers,
        body,
    )
    .await;
    let status = answer.status();
    if !status.is_success() {
        // The gateway refused it outright (bad JSON, access, backend down): the client hears
        // it on the POST, as a legacy server says so.
        return answer;
    }
    let opened = upstream.is_none() && answer.headers().contains_key(SESSION_HEADER);
    if let Some(upstream) = answer.headers().get(SESSION_HEADER) {
        *lock(&session.upstream) = Some(upstream.clone());
    }
    let learn = upstream.is_none().then(|| session.clone());
    tokio::spawn(copy_answer(answer, session.events.clone(), learn));
    if opened {
        tokio::spawn(listen(state, session));
    }
    StatusCode::ACCEPTED.into_response()
}

/// Copies a streamable answer (JSON or events) to the session's stream, event by event. With
/// `learn`, the answer may be the one to `initialize`: its protocol version is kept for the
/// session's later requests (before the client sees it, so none goes without).
async fn copy_answer(answer: Response, events: mpsc::Sender<Bytes>, learn: Option<Arc<Session>>) {
    let json = answer
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let body = answer.into_body();
    if json {
        let Ok(bytes) = axum::body::to_bytes(body, super::MAX_RESPONSE_BYTES).await else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        let messages = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Array(messages)) => messages,
            Ok(message) => vec![message],
            Err(_) => return,
        };
        for message in messages {
            if let Some(session) = &learn {
                session.learn_version(&message);
            }
            if events
                .send(sse::event(message.to_string().as_bytes()))
                .await
                .is_err()
            {
                return;
            }
        }
        return;
    }
    let mut stream = sse_stream::SseStream::from_bytes_stream(body.into_data_stream());
    while let Some(Ok(event)) = stream.next().await {
        // An event without a message (a streamable server's priming event, which only sets
        // the id to resume from) means nothing on a legacy stream, and legacy clients would
        // read its empty data as a broken message.
        let Some(data) = event.data.filter(|data| !data.trim().is_empty()) else {
            continue;
        };
        if let Some(session) = &learn {
            if let Ok(message) = serde_json::from_str::<Value>(&data) {
                session.learn_version(&message);
            }
        }
        if events.send(sse::event(data.as_bytes())).await.is_err() {
            return;
        }
    }
}

/// Copies the streamable session's notices (its `GET` stream) to the legacy stream.
async fn listen(state: GatewayState, session: Arc<Session>) {
    let Some(upstream) = lock(&session.upstream).clone() else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(SESSION_HEADER, upstream);
    if let Some(authorization) = session.authorization.clone() {
        headers.insert(header::AUTHORIZATION, authorization);
    }
    let answer = proxy::get(
        State(state),
        Path((session.namespace.clone(), session.name.clone())),
        headers,
    )
    .await;
    if answer.status().is_success() {
        copy_answer(answer, session.events.clone(), None).await;
    }
}

/// Ends the session when its event stream goes: the streamable session behind it too.
struct Closer {
    state: GatewayState,
    id: String,
    session: Arc<Session>,
}

impl Drop for Closer {
    fn drop(&mut self) {
        lock(&self.state.gateway.legacy().open).remove(&self.id);
        let Some(upstream) = lock(&self.session.upstream).take() else {
            return;
        };
        let state = self.state.clone();
        let (namespace, name) = (self.session.namespace.clone(), self.session.name.clone());
        let authorization = self.session.authorization.clone();
        tokio::spawn(async move {
            let mut headers = HeaderMap::new();
            headers.insert(SESSION_HEADER, upstream);
            if let Some(authorization) = authorization {
                headers.insert(header::AUTHORIZATION, authorization);
            }
            proxy::delete(State(state), Path((namespace, name)), headers).await;
        });
    }
}

impl Session {
    /// Keeps the protocol version of an `initialize` answer.
    fn learn_version(&self, message: &Value) {
        let version = message
            .pointer("/result/protocolVersion")
            .and_then(Value::as_str)
            .and_then(|v| HeaderValue::from_str(v).ok());
        if let Some(version) = version {
            *lock(&self.version) = Some(version);
        }
    }
}
