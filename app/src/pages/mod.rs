//! Routed pages, one per file.

mod audit_log;
mod catalog;
mod change;
mod curate;
mod fleet_refresh;
mod not_found;
mod propose;
mod review;
mod reviews;
mod server_page;
mod virtual_servers;

pub use audit_log::AuditLogPage;
pub use catalog::CatalogPage;
pub use change::ChangePage;
pub use curate::CuratePage;
pub use fleet_refresh::FleetRefreshPage;
pub use not_found::NotFoundPage;
pub use propose::ProposePage;
pub use review::ReviewPage;
pub use reviews::ReviewsPage;
pub use server_page::ServerPage;
pub use virtual_servers::{ProposeVirtualServerPage, VirtualServersPage};
