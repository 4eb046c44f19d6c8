//! One MCP server connection shared by client sessions: a stdio process (shared by every
//! session) or a legacy SSE connection (one per session).
//!
//! Such a connection speaks to one client, so the bridge is that client: it runs `initialize`
//! once, answers each session's `initialize` with the version that session asked for when the
//! server supports it ([`super::version`]), then forwards every session's messages with request ids (and progress tokens)
//! rewritten to its own, so answers find their way back to the session and request that asked.
//! Notifications that belong to no request (list changes, log messages) go to every session's
//! event stream. Requests the server sends to its client (sampling, roots, elicitation) are
//! answered with an error: the bridge cannot tell which session they are for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::super::jsonrpc::{self, INTERNAL_ERROR};
use super::version::Versions;

/// JSON-RPC: the method does not exist.
const METHOD_NOT_FOUND: i64 = -32601;

/// Where the answers for one client request go.
struct Pending {
    /// The session that asked.
    session: String,
    /// The id the client gave the request.
    client_id: Value,
    /// The client's progress token, when it asked for progress.
    progress_token: Option<Value>,
    /// The stream of the POST that carried the request.
    reply: mpsc::Sender<Value>,
}

/// One client session.
struct Session {
    /// The protocol version it negotiated.
    version: String,
    /// The sender of its event stream (`GET`), once it opened one.
    listener: Option<mpsc::Sender<Value>>,
}

#[derive(Default)]
struct Routes {
    next_id: u64,
    /// Requests in flight by the id the bridge gave them.
    pending: HashMap<u64, Pending>,
    /// Open sessions by id.
    sessions: HashMap<String, Session>,
}

/// A connected, initialized server.
pub struct Bridge {
    server: String,
    to_server: mpsc::Sender<String>,
    routes: Mutex<Routes>,
    /// The server's `initialize` result, given to every session that initializes (with the
    /// session's own protocol version).
    initialized: Value,
    /// What the server answered to the version the bridge asked for.
    versions: Versions,
    closed: AtomicBool,
    /// Cancelled to drop the connection (a legacy SSE session that ended).
    stop: CancellationToken,
}

/// Why the bridge could not reach the server.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The connection ended (the process exited or was replaced, the stream broke).
    #[error("the server {0} went away; try again once it runs")]
    Closed(String),
    /// The server did not finish `initialize` in time.
    #[error("the server {server} did not answer initialize within {secs} s")]
    Timeout {
        /// `namespace/name`.
        server: String,
        /// The limit.
        secs: u64,
    },
    /// The server answered `initialize` with an error.
    #[error("the server {server} refused initialize: {reason}")]
    Refused {
        /// `namespace/name`.
        server: String,
        /// The error it gave.
        reason: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the server {server}: {reason}")]
    Unreachable {
        /// `namespace/name`.
        server: String,
        /// Why.
        reason: String,
    },
    /// The session id is not one the bridge gave out (or it ended).
    #[error("unknown or ended MCP session; send initialize to start a new one")]
    UnknownSession,
    /// The request's `MCP-Protocol-Version` is not the one its session negotiated.
    #[error("Bad Request: MCP-Protocol-Version {got} is not the version this session negotiated ({negotiated})")]
    WrongVersion {
        /// The header's value.
        got: String,
        /// The session's version.
        negotiated: String,
    },
}

impl Bridge {
    /// Runs `initialize` with the server over a connection, asking for protocol version
    /// `asked`: `to_server` takes one JSON-RPC message at a time, `incoming` yields the
    /// server's messages (ending when it goes away).
    pub async fn start<I>(
        server: String,
        to_server: mpsc::Sender<String>,
        mut incoming: I,
        asked: &str,
        timeout: Duration,
    ) -> Result<Arc<Self>, BridgeError>
    where
        I: Stream<Item = String> + Send + Unpin + 'static,
    {
        let hello = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": asked,
            "capabilities": {},
            "clientInfo": { "name": "apiary-gateway", "version": env!("CARGO_PKG_VERSION") },
        } });
        let closed = || BridgeError::Closed(server.clone());
        to_server
            .send(hello.to_string())
            .await
            .map_err(|_| closed())?;
        let answer = tokio::time::timeout(timeout, async {
            while let Some(line) = incoming.next().await {
                let Ok(message) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if message.get("id") == Some(&json!(0)) && message.get("method").is_none() {
                    return Some(message);
                }
            }
            None
        })
        .await
        .map_err(|_| BridgeError::Timeout {
            server: server.clone(),
            secs: timeout.as_secs(),
        })?
        .ok_or_else(closed)?;
        let initialized = match (answer.get("result"), answer.get("error")) {
            (Some(result), _) => result.clone(),
            (None, error) => {
                return Err(BridgeError::Refused {
                    server,
                    reason: error.map(Value::to_string).unwrap_or_default(),
                })
            }
        };
        let Some(answered) = initialized["protocolVersion"].as_str() else {
            return Err(BridgeError::Refused {
                server,
                reason: "its initialize result names no protocolVersion".into(),
            });
        };
        let versions = Versions::new(asked, answered);
        let notice = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        to_server
            .send(notice.to_string())
            .await
            .map_err(|_| closed())?;
        let bridge = Arc::new(Self {
            server,
            to_server,
            routes: Mutex::default(),
            initialized,
            versions,
            closed: AtomicBool::new(false),
            stop: CancellationToken::new(),
        });
        tokio::spawn(read_loop(bridge.clone(), incoming));
        // A connection whose sending side broke is dropped as a whole.
        let watched = bridge.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = watched.to_server.closed() => watched.stop.cancel(),
                () = watched.stop.cancelled() => {}
            }
        });
        Ok(bridge)
    }

    /// True once the connection ended.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.to_server.is_closed()
    }

    /// Drops the connection: requests in flight get an error, and the server's side ends.
    pub fn shut_down(&self) {
        self.stop.cancel();
    }

    /// Starts a session for a client's `initialize` request `id` asking for protocol version
    /// `requested`: the session's id and the answer, which names the version the session
    /// gets (the one asked for when the server supports it, otherwise the server's).
    pub fn open_session(&self, id: Value, requested: Option<&str>) -> (String, Value) {
        let session = uuid::Uuid::new_v4().simple().to_string();
        let version = self.versions.negotiate(requested).to_owned();
        let mut result = self.initialized.clone();
        result["protocolVersion"] = Value::String(version.clone());
        self.routes().sessions.insert(
            session.clone(),
            Session {
                version,
                listener: None,
            },
        );
        let answer = json!({ "jsonrpc": "2.0", "id": id, "result": result });
        (session, answer)
    }

    /// Checks a request's `MCP-Protocol-Version` header, when it has one, against the version
    /// `session` negotiated (a client without the header is taken at its word, as the
    /// specification says for clients of 2025-03-26).
    pub fn check_version(&self, session: &str, header: Option<&str>) -> Result<(), BridgeError> {
        let routes = self.routes();
        let open = routes
            .sessions
            .get(session)
            .ok_or(BridgeError::UnknownSession)?;
        match header {
            Some(got) if got != open.version => Err(BridgeError::WrongVersion {
                got: got.to_owned(),
                negotiated: open.version.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Ends a session: its requests in flight are forgotten.
    pub fn close_session(&self, session: &str) -> Result<(), BridgeError> {
        let mut routes = self.routes();
        routes
            .sessions
            .remove(session)
            .ok_or(BridgeError::UnknownSession)?;
        routes.pending.retain(|_, p| p.session != session);
        Ok(())
    }

    /// The event stream of `session` for messages that belong to no request; a newer stream
    /// replaces an older one.
    pub fn listen(
        &self,
        session: &str,
        capacity: usize,
    ) -> Result<mpsc::Receiver<Value>, BridgeError> {
        let mut routes = self.routes();
        let open = routes
            .sessions
            .get_mut(session)
            .ok_or(BridgeError::UnknownSession)?;
        let (tx, rx) = mpsc::channel(capacity);
        open.listener = Some(tx);
        Ok(rx)
    }

    /// Sends a session's messages to the server. Answers to its requests (and their progress)
    /// arrive on `reply`; the ids returned are the bridge's ids of those requests.
    pub async fn send(
        &self,
        session: &str,
        messages: Vec<Value>,
        reply: &mpsc::Sender<Value>,
    ) -> Result<Vec<u64>, BridgeError> {
        let mut lines = Vec::with_capacity(messages.len());
        let mut ids = Vec::new();
        {
            let mut routes = self.routes();
            if !routes.sessions.contains_key(session) {
                return Err(BridgeError::UnknownSession);
            }
            for message in messages {
                if let Some((line, id)) = routes.outgoing(session, message, reply) {
                    lines.push(line);
                    ids.extend(id);
                }
            }
        }
        for line in lines {
            if self.to_server.send(line).await.is_err() {
                self.forget(&ids);
                return Err(BridgeError::Closed(self.server.clone()));
            }
        }
        Ok(ids)
    }

    /// Forgets requests whose client left, telling the server to cancel them.
    pub fn abandon(&self, ids: &[u64]) {
        let left = self.forget(ids);
        for id in left {
            let cancel = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": { "requestId": id, "reason": "the client went away" } });
            // Best effort: a full queue means the server is busy; the answer is dropped anyway.
            let _ = self.to_server.try_send(cancel.to_string());
        }
    }

    /// Removes `ids` from the requests in flight; the ones that were still there.
    fn forget(&self, ids: &[u64]) -> Vec<u64> {
        let mut routes = self.routes();
        ids.iter()
            .copied()
            .filter(|id| routes.pending.remove(id).is_some())
            .collect()
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        crate::locks::lock(&self.routes)
    }

    /// Routes one message from the server.
    fn incoming(&self, mut message: Value) {
        let is_request = message.get("method").is_some();
        match (is_request, message.get("id").cloned()) {
            // An answer to one of the bridge's requests.
            (false, Some(id)) => {
                let Some(pending) = id.as_u64().and_then(|id| self.routes().pending.remove(&id))
                else {
                    return;
                };
                message["id"] = pending.client_id;
                if pending.reply.try_send(message).is_err() {
                    tracing::debug!(server = %self.server, "a client left before its answer");
                }
            }
            // A request of the server to its client.
            (true, Some(id)) => {
                let method = message["method"].as_str().unwrap_or_default().to_owned();
                let refusal = json!({ "jsonrpc": "2.0", "id": id, "error": {
                    "code": METHOD_NOT_FOUND,
                    "message": format!("{method} is not available: the Apiary gateway cannot pass server requests to clients of this server"),
                } });
                let _ = self.to_server.try_send(refusal.to_string());
            }
            (true, None) => self.notification(message),
            (false, None) => {}
        }
    }

    fn notification(&self, mut message: Value) {
        let routes = self.routes();
        if message["method"] == "notifications/progress" {
            let token = message
                .pointer("/params/progressToken")
                .and_then(Value::as_u64);
            let Some(pending) = token.and_then(|t| routes.pending.get(&t)) else {
                return;
            };
            if let Some(client_token) = &pending.progress_token {
                message["params"]["progressToken"] = client_token.clone();
                // Progress is advisory: dropped when the client does not keep up.
                let _ = pending.reply.try_send(message);
            }
            return;
        }
        for listener in routes.sessions.values().filter_map(|s| s.listener.as_ref()) {
            // Change notices are hints; dropped for a session that does not keep up.
            let _ = listener.try_send(message.clone());
        }
    }

    /// The connection ended: every request in flight gets an error.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut routes = self.routes();
        for (_, pending) in routes.pending.drain() {
            let error = jsonrpc::error(
                pending.client_id,
                INTERNAL_ERROR,
                format!("the server {} went away before answering", self.server),
            );
            let _ = pending.reply.try_send(error);
        }
        routes.sessions.clear();
    }
}

impl Routes {
    /// The line to send for a session's `message`, with the bridge's request id when it is a
    /// request; `None` for messages the bridge keeps to itself.
    fn outgoing(
        &mut self,
        session: &str,
        mut message: Value,
        reply: &mpsc::Sender<Value>,
    ) -> Option<(String, Option<u64>)> {
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id = message.get("id").cloned();
        match (method.as_deref(), id) {
            // The bridge initialized the server once, for everyone.
            (Some("notifications/initialized"), None) => None,
            (Some("notifications/cancelled"), None) => {
                let client_id = message.pointer("/params/requestId")?.clone();
                let ours = self
                    .pending
                    .iter()
                    .find(|(_, p)| p.session == session && p.client_id == client_id)
                    .map(|(id, _)| *id)?;
                self.pending.remove(&ours);
                message["params"]["requestId"] = json!(ours);
                Some((message.to_string(), None))
            }
            (Some(_), None) => Some((message.to_string(), None)),
            (Some(_), Some(client_id)) => {
                self.next_id += 1;
                let ours = self.next_id;
                message["id"] = json!(ours);
                let progress_token = message
                    .pointer_mut("/params/_meta")
                    .and_then(Value::as_object_mut)
                    .and_then(|meta: &mut Map<String, Value>| {
                        let token = meta.remove("progressToken")?;
                        meta.insert("progressToken".into(), json!(ours));
                        Some(token)
                    });
                self.pending.insert(
                    ours,
                    Pending {
                        session: session.to_owned(),
                        client_id,
                        progress_token,
                        reply: reply.clone(),
                    },
                );
                Some((message.to_string(), Some(ours)))
            }
            // Answers to server requests: the bridge answered those itself.
            (None, _) => None,
        }
    }
}

async fn read_loop<I>(bridge: Arc<Bridge>, mut incoming: I)
where
    I: Stream<Item = String> + Unpin,
{
    loop {
        let line = tokio::select! {
            line = incoming.next() => line,
            () = bridge.stop.cancelled() => None,
        };
        let Some(line) = line else { break };
        match serde_json::from_str::<Value>(&line) {
            Ok(Value::Array(batch)) => batch.into_iter().for_each(|m| bridge.incoming(m)),
            Ok(message) => bridge.incoming(message),
            Err(error) => {
                tracing::debug!(server = %bridge.server, %error, "a message that is not JSON")
            }
        }
    }
    bridge.close();
}
