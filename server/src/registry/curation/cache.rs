//! What a server's snapshots and curation yield, computed once per combination.
//!
//! A snapshot never changes once written, so everything derived from a server's baseline and
//! newest snapshot and its curation (the curated tools, the drift, the findings) is fixed by
//! their ids and the curation's columns. A listing reads only that [`DerivedKey`] with each
//! server and takes the derived value from a [`DerivedCache`], loading the snapshots' tools
//! only for the servers whose key changed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{Db, DbError};

use super::store::{CURATED_TOOL_COLUMNS, CURATED_TOOL_JOINS};

/// SQL select-list items for a [`DerivedKey`], for a query over `servers s` joined with
/// [`DERIVED_KEY_JOIN`]; `s.id` must be selected as `id` beside them.
pub const DERIVED_KEY_COLUMNS: &str = "s.baseline_snapshot_id, s.latest_snapshot_id, \
    c.allow_globs AS curation_allow, c.deny_globs AS curation_deny, \
    c.hidden AS curation_hidden, c.overrides AS curation_overrides, \
    c.unknown_tools AS curation_unknown_tools";

/// The join that [`DERIVED_KEY_COLUMNS`] reads.
pub const DERIVED_KEY_JOIN: &str = "LEFT JOIN tool_curations c ON c.server_id = s.id";

/// How many servers one query of snapshots reads at most (bind parameters per statement).
const MISS_CHUNK: usize = 500;

/// A cache that outgrows this many servers is emptied (it holds one entry per server read).
const MAX_ENTRIES: usize = 200_000;

/// What a derived value depends on: the baseline and newest snapshot ids and the curation's
/// columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerivedKey {
    baseline: Option<String>,
    latest: Option<String>,
    curation: String,
}

impl DerivedKey {
    /// The key of a row selected with [`DERIVED_KEY_COLUMNS`] (or with
    /// `s.baseline_snapshot_id, s.latest_snapshot_id` and [`CURATED_TOOL_COLUMNS`]).
    pub fn of(row: &AnyRow) -> Result<Self, DbError> {
        let mut curation = String::new();
        for column in [
            "curation_allow",
            "curation_deny",
            "curation_hidden",
            "curation_overrides",
            "curation_unknown_tools",
        ] {
            curation.push_str(row.try_get::<Option<&str>, _>(column)?.unwrap_or("\u{0}"));
            curation.push('\u{1f}');
        }
        Ok(Self {
            baseline: row.try_get("baseline_snapshot_id")?,
            latest: row.try_get("latest_snapshot_id")?,
            curation,
        })
    }
}

/// Derived values by server id, each with the key it was computed for. Clones share the
/// entries.
#[derive(Debug)]
pub struct DerivedCache<V>(Arc<Mutex<Entries<V>>>);

/// Each server's value with the key it was computed for, by server id.
type Entries<V> = HashMap<String, (DerivedKey, Arc<V>)>;

impl<V> Clone for DerivedCache<V> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<V> Default for DerivedCache<V> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<V> DerivedCache<V> {
    /// The value of each row's server (rows selected with `s.id AS id` and
    /// [`DERIVED_KEY_COLUMNS`]), in the rows' order: cached when the key still matches, else
    /// computed by `derive` from a row selected with [`CURATED_TOOL_COLUMNS`], the baseline's
    /// `server_version` and the newest snapshot's `latest_findings`, and cached. `None` for a
    /// server deleted between the two reads.
    pub async fn values(
        &self,
        db: &Db,
        rows: &[AnyRow],
        derive: impl Fn(&AnyRow) -> Result<V, DbError>,
    ) -> Result<Vec<Option<Arc<V>>>, DbError> {
        let mut values = Vec::with_capacity(rows.len());
        let mut misses = Vec::new();
        {
            let entries = crate::locks::lock(&self.0);
            for row in rows {
                let id: &str = row.try_get("id")?;
                let key = DerivedKey::of(row)?;
                let value = entries
                    .get(id)
                    .filter(|(cached, _)| *cached == key)
                    .map(|(_, value)| Arc::clone(value));
                if value.is_none() {
                    misses.push(id.to_owned());
                }
                values.push(value);
            }
        }
        let mut loaded = self.load(db, &misses, derive).await?;
        rows.iter()
            .zip(values)
            .map(|(row, value)| match value {
                Some(value) => Ok(Some(value)),
                None => Ok(loaded.remove(row.try_get::<&str, _>("id")?)),
            })
            .collect()
    }

    /// Forgets every server without a row in `rows` (each with its `id`): after a read of
    /// every server, the deleted and retired ones.
    pub fn retain_only(&self, rows: &[AnyRow]) {
        let live: HashSet<&str> = rows
            .iter()
            .filter_map(|row| row.try_get::<&str, _>("id").ok())
            .collect();
        let mut entries = crate::locks::lock(&self.0);
        entries.retain(|id, _| live.contains(id.as_str()));
    }

    /// Computes (and caches) the value of each server in `ids`, by id.
    async fn load(
        &self,
        db: &Db,
        ids: &[String],
        derive: impl Fn(&AnyRow) -> Result<V, DbError>,
    ) -> Result<HashMap<String, Arc<V>>, DbError> {
        let mut values = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MISS_CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT s.id, s.baseline_snapshot_id, s.latest_snapshot_id, b.server_version, \
                 l.findings AS latest_findings, {CURATED_TOOL_COLUMNS} \
                 FROM servers s {CURATED_TOOL_JOINS} WHERE s.id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            let rows = query.fetch_all(db.pool()).await?;
            let mut entries = crate::locks::lock(&self.0);
            if entries.len() + rows.len() > MAX_ENTRIES {
                entries.clear();
            }
            for row in rows {
                let id: String = row.try_get("id")?;
                let value = Arc::new(derive(&row)?);
                entries.insert(id.clone(), (DerivedKey::of(&row)?, Arc::clone(&value)));
                values.insert(id, value);
            }
        }
        Ok(values)
    }
}
