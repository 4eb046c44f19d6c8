//! Cross-site request forgery protection for every state-changing request (API routes, server
//! functions and plain form posts): the browser's own word on where a request comes from
//! (`Sec-Fetch-Site`), else its `Origin`, must be this site. Requests that carry neither come
//! from non-browser clients, which cannot be tricked into sending a person's cookies.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::authority::parse_origin;
use crate::api_error::ApiError;
use crate::Settings;

/// Middleware: refuses a state-changing request that a browser sent from another site.
pub async fn refuse_cross_site(
    State(settings): State<Arc<Settings>>,
    request: Request,
    next: Next,
) -> Response {
    // A back-channel logout is a server-to-server POST whose signed logout token is its proof.
    let exempt = request.uri().path() == crate::auth::BACKCHANNEL_LOGOUT_PATH;
    if !exempt && !request.method().is_safe() && is_cross_site(request.headers(), &settings) {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "refused a cross-site request");
        let message = "a change from another site was refused (cross-site request); use \
                       Apiary's own pages or a non-browser API client";
        return ApiError::Forbidden(message.into()).into_response();
    }
    next.run(request).await
}

/// True unless the browser says the request is same-origin (or user-initiated), or its
/// `Origin` is the public URL's origin or `http://` and the `Host` it was sent to (Apiary
/// itself serves plain HTTP). Both are read strictly: scheme, host and port must all match,
/// and an origin that cannot be read (`null`, user info) is another site.
fn is_cross_site(headers: &HeaderMap, settings: &Settings) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(origin) = origin.to_str().ok().and_then(|o| parse_origin(o, false)) else {
        return true;
    };
    let public = settings
        .public_url
        .as_deref()
        .and_then(|url| parse_origin(url, true));
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|host| parse_origin(&format!("http://{host}"), false));
    !(public.as_ref() == Some(&origin) || own.as_ref() == Some(&origin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// Whether a request with the headers `pairs` is cross-site, with the public URL set.
    fn cross(pairs: &[(&'static str, &'static str)]) -> bool {
        let mut settings = crate::config::load(None).expect("defaults");
        settings.public_url = Some("https://apiary.example.com".into());
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        is_cross_site(&headers, &settings)
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert!(!cross(&[("sec-fetch-site", "same-origin")]));
        assert!(!cross(&[("sec-fetch-site", "none")]));
        assert!(cross(&[("sec-fetch-site", "same-site")]));
        assert!(cross(&[("sec-fetch-site", "cross-site")]));
    }

    #[test]
    fn origin_must_be_the_public_url_or_the_host() {
        assert!(!cross(&[("origin", "https://apiary.example.com")]));
        assert!(!cross(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ]));
        assert!(cross(&[("origin", "https://evil.example")]));
        assert!(cross(&[("origin", "null")]));
        assert!(
            cross(&[
                ("origin", "https://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            "the scheme counts: Apiary serves plain HTTP on its own address"
        );
        assert!(
            cross(&[
                ("origin", "http://127.0.0.1:3000@evil.example"),
                ("host", "127.0.0.1:3000@evil.example")
            ]),
            "user info in an authority is refused, not read as the host"
        );
        assert!(cross(&[("origin", "https://apiary.example.com:8443")]));
        assert!(!cross(&[]), "non-browser clients pass");
    }
}
