//! Protection for the embedded default, where there is no sign-in and everyone who can reach
//! Apiary is its admin: only requests addressed to this machine (no DNS rebinding). Cross-site
//! writes are refused in every mode by [`super::csrf`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::Settings;

/// Middleware: in local mode, refuses other host names.
pub async fn guard(
    State(settings): State<Arc<Settings>>,
    request: Request,
    next: Next,
) -> Response {
    if settings.oidc.is_some() {
        return next.run(request).await;
    }
    let allowed = allowed_hosts(&settings);
    if let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        if !allowed.iter().any(|a| a == host_name(host)) {
            return refuse(format!(
                "Apiary runs in local mode and only answers requests for this machine \
                 (localhost, 127.0.0.1, [::1]), not {host:?}; set APIARY_OIDC_ISSUER to serve other hosts"
            ));
        }
    }
    next.run(request).await
}

fn refuse(message: String) -> Response {
    (StatusCode::FORBIDDEN, Json(json!({ "error": message }))).into_response()
}

/// Loopback names plus the host of the public URL, if one is set.
fn allowed_hosts(settings: &Settings) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .map(String::from)
        .to_vec();
    if let Some(public) = &settings.public_url {
        let authority = public.split("://").nth(1).unwrap_or_default();
        let authority = authority.split('/').next().unwrap_or_default();
        hosts.push(host_name(authority).to_owned());
    }
    hosts
}

/// `host[:port]` → `host`, keeping the brackets of an IPv6 address.
fn host_name(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_drop_the_port_and_keep_ipv6_brackets() {
        assert_eq!(host_name("localhost:3000"), "localhost");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("[::1]:3000"), "[::1]");
    }
}
