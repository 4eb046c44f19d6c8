//! Bridges to stdio processes: line-delimited JSON-RPC on the process's stdin and stdout.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};

use crate::runtime::StdioHandle;

use super::super::MAX_RESPONSE_BYTES;
use super::mux::{Bridge, BridgeError};
use super::OUTGOING_QUEUE;

/// Connects a bridge to the process behind `handle` and initializes it within `timeout`.
pub async fn connect(
    server: String,
    handle: StdioHandle,
    timeout: Duration,
) -> Result<Arc<Bridge>, BridgeError> {
    let (read, write) = tokio::io::split(handle);
    let (to_server, queue) = mpsc::channel(OUTGOING_QUEUE);
    tokio::spawn(write_lines(server.clone(), queue, write));
    let name = server.clone();
    // A line longer than the limit ends the connection, as a broken stream does.
    let lines = FramedRead::new(read, LinesCodec::new_with_max_length(MAX_RESPONSE_BYTES))
        .inspect(move |line| {
            if let Err(error) = line {
                tracing::warn!(server = %name, %error, "the stdio server's output broke");
            }
        })
        .take_while(|line| std::future::ready(line.is_ok()))
        .filter_map(|line| std::future::ready(line.ok()));
    let asked = super::version::NEWEST;
    Bridge::start(server, to_server, Box::pin(lines), asked, timeout).await
}

async fn write_lines<W>(server: String, mut queue: mpsc::Receiver<String>, write: W)
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut sink = FramedWrite::new(write, LinesCodec::new());
    while let Some(line) = queue.recv().await {
        if let Err(error) = sink.send(line).await {
            tracing::info!(%server, %error, "the stdio server's input closed");
            break;
        }
    }
}
