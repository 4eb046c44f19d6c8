//! The database: one sqlx `Any` pool over SQLite (the embedded default) or PostgreSQL, migrated
//! with the portable migrations in `migrations/`.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub mod changes;

/// Which database server is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be reached or opened.
    #[error("cannot open the database (APIARY_DATABASE_URL): {0}")]
    Connect(#[source] sqlx::Error),
    /// The folder for a SQLite file could not be created.
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A migration failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] sqlx::Error),
}

impl DbError {
    /// True when the database could not be reached (it is down, restarting, or unreachable,
    /// or the connection broke mid-request), rather than refusing the request itself: the same
    /// request may well succeed once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Connect(error) | DbError::Query(error) => is_unavailable(error),
            DbError::Migrate(sqlx::migrate::MigrateError::Execute(error)) => is_unavailable(error),
            DbError::Folder { .. } | DbError::Migrate(_) => false,
        }
    }
}

/// See [`DbError::is_unavailable`].
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's connection exceptions (class 08), and a server that is shutting down,
        // crashed or still starting up (57P01, 57P02, 57P03).
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
        _ => false,
    }
}

/// The shared connection pool.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`), creating a SQLite file's folder first.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            create_sqlite_folder(url)?;
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(DbError::Connect)?;
        Ok(Self { pool, backend })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), DbError> {
        sqlx::migrate!("../migrations").run(&self.pool).await?;
        changes::install(&self.pool, self.backend).await?;
        Ok(())
    }

    /// The pool, for repositories.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then writes cannot
    /// upgrade its lock while another connection writes, and fails with "database is locked"
    /// instead of waiting out the busy timeout.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn create_sqlite_folder(url: &str) -> Result<(), DbError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match Path::new(path).parent() {
        Some(folder) if !folder.as_os_str().is_empty() => {
            std::fs::create_dir_all(folder).map_err(|source| DbError::Folder {
                path: folder.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Milliseconds since the Unix epoch, the unit every timestamp column uses.
pub fn now_millis() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// Decodes a nullable TEXT column holding JSON; a decoding failure names the column.
pub fn json_column<T: serde::de::DeserializeOwned>(
    row: &sqlx::any::AnyRow,
    column: &str,
) -> Result<Option<T>, DbError> {
    use sqlx::Row;
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| {
            DbError::Query(sqlx::Error::ColumnDecode {
                index: column.into(),
                source: Box::new(e),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Transactions that read before they write, many at once, as the registry's background
    /// fetch and an admin's curation do: each must wait its turn, none may fail as locked.
    #[tokio::test]
    async fn concurrent_read_then_write_transactions_all_commit_on_sqlite() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}/apiary.db?mode=rwc", folder.path().display());
        let db = Db::connect(&url).await.expect("connect");
        sqlx::query("CREATE TABLE counter (n INTEGER NOT NULL)")
            .execute(db.pool())
            .await
            .expect("create the table");
        let writers = (0..16).map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin_write().await?;
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM counter")
                    .fetch_one(&mut *tx)
                    .await?;
                tokio::task::yield_now().await;
                sqlx::query("INSERT INTO counter (n) VALUES ($1)")
                    .bind(n)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            })
        });
        for writer in writers.collect::<Vec<_>>() {
            writer.await.expect("join").expect("a writer failed");
        }
        let (rows, distinct): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT n) FROM counter")
                .fetch_one(db.pool())
                .await
                .expect("count");
        // Serialised writers each saw the rows before them: 0, 1, …, 15.
        assert_eq!((rows, distinct), (16, 16));
    }
}
