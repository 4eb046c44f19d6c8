//! Catalog server functions.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::catalog_search::{CatalogQuery, CatalogResults};

/// One page of the catalog for `query`, with facet counts.
#[server(input = Json)]
pub async fn search_catalog(query: CatalogQuery) -> Result<CatalogResults, ServerFnError> {
    let services = crate::services::services()?;
    Ok(services.catalog.search(&query).await?)
}
