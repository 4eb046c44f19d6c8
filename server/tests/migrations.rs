//! The same migrations apply to SQLite and PostgreSQL, and the data layer works on both.

mod support;

use apiary_server::console::catalog::Catalog;
use apiary_server::db::Backend;
use apiary_server::servers::{ServerRegistration, ServerStore};
use serde_json::json;

fn registration(description: &str) -> ServerRegistration {
    ServerRegistration {
        description: description.into(),
        owner_team: "platform".into(),
        spec: json!({ "image": "npx://@modelcontextprotocol/server-everything", "transport": "stdio" }),
        published: true,
        ..ServerRegistration::default()
    }
}

#[tokio::test]
async fn migrations_apply_to_every_backend_and_are_idempotent() {
    let dbs = support::all_backends().await;
    let mut seen = Vec::new();
    for test_db in &dbs {
        let db = &test_db.db;
        seen.push(db.backend());
        // A second run finds nothing to do.
        db.migrate()
            .await
            .expect("re-running migrations is a no-op");
        let store = ServerStore::new(db.clone());
        let catalog = Catalog::new(db.clone());
        assert!(catalog.list().await.expect("list").is_empty());

        assert!(store
            .register("team-a", "search", &registration("first"), "tester")
            .await
            .expect("create"));
        assert!(!store
            .register("team-a", "search", &registration("second"), "tester")
            .await
            .expect("update"));
        store
            .register("team-a", "alpha", &registration("other"), "tester")
            .await
            .expect("create");

        let listed = catalog.list().await.expect("list");
        let names: Vec<_> = listed.iter().map(|s| s.id()).collect();
        assert_eq!(
            names,
            ["team-a/alpha", "team-a/search"],
            "sorted by namespace and name"
        );
        assert_eq!(
            listed[1].description, "second",
            "the update replaced the record"
        );

        let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
            .fetch_one(db.pool())
            .await
            .expect("count audit events");
        assert_eq!(audit, 3, "every write is audited");
    }
    if std::env::var("APIARY_REQUIRE_POSTGRES").is_ok() {
        assert_eq!(seen, [Backend::Sqlite, Backend::Postgres]);
    }
}

#[tokio::test]
async fn an_invalid_registration_names_the_field_and_stores_nothing() {
    for test_db in support::all_backends().await {
        let store = ServerStore::new(test_db.db.clone());
        let catalog = Catalog::new(test_db.db.clone());
        let mut bad = registration("x");
        bad.spec = json!({ "image": "ghcr.io/x/y", "transport": "carrier-pigeon" });
        let error = store
            .register("team-a", "search", &bad, "tester")
            .await
            .expect_err("invalid");
        assert!(error.to_string().contains("spec.transport"), "{error}");
        let error = store
            .register("Team_A", "search", &registration("x"), "tester")
            .await
            .expect_err("invalid");
        assert!(error.to_string().starts_with("namespace:"), "{error}");
        assert!(
            catalog.list().await.expect("list").is_empty(),
            "nothing was stored"
        );
    }
}
