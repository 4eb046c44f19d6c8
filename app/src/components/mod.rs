//! Reusable view components, one per file.

mod catalog_filters;
mod connection_snippets;
mod copyable_code;
mod empty_state;
mod health_badge;
mod latency_chart;
mod lifecycle_badge;
mod local_mode_banner;
mod page_section;
mod pagination;
mod policy_findings;
mod schema_table;
mod server_card;
mod server_overview;
mod site_header;
mod snapshot_history;
mod tool_list;
mod tool_usage_table;

pub use catalog_filters::CatalogFilters;
pub use connection_snippets::ConnectionSnippets;
pub use copyable_code::CopyableCode;
pub use empty_state::EmptyState;
pub use health_badge::HealthBadge;
pub use latency_chart::{CallLatencyChart, LatencyChart};
pub use lifecycle_badge::LifecycleBadge;
pub use local_mode_banner::LocalModeBanner;
pub use page_section::PageSection;
pub use pagination::Pagination;
pub use policy_findings::PolicyFindings;
pub use schema_table::SchemaTable;
pub use server_card::ServerCardView;
pub use server_overview::ServerOverviewView;
pub use site_header::SiteHeader;
pub use snapshot_history::SnapshotHistory;
pub use tool_list::ToolList;
pub use tool_usage_table::ToolUsageTable;
