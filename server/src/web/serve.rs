//! The HTTP server loop, with the timeouts `axum::serve` lacks.
//!
//! `axum::serve` runs hyper without a timer, so hyper's header-read timeout never fires: a
//! client can trickle a request's headers, or hold an idle keep-alive connection, for as long
//! as it likes, one task and one socket each. This loop serves the router with hyper-util's
//! HTTP/1 and HTTP/2 builder and a tokio timer, so that:
//! - a request's headers must arrive within [`ConnectionTimeouts::header`], and an HTTP/1
//!   connection that stays idle between requests that long is closed (hyper's header timer
//!   runs from the moment it waits for a request);
//! - an HTTP/2 connection is pinged when it has been quiet that long, and closed when the
//!   ping goes unanswered for as long again.
//!
//! A request whose headers arrived is bounded by the router's own request timeout; a
//! streamed answer (an MCP event stream) is not idle and is not cut.
//!
//! On `shutdown` it stops accepting, asks every connection to finish its requests in flight
//! and close, and returns once all have closed.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long a connection may keep the server waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// The longest wait for a request's headers, and the longest an idle connection stays
    /// open.
    pub header: Duration,
}

/// Serves `app` on `listener` until `shutdown`, then drains (see the module docs).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: ConnectionTimeouts,
    shutdown: CancellationToken,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(timeouts.header)
        .keep_alive_timeout(timeouts.header)
        // The CONNECT protocol, for WebSockets over HTTP/2, as axum::serve enables it.
        .enable_connect_protocol();
    let graceful = GracefulShutdown::new();
    loop {
        let tcp = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        // A streamed answer (an MCP event stream through the gateway) goes out in several
        // small writes; Nagle's algorithm would hold each back until the previous was acked.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot turn Nagle's algorithm off");
        }
        let connection = builder
            .serve_connection_with_upgrades(
                TokioIo::new(tcp),
                TowerToHyperService::new(app.clone()),
            )
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that went away or timed out: routine, not the server's fault.
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// After a failed `accept`: a connection the client already dropped is routine; anything
/// else (out of file descriptors, above all) is logged and waited out for a second rather
/// than retried in a hot loop.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
