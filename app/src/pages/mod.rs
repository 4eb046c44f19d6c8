//! Routed pages, one per file.

mod catalog;
mod not_found;

pub use catalog::CatalogPage;
pub use not_found::NotFoundPage;
