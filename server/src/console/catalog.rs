//! The catalog as the console searches it ([`CatalogService`]): the projection of
//! [`super::catalog_index`], its curated tool text cached across requests, searched and counted
//! per query by [`super::catalog_search`].

use async_trait::async_trait;

use apiary_app::model::catalog_search::{CatalogQuery, CatalogResults};
use apiary_app::model::ServerCard;
use apiary_app::services::{CatalogService, ServiceError};

use crate::db::{Db, DbError};

use super::catalog_index::{load_catalog, CatalogCache};
use super::catalog_search::search;

/// The catalog over the server records. Clones share the cache.
#[derive(Clone, Debug)]
pub struct Catalog {
    db: Db,
    slow_ms: i64,
    cache: CatalogCache,
}

impl Catalog {
    /// The catalog of `db`, calling a server slow above one second.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            slow_ms: 1_000,
            cache: CatalogCache::default(),
        }
    }

    /// The same catalog, calling a server slow above `slow_ms` milliseconds.
    pub fn slow_after(self, slow_ms: i64) -> Self {
        Self { slow_ms, ..self }
    }

    /// Every server that is not retired, by namespace and name.
    pub async fn list(&self) -> Result<Vec<ServerCard>, DbError> {
        Ok(load_catalog(&self.db, self.slow_ms, &self.cache)
            .await?
            .into_iter()
            .map(|entry| entry.card)
            .collect())
    }
}

#[async_trait]
impl CatalogService for Catalog {
    async fn search(&self, query: &CatalogQuery) -> Result<CatalogResults, ServiceError> {
        let entries = load_catalog(&self.db, self.slow_ms, &self.cache)
            .await
            .map_err(|error| {
                tracing::error!(%error, "loading the catalog failed");
                ServiceError("the catalog is unavailable; try again shortly".into())
            })?;
        Ok(search(&entries, query))
    }
}
