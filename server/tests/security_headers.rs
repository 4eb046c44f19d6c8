//! Security headers: a Content-Security-Policy whose nonce is the one on the page's scripts,
//! no framing, no MIME sniffing.

mod support;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(app: &axum::Router, path: &str) -> (axum::http::HeaderMap, String) {
    let response = app
        .clone()
        .oneshot(
            Request::get(path)
                .header("host", "localhost")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (headers, String::from_utf8_lossy(&body).into_owned())
}

fn nonce_of(policy: &str) -> String {
    let start = policy.find("'nonce-").expect("a script nonce") + "'nonce-".len();
    policy[start..]
        .split('\'')
        .next()
        .expect("nonce")
        .to_owned()
}

#[tokio::test]
async fn pages_carry_a_fresh_nonce_that_matches_their_scripts() {
    let db = support::sqlite().await;
    let app = support::app(&db.db);
    let (headers, html) = get(&app, "/").await;
    let policy = headers["content-security-policy"].to_str().expect("text");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("object-src 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let nonce = nonce_of(policy);
    let scripts: Vec<&str> = html
        .match_indices("<script")
        .map(|(i, _)| &html[i..])
        .collect();
    assert!(!scripts.is_empty(), "the page hydrates with scripts");
    for script in scripts {
        let tag = &script[..script.find('>').expect("tag end")];
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "every script carries the response's nonce: {tag}"
        );
    }
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");

    let (again, _) = get(&app, "/").await;
    let second = nonce_of(again["content-security-policy"].to_str().expect("text"));
    assert_ne!(nonce, second, "each response gets its own nonce");

    let (api, _) = get(&app, "/healthz").await;
    assert!(
        api.contains_key("content-security-policy"),
        "JSON and text answers too"
    );
}
