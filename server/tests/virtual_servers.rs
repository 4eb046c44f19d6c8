//! Virtual servers (issue #21): one endpoint with a curated selection of the tools of npm
//! server-everything, PyPI mcp-server-time (both stdio, run by the local runtime) and our
//! rmcp test server (streamable HTTP), reached by rmcp's client and the TypeScript SDK's
//! legacy SSE client.

mod support;

use std::sync::Arc;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{NotificationContext, RoleClient};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{json, Value};
use tokio::sync::Notify;

use support::gateway::{
    calls_counted, metrics_of, refresh, register, register_everything, register_spec,
};
use support::mcp_client::{call, connect, legacy_client, legacy_client_with, names};
use support::mcp_servers::{everything, mcp_time, one_tool_file, testmcp_http};

/// A client that counts the `notifications/tools/list_changed` it gets.
#[derive(Clone)]
struct Listener {
    changed: Arc<Notify>,
}

impl ClientHandler for Listener {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("apiary-virtual-test", "0"),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

async fn put(http: &reqwest::Client, base: &str, id: &str, spec: &Value) -> (u16, Value) {
    let response = http
        .put(format!("{base}/api/v1/virtual-servers/{id}"))
        .json(spec)
        .send()
        .await
        .expect("PUT");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn one_endpoint_serves_tools_of_three_servers_by_their_members() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let everything = everything().display().to_string();
    register_spec(
        &http,
        &base,
        "team/everything",
        json!({ "command": "node", "args": [everything], "transport": "stdio" }),
    )
    .await;
    let time = mcp_time().display().to_string();
    register_spec(
        &http,
        &base,
        "team/time",
        json!({ "command": time, "transport": "stdio" }),
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    let schema = json!({ "type": "object", "properties": { "text": { "type": "string" } } });
    std::fs::write(
        &tools,
        json!([
            { "name": "echo", "description": "Echoes its arguments", "inputSchema": schema },
            { "name": "shuffle", "description": "Changes the tool list", "inputSchema": schema },
        ])
        .to_string(),
    )
    .expect("write tools");
    let notes = testmcp_http(&[
        "--tools",
        &tools.display().to_string(),
        "--notify-on",
        "shuffle",
    ])
    .await;
    register(&http, &base, "team/notes", &notes.url).await;
    for id in ["team/everything", "team/time", "team/notes"] {
        refresh(&http, &base, id).await;
    }

    // Two members with an `echo` each and no prefix: refused, naming both tools.
    let clash = json!({
        "ownerTeam": "team",
        "members": [
            { "server": "team/everything", "prefix": "", "allow": ["echo"] },
            { "server": "team/notes", "prefix": "" },
        ],
    });
    let (status, body) = put(&http, &base, "team/all", &clash).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "members[1]", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("team/everything/echo") && message.contains("team/notes/echo"),
        "{body}"
    );
    // An unknown field is named, not dropped.
    let (status, body) = put(
        &http,
        &base,
        "team/all",
        &json!({ "ownerTeam": "team", "members": [], "compositeTools": [] }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("compositeTools"),
        "{body}"
    );
    // A server's name is not a virtual server's.
    let taken = json!({ "ownerTeam": "team", "members": [{ "server": "team/notes" }] });
    let (status, body) = put(&http, &base, "team/time", &taken).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("name")),
        "{body}"
    );

    // Prefixes (the default) keep the two echo tools apart; the preview shows it unsaved.
    let spec = json!({
        "description": "The team's tools in one place",
        "ownerTeam": "team",
        "members": [
            { "server": "team/everything", "allow": ["echo", "get-sum"] },
            { "server": "team/time", "prefix": "clock", "deny": ["convert_time"] },
            { "server": "team/notes" },
        ],
    });
    let preview: Value = http
        .post(format!("{base}/api/v1/virtual-servers/team/all/preview"))
        .json(&spec)
        .send()
        .await
        .expect("preview")
        .json()
        .await
        .expect("JSON");
    let expected = [
        "everything_echo",
        "everything_get-sum",
        "clock_get_current_time",
        "notes_echo",
        "notes_shuffle",
    ];
    let previewed: Vec<&str> = preview["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(previewed, expected, "{preview}");
    let missing = http
        .get(format!("{base}/api/v1/virtual-servers/team/all"))
        .send()
        .await
        .expect("GET");
    assert_eq!(missing.status(), 404, "the preview saved nothing");
    let (status, body) = put(&http, &base, "team/all", &spec).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["url"]
            .as_str()
            .is_some_and(|url| url.ends_with("/mcp/team/all")),
        "{body}"
    );

    // A client of the virtual endpoint sees the merged list and reaches every member.
    let changed = Arc::new(Notify::new());
    let client = Listener {
        changed: changed.clone(),
    }
    .serve(StreamableHttpClientTransport::from_uri(format!(
        "{base}/mcp/team/all"
    )))
    .await
    .expect("connect");
    let listed = client.list_all_tools().await.expect("tools/list");
    assert_eq!(names(&listed), expected);
    let text =
        |result: rmcp::model::CallToolResult| serde_json::to_string(&result.content).expect("JSON");
    let echoed = client
        .call_tool(call(
            "everything_echo",
            json!({ "message": "through one endpoint" }),
        ))
        .await
        .expect("everything_echo");
    assert!(text(echoed).contains("Echo: through one endpoint"));
    let now = client
        .call_tool(call("clock_get_current_time", json!({ "timezone": "UTC" })))
        .await
        .expect("clock_get_current_time");
    assert_ne!(now.is_error, Some(true), "{now:?}");
    assert!(text(now).contains("UTC"));
    let noted = client
        .call_tool(call("notes_echo", json!({ "text": "to the notes" })))
        .await
        .expect("notes_echo");
    assert!(text(noted).contains("to the notes"));

    // A tool the virtual server leaves out is refused like a tool that does not exist.
    for hidden in ["clock_convert_time", "everything_add", "convert_time"] {
        let refused = client
            .call_tool(call(hidden, json!({})))
            .await
            .expect_err("not shown");
        assert!(
            refused
                .to_string()
                .contains(&format!("Unknown tool: {hidden}")),
            "{refused}"
        );
    }

    // A member's tool list change reaches the virtual server's client.
    client
        .call_tool(call("notes_shuffle", json!({})))
        .await
        .expect("notes_shuffle");
    tokio::time::timeout(std::time::Duration::from_secs(10), changed.notified())
        .await
        .expect("notifications/tools/list_changed from team/notes reached the client");

    // A member's curation applies at once, to sessions already open too.
    let curated = http
        .put(format!("{base}/api/v1/servers/team/notes/curation"))
        .json(&json!({ "overrides": { "echo": { "name": "note" } } }))
        .send()
        .await
        .expect("curate");
    assert_eq!(curated.status(), 200);
    let listed = client.list_all_tools().await.expect("tools/list");
    assert!(
        names(&listed).contains(&"notes_note".to_owned()),
        "{:?}",
        names(&listed)
    );
    let noted = client
        .call_tool(call("notes_note", json!({ "text": "renamed" })))
        .await
        .expect("notes_note");
    assert!(text(noted).contains("renamed"));
    let curated = http
        .put(format!("{base}/api/v1/servers/team/notes/curation"))
        .json(&json!({}))
        .send()
        .await
        .expect("curate");
    assert_eq!(curated.status(), 200);

    // The legacy SSE transport reaches the same endpoint.
    let seen = legacy_client(&format!("{base}/mcp/team/all/sse"), &["notes_echo"]).await;
    assert_eq!(seen["tools"], json!(expected), "{seen}");
    assert_eq!(seen["results"]["notes_echo"]["ok"], true, "{seen}");

    // One member stops: its tools fail with a clear error, the others keep answering.
    drop(notes);
    let failed = client
        .call_tool(call("notes_echo", json!({ "text": "anyone?" })))
        .await
        .expect("a tool result");
    assert_eq!(failed.is_error, Some(true), "{failed:?}");
    assert!(text(failed).contains("team/notes"));
    let echoed = client
        .call_tool(call("everything_echo", json!({ "message": "still here" })))
        .await
        .expect("everything_echo");
    assert!(text(echoed).contains("Echo: still here"));
    client.cancel().await.expect("close");

    // Each call is counted under the virtual server's name and tool, by outcome.
    let metrics = metrics_of(&http, &base).await;
    let count = |tool, outcome| calls_counted(&metrics, ("team/all", tool, outcome));
    assert_eq!(
        count("everything_echo", "ok").as_deref(),
        Some("2"),
        "{metrics}"
    );
    assert_eq!(
        count("notes_echo", "error").as_deref(),
        Some("1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn priority_shadowing_access_and_removal_are_stored_and_audited() {
    for db in support::all_backends().await {
        let base = support::serve(&db.db).await;
        let http = reqwest::Client::new();
        let dir = tempfile::tempdir().expect("temp dir");
        let tools = dir.path().join("tools.json");
        std::fs::write(
            &tools,
            json!([{ "name": "search", "inputSchema": { "type": "object" } }]).to_string(),
        )
        .expect("write tools");
        let first =
            testmcp_http(&["--tools", &tools.display().to_string(), "--name", "first"]).await;
        let second =
            testmcp_http(&["--tools", &tools.display().to_string(), "--name", "second"]).await;
        register(&http, &base, "search/web", &first.url).await;
        register(&http, &base, "search/docs", &second.url).await;
        for id in ["search/web", "search/docs"] {
            refresh(&http, &base, id).await;
        }
        let spec = json!({
            "ownerTeam": "search",
            "conflicts": "priority",
            "priority": ["search/docs", "search/web"],
            "members": [{ "server": "search/web" }, { "server": "search/docs" }],
            "access": { "teams": ["search"] },
        });
        let (status, body) = put(&http, &base, "search/all", &spec).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["tools"][0]["member"], "search/docs", "{body}");
        assert_eq!(
            body["shadowed"],
            json!([{ "name": "search", "member": "search/web", "keptBy": "search/docs" }])
        );
        // The registry lists it beside the servers, in name order, with its tools and members;
        // the exports and the snippets carry its endpoint.
        let registry: Value = http
            .get(format!("{base}/v0.1/servers?limit=1"))
            .send()
            .await
            .expect("registry")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            registry["servers"][0]["server"]["name"], "search/all",
            "{registry}"
        );
        assert_eq!(
            registry["metadata"]["nextCursor"], "search/all",
            "{registry}"
        );
        let meta = &registry["servers"][0]["_meta"]["dev.apiary/server"];
        assert_eq!(
            meta["members"],
            json!(["search/web", "search/docs"]),
            "{meta}"
        );
        assert_eq!(meta["tools"][0]["name"], "search", "{meta}");
        assert!(registry["servers"][0]["server"]["remotes"][0]["url"]
            .as_str()
            .is_some_and(|url| url.ends_with("/mcp/search/all")));
        let next: Value = http
            .get(format!("{base}/v0.1/servers?limit=5&cursor=search/all"))
            .send()
            .await
            .expect("registry")
            .json()
            .await
            .expect("JSON");
        let names: Vec<&str> = next["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .filter_map(|s| s["server"]["name"].as_str())
            .collect();
        assert_eq!(names, ["search/docs", "search/web"]);
        let litellm = http
            .get(format!("{base}/api/v1/exports/litellm.yaml"))
            .send()
            .await
            .expect("export")
            .text()
            .await
            .expect("text");
        assert!(litellm.contains("/mcp/search/all"), "{litellm}");
        let snippets = http
            .get(format!("{base}/api/v1/servers/search/all/snippets"))
            .send()
            .await
            .expect("snippets");
        assert_eq!(snippets.status(), 200);
        assert!(snippets
            .text()
            .await
            .expect("text")
            .contains("/mcp/search/all"));

        let listed: Value = http
            .get(format!("{base}/api/v1/virtual-servers"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            listed[0]["spec"]["access"]["teams"],
            json!(["search"]),
            "{listed}"
        );

        // Stored, then removed, each change audited.
        let (status, _) = put(&http, &base, "search/all", &spec).await;
        assert_eq!(status, 200, "a second save replaces it");
        let removed = http
            .delete(format!("{base}/api/v1/virtual-servers/search/all"))
            .send()
            .await
            .expect("DELETE");
        assert_eq!(removed.status(), 204);
        let gone = http
            .post(format!("{base}/mcp/search/all"))
            .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }))
            .send()
            .await
            .expect("POST");
        assert_eq!(gone.status(), 404, "its endpoint is gone");
        let actions: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM audit_events WHERE target = 'search/all' ORDER BY action",
        )
        .fetch_all(db.db.pool())
        .await
        .expect("audit");
        assert_eq!(
            actions,
            [
                "virtual_server.delete",
                "virtual_server.save",
                "virtual_server.save"
            ]
        );
        // A server cannot take a virtual server's name, nor the other way round.
        let (status, _) = put(&http, &base, "search/all", &spec).await;
        assert_eq!(status, 201);
        let response = http
            .put(format!("{base}/api/v1/servers/search/all"))
            .json(&json!({ "ownerTeam": "search", "spec": { "transport": "streamable-http", "url": first.url } }))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["field"], "name", "{body}");
    }
}

#[tokio::test]
async fn many_tools_come_in_pages_or_through_the_finder() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    let schema = json!({ "type": "object", "properties": { "text": { "type": "string" } } });
    let mut list: Vec<Value> = (0..120)
        .map(|n| json!({ "name": format!("item_{n:03}"), "description": format!("Handles item {n}"), "inputSchema": schema }))
        .collect();
    list.push(json!({ "name": "city_weather", "description": "The weather of a city", "inputSchema": schema }));
    std::fs::write(&tools, Value::Array(list).to_string()).expect("write tools");
    let backend = testmcp_http(&["--tools", &tools.display().to_string()]).await;
    register(&http, &base, "big/items", &backend.url).await;
    refresh(&http, &base, "big/items").await;

    let spec = json!({ "ownerTeam": "big", "members": [{ "server": "big/items", "prefix": "" }] });
    let (status, body) = put(&http, &base, "big/all", &spec).await;
    assert_eq!(status, 201, "{body}");
    let client = connect(&format!("{base}/mcp/big/all")).await;
    let first = client.list_tools(None).await.expect("first page");
    assert_eq!(first.tools.len(), 100);
    assert!(first.next_cursor.is_some(), "a second page follows");
    assert_eq!(client.list_all_tools().await.expect("all pages").len(), 121);
    client.cancel().await.expect("close");

    // A pinned tool that is not shown is refused, naming it.
    let finder = json!({ "ownerTeam": "big", "members": [{ "server": "big/items", "prefix": "" }],
        "finder": { "enabled": true, "pinned": ["item_000", "nowhere"] } });
    let (status, body) = put(&http, &base, "big/all", &finder).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("finder.pinned[1]")),
        "{body}"
    );
    let finder = json!({ "ownerTeam": "big", "members": [{ "server": "big/items", "prefix": "" }],
        "finder": { "enabled": true, "pinned": ["item_000"] } });
    let (status, body) = put(&http, &base, "big/all", &finder).await;
    assert_eq!(status, 200, "{body}");
    let client = connect(&format!("{base}/mcp/big/all")).await;
    let listed = client.list_all_tools().await.expect("tools/list");
    assert_eq!(names(&listed), ["find_tools", "item_000"]);
    let found = client
        .call_tool(call("find_tools", json!({ "query": "Weather city" })))
        .await
        .expect("find_tools");
    let structured = found.structured_content.expect("structured answer");
    assert_eq!(
        structured["tools"][0]["name"], "city_weather",
        "{structured}"
    );
    assert_eq!(
        structured["tools"].as_array().map(Vec::len),
        Some(1),
        "{structured}"
    );
    assert_eq!(structured["tools"][0]["inputSchema"], schema);
    // What the finder found is callable, though not listed.
    let called = client
        .call_tool(call("city_weather", json!({ "text": "Oslo" })))
        .await
        .expect("city_weather");
    assert!(serde_json::to_string(&called.content)
        .expect("JSON")
        .contains("Oslo"));
    client.cancel().await.expect("close");
}

/// Our rmcp test server over HTTP with one tool, `echo`, and `extra` arguments (the folder
/// keeps its tool file, and is where files named in `extra` may go).
async fn echo_backend(extra: &[&str]) -> (support::mcp_servers::HttpBackend, tempfile::TempDir) {
    let (dir, tools) = one_tool_file();
    let mut args = vec!["--tools", tools.to_str().expect("a UTF-8 path")];
    args.extend_from_slice(extra);
    (testmcp_http(&args).await, dir)
}

/// Registers the server at `url` as `{team}/echo`, fetches its tools, and makes the virtual
/// server `{team}/all` of it alone.
async fn one_member_virtual_server(http: &reqwest::Client, base: &str, team: &str, url: &str) {
    let member = format!("{team}/echo");
    register(http, base, &member, url).await;
    refresh(http, base, &member).await;
    let spec = json!({ "ownerTeam": team, "members": [{ "server": member }] });
    let (status, body) = put(http, base, &format!("{team}/all"), &spec).await;
    assert_eq!(status, 201, "{body}");
}

/// An Apiary on SQLite with the virtual server `{team}/all` of one member, `{team}/echo`
/// ([`echo_backend`] with `extra`): the database and the member's tool folder (to keep while the
/// test runs), Apiary's base URL, a client, and the member.
async fn serve_one_member(
    team: &str,
    extra: &[&str],
) -> (
    support::TestDb,
    String,
    reqwest::Client,
    support::mcp_servers::HttpBackend,
    tempfile::TempDir,
) {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let (backend, tools) = echo_backend(extra).await;
    one_member_virtual_server(&http, &base, team, &backend.url).await;
    (db, base, http, backend, tools)
}

/// Registers `id` at `url` for team search as the signed-in `admin`, and fetches its tools.
async fn publish_as(admin: &support::signed_in::Client, base: &str, id: &str, url: &str) {
    use reqwest::header::ORIGIN;
    let registered = admin
        .http
        .put(format!("{base}/api/v1/servers/{id}"))
        .header(ORIGIN, base)
        .json(&json!({ "ownerTeam": "search", "published": true,
            "spec": { "transport": "streamable-http", "url": url } }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success(), "{}", registered.status());
    let refreshed = admin
        .http
        .post(format!("{base}/api/v1/servers/{id}/refresh"))
        .header(ORIGIN, base)
        .send()
        .await
        .expect("refresh");
    assert!(refreshed.status().is_success());
}

/// An rmcp client of `url` with a bearer token.
async fn connect_with(url: &str, token: &str) -> Result<support::mcp_client::Client, String> {
    let transport = StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            url.to_owned(),
        )
        .auth_header(token.to_owned()),
    );
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("apiary-virtual-test", "0"),
    )
    .serve(transport)
    .await
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_virtual_servers_rules_and_each_members_rules_both_apply() {
    use support::oidc::{ROBOT, ROBOT_SEARCH};
    use support::signed_in::{self, Client};
    let db = support::sqlite().await;
    let Some(app) = signed_in::start(&db).await else {
        return;
    };
    let admin = Client::signed_in(&app, "adam").await;
    let (open, _open_tools) = echo_backend(&[]).await;
    let (narrow, _narrow_tools) = echo_backend(&[]).await;
    publish_as(&admin, &app.url, "gw/open", &open.url).await;
    publish_as(&admin, &app.url, "gw/narrow", &narrow.url).await;
    let narrowed = admin
        .http
        .put(format!("{}/api/v1/servers/gw/narrow/access", app.url))
        .json(&json!({ "teams": ["search"] }))
        .send()
        .await
        .expect("access");
    assert!(narrowed.status().is_success());
    let save = |access: Value| {
        let (http, url) = (
            admin.http.clone(),
            format!("{}/api/v1/virtual-servers/gw/both", app.url),
        );
        async move {
            let spec = json!({ "ownerTeam": "search", "access": access,
                "members": [{ "server": "gw/open" }, { "server": "gw/narrow" }] });
            let saved = http.put(url).json(&spec).send().await.expect("save");
            assert!(saved.status().is_success(), "{}", saved.status());
        }
    };
    save(json!({})).await;

    let endpoint = format!("{}/mcp/gw/both", app.url);
    let anonymous = reqwest::Client::new()
        .post(&endpoint)
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }))
        .send()
        .await
        .expect("post");
    assert_eq!(anonymous.status(), 401, "a token is needed");
    assert!(signed_in::challenge(&anonymous)
        .contains("/.well-known/oauth-protected-resource/mcp/gw/both"));

    // A consumer may use the virtual server and the open member, not the narrowed member.
    let consumer = app.provider.machine_token(ROBOT, &endpoint).await;
    let client = connect_with(&endpoint, &consumer)
        .await
        .expect("a consumer connects");
    assert_eq!(
        names(&client.list_all_tools().await.expect("tools")),
        ["open_echo", "narrow_echo"]
    );
    client
        .call_tool(call("open_echo", json!({ "text": "hi" })))
        .await
        .expect("the open member answers");
    let refused = client
        .call_tool(call("narrow_echo", json!({ "text": "hi" })))
        .await
        .expect_err("the narrowed member refuses");
    assert!(refused.to_string().contains("teams search"), "{refused}");
    client.cancel().await.expect("close");
    let searcher = app.provider.machine_token(ROBOT_SEARCH, &endpoint).await;
    let client = connect_with(&endpoint, &searcher)
        .await
        .expect("a searcher connects");
    client
        .call_tool(call("narrow_echo", json!({ "text": "hi" })))
        .await
        .expect("a member of team search reaches the narrowed member");
    client.cancel().await.expect("close");

    // Narrowing the virtual server shuts the consumer out of it altogether.
    save(json!({ "teams": ["search"] })).await;
    let refused = connect_with(&endpoint, &consumer)
        .await
        .expect_err("refused");
    assert!(
        refused.contains("403") || refused.to_lowercase().contains("forbidden"),
        "{refused}"
    );
    assert!(connect_with(&endpoint, &searcher).await.is_ok());
}

#[tokio::test]
async fn a_team_proposes_a_virtual_server_and_another_owner_approves_it() {
    use reqwest::header::ORIGIN;
    use support::signed_in::{self, Client};
    let db = support::sqlite().await;
    let Some(app) = signed_in::start(&db).await else {
        return;
    };
    let admin = Client::signed_in(&app, "adam").await;
    let (backend, _tools) = echo_backend(&[]).await;
    publish_as(&admin, &app.url, "gw/open", &backend.url).await;

    let propose = |who: &Client, spec: Value| {
        let request = who
            .http
            .post(format!(
                "{}/api/v1/virtual-servers/search/tools/proposals",
                app.url
            ))
            .header(ORIGIN, &app.url)
            .json(&spec);
        async move {
            let response = request.send().await.expect("propose");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    let decide = |who: &Client, proposal: &Value, verdict: &str| {
        let request = who
            .http
            .post(format!("{}/api/v1/proposals/{}/decision", app.url, proposal["id"].as_str().unwrap_or_default()))
            .header(ORIGIN, &app.url)
            .json(&json!({ "decision": verdict, "comment": "looked at it", "version": proposal["version"] }));
        async move {
            let response = request.send().await.expect("decide");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    let paul = Client::signed_in(&app, "paul").await;
    let spec = json!({ "description": "Search tools", "ownerTeam": "search", "members": [{ "server": "gw/open" }] });

    // Checked as every save is: a member that is not published is named.
    let (status, body) = propose(
        &paul,
        json!({ "ownerTeam": "search", "members": [{ "server": "gw/nothing" }] }),
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("members[0].server")),
        "{body}"
    );

    let (status, first) = propose(&paul, spec.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (first["kind"].as_str(), first["ownerTeam"].as_str()),
        (Some("virtual"), Some("search"))
    );
    let (status, _) = decide(&paul, &first, "approve").await;
    assert_eq!(status, 403, "four eyes: not the author");
    let otto = Client::signed_in(&app, "otto").await;
    let (status, _) = decide(&otto, &first, "approve").await;
    assert_eq!(status, 403, "an owner of another team");
    let missing = admin
        .http
        .get(format!("{}/api/v1/virtual-servers/search/tools", app.url))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        missing.status(),
        404,
        "nothing is saved before the approval"
    );

    let olga = Client::signed_in(&app, "olga").await;
    let (status, applied) = decide(&olga, &first, "approve").await;
    assert_eq!(
        (status, applied["status"].as_str()),
        (200, Some("applied")),
        "{applied}"
    );
    let saved: Value = admin
        .http
        .get(format!("{}/api/v1/virtual-servers/search/tools", app.url))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(saved["tools"][0]["name"], "open_echo", "{saved}");
    assert_eq!(saved["spec"]["description"], "Search tools");

    // Two changes made against the same definition: the second, once the first is applied,
    // is superseded rather than overwriting it.
    let mut changed = spec.clone();
    changed["description"] = json!("Search tools, renamed");
    let (_, second) = propose(&paul, changed.clone()).await;
    changed["description"] = json!("Search tools, again");
    let (_, third) = propose(&paul, changed).await;
    let (status, applied) = decide(&olga, &second, "approve").await;
    assert_eq!(
        (status, applied["status"].as_str()),
        (200, Some("applied")),
        "{applied}"
    );
    let (status, refused) = decide(&olga, &third, "approve").await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("changed after this proposal was made"),
        "{refused}"
    );
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT actor FROM audit_events WHERE action = 'virtual_server.save' AND target = 'search/tools'",
    )
    .fetch_all(db.db.pool())
    .await
    .expect("audit");
    assert_eq!(actors.len(), 2, "{actors:?}");
    assert!(
        actors.iter().all(|a| a.contains('#')),
        "saved as the approver: {actors:?}"
    );
}

#[tokio::test]
async fn each_client_gets_the_protocol_version_it_asks_for() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let (backend, _tools) = echo_backend(&[]).await;
    register(&http, &base, "pv/echo", &backend.url).await;
    refresh(&http, &base, "pv/echo").await;
    let (status, body) = put(
        &http,
        &base,
        "pv/all",
        &json!({ "ownerTeam": "pv", "members": [{ "server": "pv/echo" }] }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let answer = http
            .post(format!("{base}/mcp/pv/all"))
            .header("accept", "application/json, text/event-stream")
            .json(
                &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": version, "capabilities": {},
                "clientInfo": { "name": "version-test", "version": "0" } } }),
            )
            .send()
            .await
            .expect("initialize");
        assert_eq!(answer.status(), 200, "{version}");
        let text = answer.text().await.expect("text");
        let data = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .find(|d| d.starts_with('{'))
            .unwrap_or(text.as_str());
        let message: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(message["result"]["protocolVersion"], version, "{message}");
    }
}

/// POSTs `message` to `url` in session `session` (if any): the status, the media type, the
/// session the answer names, and the answer (from JSON, or the first message of an event
/// stream) as its text.
async fn post_raw(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    message: &Value,
) -> (u16, String, Option<String>, String) {
    let mut request = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(message.to_string());
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let answer = request.send().await.expect("POST");
    let status = answer.status().as_u16();
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let media = header("content-type").unwrap_or_default();
    let named = header("mcp-session-id");
    let text = answer.text().await.expect("text");
    let data = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .find(|d| d.starts_with('{'))
        .map_or(text.clone(), str::to_owned);
    (status, media, named, data)
}

/// The JSON-RPC messages in the event stream text `text`.
fn events_in(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

/// Reads the event stream `stream` into `text` until it carries a request of `method` (within
/// 10 s of each read); that request.
async fn request_on(stream: &mut reqwest::Response, text: &mut String, method: &str) -> Value {
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("the member's request in time")
            .expect("read")
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(asked) = events_in(text).into_iter().find(|m| m["method"] == method) {
            return asked;
        }
    }
}

/// Waits up to `seconds` for the file at `path` to hold the line `line`.
async fn wait_for_line(path: &std::path::Path, line: &str, seconds: u64) {
    let read = || std::fs::read_to_string(path).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !read().lines().any(|l| l == line) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        read().lines().any(|l| l == line),
        "no {line:?} in {:?}",
        read()
    );
}

/// A session at `url` opened by hand (`initialize`, then `notifications/initialized`) as the
/// client `name`: its id.
async fn raw_session(http: &reqwest::Client, url: &str, name: &str) -> String {
    raw_session_with(http, url, name, json!({})).await
}

/// [`raw_session`] of a client that declares `capabilities`.
async fn raw_session_with(
    http: &reqwest::Client,
    url: &str,
    name: &str,
    capabilities: Value,
) -> String {
    let initialize = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": capabilities,
        "clientInfo": { "name": name, "version": "0" } } });
    let (status, _, session, answer) = post_raw(http, url, None, &initialize).await;
    assert_eq!(status, 200, "{answer}");
    let session = session.expect("a session id");
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let (status, ..) = post_raw(http, url, Some(&session), &initialized).await;
    assert_eq!(status, 202);
    session
}

#[tokio::test]
async fn calls_keep_the_members_answer_and_the_clients_id_and_sessions_stay_apart() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    let tool = |name: &str| json!({ "name": name, "inputSchema": { "type": "object" } });
    std::fs::write(
        &tools,
        json!([tool("echo"), tool("first"), tool("second")]).to_string(),
    )
    .expect("write tools");
    let backend = testmcp_http(&["--tools", &tools.display().to_string(), "--structured"]).await;
    register(&http, &base, "ids/echo", &backend.url).await;
    refresh(&http, &base, "ids/echo").await;
    for name in ["ids/all", "ids/other"] {
        let spec = json!({ "ownerTeam": "ids", "members": [{ "server": "ids/echo" }] });
        let (status, body) = put(&http, &base, name, &spec).await;
        assert_eq!(status, 201, "{body}");
    }
    let url = format!("{base}/mcp/ids/all");
    let session = raw_session(&http, &url, "ids-test").await;

    // Each call answers with the client's own id, whatever its type (0 too, the id the
    // member session's own `initialize` had), and the member's answer as the member wrote
    // it: the arguments come back in the order they were sent. The first call opens the
    // session with the member; every call goes to the member past rmcp's sessions.
    let arguments = r#"{"zeta":1,"alpha":{"y":2,"b":3},"mid":[3]}"#;
    let ids = [json!(0), json!("second"), json!(0), json!(7)];
    for id in &ids {
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "echo_echo", "arguments": serde_json::from_str::<Value>(arguments).expect("JSON") } });
        let (status, media, _, answer) = post_raw(&http, &url, Some(&session), &message).await;
        assert_eq!(status, 200, "{answer}");
        let parsed: Value = serde_json::from_str(&answer).expect("a JSON-RPC answer");
        assert_eq!(&parsed["id"], id, "{answer} ({media})");
        assert!(
            answer.contains(&format!(r#""structuredContent":{arguments}"#)),
            "{answer}"
        );
    }

    // The member moves to a new process, which knows nothing of the session with it: the
    // next call opens a new session there, unnoticed by the client.
    let moved = testmcp_http(&["--tools", &tools.display().to_string(), "--structured"]).await;
    register(&http, &base, "ids/echo", &moved.url).await;
    drop(backend);
    let message = json!({ "jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {
        "name": "echo_echo", "arguments": { "after": "the move" } } });
    let (status, _, _, answer) = post_raw(&http, &url, Some(&session), &message).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains(r#""structuredContent":{"after":"the move"}"#),
        "{answer}"
    );

    // A tool list page reads the same however it is asked for: from the start of a page, or
    // from a position within one.
    let list = |cursor: Option<&str>| {
        let params = cursor.map_or(json!({}), |c| json!({ "cursor": c }));
        json!({ "jsonrpc": "2.0", "id": "list", "method": "tools/list", "params": params })
    };
    let (_, _, _, page) = post_raw(&http, &url, Some(&session), &list(None)).await;
    let (_, _, _, within) = post_raw(&http, &url, Some(&session), &list(Some("1"))).await;
    let page: Value = serde_json::from_str(&page).expect("JSON");
    let within: Value = serde_json::from_str(&within).expect("JSON");
    let tools = page["result"]["tools"].as_array().expect("tools");
    assert_eq!(tools.len(), 3, "{page}");
    assert_eq!(
        within["result"]["tools"].as_array().map(|t| &t[..]),
        Some(&tools[1..]),
        "{within}"
    );

    // A session belongs to its own virtual server, and ends when the client ends it.
    let call = json!({ "jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "echo_echo", "arguments": {} } });
    let other = format!("{base}/mcp/ids/other");
    let (status, _, _, answer) = post_raw(&http, &other, Some(&session), &call).await;
    assert_eq!(status, 404, "{answer}");
    let ended = http
        .delete(&url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .expect("DELETE");
    assert!(ended.status().is_success(), "{}", ended.status());
    let (status, _, _, answer) = post_raw(&http, &url, Some(&session), &call).await;
    assert_eq!(status, 404, "{answer}");

    // Every call was counted under the virtual server's tool.
    let metrics = metrics_of(&http, &base).await;
    let counted = calls_counted(&metrics, ("ids/all", "echo_echo", "ok"));
    assert_eq!(counted, Some((ids.len() + 1).to_string()), "{metrics}");
}

#[tokio::test]
async fn a_members_progress_reaches_the_client_of_the_virtual_server() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::new();
    register_everything(&http, &base, "slow/everything").await;
    let spec = json!({ "ownerTeam": "slow", "members": [{ "server": "slow/everything",
        "prefix": "", "allow": ["echo", "trigger-long-running-operation"] }] });
    let (status, body) = put(&http, &base, "slow/all", &spec).await;
    assert_eq!(status, 201, "{body}");
    let url = format!("{base}/mcp/slow/all");
    let session = raw_session(&http, &url, "progress-test").await;

    // The first call, which also opens the session with the member.
    let long = json!({ "jsonrpc": "2.0", "id": "long", "method": "tools/call", "params": {
        "name": "trigger-long-running-operation", "arguments": { "duration": 0.4, "steps": 2 },
        "_meta": { "progressToken": "p-1" } } });
    let answer = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .body(long.to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("text");
    let messages: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 2, "{text}");
    assert_eq!(progress[1]["params"]["progressToken"], "p-1", "{text}");
    assert_eq!(progress[1]["params"]["progress"], 2, "{text}");
    let last = messages.last().expect("an answer");
    assert_eq!(
        last["id"], "long",
        "the answer comes last, with the client's id: {text}"
    );
    assert!(
        last["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Long running operation completed")),
        "{text}"
    );
}

#[tokio::test]
async fn sessions_with_members_open_on_the_first_call_and_close_with_the_clients() {
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("sessions.log");
    let (_db, base, _http, _backend, _tools) =
        serve_one_member("lazy", &["--session-log", log.to_str().expect("path")]).await;
    let sessions = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // The fetch of the member's tools had its own session.
    let mut expected = sessions();

    let client = connect(&format!("{base}/mcp/lazy/all")).await;
    let listed = client.list_all_tools().await.expect("tools/list");
    assert_eq!(names(&listed), ["echo_echo"]);
    assert_eq!(sessions(), expected, "listing opens no member session");
    for text in ["one", "two"] {
        client
            .call_tool(call("echo_echo", json!({ "text": text })))
            .await
            .expect("echo_echo");
    }
    expected.push("open".to_owned());
    assert_eq!(sessions(), expected, "both calls used one member session");

    client.cancel().await.expect("close");
    expected.push("close".to_owned());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sessions() != expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        sessions(),
        expected,
        "the member session ended with the client's"
    );
}

/// A member that asks the client something during a call (`ping`, `roots/list`, sampling,
/// elicitation) gets the answers the member session's rmcp client would give, on every call
/// (each sent past that client, the first one too), and every call ends with the member's
/// answer.
#[tokio::test]
async fn a_members_requests_during_a_call_are_answered_on_every_call() {
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("calls.log");
    let logged = ["--call-log", log.to_str().expect("path"), "--call-log-ids"];
    let (_db, base, _http, _backend, _tools) = serve_one_member(
        "asks",
        &[&["--ask-client-on", "echo"][..], &logged].concat(),
    )
    .await;

    let client = connect(&format!("{base}/mcp/asks/all")).await;
    let expected = "ping: ok\nroots/list: 0 roots\nsampling/createMessage: error -32601\n\
                    elicitation/create: decline";
    assert_eq!(echo_texts(&client, 3).await, [expected; 3]);
    assert_eq!(
        lines_of(&log),
        ["echo apiary-0", "echo apiary-1", "echo apiary-2"],
        "every call past rmcp's client"
    );
    client.cancel().await.expect("close");
}

/// A client's first call of a member opens the session with it. A call cancelled while that
/// session opens never reaches the member and is not counted; a member that cannot be reached
/// fails the call with a tool result naming it, counted as a failure. Both answers are tool
/// results as rmcp's handler writes them for these clients (no `resultType`).
#[tokio::test]
async fn the_first_call_of_a_member_can_be_cancelled_or_fail_while_its_session_opens() {
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("calls.log");
    let slow = [
        "--initialize-delay-ms",
        "1500",
        "--call-log",
        log.to_str().expect("path"),
    ];
    let (_db, base, http, backend, _tools) = serve_one_member("late", &slow).await;
    let url = format!("{base}/mcp/late/all");
    let session = raw_session(&http, &url, "late-test").await;
    let message = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo_echo", "arguments": {} } });
    let (http2, url2, session2) = (http.clone(), url.clone(), session.clone());
    let called =
        tokio::spawn(async move { post_raw(&http2, &url2, Some(&session2), &message).await });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let cancel = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": { "requestId": 1, "reason": "no longer needed" } });
    let (status, ..) = post_raw(&http, &url, Some(&session), &cancel).await;
    assert_eq!(status, 202);
    let (status, _, _, answer) = called.await.expect("the call's answer");
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("JSON-RPC");
    assert_eq!(answer["id"], 1, "{answer}");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(answer["result"].get("resultType").is_none(), "{answer}");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("cancelled before it reached late/echo"),
        "{text}"
    );
    // The session opened meanwhile: a later call reaches the member.
    let again = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "echo_echo", "arguments": {} } });
    let (status, _, _, answer) = post_raw(&http, &url, Some(&session), &again).await;
    assert_eq!(status, 200, "{answer}");
    assert!(!answer.contains(r#""isError":true"#), "{answer}");
    let calls = std::fs::read_to_string(&log).expect("the call log");
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        ["echo"],
        "only the second call ran"
    );

    // A member that stopped before the client's first call of it.
    let other = raw_session(&http, &url, "late-test-2").await;
    drop(backend);
    let (status, _, _, answer) = post_raw(&http, &url, Some(&other), &again).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("JSON-RPC");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(answer["result"].get("resultType").is_none(), "{answer}");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("late/echo did not answer"), "{text}");

    let metrics = metrics_of(&http, &base).await;
    let counted = |outcome| calls_counted(&metrics, ("late/all", "echo_echo", outcome));
    assert_eq!(counted("ok").as_deref(), Some("1"), "{metrics}");
    assert_eq!(counted("error").as_deref(), Some("1"), "{metrics}");
}

/// The text of `times` calls of `echo_echo` by `client`, each within 20 s.
async fn echo_texts(client: &rmcp::Peer<RoleClient>, times: usize) -> Vec<String> {
    let mut texts = Vec::new();
    for _ in 0..times {
        let called = client.call_tool(call("echo_echo", json!({})));
        let result = tokio::time::timeout(std::time::Duration::from_secs(20), called)
            .await
            .expect("the call ends")
            .expect("echo_echo");
        let content = serde_json::to_value(&result.content).expect("JSON");
        texts.push(content[0]["text"].as_str().unwrap_or_default().to_owned());
    }
    texts
}

/// The lines of the file at `path` (a call log), none when it does not exist.
fn lines_of(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

/// A client that answers roots, sampling and elicitation requests, as a desktop MCP client
/// does (the person answers "main").
#[derive(Clone)]
struct Answering;

#[allow(deprecated)] // Roots and sampling are deprecated (SEP-2577); clients still answer them.
impl ClientHandler for Answering {
    fn get_info(&self) -> ClientConfig {
        let capabilities = ClientCapabilities::builder()
            .enable_roots()
            .enable_sampling()
            .enable_elicitation()
            .build();
        ClientConfig::new(capabilities, Implementation::new("answering-test", "0"))
    }

    async fn list_roots(
        &self,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ListRootsResult, rmcp::ErrorData> {
        let roots = ["file:///work/a", "file:///work/b"].map(rmcp::model::Root::new);
        Ok(rmcp::model::ListRootsResult::new(roots.to_vec()))
    }

    async fn create_message(
        &self,
        _params: rmcp::model::CreateMessageRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        use rmcp::model::{Role, SamplingMessage, SamplingMessageContentBlock};
        let reply = SamplingMessage::new(Role::Assistant, SamplingMessageContentBlock::text("hi"));
        Ok(rmcp::model::CreateMessageResult::new(
            reply,
            "test-model".into(),
        ))
    }

    async fn create_elicitation(
        &self,
        _request: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        let mut result = rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Accept);
        result.content = Some(json!({ "answer": "main" }));
        Ok(result)
    }
}

/// A member that asks the client for its roots, a sampling and an elicitation during a call gets
/// the answers
/// of the virtual server's client, when that client declared it answers them; every call (the
/// first, which opens the member session, too) is sent past rmcp's client. A member that asks
/// outside a call gets the client's answer too, and hears when the client's roots change.
#[tokio::test]
async fn a_members_requests_reach_a_client_that_answers_them() {
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("calls.log");
    let logged = ["--call-log", log.to_str().expect("path"), "--call-log-ids"];
    let (_db, base, http, _backend, _tools) = serve_one_member(
        "relays",
        &[&["--ask-client-on", "echo"][..], &logged].concat(),
    )
    .await;

    let transport = StreamableHttpClientTransport::from_uri(format!("{base}/mcp/relays/all"));
    let client = Answering.serve(transport).await.expect("connect");
    let expected = "ping: ok\nroots/list: 2 roots\nsampling/createMessage: answered\n\
                    elicitation/create: accept \"main\"";
    assert_eq!(echo_texts(&client, 2).await, [expected; 2]);
    assert_eq!(
        lines_of(&log),
        ["echo apiary-0", "echo apiary-1"],
        "every call past rmcp's client"
    );
    client.cancel().await.expect("close");

    // A member that asks outside any call, once its session opens, reaches the client through
    // the member session's rmcp client.
    let roots = logs.path().join("roots.log");
    let (backend, _tools) = echo_backend(&["--roots-log", roots.to_str().expect("path")]).await;
    one_member_virtual_server(&http, &base, "asks", &backend.url).await;
    let transport = StreamableHttpClientTransport::from_uri(format!("{base}/mcp/asks/all"));
    let client = Answering.serve(transport).await.expect("connect");
    client
        .call_tool(call("echo_echo", json!({})))
        .await
        .expect("echo_echo");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let read = || std::fs::read_to_string(&roots).unwrap_or_default();
    while !read().contains("2 roots") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The registry's fetch of the member's tools had a session too, with no roots to give.
    let answered = || read().lines().filter(|l| *l == "2 roots").count();
    assert_eq!(answered(), 1, "{}", read());

    // The client's roots change: the member hears of it, and asks again.
    client
        .notify_roots_list_changed()
        .await
        .expect("notify the change");
    while answered() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(answered(), 2, "{}", read());
    client.cancel().await.expect("close");
}

/// A member's request outside a call reaches the client only on the client's own event stream
/// (its GET). While the client keeps none open, the member gets an error after a few seconds'
/// grace instead of waiting minutes for an answer that cannot come; once it opens one, the
/// request arrives there and the client's answer reaches the member.
#[tokio::test]
async fn a_members_request_outside_a_call_needs_the_clients_event_stream() {
    let logs = tempfile::tempdir().expect("temp dir");
    let roots = logs.path().join("roots.log");
    let (_db, base, http, _backend, _tools) =
        serve_one_member("deaf", &["--roots-log", roots.to_str().expect("path")]).await;
    let url = format!("{base}/mcp/deaf/all");
    let session = raw_session_with(&http, &url, "deaf-test", json!({ "roots": {} })).await;
    // The first call opens the member session; the member asks for the roots at once.
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo_echo", "arguments": {} } });
    let (status, _, _, answer) = post_raw(&http, &url, Some(&session), &call).await;
    assert_eq!(status, 200, "{answer}");
    wait_for_line(&roots, "error -32603", 20).await;

    // With an event stream open, the member's next request arrives on it.
    let mut stream = http
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .expect("GET");
    assert_eq!(stream.status(), 200);
    let changed = json!({ "jsonrpc": "2.0", "method": "notifications/roots/list_changed" });
    let (status, ..) = post_raw(&http, &url, Some(&session), &changed).await;
    assert_eq!(status, 202);
    let asked = request_on(&mut stream, &mut String::new(), "roots/list").await;
    let reply = json!({ "jsonrpc": "2.0", "id": asked["id"],
        "result": { "roots": [{ "uri": "file:///work" }] } });
    let (status, ..) = post_raw(&http, &url, Some(&session), &reply).await;
    assert_eq!(status, 202);
    wait_for_line(&roots, "1 roots", 20).await;
}

/// A legacy SSE client's event stream carries a member's request outside a call too (the
/// adapter opens it before the session's handshake ends): the client declared roots, the
/// member asks for them when its session opens at the first call, and gets the answer.
#[tokio::test]
async fn a_legacy_sse_client_answers_a_members_request_outside_a_call() {
    let logs = tempfile::tempdir().expect("temp dir");
    let roots = logs.path().join("roots.log");
    let (_db, base, _http, _backend, _tools) =
        serve_one_member("legacy", &["--roots-log", roots.to_str().expect("path")]).await;
    let url = format!("{base}/mcp/legacy/all/sse");
    let env = [("ROOTS", "file:///work")];
    let seen = legacy_client_with(&url, &["echo_echo"], &env).await;
    assert_eq!(seen["results"]["echo_echo"]["ok"], true, "{seen}");
    assert_eq!(seen["rootsAsked"], 1, "{seen}");
    wait_for_line(&roots, "1 roots", 5).await;
}

/// A member's request passed on to the client arrives in the call's event stream, under an id
/// of Apiary's; the client may answer it in a batch (as 2025-03-26 clients may), and the
/// member gets the answer under its own id.
#[tokio::test]
async fn a_client_answers_a_members_request_in_a_batch() {
    let (_db, base, http, _backend, _tools) =
        serve_one_member("batch", &["--ask-client-on", "echo"]).await;
    let url = format!("{base}/mcp/batch/all");
    let session = raw_session_with(&http, &url, "batch-test", json!({ "roots": {} })).await;
    let message = json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": { "name": "echo_echo", "arguments": {} } });
    let mut call = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .body(message.to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(call.status(), 200);
    let mut text = String::new();
    let asked = request_on(&mut call, &mut text, "roots/list").await;
    let id = asked["id"].as_str().expect("a string id").to_owned();
    assert!(id.starts_with("apiary-ask-"), "{asked}");
    let batch = json!([{ "jsonrpc": "2.0", "id": id,
        "result": { "roots": [{ "uri": "file:///work" }] } }]);
    let (status, ..) = post_raw(&http, &url, Some(&session), &batch).await;
    assert_eq!(status, 202);
    while let Ok(Some(chunk)) = call.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let answer = events_in(&text).into_iter().last().expect("the answer");
    assert_eq!(answer["id"], 5, "{text}");
    let result = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(result.contains("roots/list: 1 roots"), "{text}");
    // Sampling and elicitation were not declared: answered as before.
    assert!(
        result.contains("sampling/createMessage: error -32601"),
        "{text}"
    );
    assert!(result.contains("elicitation/create: decline"), "{text}");
}

/// A client that gives up on a call cancels it, and the member hears of it: on the first call
/// (which opens the member session), on a later one, and when the client keeps the call's
/// request open after cancelling it. A cancelled call is no failure:
/// it is not counted, and the member session stays open.
#[tokio::test]
async fn a_clients_cancellation_reaches_the_member() {
    let logs = tempfile::tempdir().expect("temp dir");
    let (log, sessions) = (
        logs.path().join("calls.log"),
        logs.path().join("sessions.log"),
    );
    let (log_arg, sessions_arg) = (
        log.to_str().expect("path"),
        sessions.to_str().expect("path"),
    );
    let slow = [
        "--call-delay-ms",
        "20000",
        "--call-log",
        log_arg,
        "--call-log-ids",
        "--session-log",
        sessions_arg,
    ];
    let (_db, base, http, _backend, _tools) = serve_one_member("stops", &slow).await;
    let read = |path: &std::path::Path| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let calls_reach = |count: usize| {
        let log = log.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while read(&log).len() < count && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            read(&log)
        }
    };

    // The fetch of the member's tools had its own session.
    let mut expected_sessions = read(&sessions);
    let client = connect(&format!("{base}/mcp/stops/all")).await;
    for round in 1..=2 {
        // rmcp's client sends `notifications/cancelled` for a call it drops.
        let called = client.call_tool(call("echo_echo", json!({})));
        let waited = tokio::time::timeout(std::time::Duration::from_secs(2), called).await;
        assert!(waited.is_err(), "the call is still running on the member");
        let lines = calls_reach(2 * round).await;
        assert_eq!(
            lines.get(2 * round - 1).map(String::as_str),
            Some("cancelled echo"),
            "{lines:?}"
        );
    }
    let lines = read(&log);
    assert_eq!(
        [lines[0].as_str(), lines[2].as_str()],
        ["echo apiary-0", "echo apiary-1"],
        "both past rmcp's client: {lines:?}"
    );

    // A client that keeps its request open after cancelling (the stream of the call ends when
    // the member drops it). Its first call opens its own member session.
    let url = format!("{base}/mcp/stops/all");
    let session = raw_session(&http, &url, "cancel-test").await;
    for id in [1, 2] {
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": "echo_echo", "arguments": {} } });
        let (http2, url2, session2) = (http.clone(), url.clone(), session.clone());
        let open =
            tokio::spawn(async move { post_raw(&http2, &url2, Some(&session2), &message).await });
        calls_reach(4 + 2 * id - 1).await;
        let cancel = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": { "requestId": id, "reason": "no longer needed" } });
        let (status, ..) = post_raw(&http, &url, Some(&session), &cancel).await;
        assert_eq!(status, 202);
        let lines = calls_reach(4 + 2 * id).await;
        assert_eq!(
            lines.last().map(String::as_str),
            Some("cancelled echo"),
            "{lines:?}"
        );
        if id == 2 {
            assert_eq!(lines[6], "echo apiary-1", "past rmcp: {lines:?}");
            let ended = tokio::time::timeout(std::time::Duration::from_secs(10), open).await;
            assert!(
                ended.is_ok(),
                "the request ends once the member drops the call"
            );
        } else {
            open.abort();
        }
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    expected_sessions.extend(["open".to_owned(), "open".to_owned()]);
    assert_eq!(
        read(&sessions),
        expected_sessions,
        "one member session a client, none closed"
    );

    // Not counted, even once the grace for a late cancellation (5 s) is over.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let metrics = metrics_of(&http, &base).await;
    for outcome in ["ok", "error"] {
        let counted = calls_counted(&metrics, ("stops/all", "echo_echo", outcome));
        assert!(
            matches!(counted.as_deref(), None | Some("0")),
            "{outcome}: {counted:?}"
        );
    }
}
