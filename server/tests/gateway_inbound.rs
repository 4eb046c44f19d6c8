//! A server whose manifest declares its own inbound security (ToolHive's `oidcConfig`,
//! `oidcConfigRef`, `authzConfig`, ...): the gateway enforces what Apiary can enforce, and
//! withholds the server, naming the field, when Apiary cannot.

mod support;

use serde_json::{json, Value};

use support::gateway::{refresh, register_spec};
use support::mcp_client;
use support::mcp_servers::testmcp_http;
use support::oidc::{ROBOT, ROBOT_SEARCH, ROBOT_WITHOUT_GROUPS};
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

/// ToolHive's inline Cedar `authzConfig` (docs: "Authorization policies") without OIDC: the
/// policies judge the claims of a verified token, and there is none, so the server is not
/// served, and the answer, the registry and the spec's removal all say so.
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
            && message.contains(
                "spec.authzConfig (Cedar policies judge the claims of the caller's token"
            )
            && message.contains("Apiary does not judge anonymous callers"),
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

/// An MCP session with `url` through rmcp's client, sending `token` as the bearer.
async fn connect_with(url: &str, token: &str) -> mcp_client::Client {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::ServiceExt;
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    rmcp::model::ClientConfig::new(
        rmcp::model::ClientCapabilities::default(),
        rmcp::model::Implementation::new("gateway-inbound-test", "0"),
    )
    .serve(StreamableHttpClientTransport::from_config(config))
    .await
    .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// What one caller sees of the server: the tools listed, and for each of `tools` whether
/// calling it succeeds (`Ok(text)`) or the JSON-RPC error the gateway answers (`Err`).
async fn seen_by(
    url: &str,
    token: &str,
    tools: &[&str],
) -> (Vec<String>, Vec<Result<String, (i32, String)>>) {
    let client = connect_with(url, token).await;
    let listed = mcp_client::names(&client.list_all_tools().await.expect("tools/list"));
    let mut calls = Vec::new();
    for tool in tools {
        let call = mcp_client::call(tool, json!({ "text": "hi" }));
        calls.push(match client.call_tool(call).await {
            Ok(result) => Ok(serde_json::to_string(&result.content).expect("JSON")),
            Err(rmcp::ServiceError::McpError(error)) => {
                Err((error.code.0, error.message.to_string()))
            }
            Err(other) => panic!("calling {tool}: {other}"),
        });
    }
    client.cancel().await.expect("close");
    (listed, calls)
}

/// Cedar policies in the forms of ToolHive's docs, on a server with its own OIDC: a policy
/// for everyone, one on a claim (`principal.claim_groups.contains(...)`), one on a group
/// parent (`principal in THVGroup::...`) and a `forbid` for one client. Each caller's
/// `tools/list` shows only the tools it may call, and a call of another tool gets ToolHive's
/// JSON-RPC error (403) naming the tool, without reaching the backend.
#[tokio::test]
async fn cedar_policies_permit_and_forbid_tools_per_caller() {
    let Some(idp) = support::oidc::start(&["http://127.0.0.1:1/callback"], &[], None).await else {
        return;
    };
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let (backend, _dir) = echo_backend().await;
    let mut spec = with_oidc(
        json!({ "transport": "streamable-http", "url": backend.url }),
        &idp.issuer,
    );
    spec["authzConfig"] = json!({
        "type": "inline",
        "inline": { "policies": [
            "permit(principal, action == Action::\"call_tool\", resource == Tool::\"echo\");",
            "permit(principal, action == Action::\"call_tool\", resource == Tool::\"upper\") when { principal.claim_groups.contains(\"team-search\") };",
            "permit(principal in THVGroup::\"team-search\", action == Action::\"call_tool\", resource == Tool::\"echo\");",
            "forbid(principal == Client::\"robot-nobody\", action, resource);"
        ] }
    });
    register_spec(&http, &base, "team/cedar", spec.clone()).await;
    refresh(&http, &base, "team/cedar").await;
    let url = format!("{base}/mcp/team/cedar");
    let tools = ["echo", "upper"];

    // robot-search (groups: apiary-consumers, team-search): both tools.
    let token = idp.machine_token(ROBOT_SEARCH, AUDIENCE).await;
    let (listed, calls) = seen_by(&url, &token, &tools).await;
    assert_eq!(listed, ["echo", "upper"]);
    assert!(calls.iter().all(Result::is_ok), "{calls:?}");
    assert!(
        calls[1].as_ref().is_ok_and(|text| text.contains("hi")),
        "{calls:?}"
    );

    // robot (groups: apiary-consumers): echo only; upper is refused by name.
    let token = idp.machine_token(ROBOT, AUDIENCE).await;
    let (listed, calls) = seen_by(&url, &token, &tools).await;
    assert_eq!(listed, ["echo"]);
    assert!(calls[0].is_ok(), "{calls:?}");
    assert_eq!(
        calls[1],
        Err((
            403,
            "Unauthorized: the server's Cedar policies do not permit Client::\"robot\" to call \
             the tool upper"
                .to_owned()
        ))
    );

    // robot-nobody: forbidden everything, even what everyone else may call.
    let token = idp.machine_token(ROBOT_WITHOUT_GROUPS, AUDIENCE).await;
    let (listed, calls) = seen_by(&url, &token, &tools).await;
    assert_eq!(listed, Vec::<String>::new());
    assert!(
        calls
            .iter()
            .all(|c| matches!(c, Err((403, m)) if m.contains("robot-nobody"))),
        "{calls:?}"
    );

    // A policy that does not parse (ToolHive's own example: a set in the scope) withholds
    // the server, naming the field and Cedar's message; the registry says so too.
    spec["authzConfig"]["inline"]["policies"] = json!([
        "permit(principal, action == Action::\"call_tool\", resource in Tool::[\"calculator\", \"translator\"]) when { principal.claim_roles.contains(\"admin\") };"
    ]);
    register_spec(&http, &base, "team/cedar", spec).await;
    let refused = initialize(&url, Some(&token)).await;
    assert_eq!(refused.status(), 503);
    let answer: Value = refused.json().await.expect("JSON");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("team/cedar is withheld: ")
            && message
                .contains("spec.authzConfig.inline (policy 0 does not parse: unexpected token"),
        "{message}"
    );
    let listed = registry::servers(&http, &base).await;
    let gateway = &registry::entry(&listed, "team/cedar")["_meta"]["dev.apiary/server"]["gateway"];
    assert_eq!(gateway["served"], false, "{gateway}");
    assert!(
        gateway["reason"]
            .as_str()
            .is_some_and(|r| r.contains("policy 0 does not parse")),
        "{gateway}"
    );
}
