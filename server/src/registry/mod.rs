//! The registry: live tool schemas (fetch), their drift (diff), the schema contract (policy),
//! storage of snapshots and health, and the MCP Registry API with orchestrator exports.

pub mod listing;
pub mod model;
pub mod publish;
pub mod source;
pub mod store;
