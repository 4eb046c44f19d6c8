//! One client session of a virtual server: an MCP server (rmcp) whose `tools/list` is the
//! composition and whose `tools/call` goes to the member that has the tool, under the
//! member's name, through a session with that member opened on first use.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use apiary_app::access::Viewer;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorCode, Extensions,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext, ServiceError};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};

use crate::gateway::access::Decision;
use crate::gateway::inbound::Inbound;
use crate::gateway::measure::CallOutcome;
use crate::gateway::target::Target;
use crate::gateway::GatewayState;

use super::compose::ExposedTool;
use super::finder;
use super::links::{Link, Links, Listening};
use super::views::{self, View, Views};

const SESSION_HEADER: &str = "mcp-session-id";

/// Who is calling, put on each request by the endpoint for the session's handlers.
#[derive(Clone)]
pub struct Caller {
    /// The gateway's state, to reach members and the registry.
    pub state: GatewayState,
    /// The holder of the bearer token, with sign-in on.
    pub viewer: Option<Viewer>,
}

/// The handler of one client session.
pub struct VirtualSession {
    views: Arc<Views>,
    id: (String, String),
    /// Every session's link, where this one's is found by [`super::forward`].
    links: Arc<Links>,
    /// This session's `Mcp-Session-Id` and its sessions with members, from its first request
    /// after `initialize`.
    link: OnceLock<(Option<String>, Arc<Link>)>,
}

impl VirtualSession {
    /// A session of the virtual server `namespace/name`.
    pub fn new(views: Arc<Views>, id: (String, String), links: Arc<Links>) -> Self {
        Self {
            views,
            id,
            links,
            link: OnceLock::new(),
        }
    }

    async fn view(&self, caller: &Caller) -> Result<Arc<View>, ErrorData> {
        let (namespace, name) = (&self.id.0, &self.id.1);
        let state = &caller.state;
        match self
            .views
            .get(&state.db, &state.gateway.usage(), namespace, name)
            .await
        {
            Ok(Some(view)) => Ok(view),
            Ok(None) => Err(ErrorData::invalid_request(
                format!("the virtual server {namespace}/{name} was removed"),
                None,
            )),
            Err(error) => {
                tracing::error!(%error, "a virtual server cannot read the registry");
                Err(ErrorData::internal_error(
                    "the registry cannot be read right now; try again shortly",
                    None,
                ))
            }
        }
    }

    /// This session's link, made on its first request that names the session.
    fn link(&self, extensions: &Extensions, peer: &Peer<RoleServer>) -> Arc<Link> {
        if let Some((_, link)) = self.link.get() {
            return link.clone();
        }
        let session = extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get(SESSION_HEADER))
            .and_then(|value| value.to_str().ok());
        let (session, link) = match session {
            Some(session) => (Some(session), self.links.join(session, &self.id, peer)),
            // Not known by an id, so only this handler can use it.
            None => (
                None,
                Arc::new(Link::new(self.id.clone(), peer.clone(), Listening::never())),
            ),
        };
        let _ = self.link.set((session.map(str::to_owned), link.clone()));
        link
    }
}

impl Drop for VirtualSession {
    /// The client session ended: its member sessions close.
    fn drop(&mut self) {
        if let Some((Some(session), _)) = self.link.get() {
            self.links.leave(session);
        }
    }
}

/// A `find_tools` call: the matching tools with their schemas, as text and as structured
/// content.
fn find(view: &View, request: &CallToolRequestParams) -> CallToolResponse {
    let (query, limit) = match finder::arguments(request.arguments.as_ref()) {
        Ok(arguments) => arguments,
        Err(why) => return failed(why),
    };
    let found: Vec<serde_json::Value> = finder::find(&view.composition, &query, limit)
        .into_iter()
        .map(|t| serde_json::Value::Object(t.tool.to_json()))
        .collect();
    let answer = serde_json::json!({ "tools": found });
    let mut result = CallToolResult::success(vec![ContentBlock::text(answer.to_string())]);
    result.structured_content = Some(answer);
    result.into()
}

fn caller_of(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the request came without its caller", None))
}

/// A failed tool call that the client's model can read: the tool's result with `isError`.
fn failed(text: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(text)]).into()
}

impl ServerHandler for VirtualSession {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            format!("{}/{}", self.id.0, self.id.1),
            env!("CARGO_PKG_VERSION"),
        ))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        // Known by its id from now on, so calls can take the short way (`super::forward`).
        self.link(&context.extensions, &context.peer);
    }

    /// The client's roots changed: its open member sessions are told, as they declared roots
    /// the way the client did.
    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        let link = self.link(&context.extensions, &context.peer);
        for member in link.open_members() {
            if let Err(error) = member.peer().notify_roots_list_changed().await {
                tracing::debug!(%error, "a member session closed before a roots change reached it");
            }
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller_of(&context)?;
        let view = self.view(&caller).await?;
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(cursor) => cursor.parse::<usize>().map_err(|_| {
                ErrorData::invalid_params(
                    format!("{cursor:?} is not a cursor this server gave"),
                    None,
                )
            })?,
        };
        Ok(views::page(&view.listed, start))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller_of(&context)?;
        let view = self.view(&caller).await?;
        if view.server.spec.finder.enabled && request.name == finder::FINDER {
            return Ok(find(&view, &request));
        }
        let Some((exposed, metrics)) = view.tool(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("Unknown tool: {}", request.name),
                None,
            ));
        };
        let started = Instant::now();
        let answer = self.call_member(&caller, exposed, request, &context).await;
        if let (Some(metrics), Some(outcome)) = (metrics, answer.outcome) {
            metrics.record(outcome, started.elapsed());
        }
        answer.result
    }
}

/// A call's answer, and how it ended for the metrics (not counted when the client cancelled
/// it).
pub(super) struct Answer {
    result: Result<CallToolResponse, ErrorData>,
    outcome: Option<CallOutcome>,
}

impl Answer {
    /// The member's own answer.
    fn member(result: Result<CallToolResult, ErrorData>) -> Self {
        let outcome = match &result {
            Ok(result) if result.is_error == Some(true) => CallOutcome::ToolError,
            Ok(_) => CallOutcome::Ok,
            Err(error) => {
                CallOutcome::of(&serde_json::json!({ "error": { "code": error.code.0 } }))
            }
        };
        Self {
            result: result.map(Into::into),
            outcome: Some(outcome),
        }
    }

    /// The client cancelled the call: rmcp sends it no answer.
    fn cancelled() -> Self {
        Self {
            result: Err(ErrorData::new(ErrorCode::INTERNAL_ERROR, "cancelled", None)),
            outcome: None,
        }
    }

    /// The member could not be reached: a tool result with `isError`, which the client's
    /// model can read, counted as a failure.
    fn unreached(text: String) -> Self {
        Self {
            result: Ok(failed(text)),
            outcome: Some(CallOutcome::Failed),
        }
    }

    /// The caller may not use the member.
    fn refused(why: String) -> Self {
        Self {
            result: Err(ErrorData::new(ErrorCode::INVALID_REQUEST, why, None)),
            outcome: Some(CallOutcome::Rejected),
        }
    }
}

impl VirtualSession {
    /// Calls `exposed` on its member for `caller`, opening the member session if need be.
    async fn call_member(
        &self,
        caller: &Caller,
        exposed: &ExposedTool,
        mut request: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Answer {
        let state = &caller.state;
        let target = match reach(state, caller.viewer.as_ref(), exposed).await {
            Ok(target) => target,
            Err(refusal) => return refusal,
        };
        let link = self.link(&context.extensions, &context.peer);
        let member = match link.member(state, target.clone()).await {
            Ok(member) => member,
            Err(why) => return Answer::unreached(format!("{} did not answer: {why}", target.id)),
        };
        request.name = exposed.member_tool.clone().into();
        let called = tokio::select! {
            called = member.peer().call_tool(request) => called,
            // Dropping the call sends the member `notifications/cancelled` (rmcp cancels on
            // drop).
            () = context.ct.cancelled() => return Answer::cancelled(),
        };
        match called {
            Ok(result) => Answer::member(Ok(result)),
            Err(ServiceError::McpError(error)) => Answer::member(Err(error)),
            Err(error) => {
                link.forget(&target.id);
                Answer::unreached(format!("{} did not answer: {error}", target.id))
            }
        }
    }
}

/// The member of `exposed` as the gateway serves it now, when `viewer` may call it through a
/// virtual server; otherwise the answer that says why not.
pub(super) async fn reach(
    state: &GatewayState,
    viewer: Option<&Viewer>,
    exposed: &ExposedTool,
) -> Result<Arc<Target>, Answer> {
    let (namespace, name) = exposed.member.split_once('/').unwrap_or_default();
    let target = match state.published(namespace, name).await {
        Ok(Some(target)) => target,
        Ok(None) => {
            return Err(Answer::unreached(format!(
                "{} is not published now, so its tool {} cannot be called",
                exposed.member, exposed.member_tool
            )))
        }
        Err(error) => {
            tracing::error!(%error, "a virtual server cannot read a member");
            return Err(Answer::unreached(
                "the registry cannot be read right now; try again shortly".into(),
            ));
        }
    };
    if state.auth.is_some() {
        match target.access.decide(viewer, &target.id) {
            Decision::Allow => {}
            Decision::Challenge => {
                return Err(Answer::refused(format!(
                    "{} is not open to anonymous callers; call with a bearer token",
                    target.id
                )))
            }
            Decision::Forbid(why) => return Err(Answer::refused(why)),
        }
    }
    match &target.inbound {
        Inbound::Apiary => Ok(target),
        Inbound::Oidc(..) => Err(Answer::unreached(format!(
            "{} takes only its own issuer's tokens, which a virtual server cannot pass on; call it at /mcp/{}",
            target.id, target.id
        ))),
        Inbound::Withheld(why) => Err(Answer::unreached(format!("{} is {why}", target.id))),
    }
}
