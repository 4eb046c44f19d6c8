//! Protection for the embedded default, where there is no sign-in and everyone who can reach
//! Apiary is its admin: only requests addressed to this machine (no DNS rebinding), and no
//! state-changing request from another site (no CSRF).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::Settings;

/// Middleware: in local mode, refuses other host names and cross-site writes.
pub async fn guard(
    State(settings): State<Arc<Settings>>,
    request: Request,
    next: Next,
) -> Response {
    if settings.oidc_issuer.is_some() {
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
    if !request.method().is_safe() && is_cross_site(request.headers(), &allowed) {
        return refuse("a change from another site was refused (cross-site request)".into());
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

/// True when the browser says the request comes from another site, or its `Origin` is not
/// one of the allowed hosts.
fn is_cross_site(headers: &HeaderMap, allowed: &[String]) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return true;
    }
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => false,
        Some("null") => true,
        Some(origin) => {
            let authority = origin.split("://").nth(1).unwrap_or_default();
            !allowed.iter().any(|a| a == host_name(authority))
        }
    }
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
