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
    /// The behaviour hints consumers see, one per [`HINTS`] key.
    pub hints: Vec<HintChoice>,
}

/// The MCP tool annotations the form can override, with their labels.
pub const HINTS: [(&str, &str); 4] = [
    ("readOnlyHint", "read-only"),
    ("destructiveHint", "destructive"),
    ("idempotentHint", "idempotent"),
    ("openWorldHint", "open world"),
];

/// One behaviour hint of a tool in the form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HintChoice {
    /// The annotation key, such as `readOnlyHint`.
    pub key: String,
    /// What people read, such as `read-only`.
    pub label: String,
    /// What the server itself says, if it says anything.
    pub server: Option<bool>,
    /// The override: empty for the server's value, `true` or `false`.
    pub chosen: String,
}

/// One tool as consumers will see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewTool {
    /// The name consumers call.
    pub name: String,
    /// The description consumers read.
    pub description: String,
    /// The behaviour hints that are true for it, such as `read-only, idempotent`.
    pub hints: String,
    /// The server's own name, when consumers see it under another.
    pub renamed_from: Option<String>,
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
    /// The server's tools consumers will not see (unchecked, or left out by the globs).
    pub hidden: Vec<String>,
    /// Every field and message, when the values cannot be saved.
    pub errors: Vec<(String, String)>,
    /// True when the values are an unsaved draft (a preview, or a refused save).
    pub draft: bool,
}
