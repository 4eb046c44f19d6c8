//! The sign-in gate: every request except health, metrics, static files and the sign-in
//! routes needs a signed-in person with at least one Apiary role.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;
use tower_sessions::Session;

use apiary_app::access::{Action, Viewer};

use crate::api_error::ApiError;

use super::routes::{page, signed_in_page};
use super::Auth;

/// Paths anyone may reach: probes, metrics, the API description, static files, sign-in and
/// the gateway's protected-resource metadata.
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json")
        || path.starts_with("/pkg/")
        || path.starts_with("/auth/")
        || path.starts_with(super::resource::METADATA_PREFIX)
}

/// Middleware: puts the [`Viewer`] behind the request into its extensions, from a bearer
/// token or the session, or answers for them: a browser page load goes to sign-in, anything
/// else gets 401; someone without any Apiary role gets 403.
pub async fn require_sign_in(
    State(auth): State<Option<Arc<Auth>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(auth) = auth else {
        request.extensions_mut().insert(Viewer::local_admin());
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    if is_public(&path) {
        return next.run(request).await;
    }
    if path.starts_with("/mcp/") {
        // MCP clients are not browsers: the gateway takes bearer tokens only, and checks them
        // per server (Apiary's, or the issuer a server's own manifest names; some servers are
        // open without a token): [`crate::gateway`].
        return next.run(request).await;
    }
    if let Some(token) = bearer_token(&request) {
        return match auth.bearer.verify(&token, &[auth.audience.as_str()]).await {
            Ok(identity) => {
                let groups = identity.groups.clone();
                let viewer = auth.viewer_for(identity);
                if viewer.may(Action::Browse, None) {
                    request.extensions_mut().insert(viewer);
                    next.run(request).await
                } else {
                    without_role(&viewer, &auth.provider.settings().roles_claim, groups)
                }
            }
            Err(error) => {
                tracing::info!(%error, "refused a bearer token");
                super::resource::challenge(None, Some(&error.to_string()))
            }
        };
    }
    let viewer = match request.extensions().get::<Session>() {
        Some(session) => match super::lifetime::current(&auth, session).await {
            Ok(viewer) => viewer,
            Err(error) => {
                tracing::error!(%error, "cannot read the session");
                return page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Apiary is unavailable",
                    "Apiary cannot reach its session store right now. Try again in a minute.",
                );
            }
        },
        None => None,
    };
    match viewer {
        Some(viewer) if viewer.may(Action::Browse, None) => {
            request.extensions_mut().insert(viewer);
            next.run(request).await
        }
        Some(viewer) => signed_in_page(
            StatusCode::FORBIDDEN,
            "No access to Apiary",
            &format!(
                "You are signed in as {}, but none of your groups grants an Apiary role. \
                 Ask your Apiary admin to add you to a consumer, proposer, owner or admin group, \
                 or sign out and sign in as someone else.",
                viewer.name
            ),
        ),
        None if wants_page(&request) => {
            let return_to = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            let target = format!(
                "/auth/login?return_to={}",
                url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
            );
            Redirect::to(&target).into_response()
        }
        None => sign_in_first(),
    }
}

/// 401 for an API request without a session or bearer token.
fn sign_in_first() -> Response {
    let message = "sign in first: this request has no Apiary session".to_owned();
    let status = StatusCode::UNAUTHORIZED;
    ApiError::Rejected { status, message }.into_response()
}

/// 403 for a valid bearer token without an Apiary role, naming the groups that arrived in
/// `claim`, so whoever set up the client sees what the provider sent.
fn without_role(viewer: &Viewer, claim: &str, groups: Vec<String>) -> Response {
    tracing::debug!(subject = %viewer.subject, claim, ?groups, "a valid token without an Apiary role");
    let received = if groups.is_empty() {
        format!("no groups in its `{claim}` claim")
    } else {
        format!("the groups {} in its `{claim}` claim", groups.join(", "))
    };
    let message = format!(
        "{} has a valid token but no Apiary role: it carried {received}; ask an Apiary admin \
         to add the client or person to a consumer, proposer, owner or admin group",
        viewer.name
    );
    let mut body = crate::validation::error_body(&message, &[]);
    body["groups"] = json!(groups);
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_token(request: &Request) -> Option<String> {
    bearer_of(request.headers()).map(str::to_owned)
}

/// The token of an `Authorization: Bearer …` header in `headers`.
pub fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// True for a browser navigating to a page: a GET that accepts HTML.
fn wants_page(request: &Request) -> bool {
    request.method() == Method::GET
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// The person behind an API request, as an extractor. Handlers call [`Principal::require`]
/// before they change anything.
#[derive(Clone, Debug)]
pub struct Principal(pub Viewer);

impl Principal {
    /// The viewer when they may do `action` (on a server owned by `owner_team`), otherwise a
    /// 403 that says who was refused and what they tried.
    pub fn require(&self, action: Action, owner_team: Option<&str>) -> Result<&Viewer, Forbidden> {
        if self.0.may(action, owner_team) {
            Ok(&self.0)
        } else {
            Err(Forbidden(format!(
                "{} may not {} here; ask an Apiary admin for the right role",
                self.0.name,
                action.describe()
            )))
        }
    }
}

/// A refused action (403); the message says who and what.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub String);

impl From<Forbidden> for ApiError {
    fn from(refused: Forbidden) -> Self {
        ApiError::Forbidden(refused.0)
    }
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .map(Principal)
            .ok_or_else(sign_in_first)
    }
}
