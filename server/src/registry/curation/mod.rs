//! Curation: the admin's choice of which published tools consumers see, and how.
//!
//! A [`Curation`] filters the published tools (allow and deny globs, plus an explicit list of
//! hidden names) and overrides a tool's name, description or annotations. [`curated_tools`] is
//! the one place where it is applied, on top of [`published_tools`], so the catalog, the
//! registry API and the gateway all show the same list.

pub mod api;
pub mod cache;
pub mod cluster;
pub mod glob;
pub mod store;
pub mod validate;

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::{SchemaDiff, ToolDef};
use super::publish::published_tools;

pub use validate::validate;

/// What an admin decided about a server's tools. The default shows every published tool as is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Curation {
    /// Globs (`*` any run of characters, `?` one character) of the tools to show; empty shows
    /// every tool.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Globs of the tools to hide, even when `allow` matches them.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Exact names of tools to hide.
    #[serde(default)]
    pub hidden: Vec<String>,
    /// Per-tool overrides, by the server's own tool name.
    #[serde(default)]
    pub overrides: BTreeMap<String, ToolOverride>,
    /// How the gateway answers a call of a tool that is not published, so that clients see
    /// what the server itself answers for a tool it does not have.
    #[serde(default)]
    pub unknown_tools: UnknownTools,
}

/// How a call of an unknown or unpublished tool is refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnknownTools {
    /// A JSON-RPC error `-32602 Unknown tool: X`, as the MCP specification answers (and rmcp).
    #[default]
    Error,
    /// A tool result with `isError: true` and the text `MCP error -32602: Tool X not found`,
    /// as servers built on the TypeScript SDK answer.
    Result,
}

impl UnknownTools {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownTools::Error => "error",
            UnknownTools::Result => "result",
        }
    }

    /// Reads the stored text; anything else is the default.
    pub fn parse(text: &str) -> Self {
        match text {
            "result" => UnknownTools::Result,
            _ => UnknownTools::Error,
        }
    }
}

/// How one tool is shown instead of how the server describes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolOverride {
    /// The name consumers see and call; the gateway maps it back to the server's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The description consumers see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Annotations (such as `readOnlyHint`) set on top of the server's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub annotations: Option<Map<String, Value>>,
}

impl Curation {
    /// True when the tool the server calls `name` is shown.
    pub fn shows(&self, name: &str) -> bool {
        let allowed = self.allow.is_empty() || self.allow.iter().any(|g| glob::matches(g, name));
        allowed
            && !self.deny.iter().any(|g| glob::matches(g, name))
            && !self.hidden.iter().any(|h| h == name)
    }
}

impl ToolOverride {
    /// Applies the override to a tool as JSON (an MCP `Tool` object): sets `name` and
    /// `description`, and merges `annotations` into the tool's own.
    pub fn apply_json(&self, tool: &mut Map<String, Value>) {
        if let Some(name) = &self.name {
            tool.insert("name".into(), Value::String(name.clone()));
        }
        if let Some(description) = &self.description {
            tool.insert("description".into(), Value::String(description.clone()));
        }
        if let Some(annotations) = &self.annotations {
            let target = tool
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(target) = target {
                target.extend(annotations.clone());
            }
        }
    }
}

/// The tools consumers see: each published tool in its curated form, with the server's own
/// name of each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CuratedTools {
    /// The tools as consumers see them (renamed, redescribed).
    pub tools: Vec<ToolDef>,
    /// The server's own name of each tool in `tools`, in the same order.
    pub upstream_names: Vec<String>,
}

/// The published tools (see [`published_tools`]) after `curation`: hidden tools removed and
/// overrides applied. A rename that would collide with another shown name is skipped (and
/// logged), so names stay unique; the curation API refuses such renames up front.
pub fn curated_tools(
    baseline: &[ToolDef],
    latest: Option<&[ToolDef]>,
    drift: Option<&SchemaDiff>,
    curation: &Curation,
) -> CuratedTools {
    let shown: Vec<ToolDef> = published_tools(baseline, latest, drift)
        .into_iter()
        .filter(|tool| curation.shows(&tool.name))
        .collect();
    let mut taken: HashSet<String> = shown
        .iter()
        .filter(|t| renamed_to(curation, &t.name).is_none())
        .map(|t| t.name.clone())
        .collect();
    let mut curated = CuratedTools::default();
    for tool in shown {
        let upstream = tool.name.clone();
        let mut tool = match curation.overrides.get(&upstream) {
            Some(change) => overridden(tool, change),
            None => tool,
        };
        if tool.name != upstream && !taken.insert(tool.name.clone()) {
            tracing::warn!(tool = %upstream, renamed = %tool.name, "a curated rename collides with another tool; keeping the server's name");
            tool.name = upstream.clone();
        }
        curated.tools.push(tool);
        curated.upstream_names.push(upstream);
    }
    curated
}

fn renamed_to<'a>(curation: &'a Curation, name: &str) -> Option<&'a str> {
    curation
        .overrides
        .get(name)
        .and_then(|o| o.name.as_deref())
        .filter(|new| *new != name)
}

/// `tool` with `change` applied, through the same JSON rewrite the gateway uses.
pub fn overridden(tool: ToolDef, change: &ToolOverride) -> ToolDef {
    let Ok(Value::Object(mut json)) = serde_json::to_value(&tool) else {
        return tool;
    };
    change.apply_json(&mut json);
    serde_json::from_value(Value::Object(json)).unwrap_or(tool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str) -> ToolDef {
        ToolDef::new(
            name,
            format!("{name} does things"),
            json!({ "type": "object" }),
        )
    }

    fn names(curated: &CuratedTools) -> Vec<(&str, &str)> {
        curated
            .tools
            .iter()
            .zip(&curated.upstream_names)
            .map(|(t, u)| (t.name.as_str(), u.as_str()))
            .collect()
    }

    #[test]
    fn without_curation_every_published_tool_shows_unchanged() {
        let tools = vec![tool("a"), tool("b")];
        let curated = curated_tools(&tools, None, None, &Curation::default());
        assert_eq!(curated.tools, tools);
        assert_eq!(curated.upstream_names, ["a", "b"]);
    }

    #[test]
    fn allow_deny_and_hidden_filter_the_tools() {
        let tools = vec![
            tool("get_user"),
            tool("get_secret"),
            tool("delete_user"),
            tool("list_users"),
        ];
        let curation = Curation {
            allow: vec!["get_*".into(), "list_*".into()],
            deny: vec!["*secret*".into()],
            hidden: vec!["list_users".into()],
            ..Curation::default()
        };
        let curated = curated_tools(&tools, None, None, &curation);
        assert_eq!(names(&curated), [("get_user", "get_user")]);
    }

    #[test]
    fn overrides_rename_redescribe_and_annotate() {
        let curation = Curation {
            overrides: BTreeMap::from([(
                "a".into(),
                ToolOverride {
                    name: Some("alpha".into()),
                    description: Some("Curated".into()),
                    annotations: Some(
                        json!({ "readOnlyHint": true })
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    ),
                },
            )]),
            ..Curation::default()
        };
        let curated = curated_tools(&[tool("a"), tool("b")], None, None, &curation);
        assert_eq!(names(&curated), [("alpha", "a"), ("b", "b")]);
        assert_eq!(curated.tools[0].description.as_deref(), Some("Curated"));
        assert_eq!(
            curated.tools[0].annotations,
            Some(json!({ "readOnlyHint": true }))
        );
    }

    #[test]
    fn a_colliding_rename_keeps_the_server_name() {
        let rename = |to: &str| ToolOverride {
            name: Some(to.into()),
            ..ToolOverride::default()
        };
        let curation = Curation {
            overrides: BTreeMap::from([("a".into(), rename("b")), ("c".into(), rename("d"))]),
            ..Curation::default()
        };
        let curated = curated_tools(&[tool("a"), tool("b"), tool("c")], None, None, &curation);
        assert_eq!(names(&curated), [("a", "a"), ("b", "b"), ("d", "c")]);
    }

    #[test]
    fn annotation_overrides_merge_into_the_tools_own() {
        let mut json =
            json!({ "name": "t", "annotations": { "title": "T", "readOnlyHint": false } });
        let change = ToolOverride {
            annotations: json!({ "readOnlyHint": true }).as_object().cloned(),
            ..ToolOverride::default()
        };
        if let Some(object) = json.as_object_mut() {
            change.apply_json(object);
        }
        assert_eq!(
            json["annotations"],
            json!({ "title": "T", "readOnlyHint": true })
        );
    }
}
