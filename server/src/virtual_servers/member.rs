//! A virtual server's session with one member: an rmcp client whose HTTP requests go to the
//! gateway's handlers for the member in this process (no socket), so the member's curation,
//! measurement, bridges and every backend kind apply as for any client.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use futures::stream::BoxStream;
use futures::StreamExt;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ClientJsonRpcMessage, ClientResult,
    CreateMessageRequestMethod, ElicitRequest, ElicitRequestParams, ElicitResult,
    ElicitationAction, Implementation, ServerJsonRpcMessage, ServerRequest,
};
#[allow(deprecated)] // Roots and sampling are deprecated (SEP-2577); clients still use them.
use rmcp::model::{
    CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult, ListRootsResult,
};
use rmcp::service::{
    NotificationContext, PeerRequestOptions, RequestContext, RunningService, ServiceError,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ErrorData, Peer, RoleClient, RoleServer, ServiceExt};
use sse_stream::{Error as SseError, Sse, SseStream};

use crate::gateway::proxy::{client_post_headers, post_to, without_body_to};
use crate::gateway::target::Target;
use crate::gateway::{GatewayState, MAX_RESPONSE_BYTES};

use super::links::Listening;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// An open session with a member, closed when dropped.
pub struct MemberSession {
    running: RunningService<RoleClient, Relay>,
    address: Arc<Mutex<Option<Address>>>,
}

/// Where a member session's requests go: the headers a client of that session sends.
#[derive(Clone, Debug)]
pub struct Address {
    /// The member's `Mcp-Session-Id`.
    pub session: HeaderValue,
    /// The protocol version the session negotiated, sent as `MCP-Protocol-Version`.
    pub version: Option<HeaderValue>,
}

impl Address {
    /// The headers of a POST in this session.
    pub fn headers(&self) -> HeaderMap {
        client_post_headers(Some(self.session.clone()), self.version.clone())
    }
}

impl MemberSession {
    /// The rmcp client of the session.
    pub fn peer(&self) -> &Peer<RoleClient> {
        self.running.peer()
    }

    /// True once the session ended (the member or the client closed it).
    pub fn is_closed(&self) -> bool {
        self.running.is_closed()
    }

    /// The session's headers, once the member gave it an id and took its
    /// `notifications/initialized` (rmcp's `serve` returns only after that POST); `None` for
    /// a member that keeps no sessions.
    pub fn address(&self) -> Option<Address> {
        crate::locks::lock(&self.address).clone()
    }
}

/// Opens a session with `target` for the virtual server's client `downstream`, which keeps
/// `listening` event streams open; the member's `notifications/tools/list_changed` reach that
/// client.
pub async fn open(
    state: GatewayState,
    target: Arc<Target>,
    downstream: Peer<RoleServer>,
    listening: Listening,
) -> Result<MemberSession, String> {
    let (namespace, name) = target.id.split_once('/').unwrap_or_default();
    let address = Arc::new(Mutex::new(None));
    let member = InProcess {
        state,
        id: (namespace.to_owned(), name.to_owned()),
        address: address.clone(),
    };
    let transport = StreamableHttpClientTransport::with_client(
        member,
        StreamableHttpClientTransportConfig::with_uri(format!("/mcp/{}", target.id)),
    );
    let running = Relay {
        downstream,
        listening,
    }
    .serve(transport)
    .await
    .map_err(|error| format!("cannot open a session with {}: {error}", target.id))?;
    Ok(MemberSession { running, address })
}

/// The member session's client side: passes the member's tool list changes on.
#[derive(Clone)]
pub struct Relay {
    downstream: Peer<RoleServer>,
    listening: Listening,
}

impl Relay {
    /// What the virtual server's client declared it answers (roots, sampling, elicitation),
    /// so that the member may ask it; the client's roots changes are passed on
    /// (`VirtualSession::on_roots_list_changed`).
    fn capabilities(&self) -> ClientCapabilities {
        let mut declared = ClientCapabilities::default();
        if let Some(client) = self.downstream.peer_info() {
            declared.roots = client.capabilities.roots.clone();
            declared.sampling = client.capabilities.sampling.clone();
            declared.elicitation = client.capabilities.elicitation.clone();
        }
        declared
    }
}

/// Whether the virtual server's `client` declared it takes the request `method` from a
/// server (roots, sampling, elicitation), so that a member's such request goes to it.
pub fn client_takes(client: &Peer<RoleServer>, method: &str) -> bool {
    let Some(info) = client.peer_info() else {
        return false;
    };
    let declared = &info.capabilities;
    match method {
        "roots/list" => declared.roots.is_some(),
        "sampling/createMessage" => declared.sampling.is_some(),
        "elicitation/create" => declared.elicitation.is_some(),
        _ => false,
    }
}

/// How long a member's request passed on through rmcp waits for the client's answer at most
/// (a person may be answering an elicitation).
const ASK_TIMEOUT: Duration = Duration::from_secs(300);

/// How long such a request waits for the client to open its event stream (clients open it
/// right after the handshake) before it is refused.
const STREAM_GRACE: Duration = Duration::from_secs(5);

impl Relay {
    /// Asks the virtual server's client `request` for the member, until the member gives up on
    /// it (`context`) or for [`ASK_TIMEOUT`]. On a task of its own, so that rmcp does not tie
    /// it to the member's request id, which means nothing on the client's session: it goes to
    /// the client's own event stream. Refused when the client keeps none open, nor opens one
    /// within [`STREAM_GRACE`].
    async fn ask(
        &self,
        request: ServerRequest,
        context: &RequestContext<RoleClient>,
    ) -> Result<ClientResult, ErrorData> {
        let listening = tokio::select! {
            listening = self.listening.within(STREAM_GRACE) => listening,
            () = context.ct.cancelled() => false,
        };
        if !listening {
            return Err(ErrorData::internal_error(
                "the virtual server's client keeps no event stream (GET) open, so it cannot be \
                 asked outside a call",
                None,
            ));
        }
        let downstream = self.downstream.clone();
        let mut options = PeerRequestOptions::default();
        options.timeout = Some(ASK_TIMEOUT);
        let mut asked = tokio::spawn(async move {
            let sent = downstream
                .send_request_with_option(request, options)
                .await?;
            sent.await_response().await
        });
        let answer = tokio::select! {
            answer = &mut asked => answer,
            () = context.ct.cancelled() => {
                asked.abort();
                return Err(ErrorData::internal_error("the member cancelled its request", None));
            }
        };
        match answer {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(ServiceError::McpError(error))) => Err(error),
            Ok(Err(other)) => Err(ErrorData::internal_error(
                format!("the client did not answer: {other}"),
                None,
            )),
            Err(error) => Err(ErrorData::internal_error(
                format!("the client could not be asked: {error}"),
                None,
            )),
        }
    }
}

/// The error for a client's answer of another kind than the request asked for.
fn unexpected(what: &str) -> ErrorData {
    ErrorData::internal_error(
        format!("the client answered {what} with something else"),
        None,
    )
}

impl ClientHandler for Relay {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            self.capabilities(),
            Implementation::new("apiary-virtual-server", env!("CARGO_PKG_VERSION")),
        )
    }

    /// Passed on to the virtual server's client when it takes them, as every other request
    /// of a member during a call.
    #[allow(deprecated)] // Roots and sampling are deprecated (SEP-2577); clients still use them.
    async fn list_roots(
        &self,
        context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        if !client_takes(&self.downstream, "roots/list") {
            return Ok(ListRootsResult::default());
        }
        let request = ServerRequest::ListRootsRequest(Default::default());
        match self.ask(request, &context).await? {
            ClientResult::ListRootsResult(result) => Ok(result),
            _ => Err(unexpected("roots/list")),
        }
    }

    #[allow(deprecated)]
    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        if !client_takes(&self.downstream, "sampling/createMessage") {
            return Err(ErrorData::method_not_found::<CreateMessageRequestMethod>());
        }
        let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params));
        match self.ask(request, &context).await? {
            ClientResult::CreateMessageResult(result) => Ok(*result),
            _ => Err(unexpected("a sampling request")),
        }
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if !client_takes(&self.downstream, "elicitation/create") {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        }
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(request));
        match self.ask(request, &context).await? {
            ClientResult::ElicitResult(result) => Ok(result),
            _ => Err(unexpected("an elicitation")),
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Err(error) = self.downstream.notify_tool_list_changed().await {
            tracing::debug!(%error, "a virtual server's client left before a tool list change reached it");
        }
    }
}

/// The gateway's handlers for one member, called in this process. The member is looked up on
/// every request (from the gateway's cache), so a change of its curation or address applies
/// to open sessions as it does to any client's.
#[derive(Clone)]
struct InProcess {
    state: GatewayState,
    id: (String, String),
    /// The session's headers, noted from the requests rmcp's client makes once initialized
    /// (after the member took the first of them), for the calls [`super::forward`] sends past
    /// it.
    address: Arc<Mutex<Option<Address>>>,
}

/// A member's answer that is not MCP.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

type Failed = StreamableHttpError<Refused>;

impl InProcess {
    /// The member as the gateway serves it now.
    async fn target(&self) -> Result<Arc<Target>, Failed> {
        let (namespace, name) = (&self.id.0, &self.id.1);
        match self.state.published(namespace, name).await {
            Ok(Some(target)) => Ok(target),
            Ok(None) => Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
                format!("{namespace}/{name} is not published any more"),
            ))),
            Err(error) => Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
                format!("the registry cannot be read right now: {error}"),
            ))),
        }
    }

    fn headers(
        &self,
        session: Option<&str>,
        custom: HashMap<HeaderName, HeaderValue>,
    ) -> HeaderMap {
        let session = session.and_then(|s| HeaderValue::from_str(s).ok());
        let mut headers = client_post_headers(session, None);
        headers.extend(custom.into_iter().map(|(name, value)| (Some(name), value)));
        headers
    }
}

impl StreamableHttpClient for InProcess {
    type Error = Refused;

    async fn post_message(
        &self,
        _uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Failed> {
        let body = serde_json::to_vec(&message)?;
        let headers = self.headers(session_id.as_deref(), custom_headers);
        let address = headers.get(SESSION_HEADER).map(|session| Address {
            session: session.clone(),
            version: headers.get(VERSION_HEADER).cloned(),
        });
        let target = self.target().await?;
        let response = post_to(
            &self.state,
            target.clone(),
            None,
            &headers,
            Body::from(body),
        )
        .await;
        let status = response.status();
        if let Some(address) = address.filter(|_| status.is_success()) {
            *crate::locks::lock(&self.address) = Some(address);
        }
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        let response = successful(response, &target.id).await?;
        let session = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if is(&response, "text/event-stream") {
            return Ok(StreamableHttpPostResponse::Sse(events(response), session));
        }
        let bytes = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BYTES)
            .await
            .map_err(|error| {
                StreamableHttpError::Client(Refused(format!(
                    "{}'s answer could not be read: {error}",
                    target.id
                )))
            })?;
        let message: ServerJsonRpcMessage = serde_json::from_slice(&bytes)?;
        Ok(StreamableHttpPostResponse::Json(message, session))
    }

    async fn delete_session(
        &self,
        _uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Failed> {
        let headers = self.headers(Some(&session_id), custom_headers);
        let target = self.target().await?;
        without_body_to(&self.state, Method::DELETE, target, None, &headers).await;
        Ok(())
    }

    async fn get_stream(
        &self,
        _uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Failed> {
        let mut headers = self.headers(session_id.as_deref(), custom_headers);
        headers.remove(header::CONTENT_TYPE);
        if let Some(value) = last_event_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
            headers.insert("last-event-id", value);
        }
        let target = self.target().await?;
        let response =
            without_body_to(&self.state, Method::GET, target.clone(), None, &headers).await;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        let response = successful(response, &target.id).await?;
        if !is(&response, "text/event-stream") {
            return Err(StreamableHttpError::UnexpectedContentType(
                response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            ));
        }
        Ok(events(response))
    }
}

/// `response` when it succeeded; otherwise what it says, as the error.
async fn successful(response: Response, member: &str) -> Result<Response, Failed> {
    if response.status().is_success() {
        return Ok(response);
    }
    Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
        failure(response, member).await,
    )))
}

/// What a member's unsuccessful `response` says, for the caller.
pub(super) async fn failure(response: Response, member: &str) -> String {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|body| {
            body.pointer("/error/message")
                .or_else(|| body.get("message"))
                .or_else(|| body.get("error"))
                .and_then(|m| m.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    format!("{member} answered {status}: {text}")
}

pub(super) fn is(response: &Response, media: &str) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(media.as_bytes()))
}

pub(super) fn events(response: Response) -> BoxStream<'static, Result<Sse, SseError>> {
    SseStream::from_bytes_stream(response.into_body().into_data_stream()).boxed()
}
