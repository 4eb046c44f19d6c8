//! The MCP gateway: `/mcp/{namespace}/{name}` speaks MCP streamable HTTP in front of each
//! published server and enforces its curation.
//!
//! It is a transparent, JSON-RPC-aware reverse proxy. It touches only two things:
//! - `tools/list` results keep the published tools, with their curated name, description and
//!   annotations ([`inspect`]);
//! - `tools/call` requests of a tool that is not published get the JSON-RPC error a server
//!   without that tool gives (`-32602 Unknown tool: X`) and never reach the backend; renamed
//!   tools are mapped back to the server's name ([`jsonrpc`]).
//!
//! Older clients can use the legacy HTTP+SSE transport at `/mcp/{namespace}/{name}/sse`
//! ([`legacy`]), an adapter in front of the same handlers.
//!
//! Everything else (initialize, resources, prompts, logging, completion, notifications,
//! progress, cancellation, ping, server requests on the event streams, sessions and
//! `Last-Event-ID` resumption) passes through unchanged, and bodies stream ([`sse`]). Every
//! tool call is measured ([`measure`]).
//!
//! Backends: servers with a streamable-http `url`; local processes that speak stdio and legacy
//! HTTP+SSE servers, both through a [`bridge`] (one stdio process is shared by every client
//! session; a legacy SSE server gets one connection per session). With sign-in on, every
//! request needs a bearer token for the endpoint ([`crate::auth::resource`]); in local mode the
//! gateway serves this machine only. A server whose manifest declares inbound security that
//! Apiary does not enforce is not served at all ([`inbound`]).

pub mod access;
pub mod authz;
mod bridge;
#[doc(hidden)]
pub mod fuzzing;
pub mod inbound;
mod inspect;
pub(crate) mod jsonrpc;
mod legacy;
pub(crate) mod measure;
pub(crate) mod proxy;
pub(crate) mod sse;
pub(crate) mod target;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use futures::{Stream, StreamExt};

use crate::auth::Auth;
use crate::db::{Db, DbError};
use crate::runtime::Reach;
use crate::servers::ServerStore;

use target::{Target, Targets};

/// The largest request body a client may send.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// The largest JSON answer or single event the gateway reads from a backend.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// How long answers in flight may still take once shutdown begins; event streams that wait
/// for server notices end at once.
pub const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// The gateway's routes.
pub fn routes() -> Router<GatewayState> {
    Router::new()
        .route(
            "/mcp/{namespace}/{name}",
            post(proxy::post).get(proxy::get).delete(proxy::delete),
        )
        .route("/mcp/{namespace}/{name}/sse", get(legacy::open))
        .route("/mcp/{namespace}/{name}/messages", post(legacy::message))
}

/// What the gateway's handlers reach (the web layer builds it from the application's state).
#[derive(Clone)]
pub struct GatewayState {
    /// The loaded servers and the HTTP client.
    pub gateway: Gateway,
    /// The database.
    pub db: Db,
    /// Server records, for the access API.
    pub servers: ServerStore,
    /// Where local stdio servers run.
    pub runtime: Arc<dyn Reach>,
    /// The cluster client, which servers are read from in Kubernetes mode.
    pub kube: Option<kube::Client>,
    /// Sign-in, which checks callers' bearer tokens; `None` in local mode.
    pub auth: Option<Arc<Auth>>,
}

impl GatewayState {
    /// The published server `namespace/name` as the gateway serves it, if there is one.
    pub(crate) async fn published(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<Target>>, DbError> {
        let targets = &self.gateway.inner.targets;
        targets
            .get(&self.db, self.kube.as_ref(), namespace, name)
            .await
    }
}

/// The gateway's shared state: the loaded servers and one pooled HTTP client.
#[derive(Clone, Debug)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    targets: Targets,
    bridges: bridge::Bridges,
    legacy: legacy::LegacySessions,
    client: reqwest::Client,
    timeout: Duration,
    /// Cancelled when shutdown begins.
    draining: tokio_util::sync::CancellationToken,
    /// Serves the names no published server has (virtual servers).
    fallback: std::sync::OnceLock<Arc<dyn Fallback>>,
}

/// Endpoints under `/mcp/{namespace}/{name}` that are not a published server's own (virtual
/// servers, served by [`crate::virtual_servers`]); asked only for names no server has, so the
/// servers' hot path never waits for it.
pub trait Fallback: Send + Sync + std::fmt::Debug {
    /// The answer to `request` for `namespace/name`, or the request back when nothing is
    /// served under that name.
    fn serve<'a>(
        &'a self,
        state: &'a GatewayState,
        id: (&'a str, &'a str),
        request: axum::extract::Request,
    ) -> futures::future::BoxFuture<'a, Result<Response, axum::extract::Request>>;

    /// Whether the holder of the bearer token in `headers` may use `namespace/name` (the
    /// refusal otherwise); `None` when nothing is served under that name.
    fn admits<'a>(
        &'a self,
        state: &'a GatewayState,
        id: (&'a str, &'a str),
        headers: &'a axum::http::HeaderMap,
    ) -> futures::future::BoxFuture<'a, Option<Result<(), Response>>>;

    /// Drops what is cached about `namespace/name` (it was changed).
    fn forget(&self, namespace: &str, name: &str);

    /// A published server changed (its registration or curation): what is cached about the
    /// endpoints that draw on servers is dropped.
    fn server_changed(&self);

    /// Ends every session of `namespace/name` (it was removed).
    fn close(&self, namespace: &str, name: &str);

    /// Shutdown begins: every session ends after `grace` (answers in flight finish first).
    fn drain(&self, grace: Duration);
}

impl Gateway {
    /// A gateway for servers that run in `mode`, whose backends must answer (with headers)
    /// within `timeout`.
    pub fn new(timeout: Duration, mode: crate::config::Runtime) -> Self {
        crate::tls::install_crypto_provider();
        // No redirects: an MCP endpoint has no reason to send the client's session elsewhere.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_else(|error| {
                tracing::error!(%error, "cannot build the gateway's HTTP client; using the defaults");
                reqwest::Client::default()
            });
        Self {
            inner: Arc::new(Inner {
                targets: Targets::new(mode),
                bridges: bridge::Bridges::default(),
                legacy: legacy::LegacySessions::default(),
                client,
                timeout,
                draining: tokio_util::sync::CancellationToken::new(),
                fallback: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Begins a graceful drain: streams that only wait for notices end now, answers in flight
    /// get [`DRAIN_GRACE`] to finish.
    pub fn drain(&self) {
        self.inner.draining.cancel();
        if let Some(fallback) = self.fallback() {
            fallback.drain(DRAIN_GRACE);
        }
    }

    /// `stream`, cut when the drain asks: at once for a notice stream, after the grace period
    /// for one that carries answers to requests.
    fn until_drained<S>(&self, stream: S, answering: bool) -> impl Stream<Item = S::Item> + Send
    where
        S: Stream + Send + 'static,
    {
        let draining = self.inner.draining.clone();
        stream.take_until(Box::pin(async move {
            draining.cancelled().await;
            if answering {
                tokio::time::sleep(DRAIN_GRACE).await;
            }
        }))
    }

    /// Serves the names no published server has with `fallback` (once; later calls are
    /// ignored).
    pub fn serve_also(&self, fallback: Arc<dyn Fallback>) {
        let _ = self.inner.fallback.set(fallback);
    }

    /// Forgets what is known about the endpoint `namespace/name` that is not a server's (after
    /// a change); with `removed`, its sessions end.
    pub fn forget_other(&self, namespace: &str, name: &str, removed: bool) {
        if let Some(fallback) = self.fallback() {
            if removed {
                fallback.close(namespace, name);
            } else {
                fallback.forget(namespace, name);
            }
        }
    }

    fn fallback(&self) -> Option<&Arc<dyn Fallback>> {
        self.inner.fallback.get()
    }

    fn legacy(&self) -> &legacy::LegacySessions {
        &self.inner.legacy
    }

    /// The measured calls, for the periodic flush to the database.
    pub fn usage(&self) -> Arc<usage::Usage> {
        self.inner.targets.usage.clone()
    }

    /// Forgets what the gateway knows about `namespace/name` (after a registration or a
    /// curation change), so the next request sees the change.
    pub fn forget(&self, namespace: &str, name: &str) {
        self.inner.targets.forget(namespace, name);
        if let Some(fallback) = self.fallback() {
            fallback.server_changed();
        }
    }

    /// Sessions of Apiary's own with the local stdio servers `runtime` runs, shared with the
    /// gateway's clients (for the registry's fetch).
    pub fn local_sessions(
        &self,
        runtime: std::sync::Arc<dyn Reach>,
    ) -> std::sync::Arc<dyn crate::registry::fetch::LocalSessions> {
        std::sync::Arc::new(bridge::BridgedSessions::new(self.clone(), runtime))
    }

    fn bridges(&self) -> &bridge::Bridges {
        &self.inner.bridges
    }

    fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// Sends `request` to `target`'s backend; the headers must come within the timeout.
    async fn send(
        &self,
        target: &Target,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Response> {
        let timeout = self.inner.timeout;
        let outcome = tokio::time::timeout(timeout, request.send()).await;
        let why = match outcome {
            Ok(Ok(response)) => return Ok(response),
            Ok(Err(error)) => format!(
                "the backend of {} is unreachable: {}",
                target.id,
                crate::auth::oidc::error_chain(&error)
            ),
            Err(_) => format!(
                "the backend of {} did not answer within {} s (APIARY_FETCH_TIMEOUT_SECS)",
                target.id,
                timeout.as_secs()
            ),
        };
        target.metrics.backend_error();
        tracing::warn!(server = %target.id, %why, "gateway request failed");
        Err(proxy::failure(
            StatusCode::BAD_GATEWAY,
            jsonrpc::INTERNAL_ERROR,
            why,
        ))
    }
}

impl crate::registry::ServerChanges for Gateway {
    fn forget(&self, namespace: &str, name: &str) {
        Gateway::forget(self, namespace, name);
    }
}
