//! Server-sent events from the backend, passed on one event at a time: each event's data goes
//! through the [`Inspector`]; ids, event types, `retry` and comments pass as they came, and
//! an unchanged event is sent byte for byte. Only one event is held at a time, at most
//! `max_event` bytes, so a slow client slows the backend instead of filling memory.

use axum::body::Bytes;
use futures::{Stream, StreamExt};

use super::inspect::Inspector;

/// One SSE event that carries `data` as a JSON-RPC message, as the gateway sends its own
/// answers on a stream.
pub fn event(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// The backend's event stream, inspected: `first` goes out before it (the gateway's own
/// answers), then every backend event.
pub fn inspect<S, E>(
    upstream: S,
    first: Vec<Bytes>,
    inspector: Inspector,
    max_event: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display,
{
    let state = Events {
        upstream,
        buffer: Vec::new(),
        scanned: 0,
        inspector,
        max_event,
        ended: false,
    };
    let events = futures::stream::unfold(state, |mut state| async move {
        let item = state.next_event().await?;
        Some((item, state))
    });
    futures::stream::iter(first.into_iter().map(Ok)).chain(events)
}

struct Events<S> {
    upstream: S,
    buffer: Vec<u8>,
    /// Where the search for the end of the buffered event resumes, so each byte is looked at
    /// a bounded number of times however the backend chunks its stream.
    scanned: usize,
    inspector: Inspector,
    max_event: usize,
    ended: bool,
}

impl<S, E> Events<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    async fn next_event(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        loop {
            if let Some(end) = event_end(&self.buffer, self.scanned) {
                let raw: Vec<u8> = self.buffer.drain(..end).collect();
                self.scanned = 0;
                return Some(Ok(self.process(raw)));
            }
            // A line break in the last two bytes may still become a blank line.
            self.scanned = self.buffer.len().saturating_sub(2);
            if self.ended {
                // A last event without its blank line is passed on as it is.
                return (!self.buffer.is_empty())
                    .then(|| Ok(Bytes::from(std::mem::take(&mut self.buffer))));
            }
            match self.upstream.next().await {
                Some(Ok(chunk)) => {
                    self.buffer.extend_from_slice(&chunk);
                    if self.buffer.len() > self.max_event {
                        self.ended = true;
                        self.buffer.clear();
                        return Some(Err(std::io::Error::other(format!(
                            "the backend sent an event larger than {} bytes",
                            self.max_event
                        ))));
                    }
                }
                Some(Err(error)) => {
                    self.ended = true;
                    self.buffer.clear();
                    return Some(Err(std::io::Error::other(format!(
                        "the backend's stream failed: {error}"
                    ))));
                }
                None => self.ended = true,
            }
        }
    }

    /// The event to send for `raw` (one event with its closing blank line).
    fn process(&mut self, raw: Vec<u8>) -> Bytes {
        let lines: Vec<&[u8]> = raw
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .collect();
        let data: Vec<&[u8]> = lines
            .iter()
            .filter_map(|line| line.strip_prefix(b"data:"))
            .map(|value| value.strip_prefix(b" ").unwrap_or(value))
            .collect();
        if data.is_empty() {
            return Bytes::from(raw);
        }
        let Some(replacement) = self.inspector.payload(&data.join(&b'\n')) else {
            return Bytes::from(raw);
        };
        let mut out = Vec::with_capacity(replacement.len() + 64);
        let mut data_written = false;
        for line in lines.iter().filter(|line| !line.is_empty()) {
            if line.starts_with(b"data:") {
                if !data_written {
                    out.extend_from_slice(b"data: ");
                    out.extend_from_slice(&replacement);
                    out.push(b'\n');
                    data_written = true;
                }
            } else {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
        }
        out.push(b'\n');
        Bytes::from(out)
    }
}

/// Where the first complete event in `buffer` ends (after its blank line), if there is one,
/// looking at line breaks from `from` on.
fn event_end(buffer: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(newline) = buffer
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
    {
        let next = at + newline + 1;
        match buffer.get(next..) {
            Some([b'\n', ..]) => return Some(next + 1),
            Some([b'\r', b'\n', ..]) => return Some(next + 2),
            _ => at = next,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::gateway::target::Target;
    use crate::registry::curation::UnknownTools;

    fn inspector() -> Inspector {
        let target = Target::detached(&[("echo", "echo")], UnknownTools::Error);
        Inspector::new(Arc::new(target), Vec::new(), Instant::now())
    }

    async fn run(chunks: Vec<&'static [u8]>) -> String {
        let upstream = futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        );
        let out: Vec<_> = inspect(upstream, Vec::new(), inspector(), 1 << 20)
            .collect()
            .await;
        out.into_iter()
            .map(|chunk| String::from_utf8(chunk.expect("chunk").to_vec()).expect("text"))
            .collect()
    }

    #[tokio::test]
    async fn events_pass_byte_for_byte_unless_they_list_tools() {
        let text = ": keep-alive\n\nid: 1\r\nretry: 10\r\ndata:\r\n\r\nevent: message\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
        assert_eq!(run(vec![text.as_bytes()]).await, text);
        // Split anywhere, even inside a line ending.
        let (a, b) = text.split_at(30);
        assert_eq!(run(vec![a.as_bytes(), b.as_bytes()]).await, text);
    }

    #[tokio::test]
    async fn tool_lists_are_curated_keeping_the_event_id() {
        let list = json!({ "jsonrpc": "2.0", "id": 1, "result": { "tools": [{ "name": "echo" }, { "name": "secret" }] } });
        let text = format!("event: message\nid: 7\ndata: {list}\n\n");
        let out = run(vec![Box::leak(text.into_boxed_str()).as_bytes()]).await;
        let expected =
            json!({ "jsonrpc": "2.0", "id": 1, "result": { "tools": [{ "name": "echo" }] } });
        assert_eq!(out, format!("event: message\nid: 7\ndata: {expected}\n\n"));
    }
}
