//! Routed pages, one per file.

mod audit_log;
mod catalog;
mod curate;
mod not_found;
mod server_page;

pub use audit_log::AuditLogPage;
pub use catalog::CatalogPage;
pub use curate::CuratePage;
pub use not_found::NotFoundPage;
pub use server_page::ServerPage;
