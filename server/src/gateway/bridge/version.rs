//! Protocol version negotiation for bridged servers.
//!
//! A bridged server is initialized once per connection (once for every session of a stdio
//! process), while each client session asks for its own version. The bridge asks the server
//! for a version, and the server's answer tells what it supports: by the MCP negotiation rule
//! it echoes a version it supports, otherwise it names another one, its newest. A server that
//! supports a revision is taken to support the older ones the gateway knows too, as every
//! official SDK does, except the one it refused.
//!
//! Each session then gets the version it asked for when the server supports it, otherwise the
//! server's version, as the server itself would answer. The versions the gateway knows differ
//! towards the client only in framing the bridge already translates (batches are sent to the
//! server one message at a time; answers travel as separate events).

/// The protocol versions with an `initialize` handshake the gateway knows, oldest first.
pub const KNOWN: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest of [`KNOWN`]: what the bridge asks a stdio server for.
pub const NEWEST: &str = "2025-11-25";

/// What the server answered when the bridge asked for a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versions {
    asked: String,
    answered: String,
}

impl Versions {
    /// The bridge asked for `asked`, and the server's `initialize` result named `answered`.
    pub fn new(asked: &str, answered: &str) -> Self {
        Self {
            asked: asked.to_owned(),
            answered: answered.to_owned(),
        }
    }

    /// True when the server serves `version`.
    pub fn supports(&self, version: &str) -> bool {
        if version == self.answered {
            return true;
        }
        let refused = self.asked != self.answered && version == self.asked;
        // Dated `YYYY-MM-DD`, so text order is time order.
        KNOWN.contains(&version) && version < self.answered.as_str() && !refused
    }

    /// The version to answer a session that asked for `requested`: that one when the server
    /// supports it, otherwise the server's own.
    pub fn negotiate<'a>(&'a self, requested: Option<&'a str>) -> &'a str {
        match requested {
            Some(version) if self.supports(version) => version,
            _ => &self.answered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_current_server_answers_every_known_version_as_asked() {
        let versions = Versions::new(NEWEST, "2025-11-25");
        for version in KNOWN {
            assert_eq!(versions.negotiate(Some(version)), *version);
        }
        assert_eq!(versions.negotiate(Some("2099-01-01")), "2025-11-25");
        assert_eq!(versions.negotiate(Some("1.0")), "2025-11-25");
        assert_eq!(versions.negotiate(None), "2025-11-25");
    }

    #[test]
    fn an_older_server_answers_newer_clients_with_its_own_version() {
        let versions = Versions::new(NEWEST, "2025-03-26");
        assert_eq!(versions.negotiate(Some("2025-11-25")), "2025-03-26");
        assert_eq!(versions.negotiate(Some("2025-06-18")), "2025-03-26");
        assert_eq!(versions.negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(versions.negotiate(Some("2024-11-05")), "2024-11-05");
    }

    #[test]
    fn a_refused_version_is_never_answered() {
        // Asked for 2025-06-18, the server named a newer one: it does not serve 2025-06-18.
        let versions = Versions::new("2025-06-18", "2025-11-25");
        assert!(!versions.supports("2025-06-18"));
        assert_eq!(versions.negotiate(Some("2025-06-18")), "2025-11-25");
        assert_eq!(versions.negotiate(Some("2025-03-26")), "2025-03-26");
    }
}
