//! Server-sent events from the backend, passed on one event at a time: each event's data goes
//! through the [`Inspector`]; ids, event types, `retry` and comments pass as they came, and
//! an unchanged event is sent byte for byte. Only one event is held at a time, at most
//! `max_event` bytes, so a slow client slows the backend instead of filling memory.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use futures::{Stream, StreamExt};

use super::inspect::Inspector;

/// One SSE event that carries `data` as a JSON-RPC message, as the gateway sends its own
/// answers on a stream: a line of `data` per line of the message, so a message written over
/// several lines (JSON allows line breaks between values) stays one event.
pub fn event(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 24);
    out.extend_from_slice(b"event: message\n");
    for line in data.split(|&b| b == b'\n' || b == b'\r') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    Bytes::from(out)
}

/// A 200 answer that streams `events` to the client as server-sent events, uncached.
pub fn event_stream<S, E>(events: S) -> Response
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<axum::BoxError>,
{
    let mut response = Response::new(Body::from_stream(events));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
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
        scanned: Scanned::default(),
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
    scanned: Scanned,
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
            match scan(&self.buffer, self.scanned, self.ended) {
                Scan::Event(end) => {
                    let raw: Vec<u8> = self.buffer.drain(..end).collect();
                    self.scanned = Scanned::default();
                    return Some(Ok(self.process(raw)));
                }
                Scan::Partial(scanned) => self.scanned = scanned,
            }
            if self.ended {
                // A last event without its blank line goes through the inspector too: some
                // clients dispatch it at the end of the stream.
                if self.buffer.is_empty() {
                    return None;
                }
                let rest = std::mem::take(&mut self.buffer);
                return Some(Ok(self.process(rest)));
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
        let lines = lines(&raw);
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

/// How far the search for the end of the buffered event got.
#[derive(Clone, Copy, Default)]
struct Scanned {
    /// Where the line being read starts.
    line_start: usize,
    /// Where the search for its line break resumes.
    searched: usize,
}

enum Scan {
    /// The first event ends here, after its blank line.
    Event(usize),
    /// No complete event yet; the search resumes from here.
    Partial(Scanned),
}

/// Looks for the blank line that ends the first event in `buffer`, resuming from `from`.
fn scan(buffer: &[u8], from: Scanned, eof: bool) -> Scan {
    let Scanned {
        mut line_start,
        mut searched,
    } = from;
    while let Some((end, next)) = line_break(buffer, searched, eof) {
        if end == line_start {
            return Scan::Event(next);
        }
        line_start = next;
        searched = next;
    }
    Scan::Partial(Scanned {
        line_start,
        // A carriage return at the very end is looked at again: a line feed may follow.
        searched: buffer.len().saturating_sub(1).max(line_start),
    })
}

/// The first line break at or after `from`: where the line's text ends and where the next line
/// starts. SSE ends lines with CRLF, LF or a lone CR; a CR as the buffer's last byte may be the
/// first half of a CRLF, so it counts only at the end of the stream.
fn line_break(buffer: &[u8], from: usize, eof: bool) -> Option<(usize, usize)> {
    let offset = buffer
        .get(from..)?
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')?;
    let end = from + offset;
    match (buffer[end], buffer.get(end + 1)) {
        (b'\r', Some(b'\n')) => Some((end, end + 2)),
        (b'\r', None) if !eof => None,
        _ => Some((end, end + 1)),
    }
}

/// The lines of one event, without their line breaks (the last may be unfinished).
fn lines(raw: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    while let Some((end, next)) = line_break(raw, start, true) {
        lines.push(&raw[start..end]);
        start = next;
    }
    if start < raw.len() {
        lines.push(&raw[start..]);
    }
    lines
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

    #[test]
    fn a_message_over_several_lines_stays_one_event() {
        let written = event(b"{\"id\":1,\r\n\"result\":\n{}\r}");
        assert_eq!(
            written,
            "event: message\ndata: {\"id\":1,\ndata: \ndata: \"result\":\ndata: {}\ndata: }\n\n"
        );
        // As a client reads it: the data lines joined by line feeds, which JSON allows.
        let data: Vec<&str> = std::str::from_utf8(&written)
            .expect("text")
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        let message: serde_json::Value =
            serde_json::from_str(&data.join("\n")).expect("one JSON message");
        assert_eq!(message, json!({ "id": 1, "result": {} }));
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
    async fn lines_ending_in_a_lone_carriage_return_are_split_and_curated() {
        let list = json!({ "jsonrpc": "2.0", "id": 1, "result": { "tools": [{ "name": "echo" }, { "name": "secret" }] } });
        let expected =
            json!({ "jsonrpc": "2.0", "id": 1, "result": { "tools": [{ "name": "echo" }] } });
        let text: &'static str =
            Box::leak(format!("id: 3\rdata: {list}\r\r: ping\r\r").into_boxed_str());
        let want = format!("id: 3\ndata: {expected}\n\n: ping\r\r");
        assert_eq!(run(vec![text.as_bytes()]).await, want);
        // Cut between every pair of bytes, a CR at the end of a chunk included.
        for at in 1..text.len() {
            let (a, b) = text.split_at(at);
            let (a, b): (&'static str, &'static str) = (Box::leak(a.into()), Box::leak(b.into()));
            assert_eq!(
                run(vec![a.as_bytes(), b.as_bytes()]).await,
                want,
                "cut at {at}"
            );
        }
    }

    #[tokio::test]
    async fn an_unfinished_last_tool_list_is_curated_too() {
        let list =
            json!({ "jsonrpc": "2.0", "id": 1, "result": { "tools": [{ "name": "secret" }] } });
        let text: &'static str = Box::leak(format!("data: {list}").into_boxed_str());
        assert!(!run(vec![text.as_bytes()]).await.contains("secret"));
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
