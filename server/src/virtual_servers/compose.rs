//! Composes a virtual server's tool list from its members' published tools: selection, the
//! conflict rule, and overrides. A conflict no rule resolves is an error naming both tools.

use std::collections::HashMap;

use serde::Serialize;

use crate::registry::curation::overridden;
use crate::registry::listing::PublishedServer;
use crate::registry::model::ToolDef;
use crate::validation::{FieldError, FieldErrors, Problems};

use super::model::{ConflictRule, VirtualSpec};

/// One tool a virtual server shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ExposedTool {
    /// The tool as its clients see it (under its virtual name).
    pub tool: ToolDef,
    /// The member server, `namespace/name`.
    pub member: String,
    /// The tool's name on the member's own endpoint (after the member's curation).
    pub member_tool: String,
}

/// A tool left out because a member listed earlier in `priority` has one of the same name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Shadowed {
    /// The name both would have.
    pub name: String,
    /// The member whose tool is left out, and its tool.
    pub member: String,
    /// The member that keeps the name.
    pub kept_by: String,
}

/// What a virtual server shows, composed from its members' published tools now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Composition {
    /// The tools in order: members in the order listed, each member's tools in its order.
    pub tools: Vec<ExposedTool>,
    /// Tools left out by `priority`.
    pub shadowed: Vec<Shadowed>,
    /// Members that are not published now (their tools are not shown).
    pub unresolved: Vec<String>,
    /// Conflicts that arose after saving (a member published a new tool): the later tool is
    /// not shown, and this says which and why.
    pub conflicts: Vec<String>,
}

impl Composition {
    /// The tool clients call `name`.
    pub fn tool(&self, name: &str) -> Option<&ExposedTool> {
        self.tools.iter().find(|t| t.tool.name == name)
    }
}

/// Composes `spec` from `published`, the members that are published now (any order). With
/// `strict` (saving), a member that is not published, or an override of a tool the member
/// does not publish, is an error, and so is a name conflict that the rule does not resolve
/// (naming both tools). Otherwise (serving what was saved) such a member is listed as
/// unresolved and the later tool of a conflict is left out and reported.
pub fn compose(
    spec: &VirtualSpec,
    published: &[PublishedServer],
    strict: bool,
) -> Result<Composition, FieldErrors> {
    let mut problems = Problems::default();
    let mut composition = Composition::default();
    // Name → index in `composition.tools`.
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (i, member) in spec.members.iter().enumerate() {
        let Some(server) = published.iter().find(|s| s.id() == member.server) else {
            if strict {
                problems.push(FieldError::new(
                    format!("members[{i}].server"),
                    format!(
                        "{} is not a published server; publish it first or remove it",
                        member.server
                    ),
                ));
            }
            composition.unresolved.push(member.server.clone());
            continue;
        };
        if strict {
            for tool in member.overrides.keys() {
                if !server.tools.iter().any(|t| &t.name == tool) {
                    problems.push(FieldError::new(
                        format!("members[{i}].overrides.{tool}"),
                        format!("{} publishes no tool {tool:?}", member.server),
                    ));
                }
            }
        }
        for tool in server.tools.iter().filter(|t| member.selects(&t.name)) {
            let shown = match member.overrides.get(&tool.name) {
                Some(change) => overridden(tool.clone(), change),
                None => tool.clone(),
            };
            let mut shown = shown;
            let renamed = member
                .overrides
                .get(&tool.name)
                .is_some_and(|o| o.name.is_some());
            if !renamed && spec.conflicts == ConflictRule::Prefix && !member.prefix().is_empty() {
                shown.name = format!("{}_{}", member.prefix(), tool.name);
            }
            let exposed = ExposedTool {
                tool: shown,
                member: member.server.clone(),
                member_tool: tool.name.clone(),
            };
            match taken.get(&exposed.tool.name).copied() {
                None => {
                    taken.insert(exposed.tool.name.clone(), composition.tools.len());
                    composition.tools.push(exposed);
                }
                Some(at) => {
                    let holder = &composition.tools[at];
                    match winner(spec, &holder.member, &exposed.member) {
                        Some(Winner::Holder) => composition.shadowed.push(Shadowed {
                            name: exposed.tool.name.clone(),
                            member: exposed.member.clone(),
                            kept_by: holder.member.clone(),
                        }),
                        Some(Winner::Newcomer) => {
                            composition.shadowed.push(Shadowed {
                                name: holder.tool.name.clone(),
                                member: holder.member.clone(),
                                kept_by: exposed.member.clone(),
                            });
                            composition.tools[at] = exposed;
                        }
                        None => {
                            let error = conflict(spec, i, holder, &exposed);
                            if strict {
                                problems.push(error);
                            } else {
                                composition.conflicts.push(error.message);
                            }
                        }
                    }
                }
            }
        }
    }
    if strict && spec.finder.enabled {
        finder_problems(spec, &composition, &mut problems);
    }
    problems.finish().map(|()| composition)
}

/// The finder's name is free, and every pinned tool is shown.
fn finder_problems(spec: &VirtualSpec, composition: &Composition, problems: &mut Problems) {
    if let Some(taken) = composition.tool(super::finder::FINDER) {
        problems.push(FieldError::new(
            "finder.enabled",
            format!(
                "{}/{} is shown as {:?}, the finder's name; rename it under overrides or turn the finder off",
                taken.member, taken.member_tool, taken.tool.name
            ),
        ));
    }
    for (i, pinned) in spec.finder.pinned.iter().enumerate() {
        if composition.tool(pinned).is_none() {
            problems.push(FieldError::new(
                format!("finder.pinned[{i}]"),
                format!("{pinned:?} is not one of the tools this virtual server shows; pin a shown tool by its shown name"),
            ));
        }
    }
}

enum Winner {
    Holder,
    Newcomer,
}

/// Which of two members keeps a name under `priority`; `None` when the rule does not say.
fn winner(spec: &VirtualSpec, holder: &str, newcomer: &str) -> Option<Winner> {
    if spec.conflicts != ConflictRule::Priority || holder == newcomer {
        return None;
    }
    let rank = |server: &str| spec.priority.iter().position(|p| p == server);
    match (rank(holder), rank(newcomer)) {
        (Some(a), Some(b)) if a < b => Some(Winner::Holder),
        (Some(_), Some(_)) => Some(Winner::Newcomer),
        _ => None,
    }
}

fn conflict(
    spec: &VirtualSpec,
    i: usize,
    holder: &ExposedTool,
    newcomer: &ExposedTool,
) -> FieldError {
    let fix = match spec.conflicts {
        ConflictRule::Prefix => {
            "give one of the members another prefix, or rename one of the tools under overrides"
        }
        ConflictRule::Priority => {
            "list both members under priority, or rename one of the tools under overrides"
        }
    };
    FieldError::new(
        format!("members[{i}]"),
        format!(
            "the tools {}/{} and {}/{} would both be called {:?}; {fix}",
            holder.member,
            holder.member_tool,
            newcomer.member,
            newcomer.member_tool,
            newcomer.tool.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn server(id: &str, tools: &[&str]) -> PublishedServer {
        let (namespace, name) = id.split_once('/').expect("valid");
        let tools = tools
            .iter()
            .map(|t| ToolDef::new(*t, format!("{t} of {id}"), json!({ "type": "object" })))
            .collect::<Vec<_>>();
        PublishedServer {
            namespace: namespace.into(),
            name: name.into(),
            upstream_names: tools.iter().map(|t| t.name.clone()).collect(),
            tools: tools.into(),
            ..PublishedServer::default()
        }
    }

    fn spec(value: serde_json::Value) -> VirtualSpec {
        serde_json::from_value(value).expect("valid")
    }

    fn names(composition: &Composition) -> Vec<(&str, &str, &str)> {
        composition
            .tools
            .iter()
            .map(|t| {
                (
                    t.tool.name.as_str(),
                    t.member.as_str(),
                    t.member_tool.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn prefixes_keep_two_echo_tools_apart() {
        let members = [
            server("t/everything", &["echo", "add"]),
            server("t/time", &["echo", "get_time"]),
        ];
        let spec = spec(json!({ "ownerTeam": "t", "members": [
            { "server": "t/everything" }, { "server": "t/time", "prefix": "clock" } ] }));
        let composed = compose(&spec, &members, true).expect("valid");
        assert_eq!(
            names(&composed),
            [
                ("everything_echo", "t/everything", "echo"),
                ("everything_add", "t/everything", "add"),
                ("clock_echo", "t/time", "echo"),
                ("clock_get_time", "t/time", "get_time"),
            ]
        );
    }

    #[test]
    fn an_unresolved_conflict_names_both_tools() {
        let members = [server("t/a", &["echo"]), server("t/b", &["echo"])];
        let spec = spec(json!({ "ownerTeam": "t", "members": [
            { "server": "t/a", "prefix": "" }, { "server": "t/b", "prefix": "" } ] }));
        let error = compose(&spec, &members, true).expect_err("refused");
        assert_eq!(error.first().field, "members[1]");
        assert!(
            error
                .first()
                .message
                .contains("t/a/echo and t/b/echo would both be called \"echo\""),
            "{error}"
        );
        // Served after a member published the clashing tool: the first keeps it, and it says so.
        let served = compose(&spec, &members, false).expect("valid");
        assert_eq!(names(&served), [("echo", "t/a", "echo")]);
        assert!(
            served.conflicts[0].contains("t/b/echo"),
            "{:?}",
            served.conflicts
        );
    }

    #[test]
    fn priority_keeps_the_first_listed_and_reports_the_other() {
        let members = [server("t/a", &["echo", "x"]), server("t/b", &["echo", "y"])];
        let spec = spec(
            json!({ "ownerTeam": "t", "conflicts": "priority", "priority": ["t/b", "t/a"],
            "members": [ { "server": "t/a" }, { "server": "t/b" } ] }),
        );
        let composed = compose(&spec, &members, true).expect("valid");
        assert_eq!(
            names(&composed),
            [
                ("echo", "t/b", "echo"),
                ("x", "t/a", "x"),
                ("y", "t/b", "y")
            ]
        );
        assert_eq!(
            composed.shadowed,
            [Shadowed {
                name: "echo".into(),
                member: "t/a".into(),
                kept_by: "t/b".into()
            }]
        );
    }

    #[test]
    fn selection_and_overrides_apply_per_member() {
        let members = [server("t/a", &["read", "write", "delete"])];
        let spec = spec(json!({ "ownerTeam": "t", "members": [ { "server": "t/a",
            "allow": ["r*", "w*", "d*"], "deny": ["delete"],
            "overrides": { "write": { "name": "save", "description": "Saves" } } } ] }));
        let composed = compose(&spec, &members, true).expect("valid");
        assert_eq!(
            names(&composed),
            [("a_read", "t/a", "read"), ("save", "t/a", "write")]
        );
        assert_eq!(composed.tools[1].tool.description.as_deref(), Some("Saves"));
    }

    #[test]
    fn a_missing_member_is_refused_on_save_and_reported_when_serving() {
        let members = [server("t/a", &["echo"])];
        let spec = spec(
            json!({ "ownerTeam": "t", "members": [ { "server": "t/a" }, { "server": "t/gone" } ] }),
        );
        let error = compose(&spec, &members, true).expect_err("refused");
        assert_eq!(error.first().field, "members[1].server");
        let served = compose(&spec, &members, false).expect("valid");
        assert_eq!(served.unresolved, ["t/gone"]);
        assert_eq!(names(&served), [("a_echo", "t/a", "echo")]);
    }
}
