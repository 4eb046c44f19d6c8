//! Self-service onboarding: propose a server, a change or a retirement; review it under the
//! four-eyes rule; apply it to the runtime; keep every applied revision; audit every step.
//!
//! - [`model`]: proposal kinds, states and decisions;
//! - [`validate`]: the one validation of a server spec (pure), which every write of a server
//!   (direct registration, proposal, applied proposal) goes through, plus a proposal's own rules;
//! - [`secrets`]: secrets only as references to Kubernetes Secrets, wherever else they hide;
//! - [`manifest`]: pasted `MCPServer` manifests in (with depth, size and alias limits), revision
//!   manifests out;
//! - [`store`]: proposal rows under an optimistic lock;
//! - [`revisions`]: the applied revisions, and [`revision_diff`] between any two;
//! - [`manifest_diff`]: the side-by-side manifest diff a reviewer reads;
//! - [`findings`]: the policy findings a reviewer weighs;
//! - [`decide`]: who may decide, and how;
//! - [`apply`]: applying an approved proposal, all or nothing;
//! - [`kubernetes`]: the cluster side of an apply in Kubernetes mode;
//! - [`outside_changes`] and [`cluster_changes`]: a resource changed in the cluster outside
//!   Apiary, against the revision Apiary applied;
//! - [`cluster_remotes`]: remote servers that `MCPRemoteProxy` and `MCPServerEntry` objects
//!   declare, registered and served;
//! - [`api`]: the JSON API;
//! - [`console`]: what the console's proposal pages and forms reach.

pub mod api;
pub mod apply;
pub mod cluster_changes;
pub mod cluster_remotes;
pub mod cluster_virtual;
pub mod cluster_watch;
pub mod console;
pub mod decide;
pub mod findings;
pub mod form_workload;
pub mod kubernetes;
pub mod manifest;
pub mod manifest_diff;
pub mod model;
pub mod outside_changes;
pub mod revision_diff;
pub mod revisions;
pub mod secrets;
pub mod store;
pub mod validate;
pub mod virtual_form;
pub mod virtual_proposals;
