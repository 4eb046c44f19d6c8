//! The console's form for proposing a virtual server, in the API's terms: the definition its
//! fields make, and the API's field names (`members[2].server`) as the form's fields and lines.

use apiary_app::model::proposals::FormError;
use apiary_app::model::virtual_servers::VirtualProposalForm;

use crate::virtual_servers::model::{ConflictRule, Finder, Member, VirtualSpec};

/// The definition `form` makes, or the lines of `members` that are not `namespace/name`
/// followed by globs.
pub fn spec_of(form: &VirtualProposalForm) -> Result<VirtualSpec, Vec<FormError>> {
    let mut members = Vec::new();
    let mut errors = Vec::new();
    for (line, text) in form.members.lines().enumerate() {
        let mut words = text.split_whitespace();
        let Some(server) = words.next() else {
            continue;
        };
        if !server.contains('/') {
            errors.push(FormError {
                field: "members".into(),
                message: format!(
                    "line {}: {server:?} is not namespace/name; start each line with a published server, such as search/web-search",
                    line + 1
                ),
            });
            continue;
        }
        let mut member = Member {
            server: server.to_owned(),
            ..Member::default()
        };
        for word in words {
            match word.strip_prefix('-') {
                Some(glob) => member.deny.push(glob.to_owned()),
                None => member.allow.push(word.to_owned()),
            }
        }
        members.push(member);
    }
    let conflicts = match form.conflicts.as_str() {
        "" | "prefix" => ConflictRule::Prefix,
        "priority" => ConflictRule::Priority,
        other => {
            errors.push(FormError {
                field: "conflicts".into(),
                message: format!("{other:?} is not prefix or priority"),
            });
            ConflictRule::Prefix
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let priority = match conflicts {
        ConflictRule::Priority => members.iter().map(|m| m.server.clone()).collect(),
        ConflictRule::Prefix => Vec::new(),
    };
    Ok(VirtualSpec {
        description: form.description.trim().to_owned(),
        owner_team: form.owner_team.trim().to_owned(),
        sensitivity: form.sensitivity.trim().to_owned(),
        access: Default::default(),
        members,
        conflicts,
        priority,
        finder: Finder {
            enabled: form.finder == "on",
            pinned: Vec::new(),
        },
    })
}

/// An error the API names by `field` (`ownerTeam`, `members[1].allow[0]`, ...), as the form's
/// field and a message that says which line.
pub fn form_error(field: &str, message: &str) -> FormError {
    let (form_field, rest) = match field.split_once(['[', '.']) {
        Some((head, rest)) => (head, Some(rest)),
        None => (field, None),
    };
    let form_field = match form_field {
        "ownerTeam" => "owner_team",
        "priority" => "members",
        other => other,
    };
    let message = match (form_field, rest) {
        ("members", Some(rest)) => {
            let line = rest
                .split(']')
                .next()
                .and_then(|i| i.parse::<usize>().ok())
                .map_or_else(String::new, |i| format!("line {}: ", i + 1));
            format!("{line}{message}")
        }
        (_, Some(_)) => format!("{field}: {message}"),
        _ => message.to_owned(),
    };
    FormError {
        field: form_field.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_is_a_member_with_the_tools_to_show_and_leave_out() {
        let form = VirtualProposalForm {
            namespace: "team".into(),
            name: "all".into(),
            owner_team: " search ".into(),
            members: "search/web  search_* -search_debug\n\nops/time\n".into(),
            conflicts: "priority".into(),
            finder: "on".into(),
            ..VirtualProposalForm::default()
        };
        let spec = spec_of(&form).expect("a definition");
        assert_eq!(spec.owner_team, "search");
        assert_eq!(spec.members.len(), 2);
        assert_eq!(spec.members[0].allow, ["search_*"]);
        assert_eq!(spec.members[0].deny, ["search_debug"]);
        assert_eq!(spec.priority, ["search/web", "ops/time"]);
        assert!(spec.finder.enabled);
    }

    #[test]
    fn a_bad_line_and_the_apis_field_names_point_at_the_form() {
        let form = VirtualProposalForm {
            members: "search/web\nnot-a-server\n".into(),
            ..VirtualProposalForm::default()
        };
        let errors = spec_of(&form).expect_err("refused");
        assert_eq!(errors[0].field, "members");
        assert!(
            errors[0].message.starts_with("line 2:"),
            "{}",
            errors[0].message
        );
        let mapped = form_error("members[1].server", "team/x is not published");
        assert_eq!(mapped.field, "members");
        assert_eq!(mapped.message, "line 2: team/x is not published");
        assert_eq!(form_error("ownerTeam", "is empty").field, "owner_team");
        assert_eq!(form_error("name", "taken").message, "taken");
    }
}
