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
//! - [`register`]: writing a server's registration, validated, audited and revised;
//! - [`decide`]: who may decide, and how;
//! - [`apply`]: applying an approved proposal, all or nothing;
//! - [`kubernetes`]: the cluster side of an apply in Kubernetes mode;
//! - [`outside_changes`] and [`cluster_changes`]: a resource changed in the cluster outside
//!   Apiary, against the revision Apiary applied;
//! - [`cluster_remotes`]: remote servers that `MCPRemoteProxy` and `MCPServerEntry` objects
//!   declare, registered and served;
//! - [`api`]: the JSON API (the console's proposal pages reach onboarding through
//!   `console::proposals`).

pub mod api;
pub mod apply;
pub mod cluster_changes;
pub mod cluster_follow;
pub mod cluster_remotes;
pub mod cluster_virtual;
pub mod cluster_watch;
pub mod decide;
pub mod findings;
pub mod form_workload;
pub mod kubernetes;
pub mod manifest;
pub mod manifest_diff;
pub mod model;
pub mod outside_changes;
pub mod register;
pub mod revision_diff;
pub mod revisions;
pub mod secrets;
pub mod store;
pub mod validate;
pub mod virtual_form;
pub mod virtual_proposals;

use crate::config::Runtime as RuntimeMode;
use crate::db::Db;
use crate::gateway::Gateway;
use crate::registry::refresh::Refresher;
use crate::runtime::AnyRuntime;
use crate::servers::ServerStore;

use apply::ApplyTarget;
use model::ProposalKind;

/// What onboarding's handlers and console reach (the web layer builds it from the
/// application's state): an approval is applied to the runtime and reloads the gateway.
#[derive(Clone)]
pub struct OnboardingState {
    /// The database.
    pub db: Db,
    /// Server records.
    pub servers: ServerStore,
    /// Which runtime Apiary runs.
    pub mode: RuntimeMode,
    /// The runtime.
    pub runtime: AnyRuntime,
    /// The cluster client, when there is one.
    pub kube: Option<kube::Client>,
    /// The gateway, which reloads a changed server.
    pub gateway: Gateway,
    /// Live tool fetches, started after an applied change.
    pub refresher: Refresher,
}

impl OnboardingState {
    /// Where an approved proposal is applied.
    pub fn apply_target(&self) -> ApplyTarget<'_> {
        ApplyTarget {
            mode: self.mode,
            runtime: self.runtime.runs(),
            kube: self.kube.as_ref(),
        }
    }

    /// What the registration path does after a change: the gateway reloads the server, and a
    /// published server's tools are fetched in the background.
    pub fn after_apply(&self, namespace: &str, name: &str, kind: ProposalKind) {
        if kind == ProposalKind::Virtual {
            self.gateway.forget_other(namespace, name, false);
            return;
        }
        self.gateway.forget(namespace, name);
        if kind == ProposalKind::Retire {
            return;
        }
        let (ns, n) = (namespace.to_owned(), name.to_owned());
        let refresher = self.refresher.clone();
        tokio::spawn(async move {
            if let Err(error) = refresher.refresh(&ns, &n).await {
                tracing::error!(%error, server = %format!("{ns}/{n}"), "tool refresh after an applied proposal failed");
            }
        });
    }

    /// The cluster client when Apiary runs the Kubernetes runtime; `None` in local mode.
    pub fn cluster(&self) -> Option<&kube::Client> {
        self.kube
            .as_ref()
            .filter(|_| self.mode == RuntimeMode::Kubernetes)
    }
}
