//! A server whose manifest declares its own inbound security (ToolHive's `oidcConfig`,
//! `oidcConfigRef`, `authzConfig`, ...): the gateway enforces what Apiary can enforce, and
//! withholds the server, naming the field, when Apiary cannot.

mod support;

use serde_json::{json, Value};

use support::gateway::{refresh, register_spec};
use support::mcp_servers::testmcp_http;
use support::oidc::{ROBOT, ROBOT_SEARCH};
use support::registry;
use support::signed_in::{self, Client};

/// An MCP `initialize` through the gateway at `endpoint`, with `token` if any.
async fn initialize(endpoint: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "gateway-inbound-test", "version": "0" }
            }
        }));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.expect("initialize")
}

/// apiary-testmcp over HTTP with the tools `echo` and `upper`.
async fn echo_backend() -> (support::mcp_servers::HttpBackend, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    let schema = json!({ "type": "object", "properties": { "text": { "type": "string" } } });
    std::fs::write(
        &tools,
        json!([
            { "name": "echo", "description": "Echoes", "inputSchema": schema },
            { "name": "upper", "description": "Upper-cases", "inputSchema": schema },
        ])
        .to_string(),
    )
    .expect("write tools");
    let backend = testmcp_http(&["--tools", tools.to_str().expect("path")]).await;
    (backend, dir)
}

/// ToolHive's inline Cedar `authzConfig` (docs: "Authorization policies"), which Apiary does
/// not evaluate yet: the server is not served, and the answer, the registry and the spec's
/// removal all say so.
#[tokio::test]
async fn a_server_with_security_apiary_does_not_enforce_is_withheld_by_name() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let (backend, _dir) = echo_backend().await;
    let plain = json!({ "transport": "streamable-http", "url": backend.url });
    let mut guarded = plain.clone();
    guarded["authzConfig"] = json!({
        "type": "inline",
        "inline": { "policies": ["permit(principal, action == Action::\"call_tool\", resource == Tool::\"echo\");"] }
    });
    register_spec(&http, &base, "team/guarded", guarded).await;
    refresh(&http, &base, "team/guarded").await;

    let endpoint = format!("{base}/mcp/team/guarded");
    let refused = initialize(&endpoint, None).await;
    assert_eq!(refused.status(), 503);
    let answer: Value = refused.json().await.expect("JSON");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("team/guarded is withheld: ")
            && message.contains("spec.authzConfig (its Cedar policies are not evaluated)"),
        "{message}"
    );

    let listed = registry::servers(&http, &base).await;
    let gateway =
        &registry::entry(&listed, "team/guarded")["_meta"]["dev.apiary/server"]["gateway"];
    assert_eq!(gateway["served"], false, "{gateway}");
    assert!(
        gateway["reason"]
            .as_str()
            .is_some_and(|r| r.contains("spec.authzConfig")),
        "{gateway}"
    );

    // Without the field it is served again.
    register_spec(&http, &base, "team/guarded", plain).await;
    assert_eq!(initialize(&endpoint, None).await.status(), 200);
    let listed = registry::servers(&http, &base).await;
    let meta = &registry::entry(&listed, "team/guarded")["_meta"]["dev.apiary/server"];
    assert!(meta.get("gateway").is_none(), "{meta}");
}

/// The audience the server's own OIDC asks for (the test provider issues tokens for
/// loopback resources only).
const AUDIENCE: &str = "http://127.0.0.1:1/fetch-server";

/// ToolHive's legacy inline `oidcConfig`, naming `issuer` and [`AUDIENCE`].
fn with_oidc(mut spec: Value, issuer: &str) -> Value {
    spec["oidcConfig"] = json!({
        "type": "inline",
        "inline": { "issuer": issuer, "audience": AUDIENCE, "insecureAllowHTTP": true }
    });
    spec
}

/// Apiary signs people in with one provider; the server's manifest names another. Through the
/// gateway the server takes only the other issuer's tokens for its audience: Apiary's own
/// tokens (valid for the endpoint everywhere else), and the issuer's tokens for another
/// audience, are refused.
#[tokio::test]
async fn a_server_with_oidc_config_takes_only_its_issuers_tokens() {
    let db = support::sqlite().await;
    let Some(app) = signed_in::start(&db).await else {
        return;
    };
    let Some(idp) = support::oidc::start(&["http://127.0.0.1:1/callback"], &[], None).await else {
        return;
    };
    let (backend, _dir) = echo_backend().await;
    let admin = Client::new(&app);
    admin.sign_in_as("adam").await;
    let spec = with_oidc(
        json!({ "transport": "streamable-http", "url": backend.url }),
        &idp.issuer,
    );
    register_spec(&admin.http, &app.url, "gw/fetch", spec).await;
    refresh(&admin.http, &app.url, "gw/fetch").await;
    let endpoint = format!("{}/mcp/gw/fetch", app.url);

    let anonymous = initialize(&endpoint, None).await;
    assert_eq!(anonymous.status(), 401);
    let answer: Value = anonymous.json().await.expect("JSON");
    let message = answer["error"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "takes only bearer tokens of {} for the audience {AUDIENCE}",
            idp.issuer
        )),
        "{answer}"
    );

    let apiarys = app.provider.machine_token(ROBOT, &endpoint).await;
    let refused = initialize(&endpoint, Some(&apiarys)).await;
    assert_eq!(refused.status(), 401, "Apiary's own token for the endpoint");
    let challenge = refused
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    let apiarys_for_audience = app.provider.machine_token(ROBOT, AUDIENCE).await;
    assert_eq!(
        initialize(&endpoint, Some(&apiarys_for_audience))
            .await
            .status(),
        401,
        "the right audience from the wrong issuer"
    );
    let other_audience = idp.machine_token(ROBOT, "http://127.0.0.1:1/other").await;
    assert_eq!(
        initialize(&endpoint, Some(&other_audience)).await.status(),
        401,
        "the issuer's token for another audience"
    );

    let issuers = idp.machine_token(ROBOT_SEARCH, AUDIENCE).await;
    let answer = initialize(&endpoint, Some(&issuers)).await;
    assert_eq!(answer.status(), 200, "the issuer's token for the audience");
    assert!(answer.headers().contains_key("mcp-session-id"));

    // A server without its own OIDC still takes Apiary's token, not the issuer's.
    let plain = json!({ "transport": "streamable-http", "url": backend.url });
    register_spec(&admin.http, &app.url, "gw/plain", plain).await;
    let plain_endpoint = format!("{}/mcp/gw/plain", app.url);
    let apiarys = app.provider.machine_token(ROBOT, &plain_endpoint).await;
    assert_eq!(
        initialize(&plain_endpoint, Some(&apiarys)).await.status(),
        200
    );
    assert_eq!(
        initialize(&plain_endpoint, Some(&issuers)).await.status(),
        401
    );
}

/// Without sign-in (local mode) Apiary's gateway serves this machine to anyone, but a server
/// whose manifest declares OIDC still takes only its issuer's tokens; an `oidcConfigRef`
/// cannot be read there, so such a server is withheld, naming the field.
#[tokio::test]
async fn oidc_is_enforced_in_local_mode_too() {
    let Some(idp) = support::oidc::start(&["http://127.0.0.1:1/callback"], &[], None).await else {
        return;
    };
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let (backend, _dir) = echo_backend().await;
    let plain = json!({ "transport": "streamable-http", "url": backend.url });
    register_spec(
        &http,
        &base,
        "team/fetch",
        with_oidc(plain.clone(), &idp.issuer),
    )
    .await;
    let endpoint = format!("{base}/mcp/team/fetch");
    assert_eq!(initialize(&endpoint, None).await.status(), 401);
    let token = idp.machine_token(ROBOT, AUDIENCE).await;
    assert_eq!(initialize(&endpoint, Some(&token)).await.status(), 200);

    let mut referenced = plain;
    referenced["oidcConfigRef"] = json!({ "name": "corporate-idp", "audience": AUDIENCE });
    register_spec(&http, &base, "team/shared", referenced).await;
    let refused = initialize(&format!("{base}/mcp/team/shared"), Some(&token)).await;
    assert_eq!(refused.status(), 503);
    let answer: Value = refused.json().await.expect("JSON");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            "spec.oidcConfigRef.name (MCPOIDCConfig corporate-idp: Apiary runs in local mode"
        ),
        "{message}"
    );
}
