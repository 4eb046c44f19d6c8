//! What a virtual server is: its metadata, its access rules, and the tools it draws from its
//! members, with the rule that resolves name conflicts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::gateway::access::Access;
use crate::registry::curation::validate::{pattern, tool_name};
use crate::registry::curation::ToolOverride;
use crate::validation::{dns_label, max_len, FieldError, FieldErrors, Problems};

/// The most members of one virtual server.
pub const MAX_MEMBERS: usize = 100;
/// The longest description, in characters.
const MAX_DESCRIPTION: usize = 4_000;
/// The most globs or overrides of one member.
const MAX_ENTRIES: usize = 1_000;

/// A virtual server as an admin defines it (the body of `PUT /api/v1/virtual-servers/…`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualSpec {
    /// What it offers, for the catalog.
    #[serde(default)]
    pub description: String,
    /// The team that owns it.
    pub owner_team: String,
    /// Data sensitivity, such as `public` or `internal`.
    #[serde(default)]
    pub sensitivity: String,
    /// Who may use its endpoint when sign-in is on; each member's own rules apply as well.
    #[serde(default)]
    pub access: Access,
    /// The servers it draws tools from.
    pub members: Vec<Member>,
    /// How two members' tools of the same name are told apart.
    #[serde(default)]
    pub conflicts: ConflictRule,
    /// With `conflicts: priority`: member servers (`namespace/name`), first wins.
    #[serde(default)]
    pub priority: Vec<String>,
    /// The built-in `find_tools` tool, for clients with many tools (off by default).
    #[serde(default)]
    pub finder: Finder,
}

/// The tool finder's settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Finder {
    /// Offer `find_tools(query)`; `tools/list` then shows it and the pinned tools only,
    /// and every tool stays callable.
    #[serde(default)]
    pub enabled: bool,
    /// Tools, by the names clients see, that `tools/list` shows beside the finder.
    #[serde(default)]
    pub pinned: Vec<String>,
}

/// One member: a published server and which of its published tools the virtual server shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Member {
    /// The member server, `namespace/name`.
    pub server: String,
    /// With `conflicts: prefix`, its tools are shown as `{prefix}_{tool}`; default the
    /// server's name, `""` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Globs of the member's published tools to show; empty shows them all.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Globs of its tools to leave out, even when `allow` matches them.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Per-tool changes, by the tool's name on the member's own endpoint; a `name` here is
    /// the exact name shown (no prefix is added).
    #[serde(default)]
    pub overrides: BTreeMap<String, ToolOverride>,
}

/// How name conflicts between members are resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConflictRule {
    /// Every member's tools carry its prefix.
    #[default]
    Prefix,
    /// Names are kept; of two tools with one name, the member listed first in `priority`
    /// keeps it and the other is left out.
    Priority,
}

impl Member {
    /// `(namespace, name)` of the member server, if `server` has that shape.
    pub fn server_id(&self) -> Option<(&str, &str)> {
        self.server.split_once('/')
    }

    /// The prefix its tools carry under [`ConflictRule::Prefix`].
    pub fn prefix(&self) -> &str {
        match &self.prefix {
            Some(prefix) => prefix,
            None => self.server_id().map_or("", |(_, name)| name),
        }
    }

    /// True when the member's tool `name` is selected.
    pub fn selects(&self, name: &str) -> bool {
        use crate::registry::curation::glob::matches;
        (self.allow.is_empty() || self.allow.iter().any(|g| matches(g, name)))
            && !self.deny.iter().any(|g| matches(g, name))
    }
}

impl VirtualSpec {
    /// Checks the shape of the spec for `namespace/name`; every invalid field is named. That
    /// the members exist and the names do not clash is checked when it is composed.
    pub fn validate(&self, namespace: &str, name: &str) -> Result<(), FieldErrors> {
        let mut problems = Problems::default();
        problems.check(dns_label("namespace", namespace));
        problems.check(dns_label("name", name));
        problems.check(dns_label("ownerTeam", &self.owner_team));
        problems.check(max_len("description", &self.description, MAX_DESCRIPTION));
        if !self.sensitivity.is_empty() {
            problems.check(dns_label("sensitivity", &self.sensitivity));
        }
        problems.check(
            self.access
                .validate()
                .map_err(|e| FieldError::new(format!("access.{}", e.field), e.message)),
        );
        if self.members.is_empty() {
            problems.push(FieldError::new(
                "members",
                "is empty; list at least one published server as {\"server\": \"namespace/name\"}",
            ));
        }
        if self.members.len() > MAX_MEMBERS {
            problems.push(FieldError::new(
                "members",
                format!(
                    "has {} entries; keep it to at most {MAX_MEMBERS}",
                    self.members.len()
                ),
            ));
        }
        for (i, member) in self.members.iter().enumerate() {
            member_problems(&mut problems, &format!("members[{i}]"), member);
            if self.members[..i].iter().any(|m| m.server == member.server) {
                problems.push(FieldError::new(
                    format!("members[{i}].server"),
                    format!("{} is listed twice; list each server once", member.server),
                ));
            }
        }
        self.priority_problems(&mut problems);
        if !self.finder.enabled && !self.finder.pinned.is_empty() {
            problems.push(FieldError::new(
                "finder.pinned",
                "is only read with the finder on; set finder.enabled to true or remove it",
            ));
        }
        for (i, tool) in self.finder.pinned.iter().enumerate() {
            problems.check(tool_name(&format!("finder.pinned[{i}]"), tool));
        }
        problems.finish()
    }

    fn priority_problems(&self, problems: &mut Problems) {
        if self.conflicts == ConflictRule::Prefix && !self.priority.is_empty() {
            problems.push(FieldError::new(
                "priority",
                "is only read with conflicts: priority; remove it or set conflicts to priority",
            ));
        }
        for (i, server) in self.priority.iter().enumerate() {
            if !self.members.iter().any(|m| &m.server == server) {
                problems.push(FieldError::new(
                    format!("priority[{i}]"),
                    format!("{server} is not a member; list only servers under members"),
                ));
            }
            if self.priority[..i].contains(server) {
                problems.push(FieldError::new(
                    format!("priority[{i}]"),
                    format!("{server} is listed twice; list each member once"),
                ));
            }
        }
    }
}

fn member_problems(problems: &mut Problems, field: &str, member: &Member) {
    match member.server_id() {
        Some((namespace, name)) => {
            let server = format!("{field}.server");
            if dns_label(&server, namespace).is_err() || dns_label(&server, name).is_err() {
                problems.push(FieldError::new(
                    server,
                    format!("{:?} is not namespace/name of a server", member.server),
                ));
            }
        }
        None => problems.push(FieldError::new(
            format!("{field}.server"),
            format!(
                "{:?} is not namespace/name of a server; write it as team/server",
                member.server
            ),
        )),
    }
    if let Some(prefix) = member.prefix.as_deref().filter(|p| !p.is_empty()) {
        problems.check(tool_name(&format!("{field}.prefix"), prefix));
    }
    for (list, globs) in [("allow", &member.allow), ("deny", &member.deny)] {
        if globs.len() > MAX_ENTRIES {
            problems.push(FieldError::new(
                format!("{field}.{list}"),
                format!(
                    "has {} entries; keep it to at most {MAX_ENTRIES}",
                    globs.len()
                ),
            ));
            continue;
        }
        for (i, glob) in globs.iter().enumerate() {
            problems.check(pattern(&format!("{field}.{list}[{i}]"), glob, true));
        }
    }
    if member.overrides.len() > MAX_ENTRIES {
        problems.push(FieldError::new(
            format!("{field}.overrides"),
            format!("has more than {MAX_ENTRIES} tools"),
        ));
        return;
    }
    for (tool, change) in &member.overrides {
        let at = format!("{field}.overrides.{tool}");
        problems.check(tool_name(&at, tool));
        if let Some(name) = &change.name {
            problems.check(tool_name(&format!("{at}.name"), name));
        }
        if let Some(description) = &change.description {
            problems.check(max_len(
                &format!("{at}.description"),
                description,
                MAX_DESCRIPTION,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(value: serde_json::Value) -> VirtualSpec {
        serde_json::from_value(value).expect("a spec")
    }

    #[test]
    fn the_prefix_defaults_to_the_server_name() {
        let member: Member =
            serde_json::from_value(json!({ "server": "team/search" })).expect("valid");
        assert_eq!(member.prefix(), "search");
        let member: Member =
            serde_json::from_value(json!({ "server": "team/search", "prefix": "" }))
                .expect("valid");
        assert_eq!(member.prefix(), "");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = spec(json!({
            "ownerTeam": "Search Team",
            "members": [
                { "server": "nope" },
                { "server": "team/a", "allow": ["bad glob"] },
                { "server": "team/a" },
            ],
            "priority": ["team/b"],
        }));
        let errors = bad.validate("team", "all").expect_err("refused");
        let fields: Vec<&str> = errors.all().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "ownerTeam",
                "members[0].server",
                "members[1].allow[0]",
                "members[2].server",
                "priority",
                "priority[0]",
            ]
        );
    }

    #[test]
    fn an_unknown_field_is_refused_not_dropped() {
        let refused = serde_json::from_value::<VirtualSpec>(json!({
            "ownerTeam": "team", "members": [], "optimizer": { "embedding": "x" }
        }));
        assert!(refused
            .expect_err("refused")
            .to_string()
            .contains("optimizer"));
    }
}
