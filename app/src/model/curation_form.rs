//! The admin's curation form: each published tool with its shown/hidden state and overrides,
//! the allow and deny globs, and the preview of what consumers will see.

use serde::{Deserialize, Serialize};

/// One published tool in the form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurateToolRow {
    /// The server's own name.
    pub name: String,
    /// The server's own description.
    pub description: String,
    /// Whether the form shows it (its checkbox).
    pub shown: bool,
    /// The name consumers see instead, empty for none.
    pub rename: String,
    /// The description consumers see instead, empty for none.
    pub describe: String,
}

/// One tool as consumers will see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewTool {
    /// The name consumers call.
    pub name: String,
    /// The description consumers read.
    pub description: String,
}

/// Everything the curation page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurationPage {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The published tools with the form's values.
    pub tools: Vec<CurateToolRow>,
    /// Allow globs, one per line.
    pub allow: String,
    /// Deny globs, one per line.
    pub deny: String,
    /// What consumers will see with these values.
    pub preview: Vec<PreviewTool>,
    /// The field and message when the values cannot be saved.
    pub error: Option<(String, String)>,
    /// True when the values are an unsaved draft (a preview, or a refused save).
    pub draft: bool,
}
