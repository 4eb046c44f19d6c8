//! In Kubernetes mode, what the registry's newest fetch found is written to the server's
//! `MCPServer` status: `toolCount`, `toolsHash` and condition `ToolsDiscovered`, so
//! `kubectl get mcpservers` shows the `Tools` column and how the last fetch went.
//!
//! The operator owns the rest of the status. Both write with server-side apply under their own
//! field manager; conditions are a map keyed by `type`, so neither apply removes what the other
//! wrote. A failed fetch keeps the count and hash of the newest snapshot (the tools last seen)
//! and turns the condition `False` with the error.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::Resource;

use crate::resources::crd::{MCPServer, MCPServerStatus};
use crate::runtime::ServerId;

pub use crate::resources::crd::TOOLS_DISCOVERED;

/// The field manager of the registry's status writes.
const FIELD_MANAGER: &str = "apiary-registry";

/// The tools last seen: their number and content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// How many tools.
    pub count: usize,
    /// The canonical content hash of the list.
    pub hash: String,
}

/// What a refresh found, as the status reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discovery {
    /// The fetch succeeded.
    Found(Seen),
    /// The fetch failed; `last` is the newest snapshot, if any.
    Failed {
        /// Why.
        error: String,
        /// The tools last seen.
        last: Option<Seen>,
    },
    /// The registry cannot reach the server from here at all.
    Unreachable {
        /// Why.
        reason: String,
        /// The tools last seen.
        last: Option<Seen>,
    },
}

/// The registry's part of the status for `discovery`, given the server's current
/// `conditions` (an unchanged condition keeps its `lastTransitionTime`).
pub fn registry_status(
    discovery: &Discovery,
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
) -> MCPServerStatus {
    let (status, reason, message, seen) = match discovery {
        Discovery::Found(seen) => (
            "True",
            "Fetched",
            format!("the newest fetch found {} tools", seen.count),
            Some(seen),
        ),
        Discovery::Failed { error, last } => (
            "False",
            "FetchFailed",
            format!("the newest fetch failed: {error}"),
            last.as_ref(),
        ),
        Discovery::Unreachable { reason, last } => {
            ("Unknown", "Unreachable", reason.clone(), last.as_ref())
        }
    };
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == TOOLS_DISCOVERED && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    MCPServerStatus {
        tool_count: seen.map(|s| i32::try_from(s.count).unwrap_or(i32::MAX)),
        tools_hash: seen.map(|s| s.hash.clone()),
        conditions: vec![Condition {
            type_: TOOLS_DISCOVERED.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            observed_generation: generation,
            last_transition_time,
        }],
        ..MCPServerStatus::default()
    }
}

/// The part of `status` that the registry writes, for comparing with [`registry_status`].
fn written_by_registry(status: &MCPServerStatus) -> MCPServerStatus {
    MCPServerStatus {
        tool_count: status.tool_count,
        tools_hash: status.tools_hash.clone(),
        conditions: status
            .conditions
            .iter()
            .filter(|c| c.type_ == TOOLS_DISCOVERED)
            .cloned()
            .collect(),
        ..MCPServerStatus::default()
    }
}

/// Writes refresh results to `MCPServer` statuses.
#[derive(Clone)]
pub struct ToolStatusWriter {
    client: kube::Client,
}

impl std::fmt::Debug for ToolStatusWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolStatusWriter").finish_non_exhaustive()
    }
}

impl ToolStatusWriter {
    /// A writer through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// Writes `discovery` to the status of `id`'s `MCPServer`; nothing when there is none (a
    /// server registered in Apiary but not, or not yet, in the cluster) or when the status
    /// already says it. True when it wrote.
    pub async fn write(&self, id: &ServerId, discovery: &Discovery) -> Result<bool, kube::Error> {
        let api: Api<MCPServer> = Api::namespaced(self.client.clone(), &id.namespace);
        let Some(server) = api.get_opt(&id.name).await? else {
            return Ok(false);
        };
        let current = server.status.unwrap_or_default();
        let next = registry_status(
            discovery,
            &current.conditions,
            server.metadata.generation,
            &Time(k8s_openapi::jiff::Timestamp::now()),
        );
        if written_by_registry(&current) == next {
            return Ok(false);
        }
        let patch = serde_json::json!({
            "apiVersion": MCPServer::api_version(&()),
            "kind": MCPServer::kind(&()),
            "status": next,
        });
        api.patch_status(
            &id.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("time"))
    }

    fn seen(count: usize) -> Seen {
        Seen {
            count,
            hash: format!("sha256:{count}"),
        }
    }

    #[test]
    fn a_failed_fetch_keeps_the_tools_last_seen_and_says_why() {
        let status = registry_status(
            &Discovery::Failed {
                error: "connection refused".into(),
                last: Some(seen(3)),
            },
            &[],
            Some(2),
            &at(10),
        );
        assert_eq!(status.tool_count, Some(3));
        assert_eq!(status.tools_hash.as_deref(), Some("sha256:3"));
        let condition = &status.conditions[0];
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("False", "FetchFailed")
        );
        assert!(condition.message.contains("connection refused"));
        assert_eq!(condition.observed_generation, Some(2));
    }

    #[test]
    fn an_unchanged_condition_keeps_its_transition_time() {
        let first = registry_status(&Discovery::Found(seen(4)), &[], None, &at(10));
        let again = registry_status(&Discovery::Found(seen(5)), &first.conditions, None, &at(20));
        assert_eq!(again.conditions[0].last_transition_time, at(10));
        let failed = registry_status(
            &Discovery::Failed {
                error: "timeout".into(),
                last: None,
            },
            &again.conditions,
            None,
            &at(30),
        );
        assert_eq!(failed.conditions[0].last_transition_time, at(30));
        assert_eq!(failed.tool_count, None, "nothing seen, nothing claimed");
    }

    #[test]
    fn the_operator_and_the_registry_each_see_only_their_own_fields() {
        let mut status = registry_status(&Discovery::Found(seen(4)), &[], None, &at(10));
        status.phase = Some(crate::resources::crd::Phase::Ready);
        status.conditions.push(Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Ready".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: at(1),
        });
        let operator = status.written_by_operator();
        assert_eq!(operator.tool_count, None);
        assert_eq!(operator.conditions.len(), 1);
        assert_eq!(operator.conditions[0].type_, "Ready");
        assert_eq!(operator.phase, status.phase);
        let registry = written_by_registry(&status);
        assert_eq!(registry.phase, None);
        assert_eq!(registry.tool_count, Some(4));
        assert_eq!(registry.conditions[0].type_, TOOLS_DISCOVERED);
    }
}
