//! The console's proposal pages without JavaScript, as the real signed-in users of the test
//! provider: a refused form post comes back with the field's message and the values kept and
//! stores nothing; a good one lands on its review page; the author sees they cannot approve;
//! a reject needs a comment; an owner approves through the form and the server is published.

mod support;

use reqwest::header::{ACCEPT, ORIGIN};
use reqwest::StatusCode;
use support::signed_in::{self, location, Client, SignedInApp};

async fn signed_in_as(app: &SignedInApp, user: &str) -> Client {
    let client = Client::new(app);
    client.sign_in_as(user).await;
    client
}

/// The HTML of `path`, which must answer 200.
async fn html(client: &Client, path: &str) -> String {
    let response = client.page(path).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.text().await.expect("HTML")
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

/// The markup of the element with `data-testid="{id}"`, up to its first closing tag.
fn element_text<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("data-testid=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} in {html}"));
    let end = start + html[start..].find("</").expect("a closing tag");
    &html[start..end]
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
        let paul = signed_in_as(&app, "paul").await;
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
        let paul = signed_in_as(&app, "paul").await;
        let header = html(&paul, "/propose").await;
        assert!(header.contains("href=\"/propose\""), "{header}");
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
            mine.contains("Fetches pages for the search team"),
            "the diff shows: {mine}"
        );
        assert!(html(&paul, "/reviews")
            .await
            .contains(&format!("/reviews/{id}")));

        // Otto owns team data: the proposal is not in his queue, and his post is refused.
        let otto = signed_in_as(&app, "otto").await;
        assert!(html(&otto, "/reviews").await.contains("Nothing to review"));

        let olga = signed_in_as(&app, "olga").await;
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

        let refused = post_form(
            &otto,
            &decide,
            &[
                ("id", &id),
                ("decision", "approve"),
                ("comment", "mine now"),
                ("version", "1"),
            ],
        )
        .await;
        let page = html(&otto, &refused).await;
        assert!(page.contains("data-testid=\"decision-refused\""), "{page}");
        assert_eq!(status_of(&db.db, &id).await, "open");

        // A reject without a comment is refused next to the comment.
        let back = post_form(
            &olga,
            &decide,
            &[
                ("id", &id),
                ("decision", "reject"),
                ("comment", "  "),
                ("version", "1"),
            ],
        )
        .await;
        let page = html(&olga, &back).await;
        assert!(
            page.contains("data-testid=\"error-reject-comment\""),
            "{page}"
        );
        assert_eq!(status_of(&db.db, &id).await, "open");

        let done = post_form(
            &olga,
            &decide,
            &[
                ("id", &id),
                ("decision", "approve"),
                ("comment", "Looks right"),
                ("version", "1"),
            ],
        )
        .await;
        assert!(done.starts_with(&landed), "{done}");
        let page = html(&olga, &done).await;
        assert_eq!(status_of(&db.db, &id).await, "applied", "{page}");
        assert!(page.contains("Approved and applied."), "{page}");
        assert!(page.contains("Looks right"), "{page}");
        assert!(!page.contains("data-testid=\"approve-form\""), "{page}");

        let listed = html(&paul, "/v0.1/servers?search=uifetch").await;
        assert!(listed.contains("uifetch"), "published: {listed}");

        // A second decision finds it decided, and says by whom.
        let adam = signed_in_as(&app, "adam").await;
        let late = post_form(
            &adam,
            &decide,
            &[
                ("id", &id),
                ("decision", "reject"),
                ("comment", "too late"),
                ("version", "1"),
            ],
        )
        .await;
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
    }
}

#[tokio::test]
async fn a_change_blocked_by_a_policy_finding_needs_an_admin_and_a_reason_in_the_form() {
    use apiary_server::registry::model::{FetchedTools, ToolDef};
    use apiary_server::registry::policy::{check, Policy};
    use apiary_server::registry::store::SnapshotStore;
    use serde_json::json;
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = signed_in_as(&app, "adam").await;
        let registered = adam
            .http
            .put(format!("{}/api/v1/servers/policy/users", adam.base))
            .header(ORIGIN, &adam.base)
            .json(&json!({ "description": "Registered directly", "ownerTeam": "search",
                           "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" } }))
            .send()
            .await
            .expect("register");
        assert!(registered.status().is_success());
        // The live tools ask for a password: an error-level finding.
        let tools = vec![ToolDef::new(
            "add_user",
            "Adds a user",
            json!({ "type": "object", "properties": { "password": { "type": "string" } },
                    "additionalProperties": false }),
        )];
        let findings = check(&Policy::default(), &tools);
        let server_id: String = sqlx::query_scalar(
            "SELECT id FROM servers WHERE namespace = 'policy' AND name = 'users'",
        )
        .fetch_one(db.db.pool())
        .await
        .expect("id");
        let fetched = FetchedTools {
            server_name: "users".into(),
            server_version: "1.0.0".into(),
            protocol_version: "2025-06-18".into(),
            capabilities: json!({ "tools": {} }),
            tools,
            latency_ms: 5,
        };
        SnapshotStore::new(db.db.clone())
            .record_fetch(&server_id, &fetched, "hash-1", &findings, None)
            .await
            .expect("record the snapshot");

        // Paul proposes a change through the change page, which starts from the current spec.
        let paul = signed_in_as(&app, "paul").await;
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
        let action = form_action(&change, "propose_server");
        let landed = post_form(
            &paul,
            &action,
            &[
                ("kind", "update"),
                ("namespace", "policy"),
                ("name", "users"),
                ("description", "Manages user accounts"),
                ("owner_team", "search"),
                ("source", "http://127.0.0.1:9/mcp"),
                ("transport", "streamable-http"),
            ],
        )
        .await;
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

        let olga = signed_in_as(&app, "olga").await;
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
        let back = post_form(
            &adam,
            &decide,
            &[
                ("id", &id),
                ("decision", "approve"),
                ("comment", "Fine"),
                ("version", "1"),
            ],
        )
        .await;
        let page = html(&adam, &back).await;
        assert!(
            page.contains("data-testid=\"error-approve-comment\""),
            "{page}"
        );
        assert_eq!(status_of(&db.db, &id).await, "open");

        let done = post_form(
            &adam,
            &decide,
            &[
                ("id", &id),
                ("decision", "approve"),
                ("comment", "Fine"),
                ("version", "1"),
                (
                    "override_reason",
                    "Initial passwords only; tracked in SEC-12",
                ),
            ],
        )
        .await;
        let page = html(&adam, &done).await;
        assert_eq!(status_of(&db.db, &id).await, "applied", "{page}");
        assert!(page.contains("SEC-12"), "the override shows: {page}");
    }
}
