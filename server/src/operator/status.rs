//! The status of an `MCPServer`, derived (purely) from the validation outcome, the applied
//! Deployment, the referenced MCPToolConfig and the fields Apiary does not act on.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;

use super::crd::{MCPServer, MCPServerStatus, Phase};
use super::unsupported::{self, Unsupported};

/// Condition type: at least one pod is ready.
pub const READY: &str = "Ready";
/// Condition type: the `toolConfigRef` names an existing MCPToolConfig (or there is none).
pub const TOOL_CONFIG_RESOLVED: &str = "ToolConfigResolved";
/// Condition type: the NetworkPolicy enforces the permission profile in full.
pub const POLICY_COMPLIANT: &str = "PolicyCompliant";
/// Condition type: `True` when the object sets fields Apiary does not act on (it names them).
pub const UNSUPPORTED_FIELDS: &str = "UnsupportedFields";

/// What became of the referenced MCPToolConfig.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolConfigState {
    /// The spec names none.
    NotReferenced,
    /// Found; the hash of its spec.
    Resolved {
        /// The name.
        name: String,
        /// Hash of its spec.
        hash: String,
    },
    /// Named but absent.
    Missing {
        /// The name.
        name: String,
    },
}

/// How the reconcile went, as far as the status is concerned.
#[derive(Clone, Debug)]
pub enum Outcome<'a> {
    /// The children were applied.
    Applied {
        /// The in-cluster URL.
        url: String,
        /// The Deployment as the apiserver returned it.
        deployment: &'a Deployment,
        /// Why the NetworkPolicy is weaker than the profile, if it is.
        policy_gap: Option<String>,
    },
    /// The spec (or something it needs) is wrong; the message names the field.
    Failed {
        /// `field: reason`.
        message: String,
        /// The condition reason, such as `InvalidSpec`.
        reason: &'static str,
    },
    /// The object is being deleted.
    Terminating,
}

/// The full status to apply. `unsupported` are the fields of `server` that Apiary does not act
/// on ([`unsupported::fields`]). `now` stamps conditions whose status changed; unchanged ones
/// keep their previous `lastTransitionTime`, so re-applying an unchanged status is a no-op.
pub fn derive(
    server: &MCPServer,
    outcome: &Outcome<'_>,
    tool_config: &ToolConfigState,
    unsupported: &[Unsupported],
    now: &Time,
) -> MCPServerStatus {
    let generation = server.metadata.generation;
    let previous = server
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let condition = |type_: &str, ok: bool, reason: &str, message: String| {
        let status = if ok { "True" } else { "False" };
        let last_transition_time = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
        Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time,
        }
    };
    let mut status = MCPServerStatus {
        observed_generation: generation,
        ..MCPServerStatus::default()
    };
    let ready = match outcome {
        Outcome::Applied {
            url,
            deployment,
            policy_gap,
        } => {
            let desired = deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            let ready = deployment
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            status.url = Some(url.clone());
            status.ready_replicas = Some(ready);
            let (phase, message) = if desired == 0 {
                (Phase::Stopped, "scaled to zero".to_owned())
            } else if ready > 0 {
                (Phase::Ready, format!("{ready} of {desired} pods ready"))
            } else {
                (Phase::Pending, format!("0 of {desired} pods ready"))
            };
            status.phase = Some(phase);
            status.message = Some(message.clone());
            status.conditions.push(condition(
                POLICY_COMPLIANT,
                policy_gap.is_none(),
                if policy_gap.is_none() {
                    "Enforced"
                } else {
                    "HostsNotEnforced"
                },
                policy_gap
                    .clone()
                    .unwrap_or_else(|| "the NetworkPolicy enforces the permission profile".into()),
            ));
            (
                ready > 0,
                if ready > 0 { "Ready" } else { "NotReady" },
                message,
            )
        }
        Outcome::Failed { message, reason } => {
            status.phase = Some(Phase::Failed);
            status.message = Some(message.clone());
            (false, *reason, message.clone())
        }
        Outcome::Terminating => {
            status.phase = Some(Phase::Terminating);
            status.message = Some("being deleted".into());
            (false, "Terminating", "being deleted".into())
        }
    };
    status
        .conditions
        .insert(0, condition(READY, ready.0, ready.1, ready.2));
    status.conditions.push(match tool_config {
        ToolConfigState::NotReferenced => condition(
            TOOL_CONFIG_RESOLVED,
            true,
            "NotReferenced",
            "no toolConfigRef; every tool is published".into(),
        ),
        ToolConfigState::Resolved { name, hash } => {
            status.tool_config_hash = Some(hash.clone());
            condition(
                TOOL_CONFIG_RESOLVED,
                true,
                "Resolved",
                format!("MCPToolConfig {name} found"),
            )
        }
        ToolConfigState::Missing { name } => condition(
            TOOL_CONFIG_RESOLVED,
            false,
            "ToolConfigNotFound",
            format!(
                "spec.toolConfigRef.name: MCPToolConfig {name} not found in namespace {}",
                server.namespace().unwrap_or_default()
            ),
        ),
    });
    status.conditions.push(condition(
        UNSUPPORTED_FIELDS,
        !unsupported.is_empty(),
        if unsupported.is_empty() {
            "AllFieldsHonoured"
        } else {
            "FieldsIgnored"
        },
        unsupported::message(unsupported),
    ));
    status
}

/// Whether `next` flags a different set of unsupported fields than `previous` did (and flags
/// any): the moment for a Warning Event, rather than every reconcile.
pub fn newly_unsupported(previous: Option<&MCPServerStatus>, next: &MCPServerStatus) -> bool {
    let find = |status: &MCPServerStatus| {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == UNSUPPORTED_FIELDS)
            .map(|c| (c.status.clone(), c.message.clone()))
    };
    let next = find(next);
    next.as_ref().is_some_and(|(status, _)| status == "True") && previous.and_then(find) != next
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};
    use k8s_openapi::jiff::Timestamp;

    fn server() -> MCPServer {
        let mut server: MCPServer =
            serde_yaml::from_str(include_str!("../../tests/fixtures/osv-mcpserver.yaml"))
                .expect("fixture");
        server.metadata.generation = Some(3);
        server
    }

    fn deployment(replicas: Option<i32>, ready: Option<i32>) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas,
                ..DeploymentSpec::default()
            }),
            status: Some(DeploymentStatus {
                ready_replicas: ready,
                ..DeploymentStatus::default()
            }),
            ..Deployment::default()
        }
    }

    #[test]
    fn phases_follow_the_deployment() {
        let now = Time(Timestamp::UNIX_EPOCH);
        let cases = [
            (Some(1), None, Phase::Pending, "False"),
            (Some(2), Some(1), Phase::Ready, "True"),
            (Some(0), None, Phase::Stopped, "False"),
        ];
        for (replicas, ready, phase, condition) in cases {
            let deployment = deployment(replicas, ready);
            let outcome = Outcome::Applied {
                url: "http://x".into(),
                deployment: &deployment,
                policy_gap: None,
            };
            let status = derive(
                &server(),
                &outcome,
                &ToolConfigState::NotReferenced,
                &[],
                &now,
            );
            assert_eq!(status.phase, Some(phase));
            assert_eq!(status.observed_generation, Some(3));
            assert_eq!(status.conditions[0].type_, READY);
            assert_eq!(status.conditions[0].status, condition);
        }
    }

    #[test]
    fn failure_and_missing_tool_config_are_explained() {
        let now = Time(Timestamp::UNIX_EPOCH);
        let outcome = Outcome::Failed {
            message: "spec.image: bad".into(),
            reason: "InvalidSpec",
        };
        let status = derive(
            &server(),
            &outcome,
            &ToolConfigState::Missing {
                name: "tools".into(),
            },
            &[],
            &now,
        );
        assert_eq!(status.phase, Some(Phase::Failed));
        assert_eq!(status.message.as_deref(), Some("spec.image: bad"));
        let resolved = status
            .conditions
            .iter()
            .find(|c| c.type_ == TOOL_CONFIG_RESOLVED)
            .expect("condition");
        assert_eq!(resolved.status, "False");
        assert_eq!(resolved.reason, "ToolConfigNotFound");
    }

    #[test]
    fn unchanged_conditions_keep_their_transition_time() {
        let earlier = Time(Timestamp::UNIX_EPOCH);
        let later = Time(Timestamp::MAX);
        let deployment = deployment(Some(1), Some(1));
        let outcome = Outcome::Applied {
            url: "u".into(),
            deployment: &deployment,
            policy_gap: None,
        };
        let mut server = server();
        let unsupported = unsupported_audit();
        server.status = Some(derive(
            &server,
            &outcome,
            &ToolConfigState::NotReferenced,
            &unsupported,
            &earlier,
        ));
        let again = derive(
            &server,
            &outcome,
            &ToolConfigState::NotReferenced,
            &unsupported,
            &later,
        );
        assert_eq!(Some(&again), server.status.as_ref());
    }

    fn unsupported_audit() -> Vec<Unsupported> {
        let mut server = server();
        server.spec.audit = Some(serde_json::json!({"enabled": true}));
        unsupported::fields(&server)
    }

    fn unsupported_condition(status: &MCPServerStatus) -> &Condition {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == UNSUPPORTED_FIELDS)
            .expect("the UnsupportedFields condition")
    }

    #[test]
    fn unsupported_fields_are_a_condition_and_announced_once_per_change() {
        let now = Time(Timestamp::UNIX_EPOCH);
        let outcome = Outcome::Terminating;
        let mut server = server();
        let clean = derive(
            &server,
            &outcome,
            &ToolConfigState::NotReferenced,
            &[],
            &now,
        );
        let condition = unsupported_condition(&clean);
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("False", "AllFieldsHonoured")
        );
        assert!(!newly_unsupported(None, &clean), "nothing to announce");

        let unsupported = unsupported_audit();
        let flagged = derive(
            &server,
            &outcome,
            &ToolConfigState::NotReferenced,
            &unsupported,
            &now,
        );
        let condition = unsupported_condition(&flagged);
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("True", "FieldsIgnored")
        );
        assert!(condition.message.contains("spec.audit"), "{condition:?}");
        assert!(newly_unsupported(Some(&clean), &flagged));
        assert!(newly_unsupported(None, &flagged));

        // The same set again: no new announcement.
        server.status = Some(flagged.clone());
        let again = derive(
            &server,
            &outcome,
            &ToolConfigState::NotReferenced,
            &unsupported,
            &now,
        );
        assert!(!newly_unsupported(server.status.as_ref(), &again));

        // Another set: announced.
        let mut more = server.clone();
        more.spec.rate_limiting = Some(serde_json::json!({"shared": {}}));
        let other = derive(
            &server,
            &outcome,
            &ToolConfigState::NotReferenced,
            &unsupported::fields(&more),
            &now,
        );
        assert!(newly_unsupported(server.status.as_ref(), &other));
        // All gone: the condition turns False, with no Warning.
        assert!(!newly_unsupported(server.status.as_ref(), &clean));
    }
}
