//! What consumers may see of a server's tools: the approved baseline, updated by drift that
//! does not broaden anything. Added tools and broadened schemas wait for approval.

use super::model::{SchemaDiff, ToolDef};

/// The published tools, given the baseline, the newest snapshot and their diff.
///
/// - a tool only in the newest snapshot is unpublished until approved;
/// - a tool only in the baseline is gone from the server, so it is not published;
/// - a changed tool is published in its new form unless the change broadened it, in which case
///   the baseline form stays (the gateway enforces that form).
pub fn published_tools(
    baseline: &[ToolDef],
    latest: Option<&[ToolDef]>,
    drift: Option<&SchemaDiff>,
) -> Vec<ToolDef> {
    let (Some(latest), Some(drift)) = (latest, drift) else {
        return baseline.to_vec();
    };
    baseline
        .iter()
        .filter_map(|old| {
            let new = latest.iter().find(|t| t.name == old.name)?;
            let broadened = drift
                .tools_changed
                .iter()
                .any(|c| c.tool == old.name && c.broadened);
            Some(if broadened { old.clone() } else { new.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::ToolChange;
    use serde_json::json;

    fn tool(name: &str, description: &str) -> ToolDef {
        ToolDef::new(name, description, json!({ "type": "object" }))
    }

    #[test]
    fn without_drift_the_baseline_is_published() {
        let baseline = vec![tool("a", "A")];
        assert_eq!(published_tools(&baseline, None, None), baseline);
    }

    #[test]
    fn added_tools_wait_removed_tools_go_and_broadened_tools_keep_the_baseline_form() {
        let baseline = vec![
            tool("keep", "old"),
            tool("widen", "old"),
            tool("gone", "old"),
        ];
        let latest = vec![
            tool("keep", "new"),
            tool("widen", "new"),
            tool("added", "new"),
        ];
        let drift = SchemaDiff {
            tools_added: vec!["added".into()],
            tools_removed: vec!["gone".into()],
            tools_changed: vec![
                ToolChange {
                    tool: "keep".into(),
                    metadata_changed: true,
                    ..ToolChange::default()
                },
                ToolChange {
                    tool: "widen".into(),
                    broadened: true,
                    ..ToolChange::default()
                },
            ],
        };
        let published = published_tools(&baseline, Some(&latest), Some(&drift));
        let shown: Vec<_> = published
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.description.as_deref().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(shown, [("keep", "new"), ("widen", "old")]);
    }
}
