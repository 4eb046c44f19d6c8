//! The audit log at `/admin/audit`: every change shows with actor, action, target and hashes,
//! filters narrow it, and it downloads as CSV or JSON lines; only admins may read it.

mod support;

use support::http::without_markers;

use serde_json::{json, Value};

use support::oidc::Options;
use support::proposals::{decide, propose};
use support::signed_in::{self, Client};

async fn changes(http: &reqwest::Client, base: &str) {
    for id in ["audit/one", "audit/two"] {
        let registered = http
            .put(format!("{base}/api/v1/servers/{id}"))
            .json(&json!({ "ownerTeam": "search", "spec": { "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp" } }))
            .send()
            .await
            .expect("register");
        assert!(registered.status().is_success());
    }
    let curated = http
        .put(format!("{base}/api/v1/servers/audit/one/curation"))
        .json(&json!({ "hidden": ["x"] }))
        .send()
        .await
        .expect("curate");
    assert_eq!(curated.status(), 200);
    let access = http
        .put(format!("{base}/api/v1/servers/audit/two/access"))
        .json(&json!({ "teams": ["search"] }))
        .send()
        .await
        .expect("access");
    assert_eq!(access.status(), 200);
}

/// The body of `GET url` as text.
async fn text(http: &reqwest::Client, url: &str) -> String {
    http.get(url)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text")
}

fn rows(html: &str) -> usize {
    html.matches("data-testid=\"audit-row\"").count()
}

#[tokio::test]
async fn changes_show_filter_and_export() {
    for db in support::all_backends().await {
        let base = support::serve(&db.db).await;
        let http = reqwest::Client::new();
        let empty = http
            .get(format!("{base}/admin/audit"))
            .send()
            .await
            .expect("page");
        assert!(empty
            .text()
            .await
            .map(|html| without_markers(&html))
            .expect("HTML")
            .contains("No entries"));
        changes(&http, &base).await;

        let page = text(&http, &format!("{base}/admin/audit")).await;
        assert_eq!(
            rows(&page),
            4,
            "two registrations, a curation and an access change"
        );
        for action in ["server.register", "server.curate", "server.access"] {
            assert!(page.contains(action), "{action} is listed");
        }
        let curations = text(&http, &format!("{base}/admin/audit?action=server.curate")).await;
        assert_eq!(rows(&curations), 1, "filtered by action");
        let two = text(&http, &format!("{base}/admin/audit?target=audit%2Ftwo")).await;
        assert_eq!(rows(&two), 2, "filtered by target");

        let csv_text = http
            .get(format!(
                "{base}/api/v1/audit/export?format=csv&target=audit%2Fone"
            ))
            .send()
            .await
            .expect("csv");
        assert!(csv_text
            .headers()
            .get("content-disposition")
            .is_some_and(|v| v.to_str().unwrap_or_default().contains("apiary-audit.csv")));
        let body = csv_text.text().await.expect("text");
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let header = reader.headers().expect("header").clone();
        assert_eq!(
            header.iter().collect::<Vec<_>>(),
            [
                "at",
                "time",
                "actor",
                "actor_name",
                "action",
                "target",
                "before_hash",
                "after_hash",
                "comment"
            ]
        );
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(records.len(), 2, "{body}");
        assert_eq!(&records[0][4], "server.curate", "newest first");
        assert_eq!(&records[0][2], "local-admin");
        assert_eq!(&records[0][3], "local admin");
        assert!(!records[0][7].is_empty(), "an after hash");

        let jsonl = text(&http, &format!("{base}/api/v1/audit/export?format=jsonl")).await;
        let lines: Vec<Value> = jsonl
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["action"], "server.access");

        let bad = http
            .get(format!("{base}/api/v1/audit/export?format=xml"))
            .send()
            .await
            .expect("bad");
        assert_eq!(bad.status(), 422);
        let answer: Value = bad.json().await.expect("JSON");
        assert_eq!(answer["field"], "format", "{answer}");
    }
}

#[tokio::test]
async fn only_admins_read_the_audit_log() {
    let db = support::sqlite().await;
    let Some(app) = signed_in::start(&db).await else {
        return;
    };
    let admin = Client::signed_in(&app, "adam").await;
    changes(&admin.http, &app.url).await;
    let olga = Client::signed_in(&app, "olga").await;
    let refused = olga
        .http
        .get(format!("{}/api/v1/audit/export?format=jsonl", app.url))
        .send()
        .await
        .expect("export");
    assert_eq!(refused.status(), 403);
    let refused_page = olga
        .http
        .get(format!("{}/admin/audit", app.url))
        .header(reqwest::header::ACCEPT, "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(
        refused_page.status(),
        403,
        "a page load is refused with 403"
    );
    let page = refused_page.text().await.expect("text");
    assert!(
        page.contains("may not read the audit log"),
        "the page says why"
    );
    assert_eq!(rows(&page), 0);
    assert!(
        !page.contains("href=\"/admin/audit\""),
        "no link for a non-admin"
    );

    let allowed = text(&admin.http, &format!("{}/admin/audit", app.url)).await;
    assert_eq!(rows(&allowed), 4);
    assert!(
        allowed.contains("href=\"/admin/audit\""),
        "the header links to it"
    );
    assert!(
        allowed.contains(&app.provider.issuer),
        "the actor is adam's subject at the provider"
    );
}

#[tokio::test]
async fn people_with_opaque_subjects_are_named_in_the_audit_log_and_on_proposals() {
    let db = support::sqlite().await;
    let options = Options {
        opaque_subjects: true,
        ..Options::default()
    };
    let Some(app) = signed_in::start_with(&db, options).await else {
        return;
    };
    let subject = |sub: String| format!("{}#{sub}", app.provider.issuer);
    let adam_sub = subject(app.provider.subject_of("adam").await);
    let paul_sub = subject(app.provider.subject_of("paul").await);
    let olga_sub = subject(app.provider.subject_of("olga").await);
    assert!(
        !adam_sub.ends_with("#adam"),
        "an opaque subject: {adam_sub}"
    );

    let adam = Client::signed_in(&app, "adam").await;
    changes(&adam.http, &app.url).await;
    let paul = Client::signed_in(&app, "paul").await;
    let proposal = propose(
        &paul,
        &json!({
            "kind": "create", "namespace": "named", "name": "one",
            "description": "A server under review", "ownerTeam": "search",
            "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" },
        }),
    )
    .await;
    assert_eq!(proposal["authorName"], "Paul Proposer", "{proposal}");
    let olga = Client::signed_in(&app, "olga").await;
    let (status, rejected) = decide(&olga, &proposal, "reject", json!({})).await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["decision"]["byName"], "Olga Owner", "{rejected}");

    let jsonl = text(
        &adam.http,
        &format!("{}/api/v1/audit/export?format=jsonl", app.url),
    )
    .await;
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let named = |action: &str| {
        lines
            .iter()
            .find(|line| line["action"] == action)
            .map(|line| (line["actor"].clone(), line["actorName"].clone()))
            .unwrap_or_else(|| panic!("no {action} in {jsonl}"))
    };
    assert_eq!(
        named("server.register"),
        (json!(adam_sub), json!("Adam Admin"))
    );
    assert_eq!(
        named("proposal.proposed"),
        (json!(paul_sub), json!("Paul Proposer"))
    );
    assert_eq!(
        named("proposal.rejected"),
        (json!(olga_sub), json!("Olga Owner"))
    );

    let csv_text = text(
        &adam.http,
        &format!(
            "{}/api/v1/audit/export?format=csv&action=proposal.proposed",
            app.url
        ),
    )
    .await;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let record = reader
        .records()
        .next()
        .expect("one row")
        .expect("a CSV row");
    assert_eq!(
        (&record[2], &record[3]),
        (paul_sub.as_str(), "Paul Proposer")
    );

    let page = text(&adam.http, &format!("{}/admin/audit", app.url)).await;
    assert!(
        page.contains("Paul Proposer"),
        "the console names the person"
    );
    assert!(page.contains("Adam Admin"), "the console names the person");
}
