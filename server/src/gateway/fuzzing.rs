//! Entry points for the cargo-fuzz targets in `server/fuzz/` (not an API: hidden from the docs,
//! may change at any time). Each function runs one piece of the gateway's JSON-RPC handling on
//! arbitrary bytes against a fixed server and panics when an invariant breaks:
//! - [`plan`]: a client's POST body; nothing unpublished may reach the backend;
//! - [`inspect`]: a backend's JSON answer; a curated tool list holds only published tools;
//! - [`events`]: a backend's event stream, cut into chunks anywhere; the output does not depend
//!   on the cuts, and a stream without tool lists passes byte for byte.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Bytes;
use futures::StreamExt;
use serde_json::Value;

use crate::registry::curation::UnknownTools;

use super::inspect::Inspector;
use super::jsonrpc;
use super::target::Target;

/// The server every entry point runs against: `echo` as it is, `upper` published as `shout`,
/// and anything else (such as `secret`) unpublished.
fn target() -> Arc<Target> {
    static TARGET: OnceLock<Arc<Target>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            Arc::new(Target::detached(
                &[("echo", "echo"), ("shout", "upper")],
                UnknownTools::Error,
            ))
        })
        .clone()
}

/// The messages of a payload: the elements of a batch, or the payload itself.
fn messages(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        message => vec![message],
    }
}

/// Plans `body` as a client's POST and checks what would be forwarded: valid JSON whose tool
/// calls all name a published tool by the server's own name.
pub fn plan(body: &[u8]) {
    let target = target();
    let Ok(plan) = jsonrpc::plan(Bytes::copy_from_slice(body), &target) else {
        return;
    };
    let Some(forward) = plan.forward else {
        assert!(
            plan.calls.is_empty(),
            "calls are measured but nothing is sent"
        );
        return;
    };
    let sent: Value = serde_json::from_slice(&forward).expect("the forwarded body is JSON");
    assert_eq!(sent.is_array(), plan.batch, "a batch stays a batch");
    for message in messages(&sent) {
        if message.get("method").and_then(Value::as_str) == Some("tools/call") {
            let name = message.pointer("/params/name").and_then(Value::as_str);
            let published = name.and_then(|name| target.tools.by_upstream(name));
            assert!(
                published.is_some(),
                "an unpublished tool call is forwarded: {message}"
            );
        }
    }
}

/// Inspects `data` as a backend's answer to a request that called `echo` with id 1, and
/// checks a rewritten answer: valid JSON whose tool lists hold only published names.
pub fn inspect(data: &[u8]) {
    let target = target();
    let echo = target.tools.by_public("echo").cloned();
    let calls = echo.map(|tool| (jsonrpc::id_key(&1.into()), tool));
    let mut inspector = Inspector::new(target.clone(), calls.into_iter().collect(), Instant::now());
    let Some(changed) = inspector.payload(data) else {
        return;
    };
    let answer: Value = serde_json::from_slice(&changed).expect("the rewritten answer is JSON");
    assert_curated(&answer, &target);
}

/// Panics when a tool list in `answer` names a tool that `target` does not publish.
fn assert_curated(answer: &Value, target: &Target) {
    for message in messages(answer) {
        let Some(tools) = message.pointer("/result/tools").and_then(Value::as_array) else {
            continue;
        };
        for tool in tools {
            let name = tool.get("name").and_then(Value::as_str);
            let published = name.and_then(|name| target.tools.by_public(name));
            assert!(published.is_some(), "an unpublished tool is listed: {tool}");
        }
    }
}

/// Passes `stream` through the event splitter twice, whole and cut at the offsets `cuts`
/// names (each byte of `cuts` is the length of the next chunk, 0 meaning 1), and checks that
/// both give the same bytes, equal to the input when it holds no tool list, with every tool
/// list a client can read from an event curated.
pub fn events(cuts: &[u8], stream: &[u8]) {
    let whole = run_events(vec![Bytes::copy_from_slice(stream)]);
    let mut chunks = Vec::new();
    let mut rest = stream;
    let mut lengths = cuts.iter().cycle();
    while !rest.is_empty() {
        let length = lengths
            .next()
            .map_or(rest.len(), |&n| usize::from(n.max(1)));
        let (chunk, tail) = rest.split_at(length.min(rest.len()));
        chunks.push(Bytes::copy_from_slice(chunk));
        rest = tail;
    }
    let cut = run_events(chunks);
    assert_eq!(whole, cut, "the output depends on where the stream was cut");
    if !stream.windows(7).any(|w| w == b"\"tools\"") && !stream.contains(&b'\\') {
        assert_eq!(whole, stream, "a stream without tool lists is changed");
    }
    let target = target();
    for data in dispatched_data(&whole) {
        if let Ok(answer) = serde_json::from_slice::<Value>(&data) {
            assert_curated(&answer, &target);
        }
    }
}

/// The data of each event a client dispatches from `stream`: its `data:` lines joined with
/// line feeds, up to each blank line. Lines end with CRLF, LF or CR, as the SSE spec says; a
/// client that also dispatches an unfinished last event would see no more than the gateway
/// curates, since the gateway inspects that event too.
fn dispatched_data(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    let mut data: Option<Vec<u8>> = None;
    let mut normalized = Vec::with_capacity(stream.len());
    let mut bytes = stream.iter().peekable();
    while let Some(&byte) = bytes.next() {
        if byte == b'\r' {
            bytes.next_if_eq(&&b'\n');
            normalized.push(b'\n');
        } else {
            normalized.push(byte);
        }
    }
    for line in normalized.split_inclusive(|&b| b == b'\n') {
        // An unfinished last line (and so its event) is never dispatched.
        let Some(line) = line.strip_suffix(b"\n") else {
            break;
        };
        if line.is_empty() {
            events.extend(data.take());
        } else if let Some(value) = line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            let joined = data.get_or_insert_with(Vec::new);
            if !joined.is_empty() {
                joined.push(b'\n');
            }
            joined.extend_from_slice(value);
        }
    }
    events
}

/// [`events`] on one fuzz input: its first byte says how many of the following bytes (modulo
/// 16) are `cuts`; the rest is the stream.
pub fn events_input(input: &[u8]) {
    let Some((&count, rest)) = input.split_first() else {
        return;
    };
    let (cuts, stream) = rest.split_at(usize::from(count % 16).min(rest.len()));
    events(cuts, stream);
}

/// The bytes the event splitter sends for `chunks`.
fn run_events(chunks: Vec<Bytes>) -> Vec<u8> {
    let upstream = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let inspector = Inspector::new(target(), Vec::new(), Instant::now());
    let out = super::sse::inspect(upstream, Vec::new(), inspector, super::MAX_RESPONSE_BYTES);
    futures::executor::block_on(out.collect::<Vec<_>>())
        .into_iter()
        .flat_map(|chunk| chunk.expect("no stream error").to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inputs that once failed `gateway_events` (now seeds) pass.
    #[test]
    fn former_event_failures_pass() {
        events_input(include_bytes!(
            "../../fuzz/seeds/gateway_events/broken-first-data-line.bin"
        ));
        events_input(include_bytes!(
            "../../fuzz/seeds/gateway_events/unfinished-last-event.bin"
        ));
    }

    /// The seeds of the fuzz corpus hold; the fuzz targets start from these.
    #[test]
    fn invariants_hold_for_typical_inputs() {
        plan(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shout"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"secret"}}]"#);
        inspect(
            br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"upper"},{"name":"secret"}]}}"#,
        );
        events(
            &[3, 1, 7],
            b"id: 1\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"secret\"}]}}\r\n\r\n: ping\n\n",
        );
    }
}
