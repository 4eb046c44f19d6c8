//! Fetching from a local stdio server over the process the runtime already supervises.
//!
//! A stdio process speaks to one client, and in local mode the gateway is that client: it
//! shares the process among sessions. So the registry asks for a session of its own
//! ([`LocalSessions`], implemented by the gateway) instead of starting a second copy of the
//! server, and its fetch measures the server as consumers meet it: warm, with the start-up
//! (when the fetch had to wait for one) reported apart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::runtime::ServerId;

use super::super::model::FetchedTools;
use super::{client_config, initialize_error, list, raw, Diagnostics, FetchError, FetchLimits};

/// One MCP session with a running server: the messages a client sends, and the ones it gets.
#[derive(Debug)]
pub struct SessionPipe {
    /// JSON-RPC messages to the server; dropping the sender ends the session.
    pub to_server: mpsc::Sender<Value>,
    /// The server's messages to this session.
    pub from_server: mpsc::Receiver<Value>,
    /// How long the server took to start and answer `initialize`, when opening the session
    /// waited for that; `None` when it was already running.
    pub startup: Option<Duration>,
}

/// Opens sessions with local stdio servers over the processes the runtime supervises.
#[async_trait::async_trait]
pub trait LocalSessions: Send + Sync + std::fmt::Debug {
    /// Whether the runtime runs `server` (it runs published servers; an unpublished one has
    /// no process to share).
    async fn runs(&self, server: &ServerId) -> bool;

    /// A new session with `server`, waiting at most `timeout` for its process to start. The
    /// error says why the server cannot be reached (it is not running, and why).
    async fn open(&self, server: &ServerId, timeout: Duration) -> Result<SessionPipe, String>;
}

/// What a fetch over a running process found, and how long the server took to start when the
/// fetch waited for it.
#[derive(Debug)]
pub struct RunningFetch {
    /// The tools, or why not.
    pub result: Result<FetchedTools, FetchError>,
    /// The start-up the fetch waited for, if any.
    pub startup: Option<Duration>,
}

/// Fetches `server`'s tools over a session `sessions` opens, within `limits` (the timeout
/// covers waiting for the process too). The latency in the result is the tool listing's round
/// trip alone.
pub async fn fetch_running(
    sessions: &dyn LocalSessions,
    server: &ServerId,
    limits: &FetchLimits,
) -> RunningFetch {
    let (deadline, after) = (Instant::now() + limits.timeout, limits.timeout);
    let failed = |error| RunningFetch {
        result: Err(error),
        startup: None,
    };
    let pipe = match tokio::time::timeout(after, sessions.open(server, after)).await {
        Ok(Ok(pipe)) => pipe,
        Ok(Err(reason)) => return failed(FetchError::Connect { reason }),
        Err(_) => return failed(FetchError::Timeout { after }),
    };
    let startup = pipe.startup;
    let left = deadline.saturating_duration_since(Instant::now());
    let result = tokio::time::timeout(left, over(pipe, limits))
        .await
        .unwrap_or(Err(FetchError::Timeout { after }));
    RunningFetch { result, startup }
}

/// Runs `initialize` and every `tools/list` page over `pipe`.
async fn over(pipe: SessionPipe, limits: &FetchLimits) -> Result<FetchedTools, FetchError> {
    let SessionPipe {
        to_server,
        mut from_server,
        ..
    } = pipe;
    let oversized = Arc::new(AtomicBool::new(false));
    let raw = raw::RawTools::default();
    let sink = futures::sink::unfold(
        to_server,
        |to_server, message: TxJsonRpcMessage<RoleClient>| async move {
            let value = serde_json::to_value(&message).map_err(std::io::Error::other)?;
            to_server
                .send(value)
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
            Ok::<_, std::io::Error>(to_server)
        },
    );
    let (seen, flag, max) = (raw.clone(), oversized.clone(), limits.max_message_bytes);
    let incoming = futures::stream::poll_fn(move |cx| from_server.poll_recv(cx))
        .map(move |message: Value| {
            let text = message.to_string();
            if text.len() > max {
                // Ends the session, as a line over the limit ends a stdio connection.
                flag.store(true, Ordering::Relaxed);
                return None;
            }
            seen.see(text.as_bytes());
            Some(serde_json::from_value::<RxJsonRpcMessage<RoleClient>>(message).ok())
        })
        .take_while(|message| std::future::ready(message.is_some()))
        .filter_map(|message| std::future::ready(message.flatten()));
    let client = client_config()
        .serve((Box::pin(sink), Box::pin(incoming)))
        .await
        .map_err(|e| initialize_error(&e.to_string(), &oversized, ""))?;
    let diagnostics = Diagnostics {
        oversized,
        raw,
        child: None,
    };
    let result = list(&client, limits, &diagnostics, Instant::now()).await;
    // Ends the session; the process keeps running for everyone else.
    let _ = client.cancel().await;
    result
}
