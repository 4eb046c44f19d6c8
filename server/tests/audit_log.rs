//! The audit log at `/admin/audit`: every change shows with actor, action, target and hashes,
//! filters narrow it, and it downloads as CSV or JSON lines; only admins may read it.

mod support;

use serde_json::{json, Value};

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
        assert!(empty.text().await.expect("HTML").contains("No entries"));
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
                "action",
                "target",
                "before_hash",
                "after_hash",
                "comment"
            ]
        );
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(records.len(), 2, "{body}");
        assert_eq!(&records[0][3], "server.curate", "newest first");
        assert_eq!(&records[0][2], "local-admin");
        assert!(!records[0][6].is_empty(), "an after hash");

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
    let page = text(&olga.http, &format!("{}/admin/audit", app.url)).await;
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
