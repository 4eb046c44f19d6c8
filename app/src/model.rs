//! Wire types shared by the server and the browser.

use serde::{Deserialize, Serialize};

pub mod audit;
pub mod catalog_search;
pub mod cluster_changes;
pub mod curation_form;
pub mod moment;
pub mod proposals;
pub mod refresh;
pub mod server_detail;
pub mod virtual_servers;

pub use crate::access::{Role, Viewer};

/// How a client talks to an MCP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Standard input and output of a process.
    Stdio,
    /// MCP streamable HTTP.
    StreamableHttp,
    /// The legacy HTTP plus server-sent events transport.
    Sse,
}

impl Transport {
    /// The name used in manifests and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::StreamableHttp => "streamable-http",
            Transport::Sse => "sse",
        }
    }

    /// Parses a manifest value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "stdio" => Some(Transport::Stdio),
            "streamable-http" => Some(Transport::StreamableHttp),
            "sse" => Some(Transport::Sse),
            _ => None,
        }
    }
}

/// Where a server is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// In service.
    #[default]
    Active,
    /// Still running, but consumers should move to the replacement.
    Deprecated,
    /// Unpublished and stopped.
    Retired,
}

impl Lifecycle {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Deprecated => "deprecated",
            Lifecycle::Retired => "retired",
        }
    }

    /// Parses a stored value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Lifecycle::Active),
            "deprecated" => Some(Lifecycle::Deprecated),
            "retired" => Some(Lifecycle::Retired),
            _ => None,
        }
    }
}

/// How a server's last live tool fetch went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Answered within the latency threshold.
    Healthy,
    /// Answered, but slower than the threshold.
    Slow,
    /// Did not answer, or answered with an error.
    Failing,
    /// Never fetched.
    #[default]
    Unknown,
}

impl Health {
    /// Classifies the newest sample: `ok` and its latency, against `slow_ms`.
    pub fn classify(ok: Option<bool>, latency_ms: Option<i64>, slow_ms: i64) -> Self {
        match (ok, latency_ms) {
            (None, _) => Health::Unknown,
            (Some(false), _) => Health::Failing,
            (Some(true), Some(ms)) if ms > slow_ms => Health::Slow,
            (Some(true), _) => Health::Healthy,
        }
    }

    /// Classifies recent calls through the gateway: failing when at least half failed, slow
    /// when the 95th percentile is over `slow_ms`.
    pub fn of_calls(calls: u64, errors: u64, p95_ms: u64, slow_ms: i64) -> Self {
        if calls == 0 {
            Health::Unknown
        } else if errors * 2 >= calls {
            Health::Failing
        } else if i64::try_from(p95_ms).unwrap_or(i64::MAX) > slow_ms {
            Health::Slow
        } else {
            Health::Healthy
        }
    }

    /// The worse of two readings; a known reading beats an unknown one.
    pub fn worse(self, other: Health) -> Health {
        let rank = |health: Health| match health {
            Health::Unknown => 0,
            Health::Healthy => 1,
            Health::Slow => 2,
            Health::Failing => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    /// The value in URLs and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Slow => "slow",
            Health::Failing => "failing",
            Health::Unknown => "unknown",
        }
    }

    /// The label people see.
    pub fn label(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Slow => "slow",
            Health::Failing => "failing",
            Health::Unknown => "not checked yet",
        }
    }
}

/// What a health badge rests on: the newest tool fetch and the gateway's recent tool calls,
/// judged against the latency above which a server counts as slow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthEvidence {
    /// The newest fetch: whether it succeeded, and its round trip in milliseconds.
    pub fetch: Option<(bool, i64)>,
    /// Tool calls through the gateway in its newest recent interval.
    pub calls: u64,
    /// How many of them failed (a tool's own `isError` answer is not a failure).
    pub errors: u64,
    /// Their 95th-percentile latency in milliseconds.
    pub p95_ms: u64,
    /// The slow threshold in milliseconds.
    pub slow_ms: i64,
}

impl HealthEvidence {
    /// The badge: the worse of the fetch and the calls.
    pub fn health(&self) -> Health {
        self.fetched().worse(self.called())
    }

    fn fetched(&self) -> Health {
        Health::classify(
            self.fetch.map(|(ok, _)| ok),
            self.fetch.map(|(_, ms)| ms),
            self.slow_ms,
        )
    }

    fn called(&self) -> Health {
        Health::of_calls(self.calls, self.errors, self.p95_ms, self.slow_ms)
    }

    /// Why the badge reads as it does, in one sentence: the reading that decided it first.
    pub fn reason(&self) -> String {
        let fetch = match self.fetch {
            None => "no tool fetch yet".to_owned(),
            Some((false, _)) => "the newest tool fetch failed".to_owned(),
            Some((true, ms)) => format!("the newest tool fetch took {ms} ms"),
        };
        let calls = if self.calls == 0 {
            "no tool calls through the gateway in the last 15 minutes".to_owned()
        } else {
            format!(
                "{} of {} recent tool calls through the gateway failed, p95 {} ms",
                self.errors, self.calls, self.p95_ms
            )
        };
        let (first, second) = if self.called().worse(self.fetched()) != self.fetched() {
            (calls, fetch)
        } else {
            (fetch, calls)
        };
        format!(
            "{}: {first}; {second} (slow above {} ms)",
            capitalized(self.health().label()),
            self.slow_ms
        )
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One server as the catalog shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerCard {
    /// Kubernetes-style namespace.
    pub namespace: String,
    /// Name, unique within the namespace.
    pub name: String,
    /// One-paragraph description.
    pub description: String,
    /// The team that owns and approves changes.
    pub owner_team: String,
    /// Free-form category, such as `search` or `knowledge`.
    pub category: String,
    /// Data sensitivity, such as `public` or `confidential`; empty when unset.
    #[serde(default)]
    pub sensitivity: String,
    /// Cost class, such as `free` or `metered`; empty when unset.
    #[serde(default)]
    pub cost_class: String,
    /// How clients connect.
    pub transport: Transport,
    /// Published tools.
    pub tool_count: u32,
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// The `namespace/name` that replaces a deprecated server.
    #[serde(default)]
    pub replacement: Option<String>,
    /// Why it is deprecated or retired, in the owners' words.
    #[serde(default)]
    pub lifecycle_message: String,
    /// How the last live fetch went.
    pub health: Health,
    /// Why the health reads as it does.
    #[serde(default)]
    pub health_reason: String,
}

impl ServerCard {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// True when every word of `query` appears in the name, description, owner or category.
    pub fn matches(&self, query: &str) -> bool {
        let haystack = format!(
            "{} {} {} {} {}",
            self.namespace, self.name, self.description, self.owner_team, self.category
        )
        .to_lowercase();
        query
            .split_whitespace()
            .all(|word| haystack.contains(&word.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_calls_set_health_and_the_worse_reading_wins() {
        assert_eq!(Health::of_calls(0, 0, 0, 1000), Health::Unknown);
        assert_eq!(Health::of_calls(10, 5, 20, 1000), Health::Failing);
        assert_eq!(Health::of_calls(10, 1, 2000, 1000), Health::Slow);
        assert_eq!(Health::of_calls(10, 1, 20, 1000), Health::Healthy);
        assert_eq!(Health::Healthy.worse(Health::Failing), Health::Failing);
        assert_eq!(Health::Slow.worse(Health::Healthy), Health::Slow);
        assert_eq!(Health::Unknown.worse(Health::Healthy), Health::Healthy);
    }

    #[test]
    fn a_health_reason_names_the_reading_that_decided_it_first() {
        let slow_calls = HealthEvidence {
            fetch: Some((true, 12)),
            calls: 40,
            errors: 1,
            p95_ms: 1800,
            slow_ms: 1000,
        };
        assert_eq!(slow_calls.health(), Health::Slow);
        assert_eq!(
            slow_calls.reason(),
            "Slow: 1 of 40 recent tool calls through the gateway failed, p95 1800 ms; \
             the newest tool fetch took 12 ms (slow above 1000 ms)"
        );
        let failed_fetch = HealthEvidence {
            fetch: Some((false, 3)),
            slow_ms: 1000,
            ..HealthEvidence::default()
        };
        assert_eq!(failed_fetch.health(), Health::Failing);
        assert!(
            failed_fetch
                .reason()
                .starts_with("Failing: the newest tool fetch failed; no tool calls"),
            "{}",
            failed_fetch.reason()
        );
        let unknown = HealthEvidence {
            slow_ms: 500,
            ..HealthEvidence::default()
        };
        assert_eq!(unknown.health(), Health::Unknown);
        assert!(unknown
            .reason()
            .starts_with("Not checked yet: no tool fetch yet"));
    }

    fn card(name: &str, description: &str) -> ServerCard {
        ServerCard {
            namespace: "default".into(),
            name: name.into(),
            description: description.into(),
            owner_team: "platform".into(),
            category: "search".into(),
            sensitivity: String::new(),
            cost_class: String::new(),
            transport: Transport::Stdio,
            tool_count: 0,
            lifecycle: Lifecycle::Active,
            replacement: None,
            lifecycle_message: String::new(),
            health: Health::Unknown,
            health_reason: String::new(),
        }
    }

    #[test]
    fn search_matches_every_word_case_insensitively() {
        let server = card("osv", "Open Source Vulnerabilities lookup");
        assert!(server.matches("OSV vulner"));
        assert!(server.matches("  "));
        assert!(!server.matches("osv weather"));
    }

    #[test]
    fn health_uses_the_newest_sample_and_the_threshold() {
        assert_eq!(Health::classify(None, None, 1000), Health::Unknown);
        assert_eq!(
            Health::classify(Some(false), Some(5), 1000),
            Health::Failing
        );
        assert_eq!(Health::classify(Some(true), Some(1001), 1000), Health::Slow);
        assert_eq!(
            Health::classify(Some(true), Some(1000), 1000),
            Health::Healthy
        );
    }

    #[test]
    fn transport_round_trips_through_its_manifest_name() {
        for t in [Transport::Stdio, Transport::StreamableHttp, Transport::Sse] {
            assert_eq!(Transport::parse(t.as_str()), Some(t));
        }
        assert_eq!(Transport::parse("http"), None);
    }
}
