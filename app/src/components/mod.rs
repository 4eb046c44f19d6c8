//! Reusable view components, one per file.

mod empty_state;
mod health_badge;
mod local_mode_banner;
mod server_card;
mod site_header;

pub use empty_state::EmptyState;
pub use health_badge::HealthBadge;
pub use local_mode_banner::LocalModeBanner;
pub use server_card::ServerCardView;
pub use site_header::SiteHeader;
