//! Proposals as the console shows them: the propose form, the review queue and one review.

use serde::{Deserialize, Serialize};

/// The propose form's values, as submitted (every field a string, as a browser sends it).
/// The same struct pre-fills the form again after a refused post, from the query string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProposalForm {
    /// `create`, `update` or `retire`.
    pub kind: String,
    /// The target server's namespace.
    pub namespace: String,
    /// The target server's name.
    pub name: String,
    /// One-paragraph description.
    pub description: String,
    /// The owning team.
    pub owner_team: String,
    /// Category.
    pub category: String,
    /// Cost class.
    pub cost_class: String,
    /// Data sensitivity.
    pub sensitivity: String,
    /// Tags, separated by commas.
    pub tags: String,
    /// Documentation link.
    pub docs_url: String,
    /// A container image, `npx://pkg`, `uvx://pkg`, or an `http(s)://` URL of a remote server.
    pub source: String,
    /// A local command to run instead of an image (local runtime).
    pub command: String,
    /// Arguments, one per line.
    pub args: String,
    /// `stdio`, `streamable-http` or `sse`.
    pub transport: String,
    /// Environment, one `NAME=value` or `NAME=secret:secret-name/key` per line.
    pub env: String,
    /// The Service port clients use (`spec.proxyPort`).
    pub port: String,
    /// The port the server listens on in its container (`spec.mcpPort`).
    pub mcp_port: String,
    /// `none` or `network` (builtin profiles), or `configmap:NAME` / `configmap:NAME/KEY`.
    pub permission_profile: String,
    /// CPU request, such as `100m`.
    pub cpu_request: String,
    /// Memory request, such as `128Mi`.
    pub memory_request: String,
    /// CPU limit.
    pub cpu_limit: String,
    /// Memory limit.
    pub memory_limit: String,
    /// The rest of the current spec that the form has no field for (such as `resources` or
    /// `permissionProfile`), as a JSON object; the change form carries it along unchanged.
    pub extra_spec: String,
    /// A pasted `MCPServer` manifest; when given, it replaces the fields above.
    pub manifest: String,
    /// A retire proposal's replacement server, `namespace/name`.
    pub replacement: String,
    /// A retire proposal's message for consumers.
    pub message: String,
}

/// A refused proposal: the form field the message belongs next to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormError {
    /// A field of [`ProposalForm`] (`source`, `env`, `manifest`, …).
    pub field: String,
    /// What is wrong and how to fix it; names the validation path where it helps.
    pub message: String,
}

/// One line of the review queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalSummary {
    /// UUID.
    pub id: String,
    /// create, update or retire.
    pub kind: String,
    /// `namespace/name`.
    pub target: String,
    /// The author's display name.
    pub author_name: String,
    /// The reviewing team.
    pub owner_team: String,
    /// open, applied, …
    pub status: String,
    /// When it was proposed, for people.
    pub created: super::moment::Moment,
    /// True when the viewer may approve it: an owner of the team or an admin who did not
    /// propose it, or, in local mode, the single admin whatever they proposed.
    pub decidable: bool,
    /// True when the viewer proposed it.
    pub yours: bool,
}

/// One line of a manifest in the side-by-side diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// Its line number in its manifest, from 1.
    pub number: usize,
    /// The line's text, without the line break.
    pub text: String,
    /// True when the line is removed (on the approved side) or added (on the proposed side).
    pub changed: bool,
}

/// One row of the side-by-side diff of the approved manifest against the proposed one. A side
/// is `None` where the other side's line has no counterpart (an added or removed line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffRow {
    /// The approved (base revision's) line.
    pub before: Option<DiffLine>,
    /// The proposed line.
    pub after: Option<DiffLine>,
}

impl DiffRow {
    /// True when either side of the row is a removed or added line.
    pub fn changed(&self) -> bool {
        [&self.before, &self.after]
            .into_iter()
            .flatten()
            .any(|line| line.changed)
    }
}

/// What a retire proposal asks for, besides the server going away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetireView {
    /// The server consumers should use instead, `namespace/name`; empty for none.
    pub replacement: String,
    /// The message for consumers.
    pub message: String,
}

/// The decision taken on a proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    /// Who decided (`Apiary` when the system superseded it).
    pub by_name: String,
    /// When, for people.
    pub at_label: String,
    /// Their comment.
    pub comment: String,
    /// An admin's override reason.
    pub override_reason: Option<String>,
    /// True when the author approved their own proposal (local mode only).
    pub self_approval: bool,
}

/// Everything `/reviews/{id}` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalReview {
    /// UUID.
    pub id: String,
    /// create, update or retire.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The author's display name.
    pub author_name: String,
    /// The reviewing team.
    pub owner_team: String,
    /// The base revision, when there is one.
    pub base_revision: Option<i64>,
    /// open, approved, applied, failed, rejected or superseded.
    pub status: String,
    /// The optimistic lock the decision forms send back.
    pub version: i64,
    /// When it was proposed, for people.
    pub created: super::moment::Moment,
    /// The base revision's manifest (left) against the proposed one (right), line by line;
    /// a new server has only added lines, a retirement only removed ones.
    pub diff: Vec<DiffRow>,
    /// A retirement's replacement and message; `None` for a create or an update.
    pub retire: Option<RetireView>,
    /// The server's schema drift that waits for an owner's approval, if there is any.
    pub pending_drift: Option<crate::model::server_detail::PendingDrift>,
    /// The policy findings a reviewer weighs.
    pub findings: Vec<crate::model::server_detail::FindingView>,
    /// True when an error-level finding blocks approval (admins may override with a reason).
    pub blocked: bool,
    /// The decision, once taken.
    pub decision: Option<DecisionView>,
    /// Why applying failed, or why it was superseded.
    pub error: Option<String>,
    /// True when the viewer may decide it (an owner of the team, or an admin).
    pub may_decide: bool,
    /// True when the viewer proposed it (and so, with sign-in on, may not approve it).
    pub viewer_is_author: bool,
    /// True in local mode, where the single admin approves their own proposals.
    pub local_mode: bool,
    /// True when the viewer is an admin (the override field).
    pub viewer_is_admin: bool,
}
