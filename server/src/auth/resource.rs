//! The gateway's endpoints as OAuth protected resources, as the MCP authorization spec asks:
//! each `/mcp/{namespace}/{name}` publishes its metadata (RFC 9728) naming the provider, and
//! takes only bearer tokens whose audience is that endpoint (RFC 8707) or Apiary itself.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use apiary_app::access::Viewer;

use crate::api_request::ServerPath;

use super::Auth;

/// Where the metadata of `/mcp/...` lives: this prefix plus the endpoint's path.
pub const METADATA_PREFIX: &str = "/.well-known/oauth-protected-resource";

/// The metadata routes; 404 in local mode, where the gateway takes no tokens.
pub fn routes() -> Router<Option<Arc<Auth>>> {
    Router::new().route(
        "/.well-known/oauth-protected-resource/mcp/{namespace}/{name}",
        get(metadata),
    )
}

/// `GET /.well-known/oauth-protected-resource/mcp/{namespace}/{name}`.
async fn metadata(State(auth): State<Option<Arc<Auth>>>, server: ServerPath) -> Response {
    let Some(auth) = auth else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let path = format!("/mcp/{server}");
    Json(json!({
        "resource": format!("{}{path}", auth.public_url),
        "authorization_servers": [auth.provider.settings().issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": format!("{server} through Apiary"),
    }))
    .into_response()
}

/// Checks the bearer `token` of a gateway request for `path`: valid for this endpoint (or for
/// Apiary). Whether its holder may use the endpoint is the gateway's decision (per server, see
/// [`crate::gateway::access`]); a bad token gets 401 with a challenge pointing at the metadata.
pub async fn verify(auth: &Auth, path: &str, token: &str) -> Result<Viewer, Response> {
    let endpoint = endpoint_of(path);
    let resource = format!("{}{endpoint}", auth.public_url);
    let identity = auth
        .bearer
        .verify(token, &[resource.as_str(), auth.audience.as_str()])
        .await
        .map_err(|error| {
            tracing::info!(%error, %resource, "refused a gateway token");
            challenge(
                Some(&metadata_of(auth, &endpoint)),
                Some(&error.to_string()),
            )
        })?;
    Ok(auth.viewer_for(identity))
}

/// 401 asking for a bearer token for the gateway endpoint of `path`, naming its metadata.
pub fn ask_for_token(auth: &Auth, path: &str) -> Response {
    challenge(Some(&metadata_of(auth, &endpoint_of(path))), None)
}

fn metadata_of(auth: &Auth, endpoint: &str) -> String {
    format!("{}{METADATA_PREFIX}{endpoint}", auth.public_url)
}

/// `/mcp/{namespace}/{name}` of a gateway path (dropping anything after the name).
fn endpoint_of(path: &str) -> String {
    let mut parts = path.trim_start_matches('/').splitn(4, '/');
    let (mcp, namespace, name) = (parts.next(), parts.next(), parts.next());
    format!(
        "/{}/{}/{}",
        mcp.unwrap_or("mcp"),
        namespace.unwrap_or_default(),
        name.unwrap_or_default()
    )
}

/// 401 with an RFC 6750 `WWW-Authenticate: Bearer` challenge: `resource_metadata` when the
/// path is a protected resource, and `error="invalid_token"` with the reason for a bad token.
pub(super) fn challenge(metadata: Option<&str>, error: Option<&str>) -> Response {
    let mut params = Vec::new();
    if let Some(metadata) = metadata {
        params.push(format!("resource_metadata=\"{metadata}\""));
    }
    let message = match error {
        Some(reason) => {
            let reason = reason.replace(['"', '\\'], "'");
            params.push(format!(
                "error=\"invalid_token\", error_description=\"{reason}\""
            ));
            format!("bearer token refused: {reason}")
        }
        None => "this MCP endpoint needs a bearer token from Apiary's identity provider; \
                 its metadata names the provider"
            .to_owned(),
    };
    let value = format!("Bearer {}", params.join(", "));
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(crate::validation::error_body(&message, &[])),
    )
        .into_response();
    if let Ok(header_value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header_value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_the_first_three_segments() {
        assert_eq!(endpoint_of("/mcp/team/osv"), "/mcp/team/osv");
        assert_eq!(endpoint_of("/mcp/team/osv/extra"), "/mcp/team/osv");
    }
}
