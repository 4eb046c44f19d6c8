//! The status Apiary writes on a `VirtualMCPServer`: phase, gateway URL, tool and backend
//! counts, each member of the group, and the conditions `Accepted`, `GroupRefValidated`,
//! `MembersResolved` and `UnsupportedFields`. Pure; an unchanged condition keeps its
//! `lastTransitionTime`, so an unchanged status is not rewritten.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::onboarding::cluster_remotes::declaration::FieldNote;
use crate::onboarding::cluster_remotes::status::ConditionWriter;
use crate::resources::virtual_crd::{DiscoveredBackend, VirtualMCPServerStatus};

/// Whether the object is served as a virtual server.
pub const ACCEPTED: &str = "Accepted";
/// Whether its `MCPGroup` exists (ToolHive's condition).
pub const GROUP_REF_VALIDATED: &str = "GroupRefValidated";
/// Whether every member's tools are drawn, with no tool left out by a conflict.
pub const MEMBERS_RESOLVED: &str = "MembersResolved";
/// Fields kept without effect.
pub use crate::onboarding::cluster_remotes::status::UNSUPPORTED_FIELDS;

/// A member's status in [`DiscoveredBackend::status`] when its tools are drawn.
pub const READY: &str = "ready";

/// What became of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its group does not exist: not served.
    NoGroup {
        /// The group it names.
        group: String,
    },
    /// Not served: `reason` (a condition reason) and why, naming the fields.
    NotServed {
        /// `FieldsRefused`, `Invalid` or `NameTaken`.
        reason: &'static str,
        /// The fields and the fix.
        message: String,
    },
    /// Served by the gateway.
    Served {
        /// Tools its clients see.
        tool_count: usize,
        /// Tools left out, and why (conflicts that arose after saving, members gone since).
        left_out: Vec<String>,
    },
}

/// The status for `outcome`, with the group's `backends`, `flagged` fields, the gateway
/// endpoint `url`, the object's `generation` and its `previous` conditions.
pub fn status(
    outcome: &Outcome,
    backends: &[DiscoveredBackend],
    flagged: &[FieldNote],
    url: &str,
    (generation, previous): (Option<i64>, &[Condition]),
    now: &Time,
) -> VirtualMCPServerStatus {
    let writer = ConditionWriter {
        previous,
        generation,
        now,
    };
    let condition = |type_: &str, status: &str, reason: &str, message: String| {
        writer.condition(type_, status, reason, message)
    };
    let unsupported = writer.unsupported(flagged);
    let group = match outcome {
        Outcome::NoGroup { group } => condition(
            GROUP_REF_VALIDATED,
            "False",
            "GroupRefNotFound",
            format!("the MCPGroup {group} does not exist in this namespace; create it"),
        ),
        _ => condition(
            GROUP_REF_VALIDATED,
            "True",
            "GroupRefValid",
            "the MCPGroup exists".into(),
        ),
    };
    let unavailable: Vec<String> = backends
        .iter()
        .filter(|b| b.status != READY)
        .map(|b| {
            format!(
                "{} {}: {}",
                b.kind.as_deref().unwrap_or("member"),
                b.name,
                b.message.as_deref().unwrap_or(&b.status)
            )
        })
        .collect();
    let ready = backends.iter().filter(|b| b.status == READY).count();
    let (phase, message, accepted, resolved, tool_count) = match outcome {
        Outcome::NoGroup { .. } => {
            let why = group.message.clone();
            (
                "Failed",
                format!("not served: {why}"),
                condition(ACCEPTED, "False", "GroupRefNotFound", why),
                None,
                None,
            )
        }
        Outcome::NotServed { reason, message } => (
            "Failed",
            format!("not served: {message}"),
            condition(ACCEPTED, "False", reason, message.clone()),
            None,
            None,
        ),
        Outcome::Served {
            tool_count,
            left_out,
        } => {
            let accepted = condition(
                ACCEPTED,
                "True",
                "Served",
                "an Apiary virtual server, served through its gateway".into(),
            );
            let problems: Vec<String> = unavailable.iter().chain(left_out).cloned().collect();
            let resolved = if problems.is_empty() {
                condition(
                    MEMBERS_RESOLVED,
                    "True",
                    "AllMembersResolved",
                    format!("the tools of all {ready} members are drawn"),
                )
            } else {
                condition(
                    MEMBERS_RESOLVED,
                    "False",
                    "MembersUnresolved",
                    problems.join("; "),
                )
            };
            let (phase, message) = if problems.is_empty() {
                (
                    "Ready",
                    format!("served: {tool_count} tools from {ready} members"),
                )
            } else {
                (
                    "Degraded",
                    format!(
                        "served: {tool_count} tools from {ready} members; {}",
                        resolved.message
                    ),
                )
            };
            (phase, message, accepted, Some(resolved), Some(*tool_count))
        }
    };
    let served = matches!(outcome, Outcome::Served { .. });
    VirtualMCPServerStatus {
        phase: Some(phase.into()),
        message: Some(message),
        url: served.then(|| url.to_owned()),
        tool_count: tool_count.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        backend_count: served.then(|| i32::try_from(ready).unwrap_or(i32::MAX)),
        discovered_backends: backends.to_vec(),
        observed_generation: generation,
        conditions: [Some(accepted), Some(group), resolved, Some(unsupported)]
            .into_iter()
            .flatten()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("time"))
    }

    fn find<'a>(status: &'a VirtualMCPServerStatus, type_: &str) -> &'a Condition {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .expect("condition")
    }

    fn backend(name: &str, status: &str, message: Option<&str>) -> DiscoveredBackend {
        DiscoveredBackend {
            name: name.into(),
            kind: Some("MCPServer".into()),
            status: status.into(),
            message: message.map(Into::into),
            url: None,
        }
    }

    #[test]
    fn a_member_that_is_not_published_degrades_it_and_is_named() {
        let served = Outcome::Served {
            tool_count: 3,
            left_out: Vec::new(),
        };
        let all = [backend("a", READY, None), backend("b", READY, None)];
        let ready = status(
            &served,
            &all,
            &[],
            "http://x/mcp/ns/v",
            (Some(2), &[]),
            &at(1),
        );
        assert_eq!(ready.phase.as_deref(), Some("Ready"));
        assert_eq!(ready.tool_count, Some(3));
        assert_eq!(ready.backend_count, Some(2));
        assert_eq!(ready.url.as_deref(), Some("http://x/mcp/ns/v"));
        assert_eq!(find(&ready, MEMBERS_RESOLVED).status, "True");
        let again = status(
            &served,
            &all,
            &[],
            "http://x/mcp/ns/v",
            (Some(2), &ready.conditions),
            &at(9),
        );
        assert_eq!(again, ready, "an unchanged status is not rewritten");

        let one_gone = [
            backend("a", READY, None),
            backend(
                "b",
                "unavailable",
                Some("not published in Apiary's registry"),
            ),
        ];
        let degraded = status(
            &served,
            &one_gone,
            &[],
            "u",
            (Some(2), &ready.conditions),
            &at(5),
        );
        assert_eq!(degraded.phase.as_deref(), Some("Degraded"));
        assert_eq!(degraded.backend_count, Some(1));
        let why = &find(&degraded, MEMBERS_RESOLVED).message;
        assert!(why.contains("MCPServer b: not published"), "{why}");
        assert_eq!(find(&degraded, ACCEPTED).last_transition_time, at(1));
    }

    #[test]
    fn a_missing_group_and_refused_fields_are_failures_without_an_endpoint() {
        let flagged = [FieldNote {
            field: "spec.config.compositeTools".into(),
            why: "not run".into(),
        }];
        let missing = Outcome::NoGroup {
            group: "team".into(),
        };
        let failed = status(&missing, &[], &flagged, "u", (None, &[]), &at(1));
        assert_eq!(failed.phase.as_deref(), Some("Failed"));
        assert_eq!(failed.url, None);
        assert_eq!(find(&failed, GROUP_REF_VALIDATED).status, "False");
        assert_eq!(find(&failed, ACCEPTED).reason, "GroupRefNotFound");
        assert!(find(&failed, UNSUPPORTED_FIELDS)
            .message
            .contains("spec.config.compositeTools: not run"));

        let refused = Outcome::NotServed {
            reason: "FieldsRefused",
            message: "spec.incomingAuth.type: oidc".into(),
        };
        let written = status(&refused, &[], &[], "u", (None, &[]), &at(1));
        assert_eq!(find(&written, ACCEPTED).status, "False");
        assert_eq!(find(&written, GROUP_REF_VALIDATED).status, "True");
        assert!(written.message.as_deref().unwrap_or("").contains("oidc"));
    }
}
