//! The admin's curation page: a plain form whose Preview shows exactly what consumers will see
//! without saving, and whose Save stores the curation (audited) for the registry and gateway,
//! or comes back with the reason and nothing saved.

mod support;

use serde_json::json;

use support::gateway::register_and_refresh;
use support::http::without_markers;
use support::mcp_servers::testmcp_http;
use support::registry;
use support::signed_in::{self, Client};

async fn registry_tools(http: &reqwest::Client, base: &str) -> Vec<(String, String)> {
    registry::tools(&registry::servers(http, base).await["servers"][0])
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["description"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn preview(html: &str) -> Vec<String> {
    let Some(start) = html.find("data-testid=\"preview\"") else {
        return Vec::new();
    };
    let list = &html[start
        ..html[start..]
            .find("</ul>")
            .map_or(html.len(), |e| start + e)];
    list.split("<code>")
        .skip(1)
        .map(|c| c[..c.find("</code>").unwrap_or(0)].to_owned())
        .collect()
}

#[tokio::test]
async fn preview_then_save_what_consumers_see() {
    let db = support::sqlite().await;
    let base = support::serve(&db.db).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        json!([
            { "name": "echo", "description": "Echoes", "inputSchema": { "type": "object" },
              "annotations": { "readOnlyHint": true } },
            { "name": "upper", "description": "Upper-cases", "inputSchema": { "type": "object" } },
        ])
        .to_string(),
    )
    .expect("write");
    let backend = testmcp_http(&["--tools", tools.to_str().expect("path")]).await;
    register_and_refresh(&http, &base, "cur/tools", &backend.url).await;
    let page = |query: &str| {
        let http = http.clone();
        let url = format!("{base}/servers/cur/tools/curate{query}");
        async move {
            http.get(url)
                .send()
                .await
                .expect("page")
                .text()
                .await
                .map(|html| without_markers(&html))
                .expect("HTML")
        }
    };

    let first = page("").await;
    assert_eq!(first.matches("data-testid=\"curate-row\"").count(), 2);
    assert_eq!(preview(&first), ["echo", "upper"]);
    assert!(
        first.contains("as the server says (true)"),
        "each hint says what the server says"
    );

    let draft = page("?draft=1&show=echo&name.echo=speak&description.echo=Says+it+back").await;
    assert_eq!(preview(&draft), ["speak"], "the preview applies the draft");
    assert!(draft.contains("Not saved yet"));
    assert!(
        draft.contains(">renamed from echo</span>"),
        "a renamed tool is marked with the server's name: {draft}"
    );
    let hidden = &draft[draft
        .find("data-testid=\"preview-hidden\"")
        .expect("hidden tools")..];
    let hidden = &hidden[..hidden.find("</ul>").unwrap_or(hidden.len())];
    assert!(
        hidden.contains("<del><code>upper</code></del>") && !hidden.contains("echo"),
        "the unchecked tool is listed as hidden, the shown one is not: {hidden}"
    );
    assert!(
        !first.contains("preview-hidden") && !first.contains("renamed from"),
        "nothing marked before any change"
    );
    let hinted = page("?draft=1&show=echo&hint.echo.destructiveHint=true").await;
    assert!(
        hinted.contains("(read-only, destructive)"),
        "the preview shows the server's hint and the override"
    );
    assert_eq!(
        registry_tools(&http, &base).await.len(),
        2,
        "a preview saves nothing"
    );

    let post = |form: &'static str| {
        http.post(format!("{base}/servers/cur/tools/curate"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let refused = post("draft=1&show=echo&show=upper&name.upper=echo")
        .await
        .expect("post");
    assert_eq!(refused.status(), 303);
    let back = refused.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(back.contains("draft=1"), "{back}");
    let again = page(back.trim_start_matches("/servers/cur/tools/curate")).await;
    assert!(
        again.contains("data-testid=\"curation-error\"") && again.contains("overrides.upper.name"),
        "the page names the field"
    );
    assert_eq!(registry_tools(&http, &base).await.len(), 2, "nothing saved");

    // Every refusal at once: two bad deny globs and the name collision.
    let refused = post("draft=1&show=echo&show=upper&name.upper=echo&allow=&deny=bad!%0Ano+spaces")
        .await
        .expect("post");
    let back = refused.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let again = page(back.trim_start_matches("/servers/cur/tools/curate")).await;
    assert!(again.contains("3 problems to fix"), "{again}");
    assert!(
        again.contains("data-testid=\"curation-error-deny\""),
        "the deny globs' messages are next to them: {again}"
    );
    assert!(
        again.contains("id=\"deny\" name=\"deny\"")
            && again.contains("aria-describedby=\"deny-error\""),
        "the deny field is marked: {again}"
    );
    assert!(again.contains("overrides.upper.name"), "{again}");

    let saved = post(
        "draft=1&show=echo&description.echo=Says+it+back&hint.echo.readOnlyHint=false&allow=&deny=",
    )
    .await
    .expect("post");
    assert_eq!(saved.status(), 303);
    assert_eq!(
        saved.headers()["location"],
        "/servers/cur/tools/curate?saved=1"
    );
    assert_eq!(
        registry_tools(&http, &base).await,
        [("echo".to_owned(), "Says it back".to_owned())]
    );
    let listed = registry::servers(&http, &base).await;
    let echo = &registry::tools(&listed["servers"][0])[0];
    assert_eq!(
        echo["annotations"]["readOnlyHint"], false,
        "consumers see the override: {echo}"
    );
    let after = page("?saved=1").await;
    assert!(
        after.contains("<option value=\"false\" selected"),
        "the saved override is chosen in the form"
    );
    assert!(after.contains("Saved: the catalog"));
    assert_eq!(preview(&after), ["echo"]);
    let audit = http
        .get(format!(
            "{base}/api/v1/audit/export?format=jsonl&action=server.curate"
        ))
        .send()
        .await
        .expect("audit")
        .text()
        .await
        .expect("text");
    assert_eq!(audit.lines().count(), 1, "the save is audited once");
}

#[tokio::test]
async fn only_admins_curate() {
    let db = support::sqlite().await;
    let Some(app) = signed_in::start(&db).await else {
        return;
    };
    let adam = Client::signed_in(&app, "adam").await;
    let registered = adam
        .http
        .put(format!("{}/api/v1/servers/cur/owned", app.url))
        .json(&json!({ "ownerTeam": "search", "spec": { "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp" } }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success());
    let olga = Client::signed_in(&app, "olga").await;
    let page = olga
        .page("/servers/cur/owned/curate")
        .await
        .text()
        .await
        .map(|html| without_markers(&html))
        .expect("HTML");
    assert!(
        page.contains("may not curate published tools"),
        "the page says why"
    );
    let server_page = olga
        .page("/servers/cur/owned")
        .await
        .text()
        .await
        .map(|html| without_markers(&html))
        .expect("HTML");
    assert!(
        !server_page.contains("/servers/cur/owned/curate"),
        "no link for an owner"
    );
    let refused = olga
        .http
        .post(format!("{}/servers/cur/owned/curate", app.url))
        .header("origin", &app.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("draft=1")
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 403);
    let admin_page = adam
        .page("/servers/cur/owned")
        .await
        .text()
        .await
        .map(|html| without_markers(&html))
        .expect("HTML");
    assert!(
        admin_page.contains("/servers/cur/owned/curate"),
        "admins get the link"
    );
}
