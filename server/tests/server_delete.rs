//! Deleting a server removes it from the registry: its process stops, it leaves the registry
//! API and the catalog, its curation goes with it, and the audit log and revisions keep the
//! history.

mod support;

use serde_json::{json, Value};

use support::gateway::{refresh, register_spec};
use support::mcp_servers::TESTMCP;
use support::registry;

#[tokio::test]
async fn a_deleted_server_stops_and_leaves_the_registry() {
    for db in support::all_backends().await {
        let base = support::serve(&db.db).await;
        let http = reqwest::Client::new();
        let tools = tempfile::NamedTempFile::new().expect("tools");
        std::fs::write(
            tools.path(),
            json!([{ "name": "echo", "inputSchema": { "type": "object" } }]).to_string(),
        )
        .expect("write");
        register_spec(
            &http,
            &base,
            "gone/soon",
            json!({ "command": TESTMCP, "args": ["--tools", tools.path()], "transport": "stdio" }),
        )
        .await;
        refresh(&http, &base, "gone/soon").await;
        let curated = http
            .put(format!("{base}/api/v1/servers/gone/soon/curation"))
            .json(&json!({ "hidden": ["echo"] }))
            .send()
            .await
            .expect("curate");
        assert_eq!(curated.status(), 200);
        let running: Value = http
            .get(format!("{base}/api/v1/servers/gone/soon/runtime"))
            .send()
            .await
            .expect("runtime")
            .json()
            .await
            .expect("JSON");
        assert!(running["pid"].is_u64(), "{running}");

        let deleted = http
            .delete(format!("{base}/api/v1/servers/gone/soon"))
            .send()
            .await
            .expect("delete");
        assert_eq!(deleted.status(), 204);

        let list = registry::servers(&http, &base).await;
        assert_eq!(list["servers"], json!([]), "{list}");
        let page = http
            .get(format!("{base}/servers/gone/soon"))
            .send()
            .await
            .expect("page");
        assert_eq!(page.status(), 404);
        let runtime = http
            .get(format!("{base}/api/v1/servers/gone/soon/runtime"))
            .send()
            .await
            .expect("runtime");
        assert_eq!(
            runtime.status(),
            404,
            "the process is gone from the runtime"
        );
        let curations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tool_curations")
            .fetch_one(db.db.pool())
            .await
            .expect("count");
        assert_eq!(curations, 0, "the curation went with it");
        let revisions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM server_revisions WHERE namespace = 'gone' AND name = 'soon'",
        )
        .fetch_one(db.db.pool())
        .await
        .expect("count");
        assert_eq!(revisions, 1, "history stays");
        let audit = http
            .get(format!(
                "{base}/api/v1/audit/export?format=jsonl&action=server.delete"
            ))
            .send()
            .await
            .expect("audit")
            .text()
            .await
            .expect("text");
        assert_eq!(audit.lines().count(), 1, "{audit}");

        let again = http
            .delete(format!("{base}/api/v1/servers/gone/soon"))
            .send()
            .await
            .expect("delete");
        assert_eq!(again.status(), 404);
    }
}
