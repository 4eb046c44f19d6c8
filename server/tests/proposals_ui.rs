//! The console's proposal pages without JavaScript, as the real signed-in users of the test
//! provider: a refused form post comes back with the field's message and the values kept and
//! stores nothing; a good one lands on its review page; the author sees they cannot approve;
//! a reject needs a comment; an owner approves through the form and the server is published;
//! the review shows the manifests side by side and the server's pending schema drift.

mod support;

use support::http::without_markers;

use reqwest::header::{ACCEPT, ORIGIN};
use reqwest::StatusCode;
use support::signed_in::{self, location, Client};

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

/// The `action` of the first form on the page that posts to server function `name`.
fn form_action(html: &str, name: &str) -> String {
    let start = html
        .find(&format!("action=\"/api/{name}"))
        .unwrap_or_else(|| panic!("a form posting to {name} in {html}"))
        + "action=\"".len();
    let end = start + html[start..].find('"').expect("the attribute ends");
    html[start..end].to_owned()
}

/// Posts a form as a browser without JavaScript does; returns the redirect's path and query.
async fn post_form(client: &Client, action: &str, fields: &[(&str, &str)]) -> String {
    let response = client
        .http
        .post(format!("{}{action}", client.base))
        .header(ORIGIN, &client.base)
        .header(ACCEPT, "text/html")
        .form(fields)
        .send()
        .await
        .expect("POST the form");
    let status = response.status();
    assert!(
        status.is_redirection(),
        "a form post answers with a redirect, got {status}: {}",
        response.text().await.unwrap_or_default()
    );
    let target = location(&response);
    target
        .strip_prefix(&client.base)
        .unwrap_or_else(|| panic!("{target} stays on Apiary"))
        .to_owned()
}

/// Posts a review's decision form (`decide`) on version 1 of proposal `id` as `client`, with
/// any `extra` fields; returns the redirect's path and query.
async fn post_decision(
    client: &Client,
    decide: &str,
    id: &str,
    decision: &str,
    comment: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut fields = vec![
        ("id", id),
        ("decision", decision),
        ("comment", comment),
        ("version", "1"),
    ];
    fields.extend_from_slice(extra);
    post_form(client, decide, &fields).await
}

/// The markup of the element with `data-testid="{id}"`, up to its first closing tag.
fn element_text<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("data-testid=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} in {html}"));
    let end = start + html[start..].find("</").expect("a closing tag");
    &html[start..end]
}

/// One row of the review's side-by-side diff: each side's change (`same`, `removed`, `added`
/// or `none` for no line) and its line's text.
#[derive(Debug, PartialEq)]
struct Row {
    before: (String, String),
    after: (String, String),
}

/// The `data-change` and the text of the first cell with test id `side` in `row`.
fn diff_cell(row: &str, side: &str) -> (String, String) {
    let start = row
        .find(&format!("data-testid=\"{side}\""))
        .unwrap_or_else(|| panic!("a {side} cell in {row}"));
    let cell = &row[start..row[start..].find("</td>").map_or(row.len(), |e| start + e)];
    let change = cell
        .split("data-change=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("data-change in {cell}"))
        .to_owned();
    let text = cell
        .split("<code")
        .nth(1)
        .and_then(|code| code.split_once('>'))
        .map(|(_, rest)| rest.split("</code>").next().unwrap_or_default())
        .unwrap_or_default()
        .replace("<!---->", "")
        .replace("<!>", "");
    (change, text)
}

/// The rows of the review page's side-by-side diff.
fn diff_rows(html: &str) -> Vec<Row> {
    html.split("data-testid=\"diff-row\"")
        .skip(1)
        .map(|row| {
            let row = &row[..row.find("</tr>").expect("the row ends")];
            Row {
                before: diff_cell(row, "diff-before"),
                after: diff_cell(row, "diff-after"),
            }
        })
        .collect()
}

/// The diff row whose either side's text contains `text`.
fn row_with<'a>(rows: &'a [Row], text: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.before.1.contains(text) || r.after.1.contains(text))
        .unwrap_or_else(|| panic!("a diff row with {text:?} in {rows:#?}"))
}

/// Registers `namespace/name` directly (as admin `client`), owned by team search: revision 1.
async fn register(client: &Client, namespace: &str, name: &str, description: &str) {
    let (status, body) = client
        .call(
            "PUT",
            &format!("/api/v1/servers/{namespace}/{name}"),
            Some(&serde_json::json!({ "description": description, "ownerTeam": "search",
                       "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" } })),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
}

/// Paul's update of `namespace/name` with a new description, through the change page's form;
/// the review page's path.
async fn propose_description(
    paul: &Client,
    namespace: &str,
    name: &str,
    description: &str,
) -> String {
    let change = html(paul, &format!("/servers/{namespace}/{name}/change")).await;
    let action = form_action(&change, "propose_server");
    let landed = post_form(
        paul,
        &action,
        &[
            ("kind", "update"),
            ("namespace", namespace),
            ("name", name),
            ("description", description),
            ("owner_team", "search"),
            ("source", "http://127.0.0.1:9/mcp"),
            ("transport", "streamable-http"),
        ],
    )
    .await;
    assert!(landed.starts_with("/reviews/"), "{landed}");
    landed
}

async fn proposals(db: &apiary_server::db::Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM proposals")
        .fetch_one(db.pool())
        .await
        .expect("count")
}

async fn status_of(db: &apiary_server::db::Db, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM proposals WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .expect("status")
}

fn good_fields<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("kind", "create"),
        ("namespace", "ui"),
        ("name", "uifetch"),
        ("description", "Fetches pages for the search team"),
        ("owner_team", "search"),
        ("category", "web"),
        ("tags", "fetch, web"),
        // A closed loopback port: the local runtime records it, nothing runs.
        ("source", "http://127.0.0.1:9/mcp"),
        ("transport", "streamable-http"),
        ("env", "LOG_LEVEL=debug\nAPI_TOKEN=secret:fetch-keys/token"),
    ]
}

#[tokio::test]
async fn a_refused_form_comes_back_with_the_fields_message_and_values_and_stores_nothing() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let paul = Client::signed_in(&app, "paul").await;
        let page = html(&paul, "/propose").await;
        assert!(page.contains("data-testid=\"propose-form\""), "{page}");
        let action = form_action(&page, "propose_server");

        let mut fields = good_fields();
        fields[1] = ("namespace", "Bad_Namespace");
        let back = post_form(&paul, &action, &fields).await;
        assert!(back.starts_with("/propose?"), "{back}");
        let page = html(&paul, &back).await;
        assert!(page.contains("data-testid=\"error-namespace\""), "{page}");
        assert!(
            !page.contains("data-testid=\"error-name\""),
            "only the refused field: {page}"
        );
        assert!(
            page.contains("value=\"Bad_Namespace\""),
            "the value is kept: {page}"
        );
        assert!(page.contains("Fetches pages for the search team"), "{page}");
        assert!(page.contains("value=\"http://127.0.0.1:9/mcp\""), "{page}");
        assert!(
            page.contains("<option value=\"streamable-http\" selected"),
            "the transport stays chosen: {page}"
        );
        let preview = element_text(&page, "yaml-preview");
        assert!(
            preview.contains("kind: MCPServer") && preview.contains("url: http://127.0.0.1:9/mcp"),
            "the preview shows the submitted values: {preview}"
        );

        // A secret value is refused next to the environment, and never echoed into the URL.
        let mut fields = good_fields();
        fields[9] = ("env", "API_TOKEN=hunter2-is-my-password");
        let back = post_form(&paul, &action, &fields).await;
        assert!(!back.contains("hunter2"), "{back}");
        let page = html(&paul, &back).await;
        assert!(page.contains("data-testid=\"error-env\""), "{page}");
        assert!(page.contains("value=\"uifetch\""), "{page}");

        // A pasted manifest is validated the same way; its errors go next to the textarea.
        let fields = [
            ("kind", "create"),
            ("manifest", "apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata:\n  name: pasted\n  namespace: ui\nspec:\n  transport: carrier-pigeon\n"),
        ];
        let back = post_form(&paul, &action, &fields).await;
        let page = html(&paul, &back).await;
        assert!(page.contains("data-testid=\"error-manifest\""), "{page}");
        assert!(
            page.contains("carrier-pigeon"),
            "the manifest is kept: {page}"
        );

        assert_eq!(proposals(&db.db).await, 0, "nothing is stored");
    }
}

#[tokio::test]
async fn propose_review_reject_needs_a_comment_and_an_owner_approves_through_the_forms() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let paul = Client::signed_in(&app, "paul").await;
        let header = html(&paul, "/propose").await;
        assert!(header.contains("href=\"/propose\""), "{header}");
        assert!(
            header.contains("once an owner other than you approves it")
                && !header.contains("Local mode: you are the only person"),
            "the form says what happens with sign-in on: {header}"
        );
        assert!(
            !header.contains("href=\"/reviews\""),
            "paul reviews nothing: {header}"
        );
        let action = form_action(&header, "propose_server");
        let landed = post_form(&paul, &action, &good_fields()).await;
        let id = landed
            .strip_prefix("/reviews/")
            .unwrap_or_else(|| panic!("a good post lands on its review: {landed}"))
            .to_owned();
        assert_eq!(status_of(&db.db, &id).await, "open");

        let mine = html(&paul, &landed).await;
        assert!(mine.contains("data-testid=\"cannot-approve\""), "{mine}");
        assert!(mine.contains("four-eyes"), "{mine}");
        assert!(!mine.contains("data-testid=\"approve-form\""), "{mine}");
        assert!(
            mine.contains(">Approved (none: a new server)</th>"),
            "{mine}"
        );
        let rows = diff_rows(&mine);
        assert!(
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| r.before.0 == "none" && r.after.0 == "added"),
            "a new server's manifest is all added: {rows:#?}"
        );
        assert_eq!(
            row_with(&rows, "url:").after.1,
            "  url: http://127.0.0.1:9/mcp"
        );
        assert!(
            row_with(&rows, "Fetches pages for the search team").after.0 == "added",
            "{rows:#?}"
        );
        let queue = html(&paul, "/reviews").await;
        assert!(queue.contains(&format!("/reviews/{id}")), "{queue}");
        assert!(
            queue.contains("yours: another owner of the team reviews it")
                && !queue.contains("to review<"),
            "the author's own proposal is not theirs to review: {queue}"
        );
        assert!(
            queue.contains("Nobody approves their own proposal"),
            "{queue}"
        );

        // Otto owns team data: the proposal is not in his queue, and his post is refused.
        let otto = Client::signed_in(&app, "otto").await;
        assert!(html(&otto, "/reviews").await.contains("Nothing to review"));

        let olga = Client::signed_in(&app, "olga").await;
        let queue = html(&olga, "/reviews").await;
        assert!(queue.contains(&format!("/reviews/{id}")), "{queue}");
        assert!(
            queue.contains("href=\"/reviews\""),
            "the header links reviews: {queue}"
        );
        let review = html(&olga, &landed).await;
        assert!(review.contains("data-testid=\"approve-form\""), "{review}");
        assert!(review.contains("data-testid=\"reject-form\""), "{review}");
        let decide = form_action(&review, "decide_proposal");

        let refused = post_decision(&otto, &decide, &id, "approve", "mine now", &[]).await;
        let page = html(&otto, &refused).await;
        assert!(page.contains("data-testid=\"decision-refused\""), "{page}");
        assert_eq!(status_of(&db.db, &id).await, "open");

        // A reject without a comment is refused next to the comment.
        let back = post_decision(&olga, &decide, &id, "reject", "  ", &[]).await;
        let page = html(&olga, &back).await;
        assert!(
            page.contains("data-testid=\"error-reject-comment\""),
            "{page}"
        );
        assert_eq!(status_of(&db.db, &id).await, "open");

        let done = post_decision(&olga, &decide, &id, "approve", "Looks right", &[]).await;
        assert!(done.starts_with(&landed), "{done}");
        let page = html(&olga, &done).await;
        assert_eq!(status_of(&db.db, &id).await, "applied", "{page}");
        assert!(page.contains("Approved and applied."), "{page}");
        assert!(page.contains("Looks right"), "{page}");
        assert!(!page.contains("data-testid=\"approve-form\""), "{page}");

        let listed = html(&paul, "/v0.1/servers?search=uifetch").await;
        assert!(listed.contains("uifetch"), "published: {listed}");

        // A second decision finds it decided, and says by whom.
        let adam = Client::signed_in(&app, "adam").await;
        let late = post_decision(&adam, &decide, &id, "reject", "too late", &[]).await;
        let page = html(&adam, &late).await;
        let refused = element_text(&page, "decision-refused");
        assert!(refused.contains("Olga Owner"), "{refused}");
        assert_eq!(status_of(&db.db, &id).await, "applied");

        // The change page starts from the applied spec and metadata.
        let change = html(&paul, "/servers/ui/uifetch/change").await;
        assert!(
            change.contains("Fetches pages for the search team"),
            "{change}"
        );
        assert!(
            change.contains("API_TOKEN=secret:fetch-keys/token"),
            "{change}"
        );
        assert!(change.contains("data-testid=\"retire-form\""), "{change}");

        // Retiring: an unknown replacement is refused next to that field, on the change page.
        let retire = [
            ("kind", "retire"),
            ("namespace", "ui"),
            ("name", "uifetch"),
            ("replacement", "nowhere/else"),
            ("message", "Use the new fetcher"),
        ];
        let back = post_form(&paul, &action, &retire).await;
        assert!(back.starts_with("/servers/ui/uifetch/change?"), "{back}");
        let page = html(&paul, &back).await;
        assert!(page.contains("data-testid=\"error-replacement\""), "{page}");
        assert!(
            page.contains("Use the new fetcher"),
            "the message is kept: {page}"
        );
        let retire = [
            retire[0],
            retire[1],
            retire[2],
            ("message", "Use the new fetcher"),
        ];
        let landed = post_form(&paul, &action, &retire).await;
        assert!(landed.starts_with("/reviews/"), "{landed}");
        let page = html(&paul, &landed).await;
        assert!(page.contains("retire ui/uifetch"), "{page}");
        assert!(
            page.contains("data-testid=\"retire\"") && page.contains("Use the new fetcher"),
            "the retirement's message shows: {page}"
        );
        assert!(page.contains(">Approved (revision 1)</th>"), "{page}");
        let rows = diff_rows(&page);
        assert!(
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| r.before.0 == "removed" && r.after.0 == "none"),
            "a retired server's manifest is all removed: {rows:#?}"
        );
    }
}

#[tokio::test]
async fn a_change_blocked_by_a_policy_finding_needs_an_admin_and_a_reason_in_the_form() {
    use apiary_server::registry::model::ToolDef;
    use serde_json::json;
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        register(&adam, "policy", "users", "Registered directly").await;
        // The live tools ask for a password: an error-level finding.
        let tools = vec![ToolDef::new(
            "add_user",
            "Adds a user",
            json!({ "type": "object", "properties": { "password": { "type": "string" } },
                    "additionalProperties": false }),
        )];
        support::seed::tools_with_findings(&db.db, "policy", "users", tools).await;

        // Paul proposes a change through the change page, which starts from the current spec.
        let paul = Client::signed_in(&app, "paul").await;
        let server = html(&paul, "/servers/policy/users").await;
        assert!(
            server.contains("href=\"/servers/policy/users/change\""),
            "{server}"
        );
        let change = html(&paul, "/servers/policy/users/change").await;
        assert!(
            change.contains("value=\"http://127.0.0.1:9/mcp\""),
            "{change}"
        );
        let landed = propose_description(&paul, "policy", "users", "Manages user accounts").await;
        let id = landed
            .strip_prefix("/reviews/")
            .expect("a review")
            .to_owned();
        let review = html(&paul, &landed).await;
        assert!(review.contains("data-testid=\"findings\""), "{review}");
        assert!(
            review.contains("Registered directly") && review.contains("Manages user accounts"),
            "before and after: {review}"
        );

        let olga = Client::signed_in(&app, "olga").await;
        let review = html(&olga, &landed).await;
        assert!(review.contains("data-testid=\"blocked\""), "{review}");
        assert!(!review.contains("data-testid=\"approve-form\""), "{review}");
        assert!(review.contains("data-testid=\"reject-form\""), "{review}");

        let review = html(&adam, &landed).await;
        assert!(
            review.contains("data-testid=\"override-reason\""),
            "{review}"
        );
        let decide = form_action(&review, "decide_proposal");
        let back = post_decision(&adam, &decide, &id, "approve", "Fine", &[]).await;
        let page = html(&adam, &back).await;
        assert!(
            page.contains("data-testid=\"error-approve-comment\""),
            "{page}"
        );
        assert_eq!(status_of(&db.db, &id).await, "open");

        let done = post_decision(
            &adam,
            &decide,
            &id,
            "approve",
            "Fine",
            &[(
                "override_reason",
                "Initial passwords only; tracked in SEC-12",
            )],
        )
        .await;
        let page = html(&adam, &done).await;
        assert_eq!(status_of(&db.db, &id).await, "applied", "{page}");
        assert!(page.contains("SEC-12"), "the override shows: {page}");
    }
}

#[tokio::test]
async fn an_updates_review_shows_both_manifests_side_by_side_with_the_changed_line_marked() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        register(&adam, "sbs", "fetcher", "Registered directly").await;
        let paul = Client::signed_in(&app, "paul").await;
        let landed =
            propose_description(&paul, "sbs", "fetcher", "Fetches pages for the search team").await;

        let olga = Client::signed_in(&app, "olga").await;
        let page = html(&olga, &landed).await;
        assert!(
            page.contains(">Approved (revision 1)</th>") && page.contains(">Proposed</th>"),
            "the columns name the base revision: {page}"
        );
        let rows = diff_rows(&page);
        let described = row_with(&rows, "apiary.dev/description:");
        assert_eq!(described.before.0, "removed", "{rows:#?}");
        assert!(
            described
                .before
                .1
                .ends_with("description: Registered directly"),
            "{rows:#?}"
        );
        assert_eq!(described.after.0, "added", "{rows:#?}");
        assert!(
            described
                .after
                .1
                .ends_with("description: Fetches pages for the search team"),
            "{rows:#?}"
        );
        let unchanged = row_with(&rows, "kind: MCPServer");
        assert_eq!(
            (unchanged.before.0.as_str(), unchanged.after.0.as_str()),
            ("same", "same")
        );
        assert_eq!(
            rows.iter().filter(|r| r.before.0 != "same").count(),
            1,
            "only the description changed: {rows:#?}"
        );
        assert!(
            page.contains("removed: </span>") && page.contains("added: </span>"),
            "the change is in words too, not only in colour: {page}"
        );
        assert!(
            !page.contains("data-testid=\"review-drift\""),
            "no drift to show: {page}"
        );
    }
}

#[tokio::test]
async fn a_review_shows_the_servers_pending_schema_drift_and_links_to_its_approval() {
    use apiary_server::registry::diff::diff;
    use apiary_server::registry::model::{FetchedTools, ToolDef};
    use apiary_server::registry::store::SnapshotStore;
    use serde_json::json;
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        register(&adam, "drifting", "tools", "Echoes").await;
        let server_id: String = sqlx::query_scalar(
            "SELECT id FROM servers WHERE namespace = 'drifting' AND name = 'tools'",
        )
        .fetch_one(db.db.pool())
        .await
        .expect("id");
        let schema = json!({ "type": "object", "properties": { "text": { "type": "string" } },
                             "additionalProperties": false });
        let echo = ToolDef::new("echo", "Echoes", schema.clone());
        let extra = ToolDef::new("shout_louder", "Shouts", schema);
        let fetched = |tools: Vec<ToolDef>| FetchedTools {
            server_name: "tools".into(),
            server_version: "1.0.0".into(),
            protocol_version: "2025-06-18".into(),
            capabilities: json!({ "tools": {} }),
            tools,
            latency_ms: 5,
        };
        let snapshots = SnapshotStore::new(db.db.clone());
        snapshots
            .record_fetch(
                &server_id,
                &fetched(vec![echo.clone()]),
                "hash-1",
                &[],
                None,
            )
            .await
            .expect("the baseline");
        let grown = vec![echo.clone(), extra];
        let drift = diff(&[echo], &grown);
        snapshots
            .record_fetch(&server_id, &fetched(grown), "hash-2", &[], Some(drift))
            .await
            .expect("the drift");

        let paul = Client::signed_in(&app, "paul").await;
        let landed = propose_description(&paul, "drifting", "tools", "Echoes and shouts").await;
        let olga = Client::signed_in(&app, "olga").await;
        let page = html(&olga, &landed).await;
        let section = &page[page
            .find("data-testid=\"review-drift\"")
            .unwrap_or_else(|| panic!("the drift section: {page}"))..];
        let section = &section[..section.find("</section>").expect("the section ends")];
        assert!(
            section.contains("Tools added (wait for approval)") && section.contains("shout_louder"),
            "the added tool is listed: {section}"
        );
        assert!(
            section.contains("href=\"/servers/drifting/tools#drift\""),
            "it links to the server page's approval: {section}"
        );
        assert!(
            !section.contains("name=\"snapshot_id\""),
            "approving is on the server page, not here: {section}"
        );
    }
}

#[tokio::test]
async fn every_refused_field_is_reported_at_once_next_to_its_input() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let paul = Client::signed_in(&app, "paul").await;
        let action = form_action(&html(&paul, "/propose").await, "propose_server");
        let mut fields = good_fields();
        fields[1] = ("namespace", "Bad_Namespace");
        fields[4] = ("owner_team", "Search Team");
        fields.push(("docs_url", "not a link"));
        // Two the form itself cannot read, and two the proposal's validation refuses.
        fields.push(("port", "eighty"));
        fields.push(("permission_profile", "everything"));
        let back = post_form(&paul, &action, &fields).await;
        let page = html(&paul, &back).await;
        for field in [
            "namespace",
            "owner_team",
            "docs_url",
            "port",
            "permission_profile",
        ] {
            assert!(
                page.contains(&format!("data-testid=\"error-{field}\"")),
                "{field} has its message: {page}"
            );
            assert!(
                page.contains(&format!("href=\"#{field}\"")),
                "the summary links to {field}: {page}"
            );
        }
        assert!(
            page.contains("id=\"error-summary\" role=\"alert\""),
            "the summary is announced: {page}"
        );
        assert!(
            page.contains("5 problems to fix"),
            "the summary counts them: {page}"
        );
        assert!(
            page.contains("id=\"port\" name=\"port\" value=\"eighty\" aria-invalid=\"true\""),
            "the input is marked invalid: {page}"
        );
        assert_eq!(proposals(&db.db).await, 0, "nothing is stored");
    }
}

#[tokio::test]
async fn ports_permissions_and_resources_from_the_form_reach_the_proposed_spec() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let paul = Client::signed_in(&app, "paul").await;
        let page = html(&paul, "/propose").await;
        for field in ["port", "mcp_port", "permission_profile", "memory_limit"] {
            assert!(
                page.contains(&format!("data-testid=\"field-{field}\"")),
                "the form has {field}: {page}"
            );
        }
        let action = form_action(&page, "propose_server");
        let workload = [
            ("port", "9090"),
            ("permission_profile", "network"),
            ("cpu_request", "100m"),
            ("memory_limit", "256Mi"),
        ];

        // A quantity Kubernetes would refuse is refused next to its field, values kept.
        let mut fields = good_fields();
        fields.extend(workload);
        fields.push(("cpu_limit", "lots"));
        let back = post_form(&paul, &action, &fields).await;
        let page = html(&paul, &back).await;
        assert!(page.contains("data-testid=\"error-cpu_limit\""), "{page}");
        assert!(page.contains("value=\"lots\""), "{page}");
        assert!(page.contains("value=\"9090\""), "{page}");
        let mut fields = good_fields();
        fields.push(("port", "eighty"));
        let page = html(&paul, &post_form(&paul, &action, &fields).await).await;
        assert!(page.contains("data-testid=\"error-port\""), "{page}");
        assert_eq!(proposals(&db.db).await, 0, "nothing is stored");

        let mut fields = good_fields();
        fields.extend(workload);
        let back = post_form(&paul, &action, &fields).await;
        assert!(back.starts_with("/reviews/"), "{back}");
        let spec: String = sqlx::query_scalar("SELECT spec FROM proposals")
            .fetch_one(db.db.pool())
            .await
            .expect("the proposal");
        let spec: serde_json::Value = serde_json::from_str(&spec).expect("JSON");
        assert_eq!(spec["proxyPort"], 9090, "{spec}");
        assert_eq!(
            spec["permissionProfile"],
            serde_json::json!({ "type": "builtin", "name": "network" })
        );
        assert_eq!(
            spec["resources"],
            serde_json::json!({ "requests": { "cpu": "100m" }, "limits": { "memory": "256Mi" } })
        );
    }
}

/// Local mode has one person: from the empty catalog, through the propose form, to approving
/// their own proposal with the required comment, all as plain form posts; the pages say so
/// and the decision shows as a self-approval.
#[tokio::test]
async fn in_local_mode_the_empty_catalog_leads_to_the_form_and_the_admin_self_approves_with_a_comment(
) {
    for db in support::all_backends().await {
        let admin = Client::at(&support::serve(&db.db).await);
        let catalog = html(&admin, "/").await;
        let empty = element_text(&catalog, "empty-state");
        assert!(empty.contains("No servers yet"), "{empty}");
        assert!(
            catalog.contains("data-testid=\"propose-first\"") && !catalog.contains("PUT /api"),
            "the empty catalog leads to the form, not to the API: {catalog}"
        );

        let form = html(&admin, "/propose").await;
        assert!(
            form.contains("Local mode: you are the only person"),
            "the form says the admin approves it themselves: {form}"
        );
        let action = form_action(&form, "propose_server");
        let fields = [
            ("kind", "create"),
            ("namespace", "solo"),
            ("name", "fetch"),
            ("description", "Fetches pages"),
            ("owner_team", "search"),
            ("source", "http://127.0.0.1:9/mcp"),
            ("transport", "streamable-http"),
        ];
        let landed = post_form(&admin, &action, &fields).await;
        let id = landed
            .strip_prefix("/reviews/")
            .unwrap_or_else(|| panic!("a good post lands on its review: {landed}"))
            .to_owned();

        let queue = html(&admin, "/reviews").await;
        assert!(
            queue.contains("yours: approve it yourself (local mode)"),
            "{queue}"
        );
        let review = html(&admin, &landed).await;
        assert!(
            review.contains("data-testid=\"self-approval-note\"")
                && !review.contains("data-testid=\"cannot-approve\""),
            "{review}"
        );
        assert!(review.contains("waiting for your decision"), "{review}");
        assert!(review.contains("data-testid=\"approve-form\""), "{review}");
        let decide = form_action(&review, "decide_proposal");

        let back = post_decision(&admin, &decide, &id, "approve", "  ", &[]).await;
        let page = html(&admin, &back).await;
        assert!(
            page.contains("data-testid=\"error-approve-comment\""),
            "a self-approval needs a comment: {page}"
        );
        assert_eq!(status_of(&db.db, &id).await, "open");

        let done = post_decision(&admin, &decide, &id, "approve", "Trying it out alone", &[]).await;
        let page = html(&admin, &done).await;
        assert_eq!(status_of(&db.db, &id).await, "applied", "{page}");
        let decision = element_text(&page, "decision");
        assert!(
            decision.contains("Self-approved in local mode")
                && decision.contains("Trying it out alone"),
            "{decision}"
        );
        let audit = html(&admin, "/admin/audit").await;
        assert!(audit.contains("proposal.self_approved"), "{audit}");
    }
}
