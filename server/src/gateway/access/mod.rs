//! Who may use a server through the gateway when sign-in is on.
//!
//! By default every MCP request needs a bearer token whose holder has an Apiary role. Per
//! server, an admin can open the endpoint to anonymous clients, or narrow it to some roles or
//! teams (teams come from the identity provider's groups, as everywhere in Apiary).

pub mod api;
pub mod store;

use serde::{Deserialize, Serialize};

use apiary_app::access::{Action, Role, Viewer};

use crate::validation::FieldError;

/// A server's gateway access policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Access {
    /// No token needed: anyone who can reach Apiary may use the endpoint.
    #[serde(default)]
    pub anonymous: bool,
    /// When not empty, only holders of one of these roles may use it.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<Role>,
    /// When not empty, only members of one of these teams may use it.
    #[serde(default)]
    pub teams: Vec<String>,
}

/// What the gateway does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve it.
    Allow,
    /// Ask for a bearer token (401 with the endpoint's challenge).
    Challenge,
    /// Refuse it (403); the text says why.
    Forbid(String),
}

impl Access {
    /// The decision for `viewer` (the holder of a valid bearer token, if any), calling
    /// `endpoint` `id`.
    pub fn decide(&self, viewer: Option<&Viewer>, id: &str) -> Decision {
        if self.anonymous {
            return Decision::Allow;
        }
        let Some(viewer) = viewer else {
            return Decision::Challenge;
        };
        if viewer.local_mode {
            return Decision::Allow;
        }
        if !viewer.may(Action::Browse, None) {
            return Decision::Forbid(format!(
                "{} has a valid token but no Apiary role, so it may not use {id}",
                viewer.name
            ));
        }
        if !self.roles.is_empty() && !self.roles.iter().any(|role| viewer.has(*role)) {
            let roles: Vec<_> = self.roles.iter().map(|r| r.as_str()).collect();
            return Decision::Forbid(format!(
                "{id} is open to the roles {} only, and {} has none of them",
                roles.join(", "),
                viewer.name
            ));
        }
        if !self.teams.is_empty() && !self.teams.iter().any(|team| viewer.in_team(team)) {
            return Decision::Forbid(format!(
                "{id} is open to the teams {} only, and {} is in none of them",
                self.teams.join(", "),
                viewer.name
            ));
        }
        Decision::Allow
    }

    /// Checks the policy: team names are DNS labels, and nothing is listed twice.
    pub fn validate(&self) -> Result<(), FieldError> {
        for (i, team) in self.teams.iter().enumerate() {
            crate::validation::dns_label(&format!("teams[{i}]"), team)?;
            if self.teams[..i].contains(team) {
                return Err(FieldError::new(
                    format!("teams[{i}]"),
                    format!("{team} is listed twice; list each team once"),
                ));
            }
        }
        for (i, role) in self.roles.iter().enumerate() {
            if self.roles[..i].contains(role) {
                return Err(FieldError::new(
                    format!("roles[{i}]"),
                    format!("{} is listed twice; list each role once", role.as_str()),
                ));
            }
        }
        if self.anonymous && (!self.roles.is_empty() || !self.teams.is_empty()) {
            return Err(FieldError::new(
                "anonymous",
                "an anonymous endpoint cannot also be limited to roles or teams; \
                 set anonymous to false or empty roles and teams",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[Role], teams: &[&str]) -> Viewer {
        Viewer {
            subject: "s".into(),
            name: "pat".into(),
            email: None,
            roles: roles.to_vec(),
            teams: teams.iter().map(|t| (*t).to_owned()).collect(),
            local_mode: false,
        }
    }

    #[test]
    fn the_default_needs_a_token_with_any_role() {
        let access = Access::default();
        assert_eq!(access.decide(None, "a/b"), Decision::Challenge);
        assert_eq!(
            access.decide(Some(&person(&[Role::Consumer], &[])), "a/b"),
            Decision::Allow
        );
        assert!(matches!(
            access.decide(Some(&person(&[], &["search"])), "a/b"),
            Decision::Forbid(_)
        ));
    }

    #[test]
    fn roles_and_teams_narrow_it_and_anonymous_opens_it() {
        let teams = Access {
            teams: vec!["search".into()],
            ..Access::default()
        };
        assert_eq!(
            teams.decide(Some(&person(&[Role::Consumer], &["search"])), "a/b"),
            Decision::Allow
        );
        assert!(matches!(
            teams.decide(Some(&person(&[Role::Admin], &["data"])), "a/b"),
            Decision::Forbid(why) if why.contains("teams search")
        ));
        let roles = Access {
            roles: vec![Role::Owner],
            ..Access::default()
        };
        assert!(matches!(
            roles.decide(Some(&person(&[Role::Consumer], &[])), "a/b"),
            Decision::Forbid(_)
        ));
        let open = Access {
            anonymous: true,
            ..Access::default()
        };
        assert_eq!(open.decide(None, "a/b"), Decision::Allow);
    }

    #[test]
    fn bad_policies_name_the_field() {
        let twice = Access {
            teams: vec!["search".into(), "search".into()],
            ..Access::default()
        };
        assert_eq!(
            twice.validate().map_err(|e| e.field),
            Err("teams[1]".into())
        );
        let bad = Access {
            teams: vec!["Not A Label".into()],
            ..Access::default()
        };
        assert_eq!(bad.validate().map_err(|e| e.field), Err("teams[0]".into()));
        let both = Access {
            anonymous: true,
            roles: vec![Role::Admin],
            ..Access::default()
        };
        assert_eq!(
            both.validate().map_err(|e| e.field),
            Err("anonymous".into())
        );
    }
}
