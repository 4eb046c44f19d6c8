//! Cross-site request forgery protection for every state-changing request (API routes, server
//! functions and plain form posts): the browser's own word on where a request comes from
//! (`Sec-Fetch-Site`), else its `Origin`, must be this site. Requests that carry neither come
//! from non-browser clients, which cannot be tricked into sending a person's cookies.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

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
        return (
            StatusCode::FORBIDDEN,
            Json(
                json!({ "error": "a change from another site was refused (cross-site request); \
                                   use Apiary's own pages or a non-browser API client" }),
            ),
        )
            .into_response();
    }
    next.run(request).await
}

/// True unless the browser says the request is same-origin (or user-initiated), or its
/// `Origin` is the public URL's origin or the origin of the `Host` it was sent to.
fn is_cross_site(headers: &HeaderMap, settings: &Settings) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let own_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let authority = origin.split("://").nth(1).unwrap_or_default();
    let public_origin = settings.public_url.as_deref().and_then(origin_of);
    let same_as_public = public_origin.as_deref() == Some(origin);
    let same_as_host = !own_host.is_empty() && authority == own_host;
    !(same_as_public || same_as_host)
}

/// `scheme://host[:port]` of `url`.
fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn settings() -> Settings {
        let mut settings = crate::config::load(None).expect("defaults");
        settings.public_url = Some("https://apiary.example.com".into());
        settings
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        let s = settings();
        assert!(!is_cross_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &s
        ));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "none")]), &s));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            &s
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &s
        ));
    }

    #[test]
    fn origin_must_be_the_public_url_or_the_host() {
        let s = settings();
        assert!(!is_cross_site(
            &headers(&[("origin", "https://apiary.example.com")]),
            &s
        ));
        assert!(!is_cross_site(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            &s
        ));
        assert!(is_cross_site(
            &headers(&[("origin", "https://evil.example")]),
            &s
        ));
        assert!(is_cross_site(&headers(&[("origin", "null")]), &s));
        assert!(
            !is_cross_site(&headers(&[]), &s),
            "non-browser clients pass"
        );
    }
}
