//! The catalog's compact projection: one row per server that is not retired, with the card,
//! the facet values and a lower-case search text that includes its tools' names and
//! descriptions. One query loads it; search and facets then run in memory.

use sqlx::any::AnyRow;
use sqlx::Row;

use apiary_app::model::catalog_search::FacetKind;
use apiary_app::model::{Lifecycle, ServerCard, Transport};

use crate::db::{Db, DbError};
use crate::registry::curation::store::{
    curated_from_row, CURATED_TOOL_COLUMNS, CURATED_TOOL_JOINS,
};
use crate::registry::store::{latest_health, latest_health_columns};

/// One server as the catalog searches it.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogEntry {
    /// What its card shows.
    pub card: ServerCard,
    /// Cost class (not on the card, but a facet).
    pub cost_class: String,
    /// Sensitivity (not on the card, but a facet).
    pub sensitivity: String,
    /// Lower-case name, description, owner, category, and tool names, titles and descriptions.
    pub search_text: String,
}

impl CatalogEntry {
    /// The server's value for `kind`, as it appears in the URL.
    pub fn facet_value(&self, kind: FacetKind) -> &str {
        match kind {
            FacetKind::Category => &self.card.category,
            FacetKind::Owner => &self.card.owner_team,
            FacetKind::Sensitivity => &self.sensitivity,
            FacetKind::Cost => &self.cost_class,
            FacetKind::Lifecycle => self.card.lifecycle.as_str(),
            FacetKind::Health => self.card.health.as_str(),
        }
    }

    /// True when every one of `words` (lower case) appears in the search text.
    pub fn matches(&self, words: &[String]) -> bool {
        words.iter().all(|word| self.search_text.contains(word))
    }
}

/// Every server that is not retired, by namespace and name. Tools are the curated published
/// tools, as consumers see them; `slow_ms` classifies the newest health sample.
pub async fn load_catalog(db: &Db, slow_ms: i64) -> Result<Vec<CatalogEntry>, DbError> {
    let health = latest_health_columns(crate::db::now_millis());
    let sql = format!(
        "SELECT s.namespace, s.name, s.description, s.owner_team, s.category, s.cost_class, \
         s.sensitivity, s.transport, s.lifecycle, s.replacement, s.lifecycle_message, \
         {health}, {CURATED_TOOL_COLUMNS} \
         FROM servers s {CURATED_TOOL_JOINS} \
         WHERE s.lifecycle <> 'retired' ORDER BY s.namespace, s.name"
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| entry_from_row(row, slow_ms))
        .collect()
}

fn entry_from_row(row: &AnyRow, slow_ms: i64) -> Result<CatalogEntry, DbError> {
    let transport: String = row.try_get("transport")?;
    let lifecycle: String = row.try_get("lifecycle")?;
    let tools = curated_from_row(row)?.tools.tools;
    let card = ServerCard {
        namespace: row.try_get("namespace")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        owner_team: row.try_get("owner_team")?,
        category: row.try_get("category")?,
        transport: Transport::parse(&transport).unwrap_or(Transport::Stdio),
        tool_count: u32::try_from(tools.len()).unwrap_or(u32::MAX),
        lifecycle: Lifecycle::parse(&lifecycle).unwrap_or_default(),
        replacement: row.try_get("replacement")?,
        lifecycle_message: row.try_get("lifecycle_message")?,
        health: latest_health(row, slow_ms)?,
    };
    let mut search_text = format!(
        "{}/{} {} {} {}",
        card.namespace, card.name, card.description, card.owner_team, card.category
    );
    for tool in &tools {
        for part in [
            Some(&tool.name),
            tool.title.as_ref(),
            tool.description.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            search_text.push(' ');
            search_text.push_str(part);
        }
    }
    Ok(CatalogEntry {
        card,
        cost_class: row.try_get("cost_class")?,
        sensitivity: row.try_get("sensitivity")?,
        search_text: search_text.to_lowercase(),
    })
}
