//! The registry: live tool schemas (fetch), their drift (diff), the schema contract (policy),
//! storage of snapshots and health, and the MCP Registry API with orchestrator exports.

pub mod api;
pub mod canonical;
pub mod curation;
pub mod deprecation;
pub mod diff;
pub mod drift_review;
pub mod export;
pub mod fetch;
pub mod fleet;
pub mod internal_api;
pub mod listing;
pub mod model;
pub mod policy;
pub mod publish;
pub mod refresh;
pub mod server_json;
pub mod store;
pub mod tool;
pub mod tool_list;
pub mod tool_status;

use std::sync::Arc;

use crate::db::Db;
use crate::servers::ServerStore;

/// What the registry's handlers reach (the web layer builds it from the application's state).
#[derive(Clone)]
pub struct RegistryState {
    /// The database.
    pub db: Db,
    /// Server records.
    pub servers: ServerStore,
    /// Registry settings.
    pub settings: Arc<RegistrySettings>,
    /// What the registry lists beside the servers (the virtual servers).
    pub more_published: Option<Arc<dyn listing::MorePublished>>,
    /// The listing's tools derived from each server's snapshots and curation.
    pub listing: listing::ListingCache,
    /// Whole answers of `/v0.1/servers`, sent again while the fleet stands still.
    pub pages: crate::db::changes::ChangeCache<axum::body::Bytes>,
    /// Live tool fetches.
    pub refresher: refresh::Refresher,
    /// The gateway, which forgets what it cached about a server that changed.
    pub gateway: Arc<dyn ServerChanges>,
    /// The cluster client, where a curation is also written as an `MCPToolConfig`.
    pub kube: Option<kube::Client>,
}

/// Whoever serves the registry's servers (the gateway), told when a server's tools, curation
/// or lifecycle change.
pub trait ServerChanges: Send + Sync {
    /// Forgets what is cached about `namespace/name`, so the next request sees the change.
    fn forget(&self, namespace: &str, name: &str);
}

/// Registry settings.
#[derive(Clone, Debug)]
pub struct RegistrySettings {
    /// The URL clients use to reach Apiary (its gateway), such as `https://apiary.example.com`.
    pub public_url: String,
    /// A fetch slower than this many milliseconds marks a server slow.
    pub slow_ms: i64,
}
