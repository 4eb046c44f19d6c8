//! Refreshing tools from the console: one server's outcome, and the fleet-wide job's progress.

use serde::{Deserialize, Serialize};

/// What one refresh of a server's tools found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "refresh", rename_all = "kebab-case")]
pub enum RefreshReport {
    /// The tools were fetched and recorded.
    Fetched {
        /// How many tools the server lists.
        tools: usize,
        /// `baseline`, `unchanged`, `drift` or `back-to-baseline`.
        snapshot: String,
        /// Policy findings in the new snapshot.
        findings: usize,
        /// The fetch's round trip, in milliseconds.
        latency_ms: u64,
        /// How long the fetch waited for the server to start, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        startup_ms: Option<u64>,
    },
    /// The fetch failed.
    Failed {
        /// Why.
        error: String,
    },
    /// Apiary cannot reach the server from here.
    Unreachable {
        /// Why.
        error: String,
    },
}

impl RefreshReport {
    /// True when the fetch did not succeed.
    pub fn failed(&self) -> bool {
        !matches!(self, RefreshReport::Fetched { .. })
    }

    /// The outcome in one sentence, as the page says it.
    pub fn sentence(&self) -> String {
        match self {
            RefreshReport::Fetched {
                tools,
                snapshot,
                findings,
                latency_ms,
                startup_ms,
            } => {
                let tools = match tools {
                    1 => "1 tool".to_owned(),
                    n => format!("{n} tools"),
                };
                let snapshot = match snapshot.as_str() {
                    "baseline" => "recorded as the first approved baseline",
                    "drift" => "drift detected: they differ from the approved tools, which consumers keep seeing until an owner approves the change",
                    "back-to-baseline" => "back to the approved tools",
                    _ => "unchanged since the last fetch",
                };
                let findings = match findings {
                    0 => "no policy findings".to_owned(),
                    1 => "1 policy finding".to_owned(),
                    n => format!("{n} policy findings"),
                };
                let started = startup_ms
                    .map(|ms| format!(" (after waiting {ms} ms for the server to start)"))
                    .unwrap_or_default();
                format!("Found {tools} in {latency_ms} ms{started}, {snapshot}; {findings}.")
            }
            RefreshReport::Failed { error } => format!("The fetch failed: {error}"),
            RefreshReport::Unreachable { error } => {
                format!("Apiary cannot reach this server to fetch its tools: {error}")
            }
        }
    }

    /// The report as a query string, for the page a plain form post is redirected to.
    pub fn to_query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    /// The report a query string carries, if it carries one.
    pub fn from_query(search: &str) -> Option<Self> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(search.trim_start_matches('?')).ok()?;
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let number = |key: &str| get(key).and_then(|v| v.parse::<u64>().ok());
        match get("refresh")?.as_str() {
            "fetched" => Some(RefreshReport::Fetched {
                tools: usize::try_from(number("tools")?).ok()?,
                snapshot: get("snapshot")?,
                findings: usize::try_from(number("findings")?).ok()?,
                latency_ms: number("latency_ms")?,
                startup_ms: number("startup_ms"),
            }),
            "failed" => Some(RefreshReport::Failed {
                error: get("error")?,
            }),
            "unreachable" => Some(RefreshReport::Unreachable {
                error: get("error")?,
            }),
            _ => None,
        }
    }
}

/// One server the fleet refresh could not fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetFailure {
    /// `namespace/name`.
    pub server: String,
    /// Why.
    pub error: String,
}

/// The fleet-wide refresh: how far it got, and what failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetProgress {
    /// True while it runs.
    pub running: bool,
    /// True once a refresh has been started since Apiary started.
    pub started: bool,
    /// Who started it.
    pub started_by: String,
    /// When it started, for people.
    pub started_label: String,
    /// When it finished, for people; empty while it runs.
    pub finished_label: String,
    /// How many servers it refreshes.
    pub total: usize,
    /// How many are done (fetched or failed).
    pub done: usize,
    /// The servers being fetched now, `namespace/name`, in the order they started.
    #[serde(default)]
    pub in_flight: Vec<String>,
    /// How many fetches found drift.
    pub drift: usize,
    /// The servers whose fetch failed, in the order they were tried.
    pub failures: Vec<FleetFailure>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_the_redirect_query() {
        for report in [
            RefreshReport::Fetched {
                tools: 3,
                snapshot: "drift".into(),
                findings: 1,
                latency_ms: 42,
                startup_ms: Some(1300),
            },
            RefreshReport::Failed {
                error: "cannot start \"x\": No such file & more".into(),
            },
        ] {
            assert_eq!(
                RefreshReport::from_query(&format!("?{}", report.to_query())),
                Some(report)
            );
        }
        assert_eq!(RefreshReport::from_query("?tools=3"), None);
    }

    #[test]
    fn the_sentence_names_count_drift_and_findings() {
        let report = RefreshReport::Fetched {
            tools: 1,
            snapshot: "drift".into(),
            findings: 2,
            latency_ms: 5,
            startup_ms: None,
        };
        let sentence = report.sentence();
        assert!(
            sentence.starts_with("Found 1 tool in 5 ms, drift detected"),
            "{sentence}"
        );
        assert!(sentence.ends_with("2 policy findings."), "{sentence}");
    }
}
