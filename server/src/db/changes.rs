//! The fleet's change numbers: two numbers that move whenever a table the listings read is
//! written, by anyone (this process, another replica, an operator with `psql`), so a reader can
//! keep an answer for as long as they stand still. **Metadata** moves with what people change
//! (servers, snapshots, curation, access, virtual servers); **activity** moves with what the
//! fleet reports by itself (health and gateway samples, several a second in a large fleet), so
//! a reader of metadata alone keeps its answer while samples arrive.
//!
//! Database triggers move them, installed (idempotently) after the migrations because their
//! syntax differs: on SQLite each written row bumps a one-row counter inside the writing
//! transaction; on PostgreSQL each statement draws from a sequence, which writers never wait
//! for (a shared counter row would make every writer wait for the one before it). A sequence
//! moves before its transaction commits, so a reader can, rarely, see the new number with the
//! old rows: readers that cache by these numbers ([`ChangeCache`], the catalog's listing) also
//! bound an answer's age.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::{AnyPool, Executor};

use super::{Backend, Db, DbError};

/// The tables of what people change: servers and their metadata, snapshots, curation, access,
/// and virtual servers. Their writes move [`FleetVersion::metadata`].
const METADATA: [&str; 5] = [
    "servers",
    "tool_snapshots",
    "tool_curations",
    "gateway_access",
    "virtual_servers",
];

/// The tables of what the fleet reports: health, gateway and virtual-server samples. Their
/// writes move [`FleetVersion::activity`].
const ACTIVITY: [&str; 3] = ["health_samples", "gateway_samples", "virtual_samples"];

/// A counter (SQLite table, PostgreSQL sequence) and the tables whose writes move it.
const COUNTERS: [(&str, &[&str]); 2] =
    [("fleet_changes", &METADATA), ("fleet_activity", &ACTIVITY)];

/// A session-level PostgreSQL advisory lock key ("apiary" in ASCII, shortened) that serialises
/// replicas installing the triggers at the same time.
const INSTALL_LOCK: i64 = 0x6170_6961_7279;

/// Installs the counters and their triggers; safe to run on every start, and it moves the
/// triggers of databases made when one counter served every table.
pub(super) async fn install(pool: &AnyPool, backend: Backend) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    match backend {
        Backend::Sqlite => {
            for (counter, tables) in COUNTERS {
                tx.execute(
                    format!(
                        "CREATE TABLE IF NOT EXISTS {counter} \
                         (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL); \
                         INSERT OR IGNORE INTO {counter} (id, n) VALUES (1, 0);"
                    )
                    .as_str(),
                )
                .await?;
                for table in tables {
                    tx.execute(sqlite_triggers(counter, table).as_str()).await?;
                }
            }
        }
        Backend::Postgres => {
            sqlx::query("SELECT CAST(pg_advisory_xact_lock($1) AS TEXT)")
                .bind(INSTALL_LOCK)
                .execute(&mut *tx)
                .await?;
            for (counter, tables) in COUNTERS {
                tx.execute(
                    format!(
                        "CREATE SEQUENCE IF NOT EXISTS {counter}; \
                         CREATE OR REPLACE FUNCTION {counter}_moved() RETURNS trigger \
                         LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('{counter}'); \
                         RETURN NULL; END $$;"
                    )
                    .as_str(),
                )
                .await?;
                // One trigger per table, named alike for both counters, so replacing it moves
                // a table from one counter to the other.
                for table in tables {
                    let trigger = format!(
                        "CREATE OR REPLACE TRIGGER fleet_changes AFTER INSERT OR UPDATE OR DELETE \
                         OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {counter}_moved()"
                    );
                    tx.execute(trigger.as_str()).await?;
                }
            }
            tx.execute("DROP FUNCTION IF EXISTS fleet_changed()")
                .await?;
        }
    }
    tx.commit().await
}

/// The SQLite statements that make every write to `table` move `counter` (and no other
/// counter, which it may have moved in a database made before the split).
fn sqlite_triggers(counter: &str, table: &str) -> String {
    let mut sql = String::new();
    for event in ["insert", "update", "delete"] {
        for (other, _) in COUNTERS.iter().filter(|(other, _)| *other != counter) {
            sql.push_str(&format!("DROP TRIGGER IF EXISTS {other}_{table}_{event}; "));
        }
        sql.push_str(&format!(
            "CREATE TRIGGER IF NOT EXISTS {counter}_{table}_{event} AFTER {event} ON {table} \
             BEGIN UPDATE {counter} SET n = n + 1 WHERE id = 1; END; "
        ));
    }
    sql
}

/// The fleet's change numbers at one moment: equal numbers mean no tracked table was written
/// in between (see the module documentation for PostgreSQL's rare exception).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FleetVersion {
    /// Moved by writes to servers, snapshots, curation, access and virtual servers.
    pub metadata: i64,
    /// Moved by health, gateway and virtual-server samples.
    pub activity: i64,
}

/// The fleet's change numbers now.
pub async fn version(db: &Db) -> Result<FleetVersion, DbError> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT (SELECT n FROM fleet_changes WHERE id = 1), \
             (SELECT n FROM fleet_activity WHERE id = 1)"
        }
        // `last_value` stays put on a sequence's first draw; `is_called` tells it apart.
        Backend::Postgres => {
            "SELECT m.last_value + CASE WHEN m.is_called THEN 1 ELSE 0 END, \
             a.last_value + CASE WHEN a.is_called THEN 1 ELSE 0 END \
             FROM fleet_changes m, fleet_activity a"
        }
    };
    let (metadata, activity) = sqlx::query_as(sql).fetch_one(db.pool()).await?;
    Ok(FleetVersion { metadata, activity })
}

/// How long a [`ChangeCache`] gives an answer again at most, however still the fleet is: part
/// of some answers (the gateway's recent calls) ages with time alone.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// A cache that holds this many answers is emptied before it takes another.
const MAX_ANSWERS: usize = 1_024;

/// Answers by key (a query string, say), each given again while the fleet's change numbers
/// stand still at the ones it was made at and for at most [`MAX_AGE`]. Clones share the
/// answers.
#[derive(Debug)]
pub struct ChangeCache<V>(Arc<Shared<V>>);

#[derive(Debug)]
struct Shared<V> {
    answers: Mutex<HashMap<String, Answer<V>>>,
    /// Per key being made: the turn that requests for that key take, so that one makes the
    /// answer and the others wait for it instead of making it again.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug)]
struct Answer<V> {
    version: FleetVersion,
    made: Instant,
    value: V,
}

impl<V> Clone for ChangeCache<V> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<V> Default for ChangeCache<V> {
    fn default() -> Self {
        Self(Arc::new(Shared {
            answers: Mutex::default(),
            turns: Mutex::default(),
        }))
    }
}

impl<V: Clone> ChangeCache<V> {
    /// The answer for `key`: the one kept if the fleet has not changed since it was made
    /// ([`Self::get`]), else made by `load` (given the numbers it is made at) and kept.
    /// Requests for a key that is being made wait for it. The change numbers are read before
    /// `load`, so a write during the load leaves a newer answer under older numbers, which the
    /// next request makes again.
    pub async fn get_or_load<E, F>(
        &self,
        db: &Db,
        key: &str,
        load: impl FnOnce(FleetVersion) -> F,
    ) -> Result<V, E>
    where
        E: From<DbError>,
        F: Future<Output = Result<V, E>>,
    {
        let version = version(db).await?;
        if let Some(value) = self.get(key, version, Instant::now()) {
            return Ok(value);
        }
        let turn = self.turn(key);
        let made = {
            let _turn = turn.lock().await;
            match self.get(key, version, Instant::now()) {
                Some(value) => Ok(value),
                None => {
                    let made = Instant::now();
                    load(version)
                        .await
                        .inspect(|value| self.put(key, version, made, value.clone()))
                }
            }
        };
        self.end_turn(key, turn);
        made
    }

    fn turn(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.0.turns.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(turns.entry(key.to_owned()).or_default())
    }

    /// Forgets `key`'s turn once no other request holds or waits for it.
    fn end_turn(&self, key: &str, turn: Arc<tokio::sync::Mutex<()>>) {
        let mut turns = self.0.turns.lock().unwrap_or_else(PoisonError::into_inner);
        // Ours and the map's: nobody else took it (taking it needs this lock).
        if Arc::strong_count(&turn) == 2 {
            turns.remove(key);
        }
    }

    /// The answer for `key` made at change numbers `version`, unless it is [`MAX_AGE`] old at
    /// `now`.
    pub fn get(&self, key: &str, version: FleetVersion, now: Instant) -> Option<V> {
        let answers = self
            .0
            .answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        answers
            .get(key)
            .filter(|answer| {
                answer.version == version && now.saturating_duration_since(answer.made) < MAX_AGE
            })
            .map(|answer| answer.value.clone())
    }

    /// Keeps `value` as the answer for `key` at change numbers `version`, made at `made`.
    pub fn put(&self, key: &str, version: FleetVersion, made: Instant, value: V) {
        let mut answers = self
            .0
            .answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if answers.len() >= MAX_ANSWERS && !answers.contains_key(key) {
            answers.clear();
        }
        let answer = Answer {
            version,
            made,
            value,
        };
        answers.insert(key.to_owned(), answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(metadata: i64) -> FleetVersion {
        FleetVersion {
            metadata,
            activity: 0,
        }
    }

    #[test]
    fn an_answer_is_given_again_only_at_its_change_number_and_within_its_age() {
        let cache = ChangeCache::default();
        let made = Instant::now();
        cache.put("limit=1", at(7), made, "page");
        let later = made + Duration::from_millis(999);
        assert_eq!(cache.get("limit=1", at(7), later), Some("page"));
        assert_eq!(cache.get("limit=1", at(8), made), None, "the fleet changed");
        let sampled = FleetVersion {
            activity: 1,
            ..at(7)
        };
        assert_eq!(
            cache.get("limit=1", sampled, made),
            None,
            "a sample arrived"
        );
        assert_eq!(cache.get("limit=1", at(7), made + MAX_AGE), None, "too old");
        assert_eq!(cache.get("limit=2", at(7), made), None, "another key");
    }

    #[test]
    fn a_full_cache_starts_again_instead_of_growing() {
        let cache = ChangeCache::default();
        let now = Instant::now();
        for n in 0..=MAX_ANSWERS {
            cache.put(&format!("cursor={n}"), at(1), now, n);
        }
        assert_eq!(cache.get("cursor=0", at(1), now), None, "emptied when full");
        assert_eq!(
            cache.get(&format!("cursor={MAX_ANSWERS}"), at(1), now),
            Some(MAX_ANSWERS)
        );
    }

    /// Requests that miss at once: one makes the answer, the others are given it; a write
    /// makes the next request make it again.
    #[tokio::test]
    async fn requests_that_miss_together_wait_for_one_answer() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}/apiary.db?mode=rwc", folder.path().display());
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let cache = ChangeCache::<usize>::default();
        let loads = std::sync::atomic::AtomicUsize::new(0);
        let load = |_| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, DbError>(1 + loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        };
        let answers =
            futures::future::join_all((0..8).map(|_| cache.get_or_load(&db, "limit=1", load)))
                .await;
        assert!(
            answers.iter().all(|answer| matches!(answer, Ok(1))),
            "{answers:?}"
        );
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(
            cache.0.turns.lock().expect("turns").is_empty(),
            "turns forgotten"
        );

        sqlx::query(
            "INSERT INTO servers (id, namespace, name, transport, spec, created_at, updated_at) \
             VALUES ('s1', 'ns', 'one', 'stdio', '{}', 0, 0)",
        )
        .execute(db.pool())
        .await
        .expect("a write");
        assert_eq!(cache.get_or_load(&db, "limit=1", load).await.ok(), Some(2));
    }
}
