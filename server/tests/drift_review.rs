//! Drift approval: when a fetch finds new tools or broadened schemas, consumers keep seeing the
//! approved baseline (registry API, gateway, and a virtual server over the server) until an
//! owner of the server's team approves;
//! the approval needs a comment, is audited, and loses to a newer fetch.

mod support;

use support::http::without_markers;

use serde_json::{json, Value};

use support::mcp_client::{call, connect, tool_names};
use support::mcp_servers::testmcp_http;
use support::registry;
use support::signed_in::{self, Client, SignedInApp};

async fn published_tools(client: &Client, app: &SignedInApp) -> Vec<Value> {
    let list = registry::servers(&client.http, &app.url).await;
    registry::tools(registry::entry(&list, "drift/tools"))
}

async fn gateway_tools(app: &SignedInApp) -> Vec<String> {
    tool_names(&format!("{}/mcp/drift/tools", app.url)).await
}

async fn virtual_tools(app: &SignedInApp) -> Vec<String> {
    tool_names(&format!("{}/mcp/drift/all", app.url)).await
}

/// Calls `tool` through the virtual server `drift/all` twice, in one session (the second call
/// goes to the member session the first opened): the second answer.
async fn call_virtual(
    app: &SignedInApp,
    tool: &str,
) -> Result<rmcp::model::CallToolResult, String> {
    let client = connect(&format!("{}/mcp/drift/all", app.url)).await;
    let arguments = json!({ "text": "hi" });
    let _ = client.call_tool(call(tool, arguments.clone())).await;
    let answer = client.call_tool(call(tool, arguments)).await;
    client.cancel().await.expect("close");
    answer.map_err(|e| e.to_string())
}

async fn approve(
    client: &Client,
    app: &SignedInApp,
    snapshot: &str,
    comment: &str,
) -> (u16, Value) {
    let response = client
        .http
        .post(format!(
            "{}/api/v1/servers/drift/tools/drift/approve",
            app.url
        ))
        .json(&json!({ "snapshotId": snapshot, "comment": comment }))
        .send()
        .await
        .expect("approve");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn new_tools_wait_for_an_owner_of_the_team_to_approve() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let tools = dir.path().join("tools.json");
        let narrow = json!({ "type": "object", "properties": { "text": { "type": "string" } } });
        std::fs::write(
            &tools,
            json!([{ "name": "echo", "inputSchema": narrow }]).to_string(),
        )
        .expect("write");
        let backend = testmcp_http(&["--tools", tools.to_str().expect("path")]).await;
        let adam = Client::signed_in(&app, "adam").await;
        let registered = adam
            .http
            .put(format!("{}/api/v1/servers/drift/tools", app.url))
            .json(&json!({ "ownerTeam": "search", "published": true,
                "spec": { "transport": "streamable-http", "url": backend.url } }))
            .send()
            .await
            .expect("register");
        assert!(registered.status().is_success());
        let open = adam
            .http
            .put(format!("{}/api/v1/servers/drift/tools/access", app.url))
            .json(&json!({ "anonymous": true }))
            .send()
            .await
            .expect("access");
        assert_eq!(open.status(), 200);
        let refresh = || {
            adam.http
                .post(format!("{}/api/v1/servers/drift/tools/refresh", app.url))
                .send()
        };
        assert!(refresh().await.expect("refresh").status().is_success());

        // The server grows a tool and widens echo's schema.
        let wide = json!({ "type": "object", "properties": {
            "text": { "type": "string" }, "shell": { "type": "string" } } });
        std::fs::write(
            &tools,
            json!([{ "name": "echo", "inputSchema": wide }, { "name": "extra", "inputSchema": narrow }])
                .to_string(),
        )
        .expect("rewrite");
        assert!(refresh().await.expect("refresh").status().is_success());

        let before = published_tools(&adam, &app).await;
        let names: Vec<_> = before.iter().map(|t| t["name"].clone()).collect();
        assert_eq!(names, [json!("echo")], "the added tool waits");
        assert_eq!(
            before[0]["inputSchema"], narrow,
            "the broadened schema waits"
        );
        assert_eq!(gateway_tools(&app).await, ["echo"], "the gateway agrees");
        // A virtual server over it shows and calls only what its member published.
        let virtual_server = adam
            .http
            .put(format!("{}/api/v1/virtual-servers/drift/all", app.url))
            .json(
                &json!({ "ownerTeam": "search", "access": { "anonymous": true },
                "members": [{ "server": "drift/tools" }] }),
            )
            .send()
            .await
            .expect("virtual server");
        assert_eq!(virtual_server.status(), 201);
        assert_eq!(
            virtual_tools(&app).await,
            ["tools_echo"],
            "not the new tool"
        );
        let refused = call_virtual(&app, "tools_extra").await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("Unknown tool: tools_extra")),
            "{refused:?}"
        );

        let olga = Client::signed_in(&app, "olga").await;
        let otto = Client::signed_in(&app, "otto").await;
        let reviews: Value = olga
            .http
            .get(format!("{}/api/v1/drift-reviews", app.url))
            .send()
            .await
            .expect("reviews")
            .json()
            .await
            .expect("JSON");
        let review = &reviews["reviews"][0];
        assert_eq!(review["name"], "tools", "{reviews}");
        assert_eq!(review["drift"]["toolsAdded"], json!(["extra"]), "{reviews}");
        let snapshot = review["snapshotId"]
            .as_str()
            .expect("snapshot id")
            .to_owned();
        let none: Value = otto
            .http
            .get(format!("{}/api/v1/drift-reviews", app.url))
            .send()
            .await
            .expect("reviews")
            .json()
            .await
            .expect("JSON");
        assert_eq!(none["reviews"], json!([]), "not otto's team");

        let page = olga
            .page("/servers/drift/tools")
            .await
            .text()
            .await
            .map(|html| without_markers(&html))
            .expect("HTML");
        assert!(
            page.contains("data-testid=\"drift-review\""),
            "the server page shows it"
        );
        assert!(
            page.contains("name=\"comment\""),
            "with an approval form for olga"
        );
        let carol = Client::signed_in(&app, "carol").await;
        let page = carol
            .page("/servers/drift/tools")
            .await
            .text()
            .await
            .map(|html| without_markers(&html))
            .expect("HTML");
        assert!(page.contains("Owners of team search and admins can approve it."));
        assert!(!page.contains("name=\"comment\""));

        assert_eq!(approve(&otto, &app, &snapshot, "looks fine").await.0, 403);
        let (status, answer) = approve(&olga, &app, &snapshot, "  ").await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["field"], "comment", "{answer}");
        let (status, answer) = approve(&olga, &app, "some-older-snapshot", "ok").await;
        assert_eq!(status, 409, "{answer}");
        assert_eq!(gateway_tools(&app).await, ["echo"], "nothing moved");

        let (status, answer) = approve(&olga, &app, &snapshot, "extra is read-only").await;
        assert_eq!(status, 200, "{answer}");
        let (status, _) = approve(&olga, &app, &snapshot, "again").await;
        assert_eq!(status, 409, "an approved drift is not approved twice");

        let after = published_tools(&adam, &app).await;
        let names: Vec<_> = after.iter().map(|t| t["name"].clone()).collect();
        assert_eq!(names, [json!("echo"), json!("extra")]);
        assert_eq!(after[0]["inputSchema"], wide);
        assert_eq!(gateway_tools(&app).await, ["echo", "extra"]);
        assert_eq!(virtual_tools(&app).await, ["tools_echo", "tools_extra"]);
        let called = call_virtual(&app, "tools_extra").await;
        assert!(
            called.as_ref().is_ok_and(|r| r.is_error != Some(true)),
            "{called:?}"
        );

        let audit = adam
            .http
            .get(format!(
                "{}/api/v1/audit/export?format=jsonl&action=server.drift.approve",
                app.url
            ))
            .send()
            .await
            .expect("audit")
            .text()
            .await
            .expect("text");
        let entries: Vec<Value> = audit
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(entries.len(), 1, "{audit}");
        assert_eq!(entries[0]["target"], "drift/tools");
        assert!(entries[0]["actor"]
            .as_str()
            .unwrap_or_default()
            .contains(&app.provider.issuer));
        assert_ne!(entries[0]["beforeHash"], entries[0]["afterHash"]);
        assert_eq!(
            entries[0]["comment"], "extra is read-only",
            "the approval's comment is kept with it"
        );
        let page = adam.page("/admin/audit?action=server.drift.approve").await;
        let page = page
            .text()
            .await
            .map(|html| without_markers(&html))
            .expect("HTML");
        assert!(page.contains("extra is read-only"), "{page}");
    }
}
