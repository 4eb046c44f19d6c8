//! A `tools/call` sent to the member past rmcp's sessions, and its answer: as JSON when the
//! member's answer is all it sends about the call; as an event stream when the member also
//! sends notifications about it (progress, log messages), passed on as they come, then the
//! answer. A request the member sends the client meanwhile goes to the client in the call's
//! event stream when the client declared it takes it (roots, sampling, elicitation; its answer
//! comes back through [`super::answer`]); otherwise, and for `ping`, Apiary answers it as a
//! client without capabilities does, so the call goes on.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sse_stream::{Error as SseError, Sse};

use crate::gateway::measure::{CallOutcome, ToolMetrics};
use crate::gateway::proxy::post_to;
use crate::gateway::target::Target;
use crate::gateway::{sse, GatewayState, MAX_RESPONSE_BYTES};

use super::super::links::{Asked, Link, Sent};
use super::super::member::{self, Address};
use super::{json, tell, tool_error, written};

/// How often a call's stream carries a comment while the client is asked something, so that
/// proxies on the way do not close it as idle.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// How long a call whose client left stays known, for a cancellation that follows.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A request as the member (a call) or the client (a member's request) gets it.
#[derive(Serialize)]
struct Outgoing<'a, P> {
    jsonrpc: &'static str,
    id: &'a str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<P>,
}

/// A message from a member, as far as relaying it needs: the rest stays unread.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default)]
    id: Option<Value>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// A member's event stream.
type Events = BoxStream<'static, Result<Sse, SseError>>;

/// Where a member's event stream is for the call.
enum Step {
    /// A notification, as the client's event.
    Notice(Bytes),
    /// The client's answer (JSON), which ends the call.
    End(Bytes),
}

/// What one message from the member is to the call.
enum Seen<'a> {
    /// The answer: its result or error.
    Answer(Message<'a>),
    /// A notification, passed on as it came (a cancellation of a request passed on to the
    /// client with the client's id for it).
    Notice(Message<'a>),
    /// A request to the client, answered on the member session.
    Request(Message<'a>),
    /// Anything else (another request's answer, not JSON-RPC).
    Other,
}

/// The member session a call went out on, where the member's own requests are answered.
struct Session {
    state: GatewayState,
    to: Sent,
}

/// One call on its way: what its answer needs and what it is measured by. A call the client
/// cancelled is not counted; one whose client left without cancelling counts as failed (after
/// [`CANCEL_GRACE`]).
struct InFlight {
    link: Arc<Link>,
    member: String,
    /// The id the member got.
    sent_id: String,
    /// The id the client gave.
    client_id: Value,
    /// Its key among the link's calls in flight.
    key: String,
    metrics: Option<ToolMetrics>,
    started: Instant,
    ended: bool,
    /// The member's requests passed on to the client, by the id the client got and the
    /// member's id; forgotten when the call ends.
    asked: Vec<(String, Value)>,
}

/// Sends `params` (a `tools/call`'s, the tool named as the member names it) to `target` on
/// its session at `address`, and answers the client's call `client_id`.
pub async fn send(
    state: &GatewayState,
    (target, address): (Arc<Target>, Address),
    link: Arc<Link>,
    (client_id, params): (&Value, &Map<String, Value>),
    metrics: Option<ToolMetrics>,
) -> Option<Response> {
    let sent_id = link.call_id();
    let body = serde_json::to_vec(&Outgoing {
        jsonrpc: "2.0",
        id: &sent_id,
        method: "tools/call",
        params: Some(params),
    })
    .ok()?;
    let sent = Sent {
        target: target.clone(),
        address: address.clone(),
        id: sent_id.clone(),
    };
    let key = link.sent(client_id, sent.clone());
    let mut call = InFlight {
        link,
        member: target.id.clone(),
        sent_id,
        client_id: client_id.clone(),
        key,
        metrics,
        started: Instant::now(),
        ended: false,
        asked: Vec::new(),
    };
    let response = post_to(
        state,
        target.clone(),
        None,
        &address.headers(),
        Body::from(body),
    )
    .await;
    if response.status() == StatusCode::NOT_FOUND {
        // The member no longer knows the session (it restarted, or moved), so it ran nothing:
        // the session's rmcp handler opens a new session with it and makes the call.
        call.handed_back();
        return None;
    }
    if !response.status().is_success() {
        let why = member::failure(response, &target.id).await;
        return Some(json(call.unreached(&why)));
    }
    if member::is(&response, "text/event-stream") {
        let session = Session {
            state: state.clone(),
            to: sent,
        };
        return Some(call.relay(member::events(response), session).await);
    }
    let answer = match axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BYTES).await {
        Ok(bytes) => call.answer_in(&bytes),
        Err(error) => Err(format!("its answer could not be read: {error}")),
    };
    Some(json(answer.unwrap_or_else(|why| call.unreached(&why))))
}

impl InFlight {
    /// What `data` (a JSON-RPC message or batch) is to this call.
    fn see<'a>(&self, data: &'a [u8]) -> Seen<'a> {
        let is_answer = |m: &Message<'_>| {
            m.id.as_ref().and_then(Value::as_str) == Some(self.sent_id.as_str())
                && (m.result.is_some() || m.error.is_some())
        };
        if data.trim_ascii_start().starts_with(b"[") {
            let messages: Vec<Message<'a>> = serde_json::from_slice(data).unwrap_or_default();
            return messages
                .into_iter()
                .find(is_answer)
                .map_or(Seen::Other, Seen::Answer);
        }
        match serde_json::from_slice::<Message<'a>>(data) {
            Ok(message) if is_answer(&message) => Seen::Answer(message),
            Ok(message) if message.method.is_some() => match message.id {
                None => Seen::Notice(message),
                Some(_) => Seen::Request(message),
            },
            _ => Seen::Other,
        }
    }

    /// The answer to the client from the member's JSON answer `data`, measured.
    fn answer_in(&mut self, data: &[u8]) -> Result<Bytes, String> {
        match self.see(data) {
            Seen::Answer(message) => Ok(self.answered(&message)),
            _ => Err("it answered something other than the call's answer".into()),
        }
    }

    /// The client's answer carrying the member's result or error as written, measured.
    fn answered(&mut self, message: &Message<'_>) -> Bytes {
        self.end(outcome_of(message));
        written(&self.client_id, message.result, message.error)
    }

    /// The member did not answer: a tool result with `isError` naming it, which the client's
    /// model can read, counted as a failure; the member session is dropped, so the next call
    /// opens another.
    fn unreached(&mut self, why: &str) -> Bytes {
        // A member closes a cancelled call's stream: its session is still good.
        if self.end(CallOutcome::Failed) {
            self.link.forget(&self.member);
        }
        let result = tool_error(format!("{} did not answer: {why}", self.member));
        written(&self.client_id, Some(&result), None)
    }

    /// The member's notification `notice` (JSON `data`) as the client's event: as it came,
    /// except the member's cancellation of a request passed on to the client, which names the
    /// client's id for it.
    fn notice(&mut self, notice: &Message<'_>, data: &str) -> Bytes {
        #[derive(Deserialize)]
        struct Cancelled {
            #[serde(rename = "requestId")]
            request_id: Value,
        }
        let cancelled = !self.asked.is_empty()
            && notice.method.map(RawValue::get) == Some("\"notifications/cancelled\"");
        let of = cancelled
            .then(|| serde_json::from_str::<Cancelled>(notice.params?.get()).ok())
            .flatten()
            .and_then(|c| self.asked.iter().position(|(_, id)| *id == c.request_id));
        let Some(index) = of else {
            return sse::event(data.as_bytes());
        };
        let (id, _) = self.asked.remove(index);
        self.link.answered(&id);
        let mut rewritten: Value = serde_json::from_str(data).unwrap_or_default();
        rewritten["params"]["requestId"] = Value::String(id);
        sse::event(rewritten.to_string().as_bytes())
    }

    /// Forgets the member's requests passed on to the client: an answer that comes after the
    /// call ended goes nowhere.
    fn forget_asked(&mut self) {
        for (id, _) in self.asked.drain(..) {
            self.link.answered(&id);
        }
    }

    /// The call goes to the session's rmcp handler instead, which measures it: the member
    /// session is dropped, so that handler opens another.
    fn handed_back(mut self) {
        self.ended = true;
        self.link.settle(&self.key);
        self.link.forget(&self.member);
    }

    /// Ends the call with `outcome`; false when the client had cancelled it, which is not
    /// counted.
    fn end(&mut self, outcome: CallOutcome) -> bool {
        self.ended = true;
        self.forget_asked();
        let cancelled = self.link.settle(&self.key).is_none();
        if let (Some(metrics), false) = (&self.metrics, cancelled) {
            metrics.record(outcome, self.started.elapsed());
        }
        !cancelled
    }

    /// The next step of the member's event stream: a notification to pass on as it came, or
    /// the end, with the client's answer (the member's, or why there is none).
    async fn next(&mut self, events: &mut Events, session: &Session) -> Step {
        loop {
            let next = if self.asked.is_empty() {
                events.next().await
            } else {
                // The client is being asked something (maybe a person): keep its stream alive.
                match tokio::time::timeout(KEEP_ALIVE, events.next()).await {
                    Ok(next) => next,
                    Err(_) => return Step::Notice(Bytes::from_static(b": keep-alive\n\n")),
                }
            };
            let data = match next {
                Some(Ok(event)) => event.data.unwrap_or_default(),
                Some(Err(error)) => {
                    let why = format!("its event stream failed: {error}");
                    return Step::End(self.unreached(&why));
                }
                None => {
                    return Step::End(self.unreached("its event stream ended without an answer"))
                }
            };
            match self.see(data.as_bytes()) {
                Seen::Answer(message) => return Step::End(self.answered(&message)),
                Seen::Notice(notice) => return Step::Notice(self.notice(&notice, &data)),
                Seen::Request(request) => match session.pass_on(&request, &self.link) {
                    Some((asked, event)) => {
                        self.asked.push(asked);
                        return Step::Notice(event);
                    }
                    None => session.answer(&request).await,
                },
                Seen::Other => {}
            }
        }
    }

    /// The client's answer to a call the member answers with an event stream: JSON when the
    /// answer is all it sends about the call (most calls: one write, as for a JSON answer);
    /// otherwise an event stream of the member's notifications as they come, then the answer.
    async fn relay(mut self, mut events: Events, session: Session) -> Response {
        let first = match self.next(&mut events, &session).await {
            Step::End(answer) => return json(answer),
            Step::Notice(event) => event,
        };
        let rest = futures::stream::unfold(Some((events, self, session)), |state| async move {
            let (mut events, mut call, session) = state?;
            match call.next(&mut events, &session).await {
                Step::Notice(event) => Some((event, Some((events, call, session)))),
                Step::End(answer) => Some((sse::event(&answer), None)),
            }
        });
        let stream = futures::stream::once(async move { first }).chain(rest);
        sse::event_stream(stream.map(Ok::<_, std::convert::Infallible>))
    }
}

impl Drop for InFlight {
    /// The client left before the answer came. Its cancellation may follow (rmcp's client
    /// closes the request first), so the call stays known for [`CANCEL_GRACE`]: a
    /// cancellation then still reaches the member. A call nobody cancelled counts as failed.
    fn drop(&mut self) {
        self.forget_asked();
        if self.ended {
            return;
        }
        self.ended = true;
        let link = self.link.clone();
        let key = std::mem::take(&mut self.key);
        let metrics = self.metrics.take();
        let elapsed = self.started.elapsed();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            tokio::time::sleep(CANCEL_GRACE).await;
            if let (Some(_), Some(metrics)) = (link.settle(&key), metrics) {
                metrics.record(CallOutcome::Failed, elapsed);
            }
        });
    }
}

impl Session {
    /// The member's `request` as an event for the client, under an id of Apiary's (returned
    /// with it), when it is one the client declared it takes (roots, sampling, elicitation);
    /// the client's answer goes back to the member through `forward::reply`.
    fn pass_on(&self, request: &Message<'_>, link: &Link) -> Option<((String, Value), Bytes)> {
        let method: &str = serde_json::from_str(request.method?.get()).ok()?;
        if !link.client_takes(method) {
            return None;
        }
        let member_id = request.id.clone()?;
        let id = link.ask(Asked {
            on: self.to.clone(),
            id: member_id.clone(),
        });
        let asked = serde_json::to_vec(&Outgoing {
            jsonrpc: "2.0",
            id: &id,
            method,
            params: request.params,
        });
        let Ok(asked) = asked else {
            link.answered(&id);
            return None;
        };
        Some(((id, member_id), sse::event(&asked)))
    }

    /// Answers the member's `request` as a client without capabilities does (rmcp's
    /// defaults): `ping` and `roots/list` (no roots) answered, elicitation declined, anything
    /// else (sampling) not found.
    async fn answer(&self, request: &Message<'_>) {
        let method = request
            .method
            .and_then(|m| serde_json::from_str::<&str>(m.get()).ok())
            .unwrap_or_default();
        let id = request.id.as_ref().unwrap_or(&Value::Null);
        let (part, value) = match method {
            "ping" => ("result", serde_json::json!({})),
            "roots/list" => ("result", serde_json::json!({ "roots": [] })),
            "elicitation/create" => ("result", serde_json::json!({ "action": "decline" })),
            _ => (
                "error",
                serde_json::json!({ "code": -32601, "message": method }),
            ),
        };
        let answer = serde_json::json!({ "jsonrpc": "2.0", "id": id, part: value });
        tell(&self.state, &self.to, answer.to_string()).await;
    }
}

/// How the member's answer `message` ends the call, for the metrics.
fn outcome_of(message: &Message<'_>) -> CallOutcome {
    #[derive(Deserialize)]
    struct Error {
        code: Option<i64>,
    }
    #[derive(Deserialize)]
    struct Result {
        #[serde(rename = "isError")]
        is_error: Option<bool>,
    }
    if let Some(error) = message.error {
        let code = serde_json::from_str::<Error>(error.get())
            .ok()
            .and_then(|e| e.code);
        return CallOutcome::of_code(code);
    }
    let is_error = message
        .result
        .and_then(|r| serde_json::from_str::<Result>(r.get()).ok())
        .and_then(|r| r.is_error);
    if is_error == Some(true) {
        CallOutcome::ToolError
    } else {
        CallOutcome::Ok
    }
}
