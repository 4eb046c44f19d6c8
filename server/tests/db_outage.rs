//! The database goes away and comes back: Apiary on its own PostgreSQL server, which the test
//! stops at once, as a crash would, and starts again on the same port (`.ci/postgres pause` /
//! `resume`). While it is down Apiary stays alive but not ready, and a write fails within
//! seconds with a 503 that says to try again; a write cut off half-way leaves nothing behind;
//! once the database is back Apiary is ready again without a restart and the same write
//! succeeds.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use apiary_server::db::Db;
use axum::Router;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use support::http;

/// A PostgreSQL server of this test's own, stopped when dropped.
struct OwnPostgres {
    dir: PathBuf,
    admin_url: String,
    _parent: tempfile::TempDir,
}

/// `.ci/postgres`, the script that runs PostgreSQL for the tests.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/postgres")
}

impl OwnPostgres {
    /// Starts a server, or `None` (with a note why) when PostgreSQL is not installed and
    /// `APIARY_REQUIRE_POSTGRES` is unset.
    fn start() -> Option<Self> {
        let installed = std::fs::read_dir("/usr/lib/postgresql")
            .map(|versions| {
                versions
                    .flatten()
                    .any(|v| v.path().join("bin/pg_ctl").exists())
            })
            .unwrap_or(false);
        if !installed {
            assert!(
                std::env::var("APIARY_REQUIRE_POSTGRES").is_err(),
                "APIARY_REQUIRE_POSTGRES is set but PostgreSQL is not installed in /usr/lib/postgresql"
            );
            eprintln!("skipped: PostgreSQL is not installed (run .ci/setup --test)");
            return None;
        }
        let parent = tempfile::tempdir().expect("temp dir");
        // As root, the script runs PostgreSQL as `postgres`, which must reach the folder.
        std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o711))
            .expect("chmod the temp dir");
        let dir = parent.path().join("pg");
        let admin_url = Self::run("start", &dir);
        Some(Self {
            dir,
            admin_url: admin_url.trim().to_owned(),
            _parent: parent,
        })
    }

    fn run(action: &str, dir: &Path) -> String {
        let output = std::process::Command::new(script())
            .args([action, &dir.display().to_string()])
            .output()
            .expect("run .ci/postgres");
        assert!(
            output.status.success(),
            ".ci/postgres {action} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    async fn pause(&self) {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || Self::run("pause", &dir))
            .await
            .expect("pause");
    }

    async fn resume(&self) {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || Self::run("resume", &dir))
            .await
            .expect("resume");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        Self::run("stop", &self.dir);
    }
}

fn proposal(name: &str) -> Value {
    json!({
        "kind": "create", "namespace": "outage", "name": name,
        "description": "Proposed around an outage", "ownerTeam": "search",
        "spec": { "url": "http://127.0.0.1:9/mcp", "transport": "streamable-http" },
    })
}

async fn propose(app: &Router, name: &str) -> (StatusCode, Value) {
    http::call(app, "POST", "/api/v1/proposals", Some(&proposal(name))).await
}

/// Proposals, their audit events, and audit events of proposals that do not exist.
async fn counts(db: &Db) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM proposals), \
                (SELECT COUNT(*) FROM audit_events WHERE action = 'proposal.proposed'), \
                (SELECT COUNT(*) FROM audit_events a WHERE a.target LIKE 'proposal/%' \
                   AND NOT EXISTS (SELECT 1 FROM proposals p WHERE a.target = 'proposal/' || p.id))",
    )
    .fetch_one(db.pool())
    .await
    .expect("count")
}

async fn proposals_named(db: &Db, name: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM proposals WHERE namespace = 'outage' AND name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await
        .expect("count")
}

/// Waits until the write under test waits for the lock on `audit_events` the test holds: it
/// got as far as its audit event, after its proposal row. (Only writes wait for that lock.)
async fn until_a_write_waits_for_the_audit_log(
    admin: &mut sqlx::PgConnection,
    write: &tokio::task::JoinHandle<(StatusCode, Value)>,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_locks \
             WHERE relation = 'audit_events'::regclass AND NOT granted",
        )
        .fetch_one(&mut *admin)
        .await
        .expect("read pg_locks");
        if waiting > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline && !write.is_finished(),
            "the proposal did not wait for the audit log (finished: {})",
            write.is_finished()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn while_the_database_is_down_apiary_says_so_loses_nothing_and_recovers_by_itself() {
    let Some(postgres) = OwnPostgres::start() else {
        return;
    };
    let url = support::create_database(&postgres.admin_url).await;
    let db = Db::connect(&url).await.expect("open the database");
    db.migrate().await.expect("migrate");
    let app = support::app(&db);
    let (status, before) = propose(&app, "before").await;
    assert_eq!(status, StatusCode::CREATED, "{before}");
    assert_eq!(counts(&db).await, (1, 1, 0));

    // A proposal is cut off half-way: its row is written, its audit event waits for a lock
    // the test holds, and then the server stops.
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut admin)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE audit_events IN EXCLUSIVE MODE")
        .execute(&mut admin)
        .await
        .expect("lock the audit log");
    let cut_off = tokio::spawn({
        let app = app.clone();
        async move { propose(&app, "cut-off").await }
    });
    until_a_write_waits_for_the_audit_log(&mut admin, &cut_off).await;
    postgres.pause().await;
    let (status, body) = cut_off.await.expect("the cut-off proposal");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    drop(admin);

    // While it is down.
    let (status, text) = http::send(&app, http::request("GET", "/readyz", None)).await;
    assert_eq!(
        (status, text.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database does not answer"
        )
    );
    let (status, text) = http::send(&app, http::request("GET", "/healthz", None)).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "ok"),
        "still alive"
    );
    let started = Instant::now();
    let (status, body) = propose(&app, "during").await;
    let waited = started.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("database is unavailable") && message.contains("try again"),
        "the message says what is wrong and what to do: {message}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "the write fails within seconds, not {waited:?}"
    );
    // Reads say the same: the registry API and the exports too, not a 500.
    for path in ["/v0.1/servers", "/api/v1/exports/toolhive-registry.json"] {
        let (status, body) = http::call(&app, "GET", path, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("try again"), "{path}: {message}");
    }

    // Back again: ready without a restart, and nothing of the failed writes was kept.
    postgres.resume().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = http::send(&app, http::request("GET", "/readyz", None)).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready 30 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        proposals_named(&db, "cut-off").await,
        0,
        "no half-written proposal"
    );
    assert_eq!(proposals_named(&db, "during").await, 0);
    assert_eq!(
        counts(&db).await,
        (1, 1, 0),
        "only the first proposal, audited once"
    );

    let (status, during) = propose(&app, "during").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the same write succeeds now: {during}"
    );
    let (status, cut_off) = propose(&app, "cut-off").await;
    assert_eq!(status, StatusCode::CREATED, "{cut_off}");
    assert_eq!(counts(&db).await, (3, 3, 0));
    db.close().await;
}
