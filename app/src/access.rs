//! Who may do what: the roles, the actions, and the one rule table both the server (which
//! enforces it) and the console (which hides what a person may not do) read.

use serde::{Deserialize, Serialize};

/// A role in Apiary, granted through the identity provider's groups (or to the local admin).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Browses the read-only catalog.
    Consumer,
    /// Proposes new servers and changes.
    Proposer,
    /// Reviews and approves changes to the servers of their teams.
    Owner,
    /// Curates published tools and may do everything else.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Consumer, Role::Proposer, Role::Owner, Role::Admin];

    /// The name used in settings and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Consumer => "consumer",
            Role::Proposer => "proposer",
            Role::Owner => "owner",
            Role::Admin => "admin",
        }
    }
}

/// Something a person asks Apiary to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the catalog, server pages and registry data.
    Browse,
    /// Propose a new server or a change.
    Propose,
    /// Read proposals and follow their review.
    FollowProposals,
    /// Fetch a server's live tools again now.
    Refresh,
    /// Approve or reject a change to a server.
    Review,
    /// Choose which tools are published, and how they are named.
    Curate,
    /// Register or replace a server directly, bypassing review.
    Register,
    /// Read the audit log.
    Audit,
}

impl Action {
    /// What the action does, in words: "… may not {describe} here".
    pub fn describe(self) -> &'static str {
        match self {
            Action::Browse => "browse the catalog",
            Action::Propose => "propose servers or changes",
            Action::FollowProposals => "read proposals and reviews",
            Action::Refresh => "refresh this server's tools",
            Action::Review => "review changes to this server",
            Action::Curate => "curate published tools",
            Action::Register => "register servers directly",
            Action::Audit => "read the audit log",
        }
    }
}

/// The signed-in person (or the local admin), as the console and server functions see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// Stable identifier: the token's `iss` and `sub`, or `local-admin`.
    pub subject: String,
    /// Display name.
    pub name: String,
    /// E-mail address, when the provider shares it.
    pub email: Option<String>,
    /// Granted roles, lowest first.
    pub roles: Vec<Role>,
    /// Teams the person belongs to, which decide whose servers an owner may approve.
    pub teams: Vec<String>,
    /// True when Apiary runs without OIDC as the single local admin.
    pub local_mode: bool,
}

impl Viewer {
    /// The single admin of the embedded default, which has no sign-in.
    pub fn local_admin() -> Self {
        Viewer {
            subject: "local-admin".into(),
            name: "local admin".into(),
            email: None,
            roles: Role::ALL.to_vec(),
            teams: Vec::new(),
            local_mode: true,
        }
    }

    /// True when the person holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True when the person belongs to `team`.
    pub fn in_team(&self, team: &str) -> bool {
        !team.is_empty() && self.teams.iter().any(|t| t == team)
    }

    /// Whether the person may do `action`, on a server owned by `owner_team` when the action
    /// concerns one. Admins may do everything; owners only for their own teams' servers.
    pub fn may(&self, action: Action, owner_team: Option<&str>) -> bool {
        if self.has(Role::Admin) {
            return true;
        }
        let owns = || self.has(Role::Owner) && owner_team.is_some_and(|t| self.in_team(t));
        match action {
            Action::Browse => !self.roles.is_empty(),
            Action::Propose | Action::FollowProposals => {
                self.has(Role::Proposer) || self.has(Role::Owner)
            }
            Action::Refresh | Action::Review => owns(),
            Action::Curate | Action::Register | Action::Audit => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[Role], teams: &[&str]) -> Viewer {
        Viewer {
            subject: "s".into(),
            name: "n".into(),
            email: None,
            roles: roles.to_vec(),
            teams: teams.iter().map(|t| t.to_string()).collect(),
            local_mode: false,
        }
    }

    #[test]
    fn owners_review_only_their_own_teams_servers() {
        let olga = person(&[Role::Owner], &["search"]);
        assert!(olga.may(Action::Review, Some("search")));
        assert!(!olga.may(Action::Review, Some("data")));
        assert!(!olga.may(Action::Review, None));
        assert!(!olga.may(Action::Curate, Some("search")));
    }

    #[test]
    fn people_without_a_role_may_not_even_browse() {
        assert!(!person(&[], &["search"]).may(Action::Browse, None));
        assert!(person(&[Role::Consumer], &[]).may(Action::Browse, None));
        assert!(!person(&[Role::Consumer], &[]).may(Action::Propose, None));
        assert!(!person(&[Role::Consumer], &[]).may(Action::FollowProposals, None));
        assert!(person(&[Role::Proposer], &[]).may(Action::FollowProposals, None));
    }

    #[test]
    fn the_local_admin_may_do_everything() {
        let admin = Viewer::local_admin();
        for action in [
            Action::Curate,
            Action::Register,
            Action::Audit,
            Action::Review,
        ] {
            assert!(admin.may(action, Some("any")));
        }
    }
}
