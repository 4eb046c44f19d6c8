//! The registry: live tool schemas (fetch), their drift (diff), the schema contract (policy),
//! storage of snapshots and health, and the MCP Registry API with orchestrator exports.

pub mod canonical;
pub mod diff;
pub mod fetch;
pub mod model;
pub mod policy;
