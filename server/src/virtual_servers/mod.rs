//! Virtual servers (issue #21): one gateway endpoint, `/mcp/{namespace}/{name}`, that shows a
//! curated selection of the tools of several published servers.
//!
//! - [`model`]: the definition (members, selection, overrides, the conflict rule, access);
//! - [`compose`]: the tool list it shows, refusing a name conflict no rule resolves;
//! - [`store`]: the table, audited; a name is a server's or a virtual server's, never both;
//! - [`api`]: the admin's API and the preview; [`Published`] lists them in the registry
//!   (`/v0.1/servers`, the LiteLLM and ToolHive exports, the client snippets);
//! - the endpoint: an rmcp MCP server per client session ([`session`]) whose calls reach each
//!   member through the gateway's own handlers in this process ([`member`]), so the member's
//!   curation, access rules, measurement and backend kind apply unchanged; once a client
//!   session has opened its session with a member ([`links`]), its calls and tool list pages
//!   take the short way ([`forward`]) past both rmcp sessions.

pub mod api;
pub mod compose;
pub mod console;
pub mod finder;
mod forward;
mod links;
mod member;
pub mod model;
mod published;
mod session;
pub mod store;
mod views;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::auth::resource::{self, ask_for_token};
use crate::auth::{bearer_of, Forbidden};
use crate::gateway::access::Decision;
use crate::gateway::{Fallback, GatewayState};
use crate::registry::listing::ListingCache;

use links::Links;
pub use published::Published;
use session::{Caller, VirtualSession};
use views::{View, Views};

type Http = StreamableHttpService<VirtualSession, LocalSessionManager>;

/// Each virtual server's MCP service, with the token that ends its sessions.
type Services = HashMap<(String, String), (Arc<Http>, CancellationToken)>;

/// The virtual servers' endpoints, for the gateway to serve names no server has.
#[derive(Default)]
pub struct Endpoints {
    views: Arc<Views>,
    /// The open client sessions with their member sessions.
    links: Arc<Links>,
    /// One MCP service (with its client sessions) per virtual server.
    services: Mutex<Services>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("views", &self.views)
            .finish_non_exhaustive()
    }
}

/// Checks `spec` for `namespace/name` as every save does, whoever saves it: its fields, then
/// its composition from the members published now (a conflict no rule resolves is refused).
pub async fn check(
    db: &crate::db::Db,
    (namespace, name): (&str, &str),
    spec: &model::VirtualSpec,
) -> Result<compose::Composition, store::SaveError> {
    spec.validate(namespace, name)?;
    // A save is rare: its members' tools are derived afresh.
    let members = store::published_members(db, spec, &ListingCache::default()).await?;
    let composition = compose::compose(spec, &members, true)?;
    let mut problems = crate::validation::Problems::default();
    for (i, member) in spec.members.iter().enumerate() {
        let Some(server) = members.iter().find(|s| s.id() == member.server) else {
            continue;
        };
        if let Some(why) = unreachable_member(&server.spec) {
            problems.push(crate::validation::FieldError::new(
                format!("members[{i}].server"),
                format!(
                    "{} {why}; a virtual server cannot call it, so leave it out",
                    member.server
                ),
            ));
        }
    }
    problems.finish()?;
    Ok(composition)
}

/// Why the gateway cannot call a member with `spec` on a virtual server's behalf, if it
/// cannot: it takes only its own issuer's tokens, or the gateway withholds it.
pub(crate) fn unreachable_member(spec: &serde_json::Value) -> Option<String> {
    let declared = |field: &str| spec.get(field).is_some_and(|v| !v.is_null());
    if declared("oidcConfig") || declared("oidcConfigRef") {
        return Some(
            "takes only its own issuer's tokens (its oidcConfig), which the gateway cannot pass on"
                .into(),
        );
    }
    crate::resources::unsupported::withheld_by_spec(spec)
        .map(|why| format!("is not served by the gateway: {why}"))
}

impl Endpoints {
    fn service(&self, namespace: &str, name: &str) -> Arc<Http> {
        let key = (namespace.to_owned(), name.to_owned());
        let mut services = crate::locks::lock(&self.services);
        if let Some((service, _)) = services.get(&key) {
            return service.clone();
        }
        let stop = CancellationToken::new();
        // Apiary checks the Host itself (local mode) and admits callers by token.
        let config = StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .with_cancellation_token(stop.clone());
        let (views, id, links) = (self.views.clone(), key.clone(), self.links.clone());
        let service = Arc::new(StreamableHttpService::new(
            move || {
                Ok(VirtualSession::new(
                    views.clone(),
                    id.clone(),
                    links.clone(),
                ))
            },
            LocalSessionManager::default().into(),
            config,
        ));
        services.insert(key, (service.clone(), stop));
        service
    }

    /// Who may use `view`: the caller, or the answer refusing them.
    async fn admit(
        state: &GatewayState,
        view: &View,
        headers: &HeaderMap,
    ) -> Result<Option<apiary_app::access::Viewer>, Response> {
        let Some(auth) = &state.auth else {
            return Ok(None);
        };
        let path = format!("/mcp/{}", view.server.id());
        let viewer = match bearer_of(headers) {
            Some(token) => Some(resource::verify(auth, &path, token).await?),
            None => None,
        };
        match view
            .server
            .spec
            .access
            .decide(viewer.as_ref(), &view.server.id())
        {
            Decision::Allow => Ok(viewer),
            Decision::Challenge => Err(ask_for_token(auth, &path)),
            Decision::Forbid(why) => Err(Forbidden(why).into_response()),
        }
    }

    async fn view(
        &self,
        state: &GatewayState,
        (namespace, name): (&str, &str),
    ) -> Result<Option<Arc<View>>, Response> {
        self.views
            .get(&state.db, &state.gateway.usage(), namespace, name)
            .await
            .map_err(|error| {
                tracing::error!(%error, "the gateway cannot read a virtual server");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(crate::validation::error_body(
                        "the gateway cannot read the registry right now; try again shortly",
                        &[],
                    )),
                )
                    .into_response()
            })
    }
}

/// `response` with its body holding `stream`, counted until the body ends or is dropped.
fn counted(response: Response, stream: links::EventStream) -> Response {
    response.map(|body| {
        let chunks = futures::stream::unfold(
            (body.into_data_stream(), stream),
            |(mut body, stream)| async move { Some((body.next().await?, (body, stream))) },
        );
        Body::from_stream(chunks)
    })
}

impl Fallback for Endpoints {
    fn serve<'a>(
        &'a self,
        state: &'a GatewayState,
        (namespace, name): (&'a str, &'a str),
        request: axum::extract::Request,
    ) -> BoxFuture<'a, Result<Response, axum::extract::Request>> {
        async move {
            let view = match self.view(state, (namespace, name)).await {
                Ok(Some(view)) => view,
                Ok(None) => return Err(request),
                Err(response) => return Ok(response),
            };
            let viewer = match Self::admit(state, &view, request.headers()).await {
                Ok(viewer) => viewer,
                Err(response) => return Ok(response),
            };
            let mut request =
                match forward::answer(state, &view, viewer.as_ref(), &self.links, request).await {
                    Ok(response) => return Ok(response),
                    Err(request) => request,
                };
            // The legacy SSE adapter sends no Host; Apiary checked it on the way in.
            if !request.headers().contains_key(axum::http::header::HOST) {
                request.headers_mut().insert(
                    axum::http::header::HOST,
                    axum::http::HeaderValue::from_static("localhost"),
                );
            }
            request.extensions_mut().insert(Caller {
                state: state.clone(),
                viewer,
            });
            // A GET of the session's event stream, counted while it is open once answered.
            let session = (request.method() == Method::GET)
                .then(|| request.headers().get("mcp-session-id")?.to_str().ok())
                .flatten()
                .map(str::to_owned);
            let service = self.service(namespace, name);
            let response = service.handle(request).await.map(Body::new);
            Ok(match session {
                Some(session) if response.status().is_success() => {
                    counted(response, self.links.stream_opened(&session))
                }
                _ => response,
            })
        }
        .boxed()
    }

    fn admits<'a>(
        &'a self,
        state: &'a GatewayState,
        id: (&'a str, &'a str),
        headers: &'a HeaderMap,
    ) -> BoxFuture<'a, Option<Result<(), Response>>> {
        async move {
            match self.view(state, id).await {
                Ok(Some(view)) => Some(Self::admit(state, &view, headers).await.map(drop)),
                Ok(None) => None,
                Err(response) => Some(Err(response)),
            }
        }
        .boxed()
    }

    fn forget(&self, namespace: &str, name: &str) {
        self.views.forget(namespace, name);
    }

    fn server_changed(&self) {
        self.views.forget_all();
    }

    fn drain(&self, grace: std::time::Duration) {
        let stops: Vec<CancellationToken> = crate::locks::lock(&self.services)
            .values()
            .map(|(_, stop)| stop.clone())
            .collect();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            for stop in stops {
                stop.cancel();
            }
        });
    }

    fn close(&self, namespace: &str, name: &str) {
        self.views.forget(namespace, name);
        let key = (namespace.to_owned(), name.to_owned());
        if let Some((_, stop)) = crate::locks::lock(&self.services).remove(&key) {
            stop.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::unreachable_member;

    #[test]
    fn members_the_gateway_cannot_call_for_others_are_named() {
        assert_eq!(unreachable_member(&json!({ "url": "http://x/mcp" })), None);
        let own = unreachable_member(
            &json!({ "url": "http://x/mcp", "oidcConfig": { "type": "inline" } }),
        );
        assert!(own.is_some_and(|why| why.contains("own issuer")));
        let withheld = unreachable_member(
            &json!({ "url": "http://x/mcp", "authzConfig": { "type": "inline" } }),
        );
        assert!(
            withheld.is_some_and(|why| why.contains("not served")),
            "authz without OIDC is withheld"
        );
    }
}
