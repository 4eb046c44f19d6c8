//! Machine clients with bearer tokens: JWT access tokens from the real provider (client
//! credentials), checked for signature, issuer, audience and expiry.

mod support;

use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use support::oidc::{Options, ROBOT, ROBOT_WITHOUT_GROUPS};
use support::signed_in::{self, challenge, SignedInApp};

async fn get(app: &SignedInApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.url));
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn a_valid_token_reads_the_registry_and_bad_ones_get_a_challenge() {
    let db = support::sqlite().await;
    let Some(app) = signed_in::start(&db).await else {
        return;
    };
    let token = app.provider.machine_token(ROBOT, &app.url).await;
    let ok = get(&app, "/v0.1/servers", Some(&token)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: serde_json::Value = ok.json().await.expect("JSON");
    assert!(body["servers"].is_array(), "{body}");

    let none = get(&app, "/v0.1/servers", None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);

    let elsewhere = app
        .provider
        .machine_token(ROBOT, "http://127.0.0.1:1/another-api")
        .await;
    let wrong_audience = get(&app, "/v0.1/servers", Some(&elsewhere)).await;
    assert_eq!(wrong_audience.status(), StatusCode::UNAUTHORIZED);
    let header = challenge(&wrong_audience);
    assert!(
        header.starts_with("Bearer error=\"invalid_token\""),
        "{header}"
    );
    assert!(header.contains("Audience"), "{header}");

    let garbage = get(&app, "/v0.1/servers", Some("not.a.jwt")).await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&garbage).contains("invalid_token"));

    let mut forged = token.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let bad_signature = get(&app, "/v0.1/servers", Some(&forged)).await;
    assert_eq!(bad_signature.status(), StatusCode::UNAUTHORIZED);

    let nobody = app
        .provider
        .machine_token(ROBOT_WITHOUT_GROUPS, &app.url)
        .await;
    let no_role = get(&app, "/v0.1/servers", Some(&nobody)).await;
    assert_eq!(no_role.status(), StatusCode::FORBIDDEN);
    let refusal: serde_json::Value = no_role.json().await.expect("JSON");
    assert_eq!(refusal["groups"], serde_json::json!([]), "{refusal}");
    let error = refusal["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("robot-nobody") && error.contains("no groups in its `groups` claim"),
        "names the client and what arrived: {error}"
    );

    let register = reqwest::Client::new()
        .put(format!("{}/api/v1/servers/robots/osv", app.url))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .json(&serde_json::json!({ "spec": { "url": "http://127.0.0.1:9/mcp" } }))
        .send()
        .await
        .expect("request");
    assert_eq!(
        register.status(),
        StatusCode::FORBIDDEN,
        "a consumer token cannot register servers"
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let db = support::sqlite().await;
    let options = Options {
        access_token_ttl_secs: Some(1),
        ..Options::default()
    };
    let Some(app) = signed_in::start_with(&db, options).await else {
        return;
    };
    let token = app.provider.machine_token(ROBOT, &app.url).await;
    assert_eq!(
        get(&app, "/v0.1/servers", Some(&token)).await.status(),
        StatusCode::OK,
        "fresh, it works"
    );
    // One second of life plus the two seconds of tolerated clock difference, in whole
    // seconds as JWT times are, with a second to spare.
    tokio::time::sleep(std::time::Duration::from_millis(4_500)).await;
    let expired = get(&app, "/v0.1/servers", Some(&token)).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&expired).contains("ExpiredSignature"),
        "{}",
        challenge(&expired)
    );
}
