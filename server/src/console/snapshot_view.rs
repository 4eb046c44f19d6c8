//! Stored snapshots, drift and policy findings turned into the server page's readable form.

use apiary_app::model::server_detail::{
    DriftView, FindingView, PendingDrift, SnapshotEntry, ToolChangeView,
};

use crate::registry::model::{PolicyFinding, SchemaDiff, Severity, ToolChange};
use crate::registry::store::StoredSnapshot;

use crate::display_time::{display_time, moment};

/// One history entry; `baseline_id` and `latest_id` are the server's pointers.
pub fn snapshot_entry(
    snapshot: &StoredSnapshot,
    baseline_id: Option<&str>,
    latest_id: Option<&str>,
) -> SnapshotEntry {
    SnapshotEntry {
        fetched: moment(snapshot.fetched_at),
        content_hash: snapshot.content_hash.clone(),
        tool_count: snapshot.tools.len(),
        is_baseline: baseline_id == Some(snapshot.id.as_str()),
        is_latest: latest_id == Some(snapshot.id.as_str()),
        drift: snapshot.drift.as_ref().map(drift_view),
    }
}

/// A drift in words.
pub fn drift_view(diff: &SchemaDiff) -> DriftView {
    DriftView {
        tools_added: diff.tools_added.clone(),
        tools_removed: diff.tools_removed.clone(),
        tools_changed: diff.tools_changed.iter().map(change_view).collect(),
    }
}

/// Drift that waits for approval: snapshot `snapshot_id`, fetched at `fetched_at` (Unix
/// milliseconds), differs from the baseline by `diff`. `None` when the diff is empty.
pub fn pending_drift(
    snapshot_id: &str,
    fetched_at: i64,
    diff: &SchemaDiff,
) -> Option<PendingDrift> {
    (!diff.is_empty()).then(|| PendingDrift {
        snapshot_id: snapshot_id.to_owned(),
        fetched_at: display_time(fetched_at),
        drift: drift_view(diff),
    })
}

fn change_view(change: &ToolChange) -> ToolChangeView {
    let lists = [
        ("properties added", &change.properties_added),
        ("properties removed", &change.properties_removed),
        ("properties retyped", &change.properties_retyped),
        ("properties changed", &change.properties_changed),
        ("newly required", &change.required_added),
        ("no longer required", &change.required_removed),
    ];
    let mut details: Vec<String> = lists
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(what, names)| format!("{what}: {}", names.join(", ")))
        .collect();
    if change.metadata_changed {
        details.push("description, title, annotations or output schema changed".into());
    }
    ToolChangeView {
        tool: change.tool.clone(),
        details,
        broadened: change.broadened,
    }
}

/// A policy finding for display.
pub fn finding_view(finding: &PolicyFinding) -> FindingView {
    FindingView {
        severity: match finding.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
        .into(),
        tool: finding.tool.clone(),
        path: finding.path.clone(),
        message: finding.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_lists_what_changed_in_words() {
        let view = change_view(&ToolChange {
            tool: "search".into(),
            properties_added: vec!["limit".into(), "offset".into()],
            required_removed: vec!["query".into()],
            metadata_changed: true,
            broadened: true,
            ..ToolChange::default()
        });
        assert_eq!(
            view.details,
            [
                "properties added: limit, offset",
                "no longer required: query",
                "description, title, annotations or output schema changed"
            ]
        );
        assert!(view.broadened);
    }
}
