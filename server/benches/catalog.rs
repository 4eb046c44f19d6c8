//! Server time to render the catalog (`/`) with 1,000 servers in SQLite, 20 tools each:
//! the first page, a text search that reaches into tool descriptions, and two facets, beside
//! `/healthz` through the same router as the anchor (the cost of the HTTP stack itself).
//! The router runs in-process (`oneshot`), so the numbers exclude the network.
//!
//! The catalog keeps its list of servers while the fleet stands still (`db::changes`), so
//! back-to-back requests mostly reuse it. Two cases write before each request (untimed):
//! `first_page_after_a_health_sample` records one server's health, so every request reads the
//! health of every server again (as the first request after any sample, or after a quiet
//! second, does), and `first_page_after_a_write` changes one server's row, so every request
//! reads the whole list again (as the first request after a metadata change does).
//!
//! Run: `cargo bench -p apiary-server --bench catalog`

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use axum::http::StatusCode;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::json;

use support::http::{request, send};
use support::seed::{self, Meta};

/// How many servers the catalog holds.
const SERVERS: usize = 1_000;

async fn seed_fleet(db: &apiary_server::db::Db) {
    for i in 0..SERVERS {
        let meta = Meta {
            description: format!(
                "Fleet server {i}: reads and writes records of system {}",
                i % 37
            ),
            owner_team: format!("team-{}", i % 20),
            category: format!("category-{}", i % 10),
            cost_class: ["free", "metered", "premium"][i % 3].into(),
            sensitivity: ["public", "internal", "confidential"][i % 3].into(),
            published: true,
        };
        let id = seed::server(
            db,
            &format!("ns-{}", i % 25),
            &format!("server-{i:04}"),
            meta,
        )
        .await;
        let tools = (0..20)
            .map(|t| {
                seed::tool(
                    &format!("tool_{t}_of_{i}"),
                    &format!("Operation {t} of server {i}; forecast {}", i % 50),
                    json!({
                        "type": "object",
                        "required": ["id"],
                        "properties": {
                            "id": { "type": "string", "description": "The record id" },
                            "limit": { "type": "integer", "minimum": 1, "maximum": 100 },
                            "order": { "type": "string", "enum": ["asc", "desc"] }
                        }
                    }),
                )
            })
            .collect();
        seed::tools(db, &id, tools).await;
        seed::health(db, &id, i % 17 != 0, 50 + (i as u64 * 37) % 1_400).await;
    }
}

/// A write that changes nothing the page shows but moves the fleet's change number.
async fn touch_one_server(db: &apiary_server::db::Db) {
    sqlx::query("UPDATE servers SET updated_at = updated_at WHERE name = 'server-0000'")
        .execute(db.pool())
        .await
        .expect("touch a server");
}

/// A health sample for one server: moves the fleet's activity number only.
async fn sample_one_server(db: &apiary_server::db::Db) {
    let id: String = sqlx::query_scalar("SELECT id FROM servers WHERE name = 'server-0000'")
        .fetch_one(db.pool())
        .await
        .expect("a server");
    seed::health(db, &id, true, 120).await;
}

fn catalog(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (test_db, app) = runtime.block_on(async {
        let test_db = support::sqlite().await;
        seed_fleet(&test_db.db).await;
        let app = support::app(&test_db.db);
        (test_db, app)
    });
    let mut group = c.benchmark_group(format!("catalog_{SERVERS}_servers"));
    group.measurement_time(Duration::from_secs(10));
    for (name, uri) in [
        ("anchor_healthz", "/healthz"),
        ("first_page", "/"),
        ("text_search_in_tools", "/?q=forecast+7"),
        (
            "two_facets_page_2",
            "/?category=category-3&sensitivity=internal&page=2",
        ),
    ] {
        let (status, html) = runtime.block_on(send(&app, request("GET", uri, None)));
        assert_eq!(status, StatusCode::OK, "{uri}");
        eprintln!("{name}: {uri} renders {} bytes of HTML", html.len());
        group.bench_function(name, |b| {
            b.iter(|| runtime.block_on(send(&app, request("GET", uri, None))));
        });
    }
    let db = test_db.db.clone();
    group.bench_function("first_page_after_a_health_sample", |b| {
        b.iter_batched(
            || runtime.block_on(sample_one_server(&db)),
            |()| runtime.block_on(send(&app, request("GET", "/", None))),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("first_page_after_a_write", |b| {
        b.iter_batched(
            || runtime.block_on(touch_one_server(&db)),
            |()| runtime.block_on(send(&app, request("GET", "/", None))),
            BatchSize::PerIteration,
        );
    });
    group.finish();
    drop(test_db);
}

criterion_group!(benches, catalog);
criterion_main!(benches);
