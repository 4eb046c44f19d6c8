//! The catalog as the console searches it ([`CatalogService`]): the projection of
//! [`super::catalog_index`], its curated tool text cached across requests, searched and counted
//! per query by [`super::catalog_search`].

use std::sync::Arc;

use async_trait::async_trait;

use apiary_app::model::catalog_search::{CatalogQuery, CatalogResults};
use apiary_app::model::ServerCard;
use apiary_app::services::{CatalogService, ServiceError};

use crate::db::changes::ChangeCache;
use crate::db::{Db, DbError};

use super::catalog_index::{load_catalog, CatalogCache, CatalogEntry};
use super::catalog_search::search;

/// The catalog over the server records. Clones share the caches.
#[derive(Clone, Debug)]
pub struct Catalog {
    db: Db,
    slow_ms: i64,
    cache: CatalogCache,
    /// The whole projection, read again once the fleet changed (or a second passed).
    loaded: ChangeCache<Arc<[CatalogEntry]>>,
}

impl Catalog {
    /// The catalog of `db`, calling a server slow above one second.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            slow_ms: 1_000,
            cache: CatalogCache::default(),
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
            .map(|entry| entry.card.clone())
            .collect())
    }

    /// The projection, as loaded last unless the fleet changed since.
    async fn entries(&self) -> Result<Arc<[CatalogEntry]>, DbError> {
        self.loaded
            .get_or_load(&self.db, "", || async {
                Ok(load_catalog(&self.db, self.slow_ms, &self.cache)
                    .await?
                    .into())
            })
            .await
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
