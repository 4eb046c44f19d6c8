//! Repeated requests reuse their prepared statements. Each database connection keeps the
//! statements it prepared (sqlx caches up to 100 per connection; on SQLite each of these
//! queries took 10 to 40 KB, on PostgreSQL the server keeps them); a query whose SQL text
//! changed with the clock was prepared anew on every request, so Apiary's memory grew for as
//! long as it served the registry, the catalog and the gateway (issue #20).
//!
//! Measured on PostgreSQL, which lists each connection's prepared statements
//! (`pg_prepared_statements`); sqlx's `Any` driver reports no statement count for SQLite. The
//! SQL is the same text on both.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use apiary_server::db::Db;
use support::http::{request, send};
use support::seed::{self, Meta};

/// The statements prepared on all of the pool's connections (each connection lists its own).
async fn prepared_statements(db: &Db) -> Vec<String> {
    let max = db.pool().options().get_max_connections();
    let mut held = Vec::new();
    let mut all = Vec::new();
    for _ in 0..max {
        let mut connection = db.pool().acquire().await.expect("a pooled connection");
        let rows: Vec<(String,)> = sqlx::query_as("SELECT statement FROM pg_prepared_statements")
            .persistent(false)
            .fetch_all(&mut *connection)
            .await
            .expect("list prepared statements");
        all.extend(rows.into_iter().map(|(statement,)| statement));
        held.push(connection);
    }
    all
}

#[tokio::test]
async fn the_registry_and_the_catalog_prepare_their_queries_once_per_connection() {
    let Some(test_db) = support::postgres().await else {
        eprintln!("skipped: no PostgreSQL (APIARY_TEST_POSTGRES_URL) to count statements on");
        return;
    };
    let db = &test_db.db;
    let meta = Meta {
        description: "Looks things up".into(),
        owner_team: "search".into(),
        published: true,
        ..Meta::default()
    };
    let id = seed::server(db, "team", "lookup", meta).await;
    let tool = seed::tool("find", "Finds a record", json!({ "type": "object" }));
    seed::tools(db, &id, vec![tool]).await;
    seed::health(db, &id, true, 12).await;
    let app = support::app(db);

    let round = || {
        let app = app.clone();
        async move {
            for uri in ["/v0.1/servers?limit=10", "/"] {
                let (status, body) = send(&app, request("GET", uri, None)).await;
                assert_eq!(status, StatusCode::OK, "{uri}: {body}");
                assert!(body.contains("lookup"), "{uri} lists the server: {body}");
            }
            // The clock moves between requests, as it does between real ones.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    };
    for _ in 0..10 {
        round().await;
    }
    let warm = prepared_statements(db).await;
    for _ in 0..20 {
        round().await;
    }
    let after = prepared_statements(db).await;
    // A connection the warm-up did not use prepares the same texts again; a new text is a
    // statement that will be prepared on every request.
    let new: Vec<&String> = after.iter().filter(|s| !warm.contains(s)).collect();
    assert!(
        new.is_empty(),
        "20 more rounds of the same two requests prepared {} statements of new text; a query's \
         text must not change between requests (bind the values). The newest: {:.600}",
        new.len(),
        new.last().map(|s| s.as_str()).unwrap_or_default(),
    );
}
