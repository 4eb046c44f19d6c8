//! The status Apiary writes on a remote server object: phase, gateway URL, tool count, and the
//! conditions `Accepted`, `UnsupportedFields` and `RemoteAvailable`. Pure; an unchanged
//! condition keeps its `lastTransitionTime`, so an unchanged status is not rewritten.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::resources::remote_crd::RemoteServerStatus;

use super::declaration::FieldNote;

/// Whether the object's server is registered.
pub const ACCEPTED: &str = "Accepted";
/// Fields kept without effect.
pub const UNSUPPORTED_FIELDS: &str = "UnsupportedFields";
/// How the registry's newest fetch of the remote server went.
pub const REMOTE_AVAILABLE: &str = "RemoteAvailable";

/// The registry's newest fetch of a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastFetch {
    /// The error of the newest fetch; `None` when it succeeded.
    pub error: Option<String>,
    /// Tools in the newest snapshot.
    pub tool_count: Option<i64>,
}

/// What became of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not registered: `reason` (a condition reason) and why, naming the fields.
    NotRegistered {
        /// `FieldsRefused`, `Invalid` or `NameTaken`.
        reason: &'static str,
        /// The fields and the fix.
        message: String,
    },
    /// Registered and published.
    Registered {
        /// Why the gateway withholds it, if it does.
        withheld: Option<String>,
        /// The newest fetch, if any.
        fetch: Option<LastFetch>,
    },
}

/// `refused` as one message.
pub fn refused_message(refused: &[FieldNote]) -> String {
    refused
        .iter()
        .map(|note| format!("{}: {}", note.field, note.why))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Builds conditions that keep their `lastTransitionTime` while their status stays the same.
pub struct ConditionWriter<'a> {
    /// The conditions written last.
    pub previous: &'a [Condition],
    /// The object's generation.
    pub generation: Option<i64>,
    /// The time of a transition.
    pub now: &'a Time,
}

impl ConditionWriter<'_> {
    /// The condition `type_` with `status`, `reason` and `message`.
    pub fn condition(&self, type_: &str, status: &str, reason: &str, message: String) -> Condition {
        let last_transition_time = self
            .previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map_or_else(|| self.now.clone(), |c| c.last_transition_time.clone());
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            observed_generation: self.generation,
            last_transition_time,
        }
    }

    /// `UnsupportedFields`: `True` naming the `flagged` fields, each with why.
    pub fn unsupported(&self, flagged: &[FieldNote]) -> Condition {
        if flagged.is_empty() {
            self.condition(
                UNSUPPORTED_FIELDS,
                "False",
                "AllFieldsActedOn",
                "Apiary acts on every field set".into(),
            )
        } else {
            self.condition(
                UNSUPPORTED_FIELDS,
                "True",
                "NotActedOn",
                format!("kept without effect: {}", refused_message(flagged)),
            )
        }
    }
}

/// The status for `outcome`, with `flagged` fields, the gateway endpoint `url`, the object's
/// `generation` and its `previous` conditions.
pub fn status(
    outcome: &Outcome,
    flagged: &[FieldNote],
    url: &str,
    (generation, previous): (Option<i64>, &[Condition]),
    now: &Time,
) -> RemoteServerStatus {
    let writer = ConditionWriter {
        previous,
        generation,
        now,
    };
    let condition = |type_: &str, status: &str, reason: &str, message: String| {
        writer.condition(type_, status, reason, message)
    };
    let unsupported = writer.unsupported(flagged);
    let (phase, message, accepted, available, tool_count, url) = match outcome {
        Outcome::NotRegistered { reason, message } => (
            "Failed",
            format!("not registered: {message}"),
            condition(ACCEPTED, "False", reason, message.clone()),
            None,
            None,
            None,
        ),
        Outcome::Registered { withheld, fetch } => {
            let accepted = condition(
                ACCEPTED,
                "True",
                "Registered",
                "registered in Apiary's registry and served through its gateway".into(),
            );
            let available = match fetch {
                None => condition(
                    REMOTE_AVAILABLE,
                    "Unknown",
                    "NotFetchedYet",
                    "the registry has not fetched the remote server's tools yet".into(),
                ),
                Some(LastFetch { error: None, .. }) => condition(
                    REMOTE_AVAILABLE,
                    "True",
                    "Fetched",
                    "the remote server answered the newest fetch".into(),
                ),
                Some(LastFetch {
                    error: Some(error), ..
                }) => condition(
                    REMOTE_AVAILABLE,
                    "False",
                    "FetchFailed",
                    format!("the newest fetch failed: {error}"),
                ),
            };
            let (phase, message) = match (withheld, fetch) {
                (Some(why), _) => ("Failed", format!("not served: {why}")),
                (None, None) => ("Pending", "waiting for the first fetch of its tools".into()),
                (None, Some(LastFetch { error: None, .. })) => {
                    ("Ready", "served; the remote server answers".into())
                }
                (None, Some(LastFetch { error: Some(_), .. })) => {
                    ("Failed", available.message.clone())
                }
            };
            let count = fetch.as_ref().and_then(|f| f.tool_count);
            (
                phase,
                message,
                accepted,
                Some(available),
                count,
                Some(url.to_owned()),
            )
        }
    };
    RemoteServerStatus {
        phase: Some(phase.into()),
        url,
        tool_count,
        message: Some(message),
        observed_generation: generation,
        conditions: [Some(accepted), Some(unsupported), available]
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

    fn find<'a>(status: &'a RemoteServerStatus, type_: &str) -> &'a Condition {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .expect("condition")
    }

    #[test]
    fn the_phase_follows_the_newest_fetch_and_keeps_transition_times() {
        let fetched = Outcome::Registered {
            withheld: None,
            fetch: Some(LastFetch {
                error: None,
                tool_count: Some(4),
            }),
        };
        let first = status(&fetched, &[], "http://a/mcp/ns/x", (Some(1), &[]), &at(10));
        assert_eq!(first.phase.as_deref(), Some("Ready"));
        assert_eq!(first.tool_count, Some(4));
        assert_eq!(find(&first, REMOTE_AVAILABLE).status, "True");
        let again = status(
            &fetched,
            &[],
            "http://a/mcp/ns/x",
            (Some(1), &first.conditions),
            &at(99),
        );
        assert_eq!(again, first, "an unchanged status is not rewritten");

        let failed = Outcome::Registered {
            withheld: None,
            fetch: Some(LastFetch {
                error: Some("connection refused".into()),
                tool_count: Some(4),
            }),
        };
        let later = status(&failed, &[], "u", (Some(1), &first.conditions), &at(50));
        assert_eq!(later.phase.as_deref(), Some("Failed"));
        assert!(later
            .message
            .as_deref()
            .unwrap_or("")
            .contains("connection refused"));
        assert_eq!(find(&later, REMOTE_AVAILABLE).last_transition_time, at(50));
        assert_eq!(find(&later, ACCEPTED).last_transition_time, at(10));
    }

    #[test]
    fn refused_fields_and_flagged_ones_are_named() {
        let flagged = [FieldNote {
            field: "spec.replicas".into(),
            why: "no pod".into(),
        }];
        let outcome = Outcome::NotRegistered {
            reason: "FieldsRefused",
            message: "spec.headerForward: not added".into(),
        };
        let written = status(&outcome, &flagged, "u", (None, &[]), &at(1));
        assert_eq!(written.phase.as_deref(), Some("Failed"));
        assert_eq!(written.url, None);
        assert_eq!(find(&written, ACCEPTED).status, "False");
        assert!(find(&written, UNSUPPORTED_FIELDS)
            .message
            .contains("spec.replicas: no pod"));
    }
}
