//! What the gateway measures reaches people: calls through it are stored every sampling
//! interval, the server page plots them with a per-tool table, and failing calls turn the
//! server's health to failing in the catalog and the registry API. A tool's own error result
//! (`isError`) is its answer, not a failure of the server.

mod support;

use rmcp::model::CallToolRequestParams;
use serde_json::json;

use apiary_server::web::AppState;
use support::gateway::register_and_refresh;
use support::http::without_markers;
use support::mcp_client::connect;
use support::mcp_servers::{testmcp_http, HttpBackend};
use support::registry;

/// A test MCP server with three tools: `echo` answers, `boom` always fails (a JSON-RPC
/// internal error), `picky` always answers with a tool error (`isError`). The folder holds its
/// tool list and lives as long as the server needs it.
async fn echo_and_failing_boom() -> (tempfile::TempDir, HttpBackend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        json!([
            { "name": "echo", "inputSchema": { "type": "object" } },
            { "name": "boom", "inputSchema": { "type": "object" } },
            { "name": "picky", "inputSchema": { "type": "object" } },
        ])
        .to_string(),
    )
    .expect("write tools");
    let backend = testmcp_http(&[
        "--tools",
        tools.to_str().expect("path"),
        "--broken",
        "boom",
        "--failing",
        "picky",
    ])
    .await;
    (dir, backend)
}

#[tokio::test]
async fn calls_through_the_gateway_show_on_the_server_page_and_set_health() {
    for (n, db) in support::all_backends().await.into_iter().enumerate() {
        let id = format!("usage/measured{n}");
        let (_tools, backend) = echo_and_failing_boom().await;
        let state = AppState::new(support::settings(), db.db.clone());
        let usage = state.gateway.usage();
        let base = support::serve_state(state).await;
        let http = reqwest::Client::new();
        register_and_refresh(&http, &base, &id, &backend.url).await;

        let page = |http: reqwest::Client, url: String| async move {
            http.get(url)
                .send()
                .await
                .expect("page")
                .text()
                .await
                .map(|html| without_markers(&html))
                .expect("HTML")
        };
        let before = page(http.clone(), format!("{base}/servers/{id}")).await;
        assert!(
            before.contains("No calls through the gateway yet"),
            "an empty state before any call"
        );

        let client = connect(&format!("{base}/mcp/{id}")).await;
        for tool in ["echo", "echo", "echo", "boom", "boom", "boom"] {
            let _ = client.call_tool(CallToolRequestParams::new(tool)).await;
        }
        client.cancel().await.expect("close");
        let written = usage
            .flush(&db.db, std::time::Duration::from_secs(60))
            .await
            .expect("flush");
        assert_eq!(written, 3, "one row per tool and the server's total");

        let after = page(http.clone(), format!("{base}/servers/{id}")).await;
        assert!(
            after.contains("data-testid=\"call-chart\""),
            "the chart is drawn"
        );
        assert!(
            after.contains("6 calls in 1 intervals") && after.contains("3 failed"),
            "the chart in words"
        );
        let rows = usage_rows(&after);
        assert_eq!(rows.len(), 2, "one row per tool");
        assert_eq!(rows["echo"], ["3", "0"], "echo: 3 calls, none failed");
        assert_eq!(rows["boom"], ["3", "3"], "boom: 3 calls, 3 failed");

        // Half the calls failed in the newest interval: the server is failing everywhere.
        let list = registry::servers(&http, &base).await;
        let entry = registry::entry(&list, &id);
        assert_eq!(
            entry["_meta"]["dev.apiary/server"]["health"]["status"], "failing",
            "{entry}"
        );
        let badge = |html: &str| {
            let at = html
                .find("data-testid=\"health-badge\"")
                .expect("a health badge");
            let rest = &html[at..];
            let text = rest.split("</span>").nth(1).unwrap_or_default();
            text.trim().trim_start_matches("<!>").trim().to_owned()
        };
        assert_eq!(badge(&before), "healthy", "the fetch alone looked healthy");
        let catalog = page(http.clone(), format!("{base}/?q=measured{n}")).await;
        assert_eq!(badge(&catalog), "failing", "the catalog card");
        assert_eq!(badge(&after), "failing", "the server page");
    }
}

/// The rows of the per-tool usage tables in `html`: each tool's calls and failed calls.
fn usage_rows(html: &str) -> std::collections::BTreeMap<String, [String; 2]> {
    let text_of = |cell: &str| {
        let text = &cell[cell.find('>').map_or(0, |i| i + 1)..];
        text[..text.find('<').unwrap_or(text.len())].to_owned()
    };
    html.split("data-testid=\"tool-usage-row\"")
        .skip(1)
        .map(|row| {
            let name = row.split("<th").nth(1).map(text_of).unwrap_or_default();
            let cells: Vec<String> = row.split("<td").skip(1).map(text_of).collect();
            (name, [cells[0].clone(), cells[1].clone()])
        })
        .collect()
}

/// Calls through a virtual server are counted under its tools' names on its console page,
/// and each member counts them too, under its own names (only that count sets its health).
#[tokio::test]
async fn calls_through_a_virtual_server_show_on_its_page_and_the_members() {
    for (n, db) in support::all_backends().await.into_iter().enumerate() {
        let member = format!("usage/member{n}");
        let virtual_id = format!("usage/team{n}");
        let (_tools, backend) = echo_and_failing_boom().await;
        let state = AppState::new(support::settings(), db.db.clone());
        let usage = state.gateway.usage();
        let base = support::serve_state(state).await;
        let http = reqwest::Client::new();
        register_and_refresh(&http, &base, &member, &backend.url).await;
        let saved = http
            .put(format!("{base}/api/v1/virtual-servers/{virtual_id}"))
            .json(&json!({ "ownerTeam": "usage", "members": [
                { "server": member, "prefix": "m", "allow": ["echo", "boom"] } ] }))
            .send()
            .await
            .expect("PUT");
        assert_eq!(
            saved.status(),
            201,
            "{}",
            saved.text().await.unwrap_or_default()
        );
        let page = |path: String| {
            let http = http.clone();
            async move {
                http.get(path)
                    .send()
                    .await
                    .expect("page")
                    .text()
                    .await
                    .map(|html| without_markers(&html))
                    .expect("HTML")
            }
        };
        let section = |html: &str| -> String {
            let anchor = format!("id=\"{}\"", virtual_id.replace('/', "-"));
            let at = html.find(&anchor).expect("the virtual server's section");
            let rest = &html[at..];
            rest[..rest.find("</section>").unwrap_or(rest.len())].to_owned()
        };
        let before = section(&page(format!("{base}/virtual-servers")).await);
        assert!(
            before.contains("No calls through this endpoint yet."),
            "{before}"
        );

        let client = connect(&format!("{base}/mcp/{virtual_id}")).await;
        for tool in ["m_echo", "m_echo", "m_boom"] {
            let _ = client.call_tool(CallToolRequestParams::new(tool)).await;
        }
        client.cancel().await.expect("close");
        let written = usage
            .flush(&db.db, std::time::Duration::from_secs(60))
            .await
            .expect("flush");
        assert_eq!(
            written, 6,
            "a row per tool and a total, for the member and the virtual server"
        );

        let after = section(&page(format!("{base}/virtual-servers")).await);
        assert!(
            after.contains("data-testid=\"call-chart\""),
            "the chart is drawn"
        );
        assert!(
            after.contains("3 calls in 1 intervals") && after.contains("1 failed"),
            "the chart in words: {after}"
        );
        let rows = usage_rows(&after);
        assert_eq!(rows.len(), 2, "one row per tool: {rows:?}");
        assert_eq!(rows["m_echo"], ["2", "0"]);
        assert_eq!(rows["m_boom"], ["1", "1"]);
        let member_rows = usage_rows(&page(format!("{base}/servers/{member}")).await);
        assert_eq!(
            member_rows["echo"],
            ["2", "0"],
            "the member counts under its own names"
        );
        assert_eq!(member_rows["boom"], ["1", "1"]);
    }
}

/// Two replicas on one database each store what their own gateway measured; the server page
/// and health add the two up, so people see the fleet, not whichever replica wrote last.
#[tokio::test]
async fn two_replicas_measurements_add_up_to_the_fleets() {
    for (n, db) in support::all_backends().await.into_iter().enumerate() {
        let id = format!("usage/fleet{n}");
        let (_tools, backend) = echo_and_failing_boom().await;
        let first = AppState::new(support::settings(), db.db.clone());
        let second = AppState::new(support::settings(), db.db.clone());
        let (first_usage, second_usage) = (first.gateway.usage(), second.gateway.usage());
        let first = support::serve_state(first).await;
        let second = support::serve_state(second).await;
        let http = reqwest::Client::new();
        register_and_refresh(&http, &first, &id, &backend.url).await;

        // Every call through the second replica fails; every call through the first succeeds.
        for (base, tool) in [(&second, "boom"), (&first, "echo")] {
            let client = connect(&format!("{base}/mcp/{id}")).await;
            for _ in 0..4 {
                let _ = client.call_tool(CallToolRequestParams::new(tool)).await;
            }
            client.cancel().await.expect("close");
        }
        // One sampling period (ten minutes, so two flushes a moment apart share it, and it is
        // within health's 15-minute window); the healthy replica writes last.
        let period = std::time::Duration::from_secs(600);
        second_usage.flush(&db.db, period).await.expect("flush");
        first_usage.flush(&db.db, period).await.expect("flush");

        let page = http
            .get(format!("{second}/servers/{id}"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .map(|html| without_markers(&html))
            .expect("HTML");
        assert!(
            page.contains("8 calls in 1 intervals") && page.contains("4 failed"),
            "the chart adds both replicas' calls into one interval"
        );
        let list = registry::servers(&http, &first).await;
        let entry = registry::entry(&list, &id);
        assert_eq!(
            entry["_meta"]["dev.apiary/server"]["health"]["status"], "failing",
            "half the fleet's calls failed, whatever the last replica saw: {entry}"
        );
    }
}

/// Calls that the tool answers with `isError` (it refused the arguments, say) are answers:
/// the server stays healthy and the usage table counts none of them as failed.
#[tokio::test]
async fn tool_error_results_do_not_make_a_server_failing() {
    let db = support::sqlite().await;
    let id = "usage/picky";
    let (_tools, backend) = echo_and_failing_boom().await;
    let state = AppState::new(support::settings(), db.db.clone());
    let usage = state.gateway.usage();
    let base = support::serve_state(state).await;
    let http = reqwest::Client::new();
    register_and_refresh(&http, &base, id, &backend.url).await;

    let client = connect(&format!("{base}/mcp/{id}")).await;
    for _ in 0..3 {
        let result = client
            .call_tool(CallToolRequestParams::new("picky"))
            .await
            .expect("an answer");
        assert_eq!(
            result.is_error,
            Some(true),
            "the tool's own error passes through"
        );
    }
    client.cancel().await.expect("close");
    usage
        .flush(&db.db, std::time::Duration::from_secs(60))
        .await
        .expect("flush");

    let list = registry::servers(&http, &base).await;
    let entry = registry::entry(&list, id);
    assert_eq!(
        entry["_meta"]["dev.apiary/server"]["health"]["status"], "healthy",
        "{entry}"
    );
    let page = http
        .get(format!("{base}/servers/{id}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .map(|html| without_markers(&html))
        .expect("HTML");
    assert!(
        page.contains("3 calls in 1 intervals") && page.contains("0 failed"),
        "the chart counts no failure"
    );
}

/// Measurements older than the retention are deleted and newer ones stay: the gateway's
/// intervals, and the fetches' health samples except each server's newest (its badge reads
/// it, however old).
#[tokio::test]
async fn measurements_older_than_the_retention_are_deleted() {
    use apiary_server::gateway::usage::{retention, store, Counts};
    use apiary_server::registry::store::SnapshotStore;
    const DAY: i64 = 24 * 60 * 60 * 1000;
    for db in support::all_backends().await {
        let db = &db.db;
        let meta = || support::seed::Meta {
            description: "kept".into(),
            owner_team: "usage".into(),
            category: "test".into(),
            cost_class: "free".into(),
            sensitivity: "internal".into(),
            published: true,
        };
        let busy = support::seed::server(db, "retention", "busy", meta()).await;
        let quiet = support::seed::server(db, "retention", "quiet", meta()).await;
        let now = apiary_server::db::now_millis();
        let age = |id: &str, at: i64| {
            sqlx::query("UPDATE health_samples SET at = $1 WHERE server_id = $2")
                .bind(at)
                .bind(id.to_owned())
                .execute(db.pool())
        };
        // `busy`: a sample 40 days old and one from now; `quiet`: only one, 40 days old.
        support::seed::health(db, &busy, true, 10).await;
        age(&busy, now - 40 * DAY).await.expect("age");
        support::seed::health(db, &busy, true, 10).await;
        support::seed::health(db, &quiet, false, 10).await;
        age(&quiet, now - 40 * DAY).await.expect("age");
        let taken = std::collections::HashMap::from([(
            "retention/busy".to_owned(),
            vec![(
                "echo".to_owned(),
                Counts {
                    calls: 3,
                    ..Counts::default()
                },
            )],
        )]);
        store::write(db, now - 40 * DAY, &taken)
            .await
            .expect("old rows");
        store::write(db, now - 29 * DAY, &taken)
            .await
            .expect("kept rows");

        let deleted = retention::prune(db, std::time::Duration::from_secs(30 * 86_400), now)
            .await
            .expect("prune");
        assert_eq!(
            deleted, 3,
            "two gateway rows (the tool and the total) and one health sample"
        );
        let intervals = store::recent_totals(db, store::Owner::Server, &busy, 200)
            .await
            .expect("intervals");
        assert_eq!(
            intervals.iter().map(|i| i.at).collect::<Vec<_>>(),
            [now - 29 * DAY],
            "only the interval within 30 days stays"
        );
        let samples = SnapshotStore::new(db.clone());
        let busy_samples = samples.health_history(&busy, 200).await.expect("history");
        assert_eq!(
            busy_samples.len(),
            1,
            "the old sample of a server with a newer one goes"
        );
        assert!(busy_samples[0].at > now - DAY);
        let quiet_samples = samples.health_history(&quiet, 200).await.expect("history");
        assert_eq!(
            quiet_samples.len(),
            1,
            "a server's newest sample stays, however old"
        );
        assert!(!quiet_samples[0].ok);
    }
}
