//! The catalog as the console searches it ([`CatalogService`]): the projection of
//! [`super::catalog_index`], its curated tool text cached across requests, searched and counted
//! per query by [`super::catalog_search`].
//!
//! The projection is kept in two layers, because a live fleet reports health several times a
//! second while people change servers a few times a day: the listing (cards and tool text)
//! is read again only when the fleet's metadata changed, and the health of every server when
//! a sample arrived or a second passed (the gateway's window ages with time alone).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use apiary_app::model::catalog_search::{CatalogQuery, CatalogResults};
use apiary_app::model::ServerCard;
use apiary_app::services::{CatalogService, ServiceError};

use crate::db::changes::{ChangeCache, FleetVersion};
use crate::db::{Db, DbError};

use super::catalog_index::{
    load_catalog, load_health, with_health, CatalogCache, CatalogEntry, ListedServer,
};
use super::catalog_search::search;

/// How long the listing is kept at most while the metadata number stands still: it bounds how
/// late a metadata write shows when PostgreSQL's sequence was read before that write committed
/// (see [`crate::db::changes`]). On SQLite the number moves inside the writing transaction.
const LISTING_MAX_AGE: Duration = Duration::from_secs(30);

/// The catalog over the server records. Clones share the caches.
#[derive(Clone, Debug)]
pub struct Catalog {
    db: Db,
    slow_ms: i64,
    cache: CatalogCache,
    /// The listing without health, with the metadata number it was read at and when.
    listing: Arc<Mutex<Option<Listing>>>,
    /// The whole projection, made again once the fleet changed (or a second passed).
    loaded: ChangeCache<Arc<[CatalogEntry]>>,
}

#[derive(Debug)]
struct Listing {
    metadata: i64,
    read: Instant,
    servers: Arc<[Arc<ListedServer>]>,
}

impl Catalog {
    /// The catalog of `db`, calling a server slow above one second.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            slow_ms: 1_000,
            cache: CatalogCache::default(),
            listing: Arc::default(),
            loaded: ChangeCache::default(),
        }
    }

    /// The same catalog, calling a server slow above `slow_ms` milliseconds.
    pub fn slow_after(self, slow_ms: i64) -> Self {
        Self { slow_ms, ..self }
    }

    /// Every server that is not retired, by namespace and name.
    pub async fn list(&self) -> Result<Vec<ServerCard>, DbError> {
        Ok(self
            .entries()
            .await?
            .iter()
            .map(CatalogEntry::card)
            .collect())
    }

    /// The projection, as made last unless the fleet changed since. While the metadata
    /// stands still only the health of every server is read again, and given to the kept
    /// listing; else the whole projection is read (health included) and its listing kept.
    async fn entries(&self) -> Result<Arc<[CatalogEntry]>, DbError> {
        self.loaded
            .get_or_load(&self.db, "", |version| async move {
                if let Some(servers) = self.kept_listing(version) {
                    let health = load_health(&self.db, self.slow_ms).await?;
                    return Ok(with_health(&servers, &health, self.slow_ms).into());
                }
                let read = Instant::now();
                let entries: Arc<[CatalogEntry]> =
                    load_catalog(&self.db, self.slow_ms, &self.cache)
                        .await?
                        .into();
                *crate::locks::lock(&self.listing) = Some(Listing {
                    metadata: version.metadata,
                    read,
                    servers: entries.iter().map(|e| Arc::clone(&e.listed)).collect(),
                });
                Ok(entries)
            })
            .await
    }

    /// The listing kept at `version`'s metadata number, unless it is too old.
    fn kept_listing(&self, version: FleetVersion) -> Option<Arc<[Arc<ListedServer>]>> {
        crate::locks::lock(&self.listing)
            .as_ref()
            .filter(|kept| {
                kept.metadata == version.metadata && kept.read.elapsed() < LISTING_MAX_AGE
            })
            .map(|kept| Arc::clone(&kept.servers))
    }
}

#[async_trait]
impl CatalogService for Catalog {
    async fn search(&self, query: &CatalogQuery) -> Result<CatalogResults, ServiceError> {
        let entries = self.entries().await.map_err(|error| {
            tracing::error!(%error, "loading the catalog failed");
            ServiceError("the catalog is unavailable; try again shortly".into())
        })?;
        Ok(search(&entries, query))
    }
}
