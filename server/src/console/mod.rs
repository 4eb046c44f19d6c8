//! The server side of the console's pages: the catalog's search index and facets, the data
//! behind one server's page, and the audit log's download. Each module has one job; the app
//! crate sees them only through the `apiary_app::services` traits.

pub mod audit_export;
pub mod catalog;
pub mod catalog_index;
pub mod catalog_search;
pub mod cluster_runtime_view;
pub mod curate;
pub mod manifest;
pub mod proposals;
pub mod refresh;
pub mod runtime_view;
pub mod server_page;
pub mod snapshot_view;
