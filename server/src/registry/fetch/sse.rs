//! A client transport for the legacy HTTP+SSE protocol (MCP 2024-11-05), which rmcp no longer
//! ships: `GET` the SSE URL, wait for the `endpoint` event, then `POST` each message to that
//! endpoint and read the answers as `message` events.
//!
//! Limits: the endpoint must have the same origin as the SSE URL (so a server cannot send our
//! token elsewhere), and the SSE stream may carry at most `max_stream_bytes` in total, after
//! which the connection ends and `oversized` is set.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::Url;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::RoleClient;
use sse_stream::SseStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::raw::RawTools;

/// Why the SSE connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub(super) enum SseConnectError {
    /// The HTTP request failed or returned an error status.
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    /// The server broke the protocol before the session started.
    #[error("{0}")]
    Protocol(String),
    /// The server's answer broke a limit.
    #[error("{0}")]
    Rejected(String),
}

/// A connected legacy SSE session.
pub(super) struct SseTransport {
    http: reqwest::Client,
    endpoint: Url,
    headers: HeaderMap,
    rx: mpsc::Receiver<ServerJsonRpcMessage>,
    stop: CancellationToken,
}

impl SseTransport {
    /// Opens the SSE stream at `url` and waits for the `endpoint` event.
    pub async fn connect(
        http: reqwest::Client,
        url: &str,
        headers: HeaderMap,
        max_stream_bytes: usize,
        oversized: Arc<AtomicBool>,
        raw: RawTools,
    ) -> Result<Self, SseConnectError> {
        let response = http
            .get(url)
            .header(ACCEPT, "text/event-stream")
            .headers(headers.clone())
            .send()
            .await?
            .error_for_status()?;
        let base = response.url().clone();
        let mut received = 0usize;
        let flag = oversized.clone();
        let bytes = response.bytes_stream().map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            received = received.saturating_add(chunk.len());
            if received > max_stream_bytes {
                flag.store(true, Ordering::Relaxed);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the SSE stream exceeded {max_stream_bytes} bytes"),
                ));
            }
            Ok(chunk)
        });
        let mut events = Box::pin(SseStream::from_bytes_stream(bytes));
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    let data = event.data.unwrap_or_default();
                    let endpoint = base.join(data.trim()).map_err(|e| {
                        SseConnectError::Protocol(format!("bad endpoint {data:?}: {e}"))
                    })?;
                    if endpoint.origin() != base.origin() {
                        return Err(SseConnectError::Rejected(format!(
                            "the endpoint {endpoint} is not on the SSE URL's origin"
                        )));
                    }
                    break endpoint;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) if oversized.load(Ordering::Relaxed) => {
                    return Err(SseConnectError::Rejected(e.to_string()))
                }
                Some(Err(e)) => {
                    return Err(SseConnectError::Protocol(format!(
                        "the SSE stream failed before the endpoint event: {e}"
                    )))
                }
                None => {
                    return Err(SseConnectError::Protocol(
                        "the SSE stream ended before the endpoint event".into(),
                    ))
                }
            }
        };
        let (tx, rx) = mpsc::channel(16);
        let stop = CancellationToken::new();
        let task_stop = stop.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    () = task_stop.cancelled() => break,
                    event = events.next() => event,
                };
                match event {
                    Some(Ok(event)) if matches!(event.event.as_deref(), None | Some("message")) => {
                        let Some(data) = event.data else { continue };
                        raw.see(data.as_bytes());
                        match serde_json::from_str::<ServerJsonRpcMessage>(&data) {
                            Ok(message) => {
                                if tx.send(message).await.is_err() {
                                    break;
                                }
                            }
                            Err(e) => tracing::debug!("ignoring an unparsable SSE message: {e}"),
                        }
                    }
                    Some(Ok(_)) => continue,
                    // Dropping `tx` ends `receive`, which ends the client.
                    Some(Err(_)) | None => break,
                }
            }
        });
        Ok(Self {
            http,
            endpoint,
            headers,
            rx,
            stop,
        })
    }
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Transport<RoleClient> for SseTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .json(&item);
        async move {
            request
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map(|_| ())
                .map_err(std::io::Error::other)
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ServerJsonRpcMessage>> + Send {
        self.rx.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.stop.cancel();
        Ok(())
    }
}
