//! The catalog as the console searches it ([`CatalogService`]): the projection of
//! [`super::catalog_index`], its curated tool text cached across requests, searched and counted
//! per query by [`super::catalog_search`].
//!
//! The projection is kept in two layers, because a live fleet reports health several times a
//! second while people change servers a few times a day: the listing (cards and tool text)
//! is read again only when the fleet's metadata changed, and the health of every server when
//! a sample arrived or a second passed (the gateway's window ages with time alone).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use apiary_app::model::catalog_search::{CatalogQuery, CatalogResults};
use apiary_app::model::ServerCard;
use apiary_app::services::{CatalogService, ServiceError};

use crate::db::changes::{ChangeCache, FleetVersion};
use crate::db::{Db, DbError};

use super::catalog_index::{
    load_health, load_listing, with_health, CatalogCache, CatalogEntry, ListedServer,
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

    /// The projection, as made last unless the fleet changed since: the listing again only
    /// if its metadata changed, the health of every server in any case.
    async fn entries(&self) -> Result<Arc<[CatalogEntry]>, DbError> {
        self.loaded
            .get_or_load(&self.db, "", |version| async move {
                // Two queries on two pooled connections, side by side.
                let (listing, health) =
                    tokio::try_join!(self.listing(version), load_health(&self.db, self.slow_ms))?;
                Ok(with_health(&listing, &health, self.slow_ms).into())
            })
            .await
    }

    /// The listing kept at `version`'s metadata number, else read and kept. Only the maker of
    /// [`Self::entries`] calls this, one at a time.
    async fn listing(&self, version: FleetVersion) -> Result<Arc<[Arc<ListedServer>]>, DbError> {
        let kept = self
            .listing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|kept| {
                kept.metadata == version.metadata && kept.read.elapsed() < LISTING_MAX_AGE
            })
            .map(|kept| Arc::clone(&kept.servers));
        if let Some(servers) = kept {
            return Ok(servers);
        }
        let read = Instant::now();
        let servers: Arc<[Arc<ListedServer>]> = load_listing(&self.db, &self.cache).await?.into();
        *self.listing.lock().unwrap_or_else(PoisonError::into_inner) = Some(Listing {
            metadata: version.metadata,
            read,
            servers: Arc::clone(&servers),
        });
        Ok(servers)
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
