//! The catalog's compact projection: one row per server that is not retired, with the card,
//! the facet values and a lower-case search text that includes its tools' names and
//! descriptions. One query loads it; search and facets then run in memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::any::AnyRow;
use sqlx::Row;

use apiary_app::model::catalog_search::FacetKind;
use apiary_app::model::{Lifecycle, ServerCard, Transport};

use crate::db::{Db, DbError};
use crate::registry::curation::store::{
    curated_from_row, CURATED_TOOL_COLUMNS, CURATED_TOOL_JOINS,
};
use crate::registry::model::ToolDef;
use crate::registry::store::{gateway_window_start, latest_health_evidence, latest_health_sql};

/// One server as the catalog searches it.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogEntry {
    /// What its card shows.
    pub card: ServerCard,
    /// Lower-case name, description, owner, category, and tool names, titles and descriptions.
    pub search_text: String,
}

impl CatalogEntry {
    /// The server's value for `kind`, as it appears in the URL.
    pub fn facet_value(&self, kind: FacetKind) -> &str {
        match kind {
            FacetKind::Category => &self.card.category,
            FacetKind::Owner => &self.card.owner_team,
            FacetKind::Sensitivity => &self.card.sensitivity,
            FacetKind::Cost => &self.card.cost_class,
            FacetKind::Lifecycle => self.card.lifecycle.as_str(),
            FacetKind::Health => self.card.health.as_str(),
        }
    }

    /// True when every one of `words` (lower case) appears in the search text.
    pub fn matches(&self, words: &[String]) -> bool {
        words.iter().all(|word| self.search_text.contains(word))
    }
}

/// The catalog's share of a server's curated tools: their count and their lower-case search
/// text. It depends only on the baseline and newest snapshot (which never change once
/// written) and the curation, so it is computed once per such combination.
#[derive(Debug, Default)]
struct ToolText {
    count: u32,
    text: String,
}

/// What a [`ToolText`] is derived from: the baseline and newest snapshot ids and the
/// curation's columns.
type ToolKey = (Option<String>, Option<String>, String);

/// The [`ToolText`] of each server (by id) with the key it was computed for. Shared by the
/// clones of a [`crate::catalog::ServerStore`]; it holds one entry per server loaded last.
#[derive(Clone, Debug, Default)]
pub struct CatalogCache(Arc<Mutex<HashMap<String, Cached>>>);

/// A cached [`ToolText`] with the key it was computed for.
type Cached = (ToolKey, Arc<ToolText>);

impl CatalogCache {
    fn get(&self, server_id: &str, key: &ToolKey) -> Option<Arc<ToolText>> {
        let entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(server_id)
            .filter(|(cached, _)| cached == key)
            .map(|(_, text)| Arc::clone(text))
    }

    fn put(&self, server_id: String, key: ToolKey, text: Arc<ToolText>) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(server_id, (key, text));
    }

    /// Forgets every server not in `live` (deleted or retired ones).
    fn retain(&self, live: &HashSet<&str>) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|id, _| live.contains(id.as_str()));
    }
}

/// The curation columns, and the snapshot ids, that key a [`ToolText`].
const KEY_COLUMNS: &str = "s.baseline_snapshot_id, s.latest_snapshot_id, \
    c.allow_globs AS curation_allow, c.deny_globs AS curation_deny, \
    c.hidden AS curation_hidden, c.overrides AS curation_overrides, \
    c.unknown_tools AS curation_unknown_tools";

/// How many servers one query of tools reads at most (bind parameters per statement).
const MISS_CHUNK: usize = 500;

/// Every server that is not retired, by namespace and name. Tools are the curated published
/// tools, as consumers see them, taken from `cache` unless their snapshots or curation
/// changed; `slow_ms` classifies the newest health sample.
pub async fn load_catalog(
    db: &Db,
    slow_ms: i64,
    cache: &CatalogCache,
) -> Result<Vec<CatalogEntry>, DbError> {
    let health = latest_health_sql("$1");
    let sql = format!(
        "SELECT s.id, s.namespace, s.name, s.description, s.owner_team, s.category, s.cost_class, \
         s.sensitivity, s.transport, s.lifecycle, s.replacement, s.lifecycle_message, \
         {}, {KEY_COLUMNS} \
         FROM servers s LEFT JOIN tool_curations c ON c.server_id = s.id {} \
         WHERE s.lifecycle <> 'retired' ORDER BY s.namespace, s.name",
        health.columns, health.joins
    );
    let rows = sqlx::query(&sql)
        .bind(gateway_window_start(crate::db::now_millis()))
        .fetch_all(db.pool())
        .await?;
    let mut texts = Vec::with_capacity(rows.len());
    let mut misses = Vec::new();
    for row in &rows {
        let id: String = row.try_get("id")?;
        let text = cache.get(&id, &key_of(row)?);
        if text.is_none() {
            misses.push(id);
        }
        texts.push(text);
    }
    let mut loaded = load_tool_texts(db, &misses, cache).await?;
    let live: HashSet<&str> = rows
        .iter()
        .filter_map(|row| row.try_get::<&str, _>("id").ok())
        .collect();
    cache.retain(&live);
    rows.iter()
        .zip(texts)
        .map(|(row, text)| {
            let text = match text {
                Some(text) => text,
                None => {
                    let id: String = row.try_get("id")?;
                    loaded.remove(&id).unwrap_or_default()
                }
            };
            entry_from_row(row, &text, slow_ms)
        })
        .collect()
}

/// The key of the row's [`ToolText`].
fn key_of(row: &AnyRow) -> Result<ToolKey, DbError> {
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
    Ok((
        row.try_get("baseline_snapshot_id")?,
        row.try_get("latest_snapshot_id")?,
        curation,
    ))
}

/// Computes (and caches) the [`ToolText`] of each server in `ids`, by id.
async fn load_tool_texts(
    db: &Db,
    ids: &[String],
    cache: &CatalogCache,
) -> Result<HashMap<String, Arc<ToolText>>, DbError> {
    let mut texts = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(MISS_CHUNK) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT s.id, s.baseline_snapshot_id, s.latest_snapshot_id, {CURATED_TOOL_COLUMNS} \
             FROM servers s {CURATED_TOOL_JOINS} WHERE s.id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        for row in query.fetch_all(db.pool()).await? {
            let id: String = row.try_get("id")?;
            let text = Arc::new(tool_text(&curated_from_row(&row)?.tools.tools));
            cache.put(id.clone(), key_of(&row)?, Arc::clone(&text));
            texts.insert(id, text);
        }
    }
    Ok(texts)
}

/// The count and lower-case search text of curated `tools`.
fn tool_text(tools: &[ToolDef]) -> ToolText {
    let mut text = String::new();
    for tool in tools {
        for part in [
            Some(&tool.name),
            tool.title.as_ref(),
            tool.description.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            text.push(' ');
            text.push_str(part);
        }
    }
    ToolText {
        count: u32::try_from(tools.len()).unwrap_or(u32::MAX),
        text: text.to_lowercase(),
    }
}

fn entry_from_row(row: &AnyRow, tools: &ToolText, slow_ms: i64) -> Result<CatalogEntry, DbError> {
    let transport: String = row.try_get("transport")?;
    let lifecycle: String = row.try_get("lifecycle")?;
    let health = latest_health_evidence(row, slow_ms)?;
    let card = ServerCard {
        namespace: row.try_get("namespace")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        owner_team: row.try_get("owner_team")?,
        category: row.try_get("category")?,
        sensitivity: row.try_get("sensitivity")?,
        cost_class: row.try_get("cost_class")?,
        transport: Transport::parse(&transport).unwrap_or(Transport::Stdio),
        tool_count: tools.count,
        lifecycle: Lifecycle::parse(&lifecycle).unwrap_or_default(),
        replacement: row.try_get("replacement")?,
        lifecycle_message: row.try_get("lifecycle_message")?,
        health: health.health(),
        health_reason: health.reason(),
    };
    let mut search_text = format!(
        "{}/{} {} {} {}",
        card.namespace, card.name, card.description, card.owner_team, card.category
    )
    .to_lowercase();
    search_text.push_str(&tools.text);
    Ok(CatalogEntry { card, search_text })
}
