//! The status of an `MCPServer`, derived (purely) from the validation outcome, the live
//! Deployment and NetworkPolicy, the referenced MCPToolConfig and the fields Apiary does not
//! act on.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;

use crate::resources::crd::{MCPServer, MCPServerStatus, Phase};
use crate::resources::unsupported::{self, Unsupported};

use super::drift;
use super::render::Children;

/// Condition type: at least one pod is ready.
pub const READY: &str = "Ready";
/// Condition type: the `toolConfigRef` names an existing MCPToolConfig (or there is none).
pub const TOOL_CONFIG_RESOLVED: &str = "ToolConfigResolved";
/// Condition type: the live NetworkPolicy and pod template enforce the permission profile in
/// full.
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

/// Condition `PolicyCompliant`: whether the live objects enforce what the profile requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compliance {
    /// The condition's status.
    pub enforced: bool,
    /// Its reason.
    pub reason: &'static str,
    /// Its message.
    pub message: String,
}

/// Compares the live NetworkPolicy and pod template with the rendered ones (which carry the
/// profile, and the user's own `podTemplateSpec`). `gap` is what the profile asks that no
/// NetworkPolicy can express ([`super::render::Plan::policy_gap`]).
pub fn compliance(
    rendered: &Children,
    gap: Option<String>,
    policy: Option<&NetworkPolicy>,
    deployment: Option<&Deployment>,
) -> Compliance {
    let Some(policy) = policy else {
        return Compliance {
            enforced: false,
            reason: "NetworkPolicyMissing",
            message: format!(
                "NetworkPolicy {} does not exist",
                rendered.network_policy.name_any()
            ),
        };
    };
    let mut differences: Vec<String> = drift::network_policy(&rendered.network_policy, policy)
        .into_iter()
        .map(|d| format!("NetworkPolicy {}", d.path))
        .collect();
    if let Some(deployment) = deployment {
        differences.extend(
            drift::deployment(&rendered.deployment, deployment)
                .into_iter()
                .map(|d| format!("Deployment {}", d.path)),
        );
    }
    if !differences.is_empty() {
        return Compliance {
            enforced: false,
            reason: "LiveObjectsDiffer",
            message: format!(
                "the live objects differ from what the profile requires: {}",
                differences.join(", ")
            ),
        };
    }
    match gap {
        Some(gap) => Compliance {
            enforced: false,
            reason: "HostsNotEnforced",
            message: gap,
        },
        None => Compliance {
            enforced: true,
            reason: "Enforced",
            message:
                "the live NetworkPolicy and pod security settings match the permission profile"
                    .into(),
        },
    }
}

/// Whether `server`'s status has a `PolicyCompliant` condition, which only a reconcile that
/// applied its children writes.
pub fn has_policy_condition(server: &MCPServer) -> bool {
    server
        .status
        .as_ref()
        .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == POLICY_COMPLIANT))
}

/// How the reconcile went, as far as the status is concerned.
#[derive(Clone, Debug)]
pub enum Outcome<'a> {
    /// The children were applied, or the apiserver refused one of them.
    Applied {
        /// The in-cluster URL.
        url: String,
        /// The live Deployment, if there is one.
        deployment: Option<&'a Deployment>,
        /// The live objects against the profile.
        policy: Compliance,
        /// What the apiserver said when it refused a child (phase `Degraded`).
        refused: Option<String>,
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
            policy,
            refused,
        } => {
            let desired = deployment
                .and_then(|d| d.spec.as_ref())
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            let ready = deployment
                .and_then(|d| d.status.as_ref())
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            status.url = Some(url.clone());
            status.ready_replicas = Some(ready);
            let (phase, message) = if let Some(refused) = refused {
                (Phase::Degraded, refused.clone())
            } else if desired == 0 {
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
                policy.enforced,
                policy.reason,
                policy.message.clone(),
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
    use crate::operator::render;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};
    use k8s_openapi::jiff::Timestamp;
    use kube::Resource;

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

    /// Applied as `deployment`, with the network policy enforced, `refused` by the apiserver.
    fn applied<'a>(deployment: &'a Deployment, refused: Option<&str>) -> Outcome<'a> {
        let policy = Compliance {
            enforced: true,
            reason: "Enforced",
            message: "ok".into(),
        };
        let refused = refused.map(str::to_owned);
        let (url, deployment) = ("u".into(), Some(deployment));
        Outcome::Applied {
            url,
            deployment,
            policy,
            refused,
        }
    }

    /// [`derive`] for a server that references no tool config.
    fn derive_plain(
        server: &MCPServer,
        outcome: &Outcome<'_>,
        unsupported: &[Unsupported],
        now: &Time,
    ) -> MCPServerStatus {
        derive(
            server,
            outcome,
            &ToolConfigState::NotReferenced,
            unsupported,
            now,
        )
    }

    fn rendered(server: &MCPServer) -> Children {
        let mut server = server.clone();
        server.metadata.namespace = Some("ns1".into());
        server.metadata.uid = Some("uid-1".into());
        let plan = render::validate(&server, None).expect("valid");
        let owner = server
            .controller_owner_ref(&())
            .expect("an owner reference");
        render::build(&server, &plan, owner, "apiary-system").expect("builds")
    }

    #[test]
    fn policy_compliance_is_read_from_the_live_objects() {
        let mut server = server();
        server.spec.permission_profile = None; // deny all egress
        let children = rendered(&server);
        let live_policy = children.network_policy.clone();
        let live_deployment = children.deployment.clone();
        let compliance = |policy: Option<&NetworkPolicy>, deployment: &Deployment| {
            super::compliance(&children, None, policy, Some(deployment))
        };
        assert!(compliance(Some(&live_policy), &live_deployment).enforced);

        // Egress opened on the live object, while the rendered intent still denies it.
        let mut opened = live_policy.clone();
        opened.spec.as_mut().expect("spec").egress = Some(vec![Default::default()]);
        let found = compliance(Some(&opened), &live_deployment);
        assert_eq!((found.enforced, found.reason), (false, "LiveObjectsDiffer"));
        assert!(
            found.message.contains("NetworkPolicy spec.egress"),
            "{found:?}"
        );

        // A privileged container on the live pod template.
        let mut privileged = live_deployment.clone();
        let pod = privileged
            .spec
            .as_mut()
            .expect("spec")
            .template
            .spec
            .as_mut();
        let context = pod.expect("pod").containers[0]
            .security_context
            .as_mut()
            .expect("hardened");
        context.privileged = Some(true);
        let found = compliance(Some(&live_policy), &privileged);
        assert!(!found.enforced);
        assert!(
            found
                .message
                .contains("containers[mcp].securityContext.privileged"),
            "{found:?}"
        );

        let missing = compliance(None, &live_deployment);
        assert_eq!(
            (missing.enforced, missing.reason),
            (false, "NetworkPolicyMissing")
        );
        let gap = super::compliance(&children, Some("hosts".into()), Some(&live_policy), None);
        assert_eq!((gap.enforced, gap.reason), (false, "HostsNotEnforced"));
    }

    #[test]
    fn a_refused_apply_is_degraded_with_the_apiservers_message() {
        let deployment = deployment(Some(1), Some(1));
        let outcome = applied(&deployment, Some("Deployment osv: forbidden"));
        let status = derive_plain(&server(), &outcome, &[], &Time(Timestamp::UNIX_EPOCH));
        assert_eq!(status.phase, Some(Phase::Degraded));
        assert_eq!(status.message.as_deref(), Some("Deployment osv: forbidden"));
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
            let outcome = applied(&deployment, None);
            let status = derive_plain(&server(), &outcome, &[], &now);
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
        let outcome = applied(&deployment, None);
        let mut server = server();
        let unsupported = unsupported_audit();
        server.status = Some(derive_plain(&server, &outcome, &unsupported, &earlier));
        let again = derive_plain(&server, &outcome, &unsupported, &later);
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
        let clean = derive_plain(&server, &outcome, &[], &now);
        let condition = unsupported_condition(&clean);
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("False", "AllFieldsHonoured")
        );
        assert!(!newly_unsupported(None, &clean), "nothing to announce");

        let unsupported = unsupported_audit();
        let flagged = derive_plain(&server, &outcome, &unsupported, &now);
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
        let again = derive_plain(&server, &outcome, &unsupported, &now);
        assert!(!newly_unsupported(server.status.as_ref(), &again));

        // Another set: announced.
        let mut more = server.clone();
        more.spec.rate_limiting = Some(serde_json::json!({"shared": {}}));
        let other = derive_plain(&server, &outcome, &unsupported::fields(&more), &now);
        assert!(newly_unsupported(server.status.as_ref(), &other));
        // All gone: the condition turns False, with no Warning.
        assert!(!newly_unsupported(server.status.as_ref(), &clean));
    }
}
