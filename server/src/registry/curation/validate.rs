//! Checks a curation before it is stored; every error names the field and the fix.

use std::collections::HashMap;

use crate::registry::model::ToolDef;
use crate::validation::{max_len, FieldError, FieldErrors, Problems};

use super::Curation;

/// The longest glob or tool name, in characters.
const MAX_NAME: usize = 128;
/// The longest overridden description, in characters.
const MAX_DESCRIPTION: usize = 4_000;
/// The most globs, hidden names or overrides in one curation.
const MAX_ENTRIES: usize = 1_000;

/// Checks `curation` against the server's published tools (before curation): names and globs
/// are well formed, and no renamed tool takes a name another shown tool already has. Every
/// invalid field is reported, not only the first.
pub fn validate(curation: &Curation, published: &[ToolDef]) -> Result<(), FieldErrors> {
    let mut problems = Problems::default();
    for (field, list) in [
        ("allow", &curation.allow),
        ("deny", &curation.deny),
        ("hidden", &curation.hidden),
    ] {
        if list.len() > MAX_ENTRIES {
            problems.push(FieldError::new(
                field,
                format!(
                    "has {} entries; keep it to at most {MAX_ENTRIES}",
                    list.len()
                ),
            ));
            continue;
        }
        for (i, entry) in list.iter().enumerate() {
            problems.check(pattern(&format!("{field}[{i}]"), entry, field != "hidden"));
        }
    }
    if curation.overrides.len() > MAX_ENTRIES {
        problems.push(FieldError::new(
            "overrides",
            format!("has more than {MAX_ENTRIES} tools"),
        ));
        return problems.finish();
    }
    for (tool, change) in &curation.overrides {
        let field = format!("overrides.{tool}");
        problems.check(tool_name(&field, tool));
        if let Some(name) = &change.name {
            problems.check(tool_name(&format!("{field}.name"), name));
        }
        if let Some(description) = &change.description {
            problems.check(max_len(
                &format!("{field}.description"),
                description,
                MAX_DESCRIPTION,
            ));
        }
    }
    problems.check(unique_names(curation, published));
    problems.finish()
}

/// Every shown tool, renamed or not, has a name no other shown tool has.
fn unique_names(curation: &Curation, published: &[ToolDef]) -> Result<(), FieldError> {
    let mut owners: HashMap<&str, &str> = HashMap::new();
    for tool in published.iter().filter(|t| curation.shows(&t.name)) {
        let shown = curation
            .overrides
            .get(&tool.name)
            .and_then(|o| o.name.as_deref())
            .unwrap_or(&tool.name);
        if let Some(other) = owners.insert(shown, &tool.name) {
            let (renamed, kept) = if curation.overrides.contains_key(&tool.name) {
                (tool.name.as_str(), other)
            } else {
                (other, tool.name.as_str())
            };
            return Err(FieldError::new(
                format!("overrides.{renamed}.name"),
                format!(
                    "{shown:?} is already the name of the published tool {kept:?}; \
                     choose another name or hide {kept:?}"
                ),
            ));
        }
    }
    Ok(())
}

/// An MCP tool name: 1 to 128 letters, digits, `_`, `-` or `.`.
pub fn tool_name(field: &str, name: &str) -> Result<(), FieldError> {
    pattern(field, name, false)
}

/// A tool name, or with `glob` a glob of tool names (`*` and `?`).
pub fn pattern(field: &str, text: &str, glob: bool) -> Result<(), FieldError> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let allowed = |c: char| valid(c) || (glob && matches!(c, '*' | '?'));
    let len = text.chars().count();
    if len == 0 || len > MAX_NAME || !text.chars().all(allowed) {
        let what = if glob {
            "a glob of letters, digits, '_', '-', '.', '/', '*' and '?'"
        } else {
            "a tool name of letters, digits, '_', '-', '.' and '/'"
        };
        return Err(FieldError::new(
            field,
            format!("{text:?} is not valid: use {what}, 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::registry::curation::ToolOverride;

    fn tools(names: &[&str]) -> Vec<ToolDef> {
        names
            .iter()
            .map(|n| ToolDef::new(*n, "", json!({ "type": "object" })))
            .collect()
    }

    fn rename(from: &str, to: &str) -> Curation {
        Curation {
            overrides: BTreeMap::from([(
                from.into(),
                ToolOverride {
                    name: Some(to.into()),
                    ..ToolOverride::default()
                },
            )]),
            ..Curation::default()
        }
    }

    #[test]
    fn a_rename_onto_another_published_name_is_refused_naming_the_field() {
        let errors = validate(&rename("a", "b"), &tools(&["a", "b"])).expect_err("collision");
        let error = errors.first();
        assert_eq!(error.field, "overrides.a.name");
        assert!(error.message.contains("\"b\""), "{error}");
        // Hiding the other tool frees its name.
        let mut curation = rename("a", "b");
        curation.hidden.push("b".into());
        validate(&curation, &tools(&["a", "b"])).expect("b is hidden");
        // Swapping two names is fine.
        let mut swap = rename("a", "b");
        swap.overrides.insert(
            "b".into(),
            ToolOverride {
                name: Some("a".into()),
                ..ToolOverride::default()
            },
        );
        validate(&swap, &tools(&["a", "b"])).expect("a swap");
    }

    #[test]
    fn bad_globs_and_names_name_the_field() {
        let curation = Curation {
            deny: vec!["ok_*".into(), "no spaces".into()],
            ..Curation::default()
        };
        assert_eq!(
            validate(&curation, &[]).expect_err("space").first().field,
            "deny[1]"
        );
        let errors = validate(&rename("a", "b*"), &[]).expect_err("a glob is no name");
        let error = errors.first();
        assert_eq!(error.field, "overrides.a.name");
        let errors = validate(&rename("a", ""), &[]).expect_err("empty");
        let error = errors.first();
        assert_eq!(error.field, "overrides.a.name");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let mut curation = rename("a", "b*");
        curation.allow.push("no spaces".into());
        curation.deny.push("ok".into());
        curation.deny.push("bad!".into());
        let errors = validate(&curation, &[]).expect_err("three problems");
        let fields: Vec<&str> = errors.all().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["allow[0]", "deny[1]", "overrides.a.name"]);
    }
}
