//! Shared test fixtures: real databases (a SQLite file, and PostgreSQL when the harness
//! started one) and an in-process router.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod chart;
pub mod gateway;
pub mod http;
pub mod kube;
pub mod mcp_client;
pub mod mcp_servers;
pub mod oidc;
pub mod ports;
pub mod process;
pub mod proposals;
pub mod registry;
pub mod seed;
pub mod signed_in;

use apiary_server::db::{Backend, Db};
use apiary_server::web::{router, AppState};
use apiary_server::Settings;
use axum::Router;
use sqlx::Connection;

/// A migrated database plus what keeps it alive (the SQLite folder).
pub struct TestDb {
    pub db: Db,
    /// The database URL, for components with their own pool (the session store).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite database in a temporary folder.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("apiary.db").display()
    );
    let db = Db::connect(&url).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb {
        db,
        url,
        _dir: Some(dir),
    }
}

/// A fresh database on the PostgreSQL server named by `APIARY_TEST_POSTGRES_URL`, or `None`
/// when no server is configured. `.ci/test` sets `APIARY_REQUIRE_POSTGRES=1`, which turns a
/// missing server into a failure instead of a silent SQLite-only run.
pub async fn postgres() -> Option<TestDb> {
    let url = empty_postgres().await?;
    let db = Db::connect(&url).await.expect("open postgres");
    assert_eq!(db.backend(), Backend::Postgres);
    db.migrate().await.expect("migrate postgres");
    Some(TestDb {
        db,
        url,
        _dir: None,
    })
}

/// Like [`postgres`], but the database is left empty (not migrated); returns its URL.
pub async fn empty_postgres() -> Option<String> {
    let Ok(admin_url) = std::env::var("APIARY_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("APIARY_REQUIRE_POSTGRES").is_err(),
            "APIARY_REQUIRE_POSTGRES is set but APIARY_TEST_POSTGRES_URL is not"
        );
        return None;
    };
    Some(create_database(&admin_url).await)
}

/// Creates a database with a fresh name on the server of `admin_url` (which ends in
/// `/database`); returns the new database's URL.
pub async fn create_database(admin_url: &str) -> String {
    let name = format!("apiary_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    match admin_url.rsplit_once('/') {
        Some((server, _db)) => format!("{server}/{name}"),
        None => panic!("APIARY_TEST_POSTGRES_URL must end in /database"),
    }
}

/// Every database backend available to this run: SQLite always, PostgreSQL when configured.
pub async fn all_backends() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    dbs.extend(postgres().await);
    dbs
}

/// Settings for an in-process server on the embedded defaults.
pub fn settings() -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: std::env::temp_dir(),
        database_url: String::new(),
        site_dir: std::env::temp_dir(),
        oidc: None,
        log: "warn".into(),
        public_url: Some("http://apiary.test".into()),
        health_slow_ms: 1_000,
        refresh_interval_secs: 300,
        gateway_sample_secs: 60,
        measurement_retention_days: 30,
        fetch_timeout_secs: 20,
        header_timeout_secs: 20,
        policy: Default::default(),
        runtime: apiary_server::config::Runtime::Local,
        watch_namespace: None,
        gateway_namespace: None,
        lease: Default::default(),
    }
}

/// The whole router over `db`, for `oneshot` requests.
pub fn app(db: &Db) -> Router {
    router(AppState::new(settings(), db.clone()))
}

/// Serves the whole router over `db` on a free loopback port; returns its base URL. The
/// server stops when the test's runtime ends.
pub async fn serve(db: &Db) -> String {
    serve_state(AppState::new(settings(), db.clone())).await
}

/// Serves the whole router over `state` on a free loopback port; returns its base URL.
pub async fn serve_state(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let timeouts = apiary_server::web::serve::ConnectionTimeouts {
        header: std::time::Duration::from_secs(state.settings.header_timeout_secs),
    };
    let app = router(state);
    tokio::spawn(apiary_server::web::serve::serve(
        listener,
        app,
        timeouts,
        tokio_util::sync::CancellationToken::new(),
    ));
    url
}
