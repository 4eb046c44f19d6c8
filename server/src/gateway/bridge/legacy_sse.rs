//! Bridges to legacy HTTP+SSE servers (MCP 2024-11-05): one event-stream connection per client
//! session; the server names where messages go in its first `endpoint` event.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Url;
use tokio::sync::mpsc;

use super::mux::{Bridge, BridgeError};
use super::OUTGOING_QUEUE;

/// Opens an event stream to `url`, waits (within `timeout`) for the message endpoint, and
/// initializes the server over it, asking for protocol version `asked` (the connection is one
/// client session's, so its client's version).
pub async fn connect(
    server: String,
    client: &reqwest::Client,
    url: &str,
    asked: &str,
    timeout: Duration,
) -> Result<Arc<Bridge>, BridgeError> {
    let unreachable = |reason: String| BridgeError::Unreachable {
        server: server.clone(),
        reason,
    };
    let opened = tokio::time::timeout(
        timeout,
        client.get(url).header(ACCEPT, "text/event-stream").send(),
    )
    .await
    .map_err(|_| unreachable(format!("no answer within {} s", timeout.as_secs())))?
    .map_err(|error| unreachable(error.to_string()))?;
    if !opened.status().is_success() {
        return Err(unreachable(format!(
            "its event stream answered {}",
            opened.status()
        )));
    }
    let mut events = sse_stream::SseStream::from_bytes_stream(opened.bytes_stream());
    let endpoint = tokio::time::timeout(timeout, async {
        while let Some(event) = events.next().await {
            match event {
                Ok(event) if event.event.as_deref() == Some("endpoint") => return event.data,
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .map_err(|_| unreachable("it named no message endpoint in time".into()))?
    .ok_or_else(|| unreachable("its event stream ended without a message endpoint".into()))?;
    let base = Url::parse(url).map_err(|e| unreachable(format!("bad url {url}: {e}")))?;
    let endpoint = base
        .join(endpoint.trim())
        .map_err(|e| unreachable(format!("bad message endpoint {endpoint}: {e}")))?;
    // The server chooses where the gateway posts: never anywhere but the server itself.
    if endpoint.origin() != base.origin() {
        return Err(unreachable(format!(
            "its message endpoint {endpoint} is not on {}",
            base.origin().ascii_serialization()
        )));
    }
    let (to_server, queue) = mpsc::channel(OUTGOING_QUEUE);
    tokio::spawn(post_messages(
        server.clone(),
        client.clone(),
        endpoint,
        queue,
    ));
    let name = server.clone();
    let incoming = events.filter_map(move |event| {
        let message = match event {
            Ok(event) if event.event.as_deref().unwrap_or("message") == "message" => event.data,
            Ok(_) => None,
            Err(error) => {
                tracing::debug!(server = %name, %error, "an event the gateway cannot read");
                None
            }
        };
        std::future::ready(message)
    });
    Bridge::start(server, to_server, Box::pin(incoming), asked, timeout).await
}

/// Posts each message to the server's endpoint, in order; a refusal ends the connection.
async fn post_messages(
    server: String,
    client: reqwest::Client,
    endpoint: Url,
    mut queue: mpsc::Receiver<String>,
) {
    while let Some(message) = queue.recv().await {
        let sent = client
            .post(endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(message)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => {
                tracing::warn!(%server, status = %answer.status(), "the server refused a message");
                break;
            }
            Err(error) => {
                tracing::warn!(%server, %error, "cannot post to the server");
                break;
            }
        }
    }
}
