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
pub mod source;
pub mod store;
pub mod tool;
pub mod tool_status;

/// Registry settings.
#[derive(Clone, Debug)]
pub struct RegistrySettings {
    /// The URL clients use to reach Apiary (its gateway), such as `https://apiary.example.com`.
    pub public_url: String,
    /// A fetch slower than this many milliseconds marks a server slow.
    pub slow_ms: i64,
}
