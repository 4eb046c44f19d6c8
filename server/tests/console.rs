//! The console's pages rendered on the server: catalog search, facets and pages, and one
//! server's page with its tools, latency chart and 404.

mod support;

use support::http::{request, send, without_markers};
use support::seed::{self, Meta};

use apiary_server::db::Db;
use axum::http::StatusCode;
use serde_json::json;

async fn page(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let (status, html) = send(app, request("GET", uri, None)).await;
    (status, without_markers(&html))
}

async fn ok_page(app: &axum::Router, uri: &str) -> String {
    let (status, html) = page(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}");
    html
}

/// The `data-server` of every card, in page order.
fn cards(html: &str) -> Vec<String> {
    html.split("data-testid=\"server-card\" data-server=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn meta(owner: &str, category: &str, description: &str) -> Meta {
    Meta {
        description: description.into(),
        owner_team: owner.into(),
        category: category.into(),
        cost_class: "free".into(),
        sensitivity: "internal".into(),
        published: true,
    }
}

async fn three_servers(db: &Db) {
    let web = seed::server(db, "tools", "web", meta("team-x", "search", "Web search")).await;
    let docs = seed::server(
        db,
        "tools",
        "docs",
        meta("team-y", "search", "Document search"),
    )
    .await;
    seed::server(
        db,
        "tools",
        "clock",
        meta("team-x", "utilities", "Current time"),
    )
    .await;
    seed::health(db, &web, true, 1_500).await;
    seed::health(db, &docs, true, 20).await;
}

#[tokio::test]
async fn facets_filter_from_the_url_and_show_their_counts() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        three_servers(db).await;
        let app = support::app(db);

        let html = ok_page(&app, "/").await;
        assert_eq!(cards(&html), ["tools/clock", "tools/docs", "tools/web"]);
        assert!(html.contains("3 servers match"), "{html}");
        assert!(
            html.contains(">search (2)</option>"),
            "category counts: {html}"
        );
        assert!(html.contains(">team-x (2)</option>"), "owner counts");
        assert!(html.contains(">slow (1)</option>"), "health counts");
        assert!(
            html.contains("<label for=\"facet-owner\">Owner team</label>"),
            "labelled selects"
        );

        let html = ok_page(&app, "/?q=&category=search&owner=&health=").await;
        assert_eq!(cards(&html), ["tools/docs", "tools/web"]);
        assert!(html.contains("2 servers match (of 3)"));
        assert!(
            html.contains("<option value=\"search\" selected"),
            "the selected value stays selected: {html}"
        );
        assert!(
            html.contains(">utilities (1)</option>"),
            "a facet's counts ignore its own selection"
        );
        assert!(
            html.contains(">team-y (1)</option>") && html.contains(">team-x (1)</option>"),
            "other facets count within the selection"
        );

        let html = ok_page(&app, "/?category=search&owner=team-x").await;
        assert_eq!(cards(&html), ["tools/web"]);

        let html = ok_page(&app, "/?health=slow").await;
        assert_eq!(cards(&html), ["tools/web"]);

        // Sorted for attention: the slow server, then the one not checked yet, then healthy.
        let html = ok_page(&app, "/?sort=health").await;
        assert_eq!(cards(&html), ["tools/web", "tools/clock", "tools/docs"]);
        assert!(
            html.contains("<option value=\"health\" selected"),
            "the order stays chosen: {html}"
        );
        let html = ok_page(&app, "/?sort=health&category=search").await;
        assert_eq!(cards(&html), ["tools/web", "tools/docs"]);

        let html = ok_page(&app, "/?category=search&owner=nobody").await;
        assert!(cards(&html).is_empty());
        assert!(html.contains("No matching servers"), "{html}");
    }
}

#[tokio::test]
async fn search_finds_a_server_by_its_tool_names_and_descriptions() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        three_servers(db).await;
        let weather =
            seed::server(db, "tools", "weather", meta("team-z", "data", "Forecasts")).await;
        seed::tools(
            db,
            &weather,
            vec![seed::tool(
                "get_forecast",
                "Hourly outlook for a city",
                json!({ "type": "object" }),
            )],
        )
        .await;
        let app = support::app(db);

        assert_eq!(
            cards(&ok_page(&app, "/?q=get_forecast").await),
            ["tools/weather"]
        );
        assert_eq!(
            cards(&ok_page(&app, "/?q=City+OUTLOOK").await),
            ["tools/weather"]
        );
        assert_eq!(cards(&ok_page(&app, "/?q=search+web").await), ["tools/web"]);
        let html = ok_page(&app, "/?q=forecast+clock").await;
        assert!(cards(&html).is_empty());
        assert!(html.contains("Nothing matches “forecast clock”"), "{html}");
    }
}

/// The catalog keeps each server's curated tool text between requests (snapshots never
/// change); a new curation, a new baseline or a new health sample shows on the next request.
#[tokio::test]
async fn the_catalog_follows_curation_snapshots_and_health_between_requests() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let weather =
            seed::server(db, "tools", "weather", meta("team-z", "data", "Forecasts")).await;
        let forecast = || {
            seed::tool(
                "get_forecast",
                "Hourly outlook",
                json!({ "type": "object" }),
            )
        };
        seed::tools(db, &weather, vec![forecast()]).await;
        seed::health(db, &weather, true, 20).await;
        let app = support::app(db);
        for _ in 0..2 {
            assert_eq!(
                cards(&ok_page(&app, "/?q=get_forecast").await),
                ["tools/weather"]
            );
        }
        assert_eq!(
            cards(&ok_page(&app, "/?health=healthy").await),
            ["tools/weather"]
        );

        // Hidden by curation: no longer found by its tool.
        let (status, body) = support::http::call(
            &app,
            "PUT",
            "/api/v1/servers/tools/weather/curation",
            Some(&json!({ "hidden": ["get_forecast"] })),
        )
        .await;
        assert!(status.is_success(), "{status} {body}");
        assert!(cards(&ok_page(&app, "/?q=get_forecast").await).is_empty());
        let (status, body) = support::http::call(
            &app,
            "PUT",
            "/api/v1/servers/tools/weather/curation",
            Some(&json!({})),
        )
        .await;
        assert!(status.is_success(), "{status} {body}");
        assert_eq!(
            cards(&ok_page(&app, "/?q=get_forecast").await),
            ["tools/weather"]
        );

        // A server seen for the first time after the cache filled, and a failing sample.
        let clock = seed::server(db, "tools", "clock", meta("team-x", "utilities", "Time")).await;
        seed::tools(
            db,
            &clock,
            vec![seed::tool("now", "The time in a zone", json!({}))],
        )
        .await;
        seed::health(db, &weather, false, 20).await;
        assert_eq!(
            cards(&ok_page(&app, "/?q=time+zone").await),
            ["tools/clock"]
        );
        assert_eq!(
            cards(&ok_page(&app, "/?health=failing").await),
            ["tools/weather"]
        );
    }
}

#[tokio::test]
async fn thirty_servers_fill_two_pages() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        for i in 0..30 {
            seed::server(
                db,
                "fleet",
                &format!("s{i:02}"),
                meta("ops", "infra", "A fleet server"),
            )
            .await;
        }
        let app = support::app(db);

        let first = ok_page(&app, "/?category=infra").await;
        assert_eq!(cards(&first).len(), 24);
        assert!(first.contains("30 servers match"));
        assert!(first.contains("Page 1 of 2"));
        assert!(
            first.contains("href=\"/?category=infra&amp;page=2\" rel=\"next\""),
            "the next link keeps the filters: {first}"
        );

        let sorted = ok_page(&app, "/?category=infra&sort=tools").await;
        assert!(
            sorted.contains("href=\"/?category=infra&amp;sort=tools&amp;page=2\" rel=\"next\""),
            "the next link keeps the order: {sorted}"
        );

        let second = ok_page(&app, "/?category=infra&page=2").await;
        let expected: Vec<String> = (24..30).map(|i| format!("fleet/s{i:02}")).collect();
        assert_eq!(cards(&second), expected);
        assert!(second.contains("rel=\"prev\""));
    }
}

#[tokio::test]
async fn the_server_page_shows_tools_with_their_argument_tables_and_a_latency_chart() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let id = seed::server(
            db,
            "tools",
            "search",
            meta("team-x", "search", "Web search"),
        )
        .await;
        seed::tools(
            db,
            &id,
            vec![seed::tool(
                "web_search",
                "Searches the web",
                json!({
                    "type": "object",
                    "required": ["query"],
                    "properties": {
                        "query": { "type": "string", "description": "What to look for" },
                        "safety": { "type": "string", "enum": ["strict", "off"] },
                        "filter": { "type": "object", "properties": { "site": { "type": "string" } } }
                    }
                }),
            )],
        )
        .await;
        seed::health(db, &id, true, 120).await;
        // Samples are ordered by their millisecond; two in the same one would tie.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        seed::health(db, &id, false, 30_000).await;
        let app = support::app(db);

        let html = ok_page(&app, "/servers/tools/search").await;
        assert!(html.contains("data-tool=\"web_search\""), "{html}");
        assert!(html.contains("Searches the web"));
        for property in ["query", "safety", "filter", "filter.site"] {
            assert!(
                html.contains(&format!(
                    "data-testid=\"schema-row\" data-property=\"{property}\""
                )),
                "a row for {property}: {html}"
            );
        }
        assert!(html.contains("<td class=\"py-1 pr-3\">required</td>"));
        assert!(
            html.contains(">strict</code>") && html.contains(">off</code>"),
            "enum values"
        );
        assert!(html.contains("What to look for"));
        assert!(
            html.contains("<summary class=\"cursor-pointer text-sm\">Raw JSON schema</summary>")
        );

        assert!(html.contains("data-testid=\"latency-chart\""));
        assert!(html.contains("<svg") && html.contains("role=\"img\""));
        assert!(
            html.contains("data-ok=\"false\""),
            "the failed sample is marked"
        );
        assert!(html.contains("2 samples from"), "the chart in words");
        assert!(
            html.contains("Health: </span>failing"),
            "the newest sample failed"
        );

        // A container image cannot run in the local runtime: the page says so, and offers no
        // snippets (runtime.rs shows them for a server that runs).
        assert!(html.contains("data-state=\"stopped\""), "{html}");
        assert!(
            html.contains("its spec cannot run in the local runtime")
                && !html.contains("data-client=\"VS Code\""),
            "no snippets for a server that cannot run: {html}"
        );
        assert!(
            html.contains("apiVersion: toolhive.stacklok.dev/v1alpha1"),
            "the manifest"
        );
        assert!(html.contains("No policy findings"));
    }
}

/// The `data-tool` of every tool on a server page and whether its section is open.
fn tools_on(html: &str) -> Vec<(String, bool)> {
    html.split("data-testid=\"tool\" data-tool=\"")
        .skip(1)
        .map(|rest| {
            let name = rest.split('"').next().unwrap_or_default().to_owned();
            let details = &rest[rest.find("<details").unwrap_or(0)..];
            let tag = &details[..details.find('>').unwrap_or(0)];
            (name, tag.contains(" open"))
        })
        .collect()
}

#[tokio::test]
async fn a_long_tool_list_starts_folded_and_filters_by_name_or_description() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let id = seed::server(db, "tools", "kit", meta("team-x", "utilities", "A kit")).await;
        let schema = json!({ "type": "object" });
        seed::tools(
            db,
            &id,
            vec![
                seed::tool("add", "Adds two numbers", schema.clone()),
                seed::tool("echo", "Echoes the text back", schema.clone()),
                seed::tool(
                    "get_time",
                    "The current time in a time zone",
                    schema.clone(),
                ),
                seed::tool(
                    "convert_time",
                    "Converts a time between zones",
                    schema.clone(),
                ),
                seed::tool("upper", "Upper-cases the text", schema),
            ],
        )
        .await;
        let app = support::app(db);

        let html = ok_page(&app, "/servers/tools/kit").await;
        let all = tools_on(&html);
        assert_eq!(all.len(), 5, "{all:?}");
        assert!(
            all.iter().all(|(_, open)| !open),
            "five tools start folded: {all:?}"
        );
        assert!(html.contains(">5 tools</p>"), "{html}");
        assert!(html.contains("name=\"tool\""), "a filter form");

        let html = ok_page(&app, "/servers/tools/kit?tool=Current+TIME").await;
        assert_eq!(
            tools_on(&html),
            [("get_time".to_owned(), true)],
            "every word in the name or description, any case; a match is shown open"
        );
        assert!(html.contains("1 of 5 tools match “Current TIME”"), "{html}");
        assert!(
            html.contains("value=\"Current TIME\""),
            "the filter stays filled in"
        );

        let html = ok_page(&app, "/servers/tools/kit?tool=time").await;
        let mut names: Vec<String> = tools_on(&html).into_iter().map(|(name, _)| name).collect();
        names.sort();
        assert_eq!(names, ["convert_time", "get_time"]);
    }
}

#[tokio::test]
async fn a_server_without_samples_shows_the_empty_chart_state() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let unpublished = Meta {
            published: false,
            ..meta("team-x", "search", "Web search")
        };
        seed::server(db, "tools", "quiet", unpublished).await;
        let app = support::app(db);

        let html = ok_page(&app, "/servers/tools/quiet").await;
        assert!(html.contains("No health samples yet"), "{html}");
        assert!(!html.contains("data-testid=\"latency-chart\""));
        assert!(html.contains("No published tools"));
        assert!(html.contains("Connection snippets appear once it is published"));
    }
}

#[tokio::test]
async fn an_unknown_server_gets_a_helpful_404() {
    for test_db in support::all_backends().await {
        let app = support::app(&test_db.db);
        let (status, html) = page(&app, "/servers/tools/nothing-here").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("Server not found"), "{html}");
        assert!(html.contains("There is no server named <code>tools/nothing-here</code>"));
        assert!(html.contains("href=\"/\""), "a way back to the catalog");
    }
}

/// Panics anywhere in this process since it started (a render's detached tasks included,
/// which tokio catches and only prints).
static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// On a multi-threaded runtime, as in production: the page frame's busy marker once made one
/// render in about twenty panic (a read of its signal meeting the Transition's write on
/// another thread), so the request failed; every one of 400 renders must succeed, and
/// nothing a render leaves running may panic after the answer either (the Transition's
/// pending effect did, in about one run of this test in two before it stayed in the browser).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_renders_again_and_again_in_one_process() {
    count_panics();
    let test_db = support::sqlite().await;
    let db = &test_db.db;
    for i in 0..1_000 {
        let id = seed::server(
            db,
            "fleet",
            &format!("server-{i:02}"),
            meta("team-a", "utilities", "A server"),
        )
        .await;
        seed::tools(
            db,
            &id,
            vec![seed::tool("lookup", "Finds records", json!({}))],
        )
        .await;
    }
    let app = support::app(db);
    let before = PANICS.load(std::sync::atomic::Ordering::SeqCst);
    for round in 0..200 {
        // Two at once, as requests meet in production.
        let (first, second) = tokio::join!(page(&app, "/?q=server"), page(&app, "/?page=2"));
        for (status, html) in [first, second] {
            assert_eq!(status, StatusCode::OK, "round {round}: {html}");
            assert_eq!(cards(&html).len(), 24, "round {round}");
        }
    }
    // What a render spawned has had time to finish.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let panics = PANICS.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(
        panics, 0,
        "{panics} panics while or after rendering (see stderr)"
    );
}
