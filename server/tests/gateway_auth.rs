//! The gateway with sign-in on: MCP clients need a bearer token from the real provider whose
//! audience is the endpoint (or Apiary); without one they get a challenge that points at the
//! endpoint's protected-resource metadata.

mod support;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::mcp_servers::{testmcp_http, HttpBackend};
use support::oidc::{Options, ROBOT, ROBOT_SEARCH, ROBOT_WITHOUT_GROUPS};
use support::signed_in::{self, challenge, Client, SignedInApp};

/// Publishes `gw/echo` (apiary-testmcp over HTTP) as the admin and fetches its tools.
async fn publish_echo(app: &SignedInApp) -> (HttpBackend, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        json!([{ "name": "echo", "description": "Echoes", "inputSchema": { "type": "object" } }])
            .to_string(),
    )
    .expect("write tools");
    let backend = testmcp_http(&["--tools", tools.to_str().expect("path")]).await;
    let admin = Client::new(app);
    admin.sign_in_as("adam").await;
    let registered = admin
        .http
        .put(format!("{}/api/v1/servers/gw/echo", app.url))
        .json(&json!({
            "ownerTeam": "search",
            "spec": { "transport": "streamable-http", "url": backend.url },
            "published": true,
        }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success(), "{}", registered.status());
    let refreshed = admin
        .http
        .post(format!("{}/api/v1/servers/gw/echo/refresh", app.url))
        .send()
        .await
        .expect("refresh");
    assert!(refreshed.status().is_success());
    (backend, dir)
}

/// An MCP `initialize` through the gateway with `token`.
async fn initialize(app: &SignedInApp, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/mcp/gw/echo", app.url))
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "gateway-auth-test", "version": "0" }
            }
        }));
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    request.send().await.expect("initialize")
}

#[tokio::test]
async fn the_gateway_takes_only_tokens_for_it_and_says_where_to_get_one() {
    let db = support::sqlite().await;
    let Some(app) = signed_in::start(&db).await else {
        return;
    };
    let (_backend, _dir) = publish_echo(&app).await;
    let endpoint = format!("{}/mcp/gw/echo", app.url);

    let anonymous = initialize(&app, None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/mcp/gw/echo",
        app.url
    );
    assert_eq!(
        challenge(&anonymous),
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );
    let metadata: Value = reqwest::get(&metadata_url)
        .await
        .expect("metadata")
        .json()
        .await
        .expect("JSON");
    assert_eq!(metadata["resource"], endpoint);
    assert_eq!(
        metadata["authorization_servers"],
        json!([app.provider.issuer])
    );

    let for_endpoint = app.provider.machine_token(ROBOT, &endpoint).await;
    let answer = initialize(&app, Some(&for_endpoint)).await;
    assert_eq!(answer.status(), StatusCode::OK, "a token for this endpoint");
    assert!(answer.headers().contains_key("mcp-session-id"));

    let for_apiary = app.provider.machine_token(ROBOT, &app.url).await;
    assert_eq!(
        initialize(&app, Some(&for_apiary)).await.status(),
        StatusCode::OK,
        "a token for Apiary as a whole"
    );

    let for_elsewhere = app
        .provider
        .machine_token(ROBOT, "http://127.0.0.1:1/mcp/other")
        .await;
    let refused = initialize(&app, Some(&for_elsewhere)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "wrong audience");
    let header = challenge(&refused);
    assert!(header.contains("error=\"invalid_token\""), "{header}");
    assert!(header.contains(&metadata_url), "{header}");

    let without_role = app
        .provider
        .machine_token(ROBOT_WITHOUT_GROUPS, &endpoint)
        .await;
    assert_eq!(
        initialize(&app, Some(&without_role)).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_at_the_gateway() {
    let db = support::sqlite().await;
    let options = Options {
        access_token_ttl_secs: Some(1),
        ..Options::default()
    };
    let Some(app) = signed_in::start_with(&db, options).await else {
        return;
    };
    let (_backend, _dir) = publish_echo(&app).await;
    let token = app
        .provider
        .machine_token(ROBOT, &format!("{}/mcp/gw/echo", app.url))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(4_500)).await;
    let expired = initialize(&app, Some(&token)).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&expired).contains("ExpiredSignature"),
        "{}",
        challenge(&expired)
    );
}

#[tokio::test]
async fn per_server_access_opens_the_endpoint_or_narrows_it_to_roles_and_teams() {
    let db = support::sqlite().await;
    let Some(app) = signed_in::start(&db).await else {
        return;
    };
    let (_backend, _dir) = publish_echo(&app).await;
    let endpoint = format!("{}/mcp/gw/echo", app.url);
    let access_url = format!("{}/api/v1/servers/gw/echo/access", app.url);
    let admin = Client::signed_in(&app, "adam").await;
    let put = |policy: Value| {
        let http = admin.http.clone();
        let url = access_url.clone();
        async move {
            let response = http.put(url).json(&policy).send().await.expect("put");
            let status = response.status();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    let consumer = app.provider.machine_token(ROBOT, &endpoint).await;
    let searcher = app.provider.machine_token(ROBOT_SEARCH, &endpoint).await;

    // Unknown servers are not told apart from protected ones without a token.
    let unknown = reqwest::Client::new()
        .post(format!("{}/mcp/gw/nothing", app.url))
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    let (status, answer) = put(json!({ "anonymous": true })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        initialize(&app, None).await.status(),
        StatusCode::OK,
        "an anonymous endpoint needs no token"
    );

    let (status, _) = put(json!({ "teams": ["search"] })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        initialize(&app, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        initialize(&app, Some(&searcher)).await.status(),
        StatusCode::OK,
        "a member of team search"
    );
    let outsider = initialize(&app, Some(&consumer)).await;
    assert_eq!(outsider.status(), StatusCode::FORBIDDEN);
    let why: Value = outsider.json().await.expect("JSON");
    assert!(
        why.to_string().contains("teams search"),
        "the refusal says which teams: {why}"
    );

    let (status, _) = put(json!({ "roles": ["owner", "admin"] })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        initialize(&app, Some(&searcher)).await.status(),
        StatusCode::FORBIDDEN,
        "a consumer is not an owner or admin"
    );

    let (status, answer) = put(json!({ "teams": ["Search Team"] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["field"], "teams[0]", "{answer}");
    let (status, answer) = put(json!({ "anonymous": true, "roles": ["admin"] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["field"], "anonymous", "{answer}");
    let (status, answer) = put(json!({ "roles": ["superuser"] })).await;
    assert!(status.is_client_error(), "{status} {answer}");
    assert!(answer.to_string().contains("roles"), "{answer}");

    let owner = Client::signed_in(&app, "olga").await;
    let refused = owner
        .http
        .put(&access_url)
        .json(&json!({ "anonymous": true }))
        .send()
        .await
        .expect("put");
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "only admins set access"
    );
    let shown: Value = admin
        .http
        .get(&access_url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        shown,
        json!({ "anonymous": false, "roles": ["owner", "admin"], "teams": [] }),
        "the last good policy stayed"
    );
}
