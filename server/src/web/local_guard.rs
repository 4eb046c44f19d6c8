//! Protection for the embedded default, where there is no sign-in and everyone who can reach
//! Apiary is its admin: only requests addressed to this machine (no DNS rebinding). Cross-site
//! writes are refused in every mode by [`super::csrf`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::authority::{parse_host, parse_origin};
use crate::api_error::ApiError;
use crate::Settings;

/// The host names the embedded default answers to: loopback and the public URL's host.
/// `None` with sign-in on, where any host is served. Worked out once, not per request.
#[derive(Debug)]
pub struct LocalHosts(Option<Vec<String>>);

impl LocalHosts {
    /// The hosts `settings` allow.
    pub fn of(settings: &Settings) -> Arc<Self> {
        Arc::new(Self(
            settings.oidc.is_none().then(|| allowed_hosts(settings)),
        ))
    }
}

/// Middleware: in local mode, refuses other host names.
pub async fn guard(State(hosts): State<Arc<LocalHosts>>, request: Request, next: Next) -> Response {
    let Some(allowed) = &hosts.0 else {
        return next.run(request).await;
    };
    let host = match request.headers().get(header::HOST) {
        Some(host) => Some(host.to_str().unwrap_or_default()),
        None => request.uri().authority().map(|a| a.as_str()),
    };
    if let Some(host) = host {
        let named = parse_host(host).map(|h| h.host);
        if !named.is_some_and(|name| allowed.contains(&name)) {
            return refuse(format!(
                "Apiary runs in local mode and only answers requests for this machine \
                 (localhost, 127.0.0.1, [::1]), not {host:?}; set APIARY_OIDC_ISSUER to serve other hosts"
            ));
        }
    }
    next.run(request).await
}

fn refuse(message: String) -> Response {
    ApiError::Forbidden(message).into_response()
}

/// Loopback names plus the host of the public URL, if one is set.
fn allowed_hosts(settings: &Settings) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .map(String::from)
        .to_vec();
    if let Some(public) = settings
        .public_url
        .as_deref()
        .and_then(|url| parse_origin(url, true))
    {
        hosts.push(public.host.host);
    }
    hosts
}
