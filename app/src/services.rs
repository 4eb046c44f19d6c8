//! The server-side capabilities that server functions use, implemented by the server crate and
//! put into Leptos context. Keeping them behind traits keeps kube, sqlx and rmcp out of this crate.

use std::sync::Arc;

use async_trait::async_trait;

use crate::model::catalog_search::{CatalogQuery, CatalogResults};
use crate::model::server_detail::ServerDetail;
use crate::model::Viewer;

/// A failure that is safe to show to the person who caused it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServiceError(pub String);

/// Read access to the catalog.
#[async_trait]
pub trait CatalogService: Send + Sync {
    /// One page of the servers that are not retired and match `query`, by namespace and name,
    /// with the facet counts.
    async fn search(&self, query: &CatalogQuery) -> Result<CatalogResults, ServiceError>;
}

/// Read access to one server's page.
#[async_trait]
pub trait ServerPageService: Send + Sync {
    /// Everything the page of `namespace/name` shows, or `None` when there is no such server.
    async fn server_detail(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServerDetail>, ServiceError>;
}

/// Everything server functions can reach, provided once per request.
#[derive(Clone)]
pub struct Services {
    /// The catalog.
    pub catalog: Arc<dyn CatalogService>,
    /// The server pages.
    pub server_pages: Arc<dyn ServerPageService>,
    /// The signed-in person (or the local admin).
    pub viewer: Viewer,
}

/// The services of the current request, or a clear error when the server forgot to provide them.
pub fn services() -> Result<Services, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<Services>()
        .ok_or_else(|| leptos::prelude::ServerFnError::new("Apiary's services are not available"))
}
