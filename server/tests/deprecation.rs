//! Deprecation by the owners of a server's team: the message and the replacement show on the
//! catalog card and in the registry API until the server is reinstated; bad input names the
//! field and changes nothing.

mod support;

use support::http::without_markers;

use serde_json::{json, Value};

use support::registry;
use support::signed_in::{self, Client, SignedInApp};

async fn register(admin: &Client, app: &SignedInApp, id: &str) {
    let registered = admin
        .http
        .put(format!("{}/api/v1/servers/{id}", app.url))
        .json(&json!({ "ownerTeam": "search", "published": true,
            "spec": { "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp" } }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success());
}

async fn deprecate(client: &Client, app: &SignedInApp, body: Value) -> (u16, Value) {
    let response = client
        .http
        .put(format!("{}/api/v1/servers/old/osv/deprecation", app.url))
        .json(&body)
        .send()
        .await
        .expect("deprecate");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn registry_entry(client: &Client, app: &SignedInApp) -> Value {
    let list = registry::servers(&client.http, &app.url).await;
    registry::entry(&list, "old/osv").clone()
}

#[tokio::test]
async fn owners_deprecate_with_a_message_and_a_replacement() {
    for db in support::all_backends().await {
        let Some(app) = signed_in::start(&db).await else {
            return;
        };
        let adam = Client::signed_in(&app, "adam").await;
        register(&adam, &app, "old/osv").await;
        register(&adam, &app, "new/osv").await;
        let olga = Client::signed_in(&app, "olga").await;
        let otto = Client::signed_in(&app, "otto").await;

        let message = "Use new/osv: it covers PyPI too";
        let (status, _) = deprecate(&otto, &app, json!({ "message": message })).await;
        assert_eq!(status, 403, "not otto's team");
        let (status, answer) = deprecate(&olga, &app, json!({ "message": " " })).await;
        assert_eq!((status, answer["field"].clone()), (422, json!("message")));
        let (status, answer) = deprecate(
            &olga,
            &app,
            json!({ "message": message, "replacement": "nowhere/x" }),
        )
        .await;
        assert_eq!(
            (status, answer["field"].clone()),
            (422, json!("replacement")),
            "{answer}"
        );
        let (status, answer) = deprecate(
            &olga,
            &app,
            json!({ "message": message, "replacement": "old/osv" }),
        )
        .await;
        assert_eq!(
            (status, answer["field"].clone()),
            (422, json!("replacement")),
            "not itself"
        );
        let entry = registry_entry(&olga, &app).await;
        assert_eq!(
            entry["_meta"]["io.modelcontextprotocol.registry/official"]["status"], "active",
            "{entry}"
        );

        let (status, answer) = deprecate(
            &olga,
            &app,
            json!({ "message": message, "replacement": "new/osv" }),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let entry = registry_entry(&olga, &app).await;
        assert_eq!(
            entry["_meta"]["io.modelcontextprotocol.registry/official"]["status"], "deprecated",
            "{entry}"
        );
        let apiary = &entry["_meta"]["dev.apiary/server"];
        assert_eq!(apiary["replacement"], "new/osv");
        assert_eq!(apiary["lifecycleMessage"], message);

        let catalog = olga
            .page("/?q=old")
            .await
            .text()
            .await
            .map(|html| without_markers(&html))
            .expect("HTML");
        assert!(
            catalog.contains("data-testid=\"lifecycle-message\""),
            "the card shows the message"
        );
        assert!(catalog.contains(message));
        assert!(
            catalog.contains("href=\"/servers/new/osv\""),
            "and links the replacement"
        );

        let reinstated = olga
            .http
            .delete(format!("{}/api/v1/servers/old/osv/deprecation", app.url))
            .send()
            .await
            .expect("reinstate");
        assert_eq!(reinstated.status(), 200);
        let entry = registry_entry(&olga, &app).await;
        assert_eq!(
            entry["_meta"]["io.modelcontextprotocol.registry/official"]["status"],
            "active"
        );
        assert_eq!(entry["_meta"]["dev.apiary/server"]["lifecycleMessage"], "");
        let audit = adam
            .http
            .get(format!(
                "{}/api/v1/audit/export?format=jsonl&target=old%2Fosv",
                app.url
            ))
            .send()
            .await
            .expect("audit")
            .text()
            .await
            .expect("text");
        assert!(
            audit.contains("server.deprecate") && audit.contains("server.reinstate"),
            "{audit}"
        );
    }
}
