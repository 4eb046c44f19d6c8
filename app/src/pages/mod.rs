//! Routed pages, one per file.

mod catalog;
mod not_found;
mod server_page;

pub use catalog::CatalogPage;
pub use not_found::NotFoundPage;
pub use server_page::ServerPage;
