//! The member sessions of each client session of a virtual server, shared by the session's
//! rmcp handler and [`super::forward`], which send calls through them and open them on first
//! use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::{Peer, RoleServer};
use serde_json::Value;

use crate::gateway::target::Target;
use crate::gateway::GatewayState;

use super::member::{self, Address, MemberSession};

/// A member's session, once opened.
type Slot = tokio::sync::Mutex<Option<Arc<MemberSession>>>;

/// The open client sessions of every virtual server, by `Mcp-Session-Id`.
#[derive(Debug, Default)]
pub struct Links {
    open: Mutex<HashMap<String, Arc<Link>>>,
    /// The sessions' open event streams, apart from their links: a client may open its stream
    /// before its link is made (before its `notifications/initialized` is handled; legacy SSE
    /// clients always do). Locked after `open` when both are.
    listening: Mutex<HashMap<String, Listening>>,
}

impl Links {
    /// The link of client session `session` of `server`, made now if it has none.
    pub fn join(
        &self,
        session: &str,
        server: &(String, String),
        downstream: &Peer<RoleServer>,
    ) -> Arc<Link> {
        let mut open = crate::locks::lock(&self.open);
        if let Some(link) = open.get(session) {
            return link.clone();
        }
        let listening = crate::locks::lock(&self.listening)
            .entry(session.to_owned())
            .or_default()
            .clone();
        let link = Arc::new(Link::new(server.clone(), downstream.clone(), listening));
        open.insert(session.to_owned(), link.clone());
        link
    }

    /// Counts an event stream that client session `session` opened (its GET, answered), until
    /// the returned guard is dropped. Every open GET counts, also one rmcp keeps idle beside
    /// another ("shadow" streams).
    pub fn stream_opened(self: &Arc<Self>, session: &str) -> EventStream {
        // Counted under the lock, so that the last stream's guard cannot forget the entry
        // between this lookup and this count.
        let listening = {
            let mut counts = crate::locks::lock(&self.listening);
            let listening = counts.entry(session.to_owned()).or_default().clone();
            listening.count(1);
            listening
        };
        EventStream {
            links: self.clone(),
            session: session.to_owned(),
            listening,
        }
    }

    /// The link of client session `session`, if that session is open on `server`.
    pub fn get(&self, session: &str, server: (&str, &str)) -> Option<Arc<Link>> {
        crate::locks::lock(&self.open)
            .get(session)
            .filter(|link| (link.server.0.as_str(), link.server.1.as_str()) == server)
            .cloned()
    }

    /// Forgets client session `session` (it ended); its member sessions close once no call
    /// holds them.
    pub fn leave(&self, session: &str) {
        crate::locks::lock(&self.open).remove(session);
        crate::locks::lock(&self.listening).remove(session);
    }
}

/// How many event streams (GETs) a client keeps open on its session. A member's request
/// outside a call can reach the client only on one.
#[derive(Clone, Debug)]
pub struct Listening(Option<Arc<tokio::sync::watch::Sender<usize>>>);

impl Default for Listening {
    fn default() -> Self {
        Self(Some(Arc::new(tokio::sync::watch::Sender::new(0))))
    }
}

impl Listening {
    /// The count of a session without an id, which no event stream can join.
    pub fn never() -> Self {
        Self(None)
    }

    /// Adds `change` (1 or -1) to the count.
    fn count(&self, change: isize) {
        if let Some(open) = &self.0 {
            open.send_modify(|open| *open = open.saturating_add_signed(change));
        }
    }

    /// True when no stream is open.
    fn is_idle(&self) -> bool {
        self.0.as_ref().is_none_or(|open| *open.borrow() == 0)
    }

    /// Whether the client has an event stream open, or opens one within `grace`.
    pub async fn within(&self, grace: std::time::Duration) -> bool {
        let Some(open) = &self.0 else {
            return false;
        };
        let mut open = open.subscribe();
        tokio::time::timeout(grace, open.wait_for(|open| *open > 0))
            .await
            .is_ok_and(|seen| seen.is_ok())
    }

    /// Whether both are the count of one session.
    fn same(&self, other: &Listening) -> bool {
        match (&self.0, &other.0) {
            (Some(this), Some(that)) => Arc::ptr_eq(this, that),
            _ => false,
        }
    }
}

/// One open event stream of a client session, counted until dropped; the count of a session
/// with no link and no open stream is forgotten then.
pub struct EventStream {
    links: Arc<Links>,
    session: String,
    listening: Listening,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let open = crate::locks::lock(&self.links.open);
        let mut counts = crate::locks::lock(&self.links.listening);
        self.listening.count(-1);
        let forget = !open.contains_key(&self.session)
            && counts
                .get(&self.session)
                .is_some_and(|count| count.same(&self.listening) && count.is_idle());
        if forget {
            counts.remove(&self.session);
        }
    }
}

/// A call sent past rmcp's client and not answered yet: where a cancellation of it goes.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The member.
    pub target: Arc<Target>,
    /// Its session.
    pub address: Address,
    /// The id the member got.
    pub id: String,
}

/// One client session's sessions with the members it called.
pub struct Link {
    /// The virtual server the client session belongs to.
    server: (String, String),
    /// The client, for the members' tool list changes.
    downstream: Peer<RoleServer>,
    /// One slot per member, so opening one member's session does not hold up calls to the
    /// others.
    members: Mutex<HashMap<String, Arc<Slot>>>,
    /// The number in the id of the next call sent past rmcp's client.
    next_call: AtomicU64,
    /// The calls sent past rmcp's client and not answered yet, by the client's id (as JSON).
    in_flight: Mutex<HashMap<String, Sent>>,
    /// The calls waiting for their member session to open, by the client's id (as JSON):
    /// true once the client cancelled one.
    opening: Mutex<HashMap<String, bool>>,
    /// The number in the id of the next request a member sends the client through a call.
    next_ask: AtomicU64,
    /// The requests members sent the client during calls, not answered yet, by the id the
    /// client got.
    asked: Mutex<HashMap<String, Asked>>,
    /// The client's open event streams, which members' requests outside a call need.
    listening: Listening,
}

/// A member's request to the client during a call, passed on under an id of Apiary's.
#[derive(Clone, Debug)]
pub struct Asked {
    /// The member session it came on.
    pub on: Sent,
    /// The member's id for it.
    pub id: Value,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link of a session of `server` with the client `downstream`, which keeps `listening`
    /// event streams open.
    pub fn new(
        server: (String, String),
        downstream: Peer<RoleServer>,
        listening: Listening,
    ) -> Self {
        Self {
            server,
            downstream,
            members: Mutex::default(),
            next_call: AtomicU64::new(0),
            in_flight: Mutex::default(),
            opening: Mutex::default(),
            next_ask: AtomicU64::new(0),
            asked: Mutex::default(),
            listening,
        }
    }

    /// The open session with `target`, opened now if there is none.
    pub async fn member(
        &self,
        state: &GatewayState,
        target: Arc<Target>,
    ) -> Result<Arc<MemberSession>, String> {
        let slot = crate::locks::lock(&self.members)
            .entry(target.id.clone())
            .or_default()
            .clone();
        let mut session = slot.lock().await;
        if let Some(open) = session.as_ref().filter(|s| !s.is_closed()) {
            return Ok(open.clone());
        }
        let downstream = self.downstream.clone();
        let opened = Arc::new(
            member::open(state.clone(), target, downstream, self.listening.clone()).await?,
        );
        *session = Some(opened.clone());
        Ok(opened)
    }

    /// The open session with `member`, if there is one and nobody is opening it now.
    pub fn opened(&self, member: &str) -> Option<Arc<MemberSession>> {
        let slot = crate::locks::lock(&self.members).get(member)?.clone();
        let session = slot.try_lock().ok()?;
        session.as_ref().filter(|s| !s.is_closed()).cloned()
    }

    /// Every open member session that nobody is opening now.
    pub fn open_members(&self) -> Vec<Arc<MemberSession>> {
        let slots: Vec<Arc<Slot>> = crate::locks::lock(&self.members)
            .values()
            .cloned()
            .collect();
        slots
            .iter()
            .filter_map(|slot| slot.try_lock().ok()?.clone())
            .filter(|session| !session.is_closed())
            .collect()
    }

    /// Drops the session with `member` (it failed); the next call opens another.
    pub fn forget(&self, member: &str) {
        crate::locks::lock(&self.members).remove(member);
    }

    /// The key of the client's call `client_id` among the calls in flight or opening.
    pub fn key(client_id: &Value) -> String {
        client_id.to_string()
    }

    /// Notes that the client's call `client_id` waits for its member session to open, until
    /// the returned guard is dropped.
    pub fn opening(&self, client_id: &Value) -> Opening<'_> {
        let key = Self::key(client_id);
        crate::locks::lock(&self.opening).insert(key.clone(), false);
        Opening { link: self, key }
    }

    /// Cancels the call under `key` if it waits for its member session; false when it does
    /// not.
    pub fn cancel_opening(&self, key: &str) -> bool {
        crate::locks::lock(&self.opening)
            .get_mut(key)
            .map(|cancelled| *cancelled = true)
            .is_some()
    }

    /// Notes that the client's call `client_id` went to a member as `sent`; the key that
    /// [`Self::settle`] takes.
    pub fn sent(&self, client_id: &Value, sent: Sent) -> String {
        let key = Self::key(client_id);
        crate::locks::lock(&self.in_flight).insert(key.clone(), sent);
        key
    }

    /// Ends the client's call under `key` (its id as JSON): where it went, or `None` when it
    /// was not in flight (it ended, or the client cancelled it).
    pub fn settle(&self, key: &str) -> Option<Sent> {
        crate::locks::lock(&self.in_flight).remove(key)
    }

    /// Whether the client declared it takes the request `method` from a server.
    pub fn client_takes(&self, method: &str) -> bool {
        member::client_takes(&self.downstream, method)
    }

    /// Notes a member's request to the client; the id the client gets for it.
    pub fn ask(&self, asked: Asked) -> String {
        let id = format!(
            "apiary-ask-{}",
            self.next_ask.fetch_add(1, Ordering::Relaxed)
        );
        crate::locks::lock(&self.asked).insert(id.clone(), asked);
        id
    }

    /// True while a member's request passed on to the client under `id` waits for its answer.
    pub fn was_asked(&self, id: &str) -> bool {
        crate::locks::lock(&self.asked).contains_key(id)
    }

    /// The member's request the client answered under `id`, forgotten; `None` when there is
    /// none.
    pub fn answered(&self, id: &str) -> Option<Asked> {
        crate::locks::lock(&self.asked).remove(id)
    }

    /// A request id for a call sent on a member session past rmcp's client: a string, so it
    /// never meets the numbers rmcp's client gives its own requests on that session.
    pub fn call_id(&self) -> String {
        format!("apiary-{}", self.next_call.fetch_add(1, Ordering::Relaxed))
    }
}

/// A call waiting for its member session to open; forgotten when dropped.
pub struct Opening<'a> {
    link: &'a Link,
    key: String,
}

impl Opening<'_> {
    /// True when the client cancelled the call while it waited.
    pub fn cancelled(&self) -> bool {
        crate::locks::lock(&self.link.opening)
            .get(&self.key)
            .copied()
            .unwrap_or(false)
    }
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        crate::locks::lock(&self.link.opening).remove(&self.key);
    }
}
