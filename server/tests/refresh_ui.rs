//! The console's **Refresh tools** without JavaScript, as the real signed-in users of the test
//! provider: an owner of the server's team refreshes it and the page comes back with what the
//! fetch found (or why it failed); a consumer sees no button and is refused by the server; an
//! admin's fleet refresh runs in the background and reports n of m done and every failure.

mod support;

use support::http::without_markers;

use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, CONTENT_TYPE, ORIGIN, REFERER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::mcp_servers::TESTMCP;
use support::signed_in::{self, location, Client};

use apiary_app::api::{FleetRefreshStatus, RefreshTools, StartFleetRefresh};

/// Registers `namespace/name`, owned by team search, published, with `spec`.
async fn register(admin: &Client, namespace: &str, name: &str, spec: Value) {
    let (status, body) = admin
        .call(
            "PUT",
            &format!("/api/v1/servers/{namespace}/{name}"),
            Some(&json!({ "description": "Refresh test", "ownerTeam": "search", "published": true, "spec": spec })),
        )
        .await;
    assert!(
        status.is_success(),
        "register {namespace}/{name}: {status} {body}"
    );
}

/// Posts a form to server function `path` as `client`; `html` as a browser without
/// JavaScript does (which gets a redirect), else as the console's own client does.
async fn post(client: &Client, path: &str, body: &str, html: bool) -> reqwest::Response {
    let mut request = client
        .http
        .post(format!("{}{path}", client.base))
        .header(ORIGIN, &client.base)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if html {
        request = request.header(ACCEPT, "text/html");
    }
    request.send().await.expect("POST")
}

/// The path and query a redirect leads to, on Apiary.
fn path_of(client: &Client, response: &reqwest::Response) -> String {
    let target = location(response);
    target
        .strip_prefix(&client.base)
        .unwrap_or_else(|| panic!("{target} stays on Apiary"))
        .to_owned()
}

/// The HTML of `path`, which must answer 200.
async fn html(client: &Client, path: &str) -> String {
    let response = client.page(path).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response
        .text()
        .await
        .map(|html| without_markers(&html))
        .expect("HTML")
}

/// The text inside the element with `data-testid="{id}"`, tags and Leptos markers removed.
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("data-testid=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} in {html}"));
    let rest = &html[start..];
    let body = &rest[rest.find('>').expect("the tag ends") + 1..];
    let body = &body[..body.find("</p>").unwrap_or(body.len())];
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&quot;", "\"").replace("&amp;", "&")
}

#[tokio::test]
async fn an_owner_refreshes_a_server_and_sees_what_the_fetch_found() {
    let tools = tempfile::NamedTempFile::new().expect("tools file");
    std::fs::write(
        tools.path(),
        json!([
            { "name": "echo", "description": "Echo", "inputSchema": { "type": "object" } },
            { "name": "add", "description": "Add", "inputSchema": { "type": "object" } },
        ])
        .to_string(),
    )
    .expect("write tools");
    let tools_path = tools.path().display().to_string();
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        register(
            &adam,
            "refresh",
            "ours",
            json!({ "command": TESTMCP, "args": ["--tools", tools_path], "transport": "stdio" }),
        )
        .await;
        // A closed loopback port: the fetch fails fast.
        register(
            &adam,
            "refresh",
            "closed",
            json!({ "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp" }),
        )
        .await;

        let olga = Client::signed_in(&app, "olga").await;
        let page = html(&olga, "/servers/refresh/ours").await;
        assert!(
            page.contains("data-testid=\"refresh-tools\""),
            "owners see the button: {page}"
        );
        assert!(
            page.contains("data-testid=\"refresh-status\"") && page.contains("role=\"status\""),
            "{page}"
        );
        let response = post(
            &olga,
            RefreshTools::PATH,
            "namespace=refresh&name=ours",
            true,
        )
        .await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let back = path_of(&olga, &response);
        assert!(
            back.starts_with("/servers/refresh/ours?refresh=fetched"),
            "{back}"
        );
        let outcome = text_of(&html(&olga, &back).await, "refresh-outcome");
        // Registering fetched once already, in the background: this is the baseline or the
        // same tools again.
        assert!(outcome.starts_with("Found 2 tools in "), "{outcome}");
        assert!(outcome.ends_with("2 policy findings."), "{outcome}");

        let response = post(
            &olga,
            RefreshTools::PATH,
            "namespace=refresh&name=closed",
            true,
        )
        .await;
        let back = path_of(&olga, &response);
        assert!(back.contains("refresh=failed"), "{back}");
        let outcome = text_of(&html(&olga, &back).await, "refresh-outcome");
        assert!(outcome.starts_with("The fetch failed: "), "{outcome}");
        assert!(
            outcome.len() > "The fetch failed: ".len(),
            "the cause is named: {outcome}"
        );

        // The console's own client gets the outcome as data.
        let response = post(
            &olga,
            RefreshTools::PATH,
            "namespace=refresh&name=ours",
            false,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let report: Value = response.json().await.expect("JSON");
        assert_eq!(report["refresh"], "fetched", "{report}");
        assert_eq!(report["tools"], 2, "{report}");
    }
}

#[tokio::test]
async fn consumers_and_owners_of_other_teams_cannot_refresh() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        register(
            &adam,
            "refresh",
            "closed",
            json!({ "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp" }),
        )
        .await;
        for user in ["carol", "otto", "paul"] {
            let client = Client::signed_in(&app, user).await;
            let page = html(&client, "/servers/refresh/closed").await;
            assert!(
                !page.contains("data-testid=\"refresh-tools\""),
                "{user} sees no button"
            );
            let response = post(
                &client,
                RefreshTools::PATH,
                "namespace=refresh&name=closed",
                false,
            )
            .await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{user} refreshes");
            let text = response.text().await.unwrap_or_default();
            assert!(
                text.contains("may not refresh this server's tools"),
                "{text}"
            );
            for (path, html) in [
                (StartFleetRefresh::PATH, false),
                (FleetRefreshStatus::PATH, false),
                // A plain form post without a Referer has no page to go back to.
                (StartFleetRefresh::PATH, true),
            ] {
                let response = post(&client, path, "", html).await;
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{user} {path}");
            }
            // A browser without JavaScript is sent back to the page, the refusal in the query,
            // and the page says it.
            let page = format!("{}/servers/refresh/closed", client.base);
            let response = client
                .http
                .post(format!("{}{}", client.base, RefreshTools::PATH))
                .header(ORIGIN, &client.base)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "text/html")
                .header(REFERER, &page)
                .body("namespace=refresh&name=closed")
                .send()
                .await
                .expect("POST");
            assert!(
                response.status().is_redirection(),
                "{user}: {}",
                response.status()
            );
            let back = path_of(&client, &response);
            assert!(
                back.starts_with("/servers/refresh/closed?") && back.contains("__err="),
                "{user} is sent back with the refusal: {back}"
            );
            assert!(
                html(&client, &back)
                    .await
                    .contains("may not refresh this server"),
                "{user} reads the refusal on the page"
            );
        }
    }
}

#[tokio::test]
async fn an_admin_refreshes_the_fleet_and_sees_progress_and_failures() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        for name in ["one", "two"] {
            register(
                &adam,
                "fleet",
                name,
                json!({ "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp" }),
            )
            .await;
        }
        let page = html(&adam, "/admin/refresh").await;
        assert!(page.contains("No fleet refresh has run"), "{page}");
        let response = post(&adam, StartFleetRefresh::PATH, "", true).await;
        assert_eq!(location(&response), format!("{}/admin/refresh", adam.base));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let progress = loop {
            let response = post(&adam, FleetRefreshStatus::PATH, "", false).await;
            let progress: Value = response.json().await.expect("JSON");
            if progress["running"] == false {
                break progress;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running: {progress}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let total = progress["total"].as_u64().expect("a total");
        assert!(total >= 2, "{progress}");
        assert_eq!(progress["done"], total, "{progress}");
        let failed: Vec<&str> = progress["failures"]
            .as_array()
            .expect("failures")
            .iter()
            .filter_map(|f| f["server"].as_str())
            .collect();
        assert!(
            failed.contains(&"fleet/one") && failed.contains(&"fleet/two"),
            "{progress}"
        );
        let page = html(&adam, "/admin/refresh").await;
        let summary = text_of(&page, "fleet-summary");
        assert!(
            summary.starts_with("Finished ") && summary.contains(&format!("of {total} fetched")),
            "{summary}"
        );
        assert!(
            page.contains("href=\"/servers/fleet/one\""),
            "failures link to their server: {page}"
        );
    }
}
