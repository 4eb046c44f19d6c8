//! The fleet's change number (`db::changes`), which lets the registry's pages and the
//! catalog be answered again while nothing they show changed: every write to a table they
//! read moves it, whoever writes (here: plain SQL, as another replica or an operator with a
//! SQL shell would), and the answers follow such a write on the very next read.

mod support;

use apiary_server::db::changes::{version, FleetVersion};
use apiary_server::db::{Backend, Db};
use apiary_server::servers::{ServerRegistration, ServerStore};
use serde_json::{json, Value};
use support::http::{request, send, without_markers};

/// Which of the fleet's change numbers a write moves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Moves {
    Metadata,
    Activity,
    /// Metadata, and activity too where the delete takes samples with it (PostgreSQL runs a
    /// cascade's statement triggers even when it deletes no row).
    MetadataWithSamples,
}
use Moves::{Activity, Metadata, MetadataWithSamples};

/// Runs `sql` and returns the change numbers after it, checking that `which` moved and the
/// other stood still.
async fn moves(db: &Db, before: FleetVersion, which: Moves, sql: &str) -> FleetVersion {
    sqlx::query(sql)
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let after = version(db).await.expect("the change numbers");
    let (moved, still) = match which {
        Metadata => (
            after.metadata != before.metadata,
            after.activity == before.activity,
        ),
        Activity => (
            after.activity != before.activity,
            after.metadata == before.metadata,
        ),
        MetadataWithSamples => (after.metadata != before.metadata, true),
    };
    assert!(moved, "the {which:?} number stood still after {sql}");
    assert!(
        still,
        "a number other than {which:?} moved after {sql}: {before:?} -> {after:?}"
    );
    after
}

#[tokio::test]
async fn every_write_of_a_listed_table_moves_its_change_number_and_only_that_one() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let mut n = version(db).await.expect("the change numbers");
        let statements = [
            (Metadata, "INSERT INTO servers (id, namespace, name, transport, spec, published, created_at, updated_at) \
             VALUES ('s1', 'team', 'one', 'stdio', '{}', TRUE, 1, 1)"),
            (Metadata, "UPDATE servers SET description = 'changed' WHERE id = 's1'"),
            (Metadata, "INSERT INTO tool_snapshots (id, server_id, fetched_at, content_hash, server_name, server_version, \
             protocol_version, capabilities, tools, tool_count, findings) \
             VALUES ('t1', 's1', 1, 'h', 'one', '1.0.0', '2025-06-18', '{}', '[]', 0, '[]')"),
            (Metadata, "UPDATE tool_snapshots SET findings = '[]' WHERE id = 't1'"),
            (Metadata, "DELETE FROM tool_snapshots WHERE id = 't1'"),
            (Metadata, "INSERT INTO tool_curations (server_id, updated_at, updated_by) VALUES ('s1', 1, 'a')"),
            (Metadata, "UPDATE tool_curations SET hidden = '[\"x\"]' WHERE server_id = 's1'"),
            (Metadata, "DELETE FROM tool_curations WHERE server_id = 's1'"),
            (Metadata, "INSERT INTO gateway_access (server_id, policy, updated_at, updated_by) VALUES ('s1', '{}', 1, 'a')"),
            (Metadata, "UPDATE gateway_access SET policy = '{\"anonymous\":true}' WHERE server_id = 's1'"),
            (Metadata, "DELETE FROM gateway_access WHERE server_id = 's1'"),
            (Activity, "INSERT INTO health_samples (id, server_id, at, ok, latency_ms) VALUES ('h1', 's1', 1, TRUE, 5)"),
            (Activity, "UPDATE health_samples SET ok = FALSE WHERE id = 'h1'"),
            (Activity, "DELETE FROM health_samples WHERE id = 'h1'"),
            (Activity, "INSERT INTO gateway_samples (id, server_id, tool, at, calls, errors, p50_ms, p95_ms, max_ms, buckets) \
             VALUES ('g1', 's1', '', 1, 1, 0, 1, 1, 1, '[]')"),
            (Activity, "UPDATE gateway_samples SET errors = 1 WHERE id = 'g1'"),
            (Activity, "DELETE FROM gateway_samples WHERE id = 'g1'"),
            (Metadata, "INSERT INTO virtual_servers (id, namespace, name, spec, created_at, updated_at, updated_by) \
             VALUES ('v1', 'team', 'all', '{}', 1, 1, 'a')"),
            (Activity, "INSERT INTO virtual_samples (id, virtual_server_id, tool, at, calls, errors, p50_ms, p95_ms, max_ms, buckets) \
             VALUES ('w1', 'v1', '', 1, 1, 0, 1, 1, 1, '[]')"),
            (Activity, "UPDATE virtual_samples SET calls = 2 WHERE id = 'w1'"),
            (Activity, "DELETE FROM virtual_samples WHERE id = 'w1'"),
            (Metadata, "UPDATE virtual_servers SET spec = '{\"members\":[]}' WHERE id = 'v1'"),
            (MetadataWithSamples, "DELETE FROM virtual_servers WHERE id = 'v1'"),
            (MetadataWithSamples, "DELETE FROM servers WHERE id = 's1'"),
        ];
        for (which, sql) in statements {
            n = moves(db, n, which, sql).await;
        }
        // Installing again (every start does) keeps one set of triggers that still work.
        db.migrate().await.expect("migrate again");
        n = moves(
            db,
            n,
            Metadata,
            "INSERT INTO servers (id, namespace, name, transport, spec, created_at, updated_at) \
             VALUES ('s2', 'team', 'two', 'stdio', '{}', 1, 1)",
        )
        .await;
        moves(
            db,
            n,
            Activity,
            "INSERT INTO health_samples (id, server_id, at, ok, latency_ms) VALUES ('h2', 's2', 1, TRUE, 5)",
        )
        .await;
    }
}

/// A database made when one counter served every table (before activity had its own) is
/// moved over when Apiary starts on it: a health sample then moves only the activity number.
#[tokio::test]
async fn a_database_with_one_counter_for_every_table_is_moved_to_two_on_start() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let old_trigger = match db.backend() {
            Backend::Sqlite => {
                "CREATE TRIGGER fleet_changes_health_samples_insert AFTER INSERT ON health_samples \
                 BEGIN UPDATE fleet_changes SET n = n + 1 WHERE id = 1; END"
            }
            Backend::Postgres => {
                "CREATE OR REPLACE FUNCTION fleet_changed() RETURNS trigger LANGUAGE plpgsql \
                 AS $$ BEGIN PERFORM nextval('fleet_changes'); RETURN NULL; END $$; \
                 CREATE OR REPLACE TRIGGER fleet_changes AFTER INSERT OR UPDATE OR DELETE \
                 OR TRUNCATE ON health_samples FOR EACH STATEMENT EXECUTE FUNCTION fleet_changed()"
            }
        };
        if db.backend() == Backend::Sqlite {
            sqlx::query("DROP TRIGGER fleet_activity_health_samples_insert")
                .execute(db.pool())
                .await
                .expect("drop the new trigger");
        }
        sqlx::raw_sql(old_trigger)
            .execute(db.pool())
            .await
            .expect("the trigger of a database made before the split");
        let n = version(db).await.expect("the change numbers");
        let n = moves(
            db,
            n,
            Metadata,
            "INSERT INTO servers (id, namespace, name, transport, spec, created_at, updated_at) \
             VALUES ('s1', 'team', 'one', 'stdio', '{}', 1, 1)",
        )
        .await;
        let sample = "INSERT INTO health_samples (id, server_id, at, ok, latency_ms) \
                      VALUES ('h1', 's1', 1, TRUE, 5)";
        sqlx::query(sample)
            .execute(db.pool())
            .await
            .expect("a sample");
        let before_start = version(db).await.expect("the change numbers");
        assert_ne!(
            before_start.metadata, n.metadata,
            "the old trigger moves metadata"
        );

        db.migrate().await.expect("start again");
        moves(
            db,
            before_start,
            Activity,
            "INSERT INTO health_samples (id, server_id, at, ok, latency_ms) VALUES ('h2', 's1', 2, TRUE, 5)",
        )
        .await;
    }
}

async fn get_json(app: &axum::Router, uri: &str) -> Value {
    let (status, body) = send(app, request("GET", uri, None)).await;
    assert!(status.is_success(), "{uri}: {status} {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// The catalog page's text, as a screen reader reads it (tags left out).
async fn catalog_text(app: &axum::Router) -> String {
    let (status, html) = send(app, request("GET", "/", None)).await;
    assert!(status.is_success(), "{status} {html}");
    let mut text = String::new();
    for piece in without_markers(&html).split('<') {
        text.push_str(piece.split_once('>').map_or(piece, |(_, after)| after));
    }
    text
}

#[tokio::test]
async fn the_registry_and_the_catalog_show_a_write_from_elsewhere_on_the_next_read() {
    for test_db in support::all_backends().await {
        let db = &test_db.db;
        let registration = ServerRegistration {
            description: "Finds things".into(),
            owner_team: "team".into(),
            spec: json!({ "image": "npx://@modelcontextprotocol/server-everything" }),
            published: true,
            ..ServerRegistration::default()
        };
        ServerStore::new(db.clone())
            .register("team", "search", &registration, "tester")
            .await
            .expect("register");
        let app = support::app(db);
        let page = "/v0.1/servers?limit=10";
        let health = |body: &Value| {
            body["servers"][0]["_meta"]["dev.apiary/server"]["health"]["status"].clone()
        };
        let first = get_json(&app, page).await;
        assert_eq!(health(&first), "unknown", "{first}");
        assert_eq!(get_json(&app, page).await, first, "the same answer again");
        let catalog = catalog_text(&app).await;
        assert!(catalog.contains("Health: not checked yet"), "{catalog}");

        // Another replica records a failed fetch, then renames the description.
        sqlx::query(
            "INSERT INTO health_samples (id, server_id, at, ok, latency_ms, error) \
             SELECT 'elsewhere', id, $1, FALSE, 3, 'refused' FROM servers WHERE name = 'search'",
        )
        .bind(apiary_server::db::now_millis())
        .execute(db.pool())
        .await
        .expect("a health sample");
        let catalog = catalog_text(&app).await;
        assert!(catalog.contains("Health: failing"), "{catalog}");
        assert!(!catalog.contains("renamed elsewhere"), "{catalog}");
        sqlx::query("UPDATE servers SET description = 'Finds things, renamed elsewhere'")
            .execute(db.pool())
            .await
            .expect("a description");

        let next = get_json(&app, page).await;
        assert_eq!(health(&next), "failing", "{next}");
        assert_eq!(
            next["servers"][0]["server"]["description"],
            "Finds things, renamed elsewhere"
        );
        let catalog = catalog_text(&app).await;
        assert!(catalog.contains("renamed elsewhere"), "{catalog}");
        assert!(catalog.contains("Health: failing"), "{catalog}");
    }
}
