//! Sessions: `tower-sessions` over the same database as everything else (SQLite or
//! PostgreSQL), so a sign-in survives restarts and is valid on every replica.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::db::DbError;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "apiary_session";

/// A signed-in session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(8 * 60 * 60);

/// The session store of whichever database Apiary uses.
#[derive(Clone, Debug)]
pub enum Store {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL server.
    Postgres(PostgresStore),
}

impl Store {
    /// Opens a small pool on `database_url` and creates the session table if needed.
    pub async fn connect(database_url: &str) -> Result<Self, DbError> {
        let store = if database_url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(database_url)
                .map_err(DbError::Connect)?
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await
                .map_err(DbError::Connect)?;
            let store = SqliteStore::new(pool);
            store.migrate().await?;
            Store::Sqlite(store)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(5))
                .connect(database_url)
                .await
                .map_err(DbError::Connect)?;
            let store = PostgresStore::new(pool);
            store.migrate().await?;
            Store::Postgres(store)
        };
        Ok(store)
    }

    /// The session middleware: an HttpOnly, SameSite=Lax cookie, Secure when `secure`, that
    /// expires after [`IDLE_TIMEOUT`] of inactivity.
    pub fn layer(&self, secure: bool) -> SessionManagerLayer<Store> {
        let idle = tower_sessions::cookie::time::Duration::seconds(IDLE_TIMEOUT.as_secs() as i64);
        SessionManagerLayer::new(self.clone())
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(secure)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle))
    }

    /// Deletes expired sessions every `period` until the task is dropped.
    pub fn spawn_cleanup(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(error) = store.continuously_delete_expired(period).await {
                tracing::error!(%error, "expired session cleanup stopped");
            }
        })
    }
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.create(record).await,
            Store::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.save(record).await,
            Store::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Store::Sqlite(s) => s.load(id).await,
            Store::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.delete(id).await,
            Store::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for Store {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.delete_expired().await,
            Store::Postgres(s) => s.delete_expired().await,
        }
    }
}
