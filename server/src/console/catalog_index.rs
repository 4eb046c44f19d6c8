//! The catalog's compact projection: one row per server that is not retired, with the card,
//! the facet values and a lower-case search text that includes its tools' names and
//! descriptions. One query loads it whole ([`load_catalog`]); while the fleet's metadata
//! stands still, a narrower one reads only the newest health of every server
//! ([`load_health`]) for the listing kept from the last. Search and facets run in memory.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::Row;

use apiary_app::model::catalog_search::FacetKind;
use apiary_app::model::{Health, HealthEvidence, Lifecycle, ServerCard, Transport};

use crate::db::{Db, DbError};
use crate::registry::curation::cache::{DerivedCache, DERIVED_KEY_COLUMNS, DERIVED_KEY_JOIN};
use crate::registry::curation::store::curated_from_row;
use crate::registry::model::ToolDef;
use crate::registry::store::{gateway_window_start, latest_health_evidence, latest_health_sql};

/// One server as the catalog lists it before its health is known: kept while the fleet's
/// metadata stands still, and shared by every [`CatalogEntry`] made from it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedServer {
    /// The server's id, which its health is found by.
    pub id: String,
    /// What its card shows, health aside (see [`CatalogEntry::card`]).
    pub card: ServerCard,
    /// Lower-case name, description, owner and category.
    pub search_text: String,
    /// Its tools' count and text, shared with the cache (never copied per request).
    pub tools: Arc<ToolText>,
}

/// One server as the catalog searches it: its listing and its newest health.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogEntry {
    /// The listing, shared (never copied per request).
    pub listed: Arc<ListedServer>,
    /// Its badge.
    pub health: Health,
    /// What the badge rests on (the card's reason is made from it for the shown page only).
    pub evidence: HealthEvidence,
}

impl CatalogEntry {
    /// The server's value for `kind`, as it appears in the URL.
    pub fn facet_value(&self, kind: FacetKind) -> &str {
        let card = &self.listed.card;
        match kind {
            FacetKind::Category => &card.category,
            FacetKind::Owner => &card.owner_team,
            FacetKind::Sensitivity => &card.sensitivity,
            FacetKind::Cost => &card.cost_class,
            FacetKind::Lifecycle => card.lifecycle.as_str(),
            FacetKind::Health => self.health.as_str(),
        }
    }

    /// True when every one of `words` (lower case, without spaces) appears in the search text
    /// or in the tools' names, titles and descriptions.
    pub fn matches(&self, words: &[String]) -> bool {
        let listed = &self.listed;
        words
            .iter()
            .all(|word| listed.search_text.contains(word) || listed.tools.text.contains(word))
    }

    /// Its card, with the health badge and the reason for it.
    pub fn card(&self) -> ServerCard {
        ServerCard {
            health: self.health,
            health_reason: self.evidence.reason(),
            ..self.listed.card.clone()
        }
    }
}

/// The catalog's share of a server's curated tools: their count and their lower-case search
/// text, derived once per snapshots and curation (see [`DerivedCache`]).
#[derive(Debug, Default, PartialEq)]
pub struct ToolText {
    count: u32,
    text: String,
}

/// The [`ToolText`] of each server. Shared by the clones of a
/// [`crate::servers::ServerStore`]; it holds one entry per server loaded last.
pub type CatalogCache = DerivedCache<ToolText>;

/// Every server that is not retired, by namespace and name, with its newest health against
/// `slow_ms`, in one query. Tools are the curated published tools, as consumers see them,
/// taken from `cache` unless their snapshots or curation changed. While the metadata stands
/// still, the listing these entries share can be given its health again by [`with_health`].
pub async fn load_catalog(
    db: &Db,
    slow_ms: i64,
    cache: &CatalogCache,
) -> Result<Vec<CatalogEntry>, DbError> {
    let health = latest_health_sql("$1");
    let sql = format!(
        "SELECT s.id, s.namespace, s.name, s.description, s.owner_team, s.category, s.cost_class, \
         s.sensitivity, s.transport, s.lifecycle, s.replacement, s.lifecycle_message, \
         {}, {DERIVED_KEY_COLUMNS} \
         FROM servers s {DERIVED_KEY_JOIN} {} \
         WHERE s.lifecycle <> 'retired' ORDER BY s.namespace, s.name",
        health.columns, health.joins
    );
    let rows = sqlx::query(&sql)
        .bind(gateway_window_start(crate::db::now_millis()))
        .fetch_all(db.pool())
        .await?;
    let texts = cache
        .values(db, &rows, |row| {
            Ok(tool_text(&curated_from_row(row)?.tools.tools))
        })
        .await?;
    cache.retain_only(&rows);
    rows.iter()
        .zip(texts)
        .map(|(row, text)| {
            let evidence = latest_health_evidence(row, slow_ms)?;
            Ok(CatalogEntry {
                listed: listed_from_row(row, text.unwrap_or_default())?,
                health: evidence.health(),
                evidence,
            })
        })
        .collect()
}

/// What the health of every server that is not retired rests on, by server id, against
/// `slow_ms`.
pub async fn load_health(
    db: &Db,
    slow_ms: i64,
) -> Result<HashMap<String, HealthEvidence>, DbError> {
    let health = latest_health_sql("$1");
    let sql = format!(
        "SELECT s.id, {} FROM servers s {} WHERE s.lifecycle <> 'retired'",
        health.columns, health.joins
    );
    let rows = sqlx::query(&sql)
        .bind(gateway_window_start(crate::db::now_millis()))
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, latest_health_evidence(row, slow_ms)?)))
        .collect()
}

/// `listing` with each server's health taken from `health` (a server missing from it, added
/// since, reads as not checked yet).
pub fn with_health(
    listing: &[Arc<ListedServer>],
    health: &HashMap<String, HealthEvidence>,
    slow_ms: i64,
) -> Vec<CatalogEntry> {
    let unchecked = HealthEvidence {
        slow_ms,
        ..HealthEvidence::default()
    };
    listing
        .iter()
        .map(|listed| {
            let evidence = *health.get(&listed.id).unwrap_or(&unchecked);
            CatalogEntry {
                listed: Arc::clone(listed),
                health: evidence.health(),
                evidence,
            }
        })
        .collect()
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

fn listed_from_row(row: &AnyRow, tools: Arc<ToolText>) -> Result<Arc<ListedServer>, DbError> {
    let transport: String = row.try_get("transport")?;
    let lifecycle: String = row.try_get("lifecycle")?;
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
        health: Health::Unknown,
        health_reason: String::new(),
    };
    let search_text = format!(
        "{}/{} {} {} {}",
        card.namespace, card.name, card.description, card.owner_team, card.category
    )
    .to_lowercase();
    Ok(Arc::new(ListedServer {
        id: row.try_get("id")?,
        card,
        search_text,
        tools,
    }))
}
