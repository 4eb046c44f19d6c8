//! The inbound security a server's own manifest declares (ToolHive's `oidcConfig`,
//! `oidcConfigRef`, `authzConfig`, ...). The gateway is the only way to a server, so it is where
//! these are enforced; a server that declares one Apiary does not enforce is withheld: every
//! request gets an answer naming the field, and nothing reaches the backend.

use serde_json::Value;

use crate::operator::unsupported;

/// How the gateway admits callers of one server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Inbound {
    /// Apiary's own tokens and the server's access rules ([`super::access`]).
    #[default]
    Apiary,
    /// Not served; the text names the fields and why.
    Withheld(String),
}

impl Inbound {
    /// The inbound security of a server with `spec` (its `MCPServer` spec as JSON).
    pub fn of(spec: &Value) -> Self {
        let unenforced = unsupported::unenforced(spec);
        if unenforced.is_empty() {
            Inbound::Apiary
        } else {
            Inbound::Withheld(unsupported::withheld(&unenforced))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_server_without_its_own_security_is_served_with_apiarys() {
        assert_eq!(Inbound::of(&json!({"image": "x"})), Inbound::Apiary);
        assert_eq!(
            Inbound::of(&json!({"url": "http://x/mcp", "oidcConfigRef": {}})),
            Inbound::Apiary,
            "an empty object declares nothing"
        );
    }

    #[test]
    fn an_unenforced_field_withholds_the_server_and_is_named() {
        let Inbound::Withheld(why) = Inbound::of(&json!({
            "image": "x",
            "authzConfig": {"type": "inline", "inline": {"policies": ["permit(principal, action, resource);"]}},
            "audit": {"enabled": true}
        })) else {
            panic!("withheld")
        };
        assert!(why.contains("spec.authzConfig ("), "{why}");
        assert!(
            !why.contains("spec.audit"),
            "only security fields withhold: {why}"
        );
    }
}
