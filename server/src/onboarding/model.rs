//! The onboarding data: what a proposal asks for, its state, and a reviewer's decision.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a proposal changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProposalKind {
    /// A new server.
    Create,
    /// A new spec or metadata for an existing server.
    Update,
    /// Retire an existing server (it is unpublished and stops).
    Retire,
    /// Create or replace a virtual server (`spec` is its definition, `baseRevision` the time
    /// it last changed, if it exists).
    Virtual,
}

impl ProposalKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalKind::Create => "create",
            ProposalKind::Update => "update",
            ProposalKind::Retire => "retire",
            ProposalKind::Virtual => "virtual",
        }
    }

    /// Reads a stored name (`drift` is reserved for schema drift reviews and not read yet).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(Value::from(text)).ok()
    }
}

/// Where a proposal is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProposalStatus {
    /// Waiting for a decision.
    Open,
    /// Approved and being applied (a short-lived state).
    Approved,
    /// Approved and applied to the database and the runtime.
    Applied,
    /// Approved, but applying it failed; `error` says why and nothing was changed.
    Failed,
    /// Rejected by a reviewer.
    Rejected,
    /// The server changed after the proposal was made; it must be proposed again.
    Superseded,
}

impl ProposalStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Open => "open",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Applied => "applied",
            ProposalStatus::Failed => "failed",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Superseded => "superseded",
        }
    }

    /// Reads a stored or queried name.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(Value::from(text)).ok()
    }
}

/// A proposal as the API returns it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    /// UUID.
    pub id: String,
    /// Create, update or retire.
    pub kind: ProposalKind,
    /// The target server's namespace.
    pub namespace: String,
    /// The target server's name.
    pub name: String,
    /// The author's subject.
    pub author_subject: String,
    /// The author's display name.
    pub author_name: String,
    /// The team whose owners review it.
    pub owner_team: String,
    /// The server's revision when proposed; `None` for a create.
    pub base_revision: Option<i64>,
    /// The proposed spec (`{}` for a retire).
    pub spec: Value,
    /// The proposed metadata (for a retire: `replacement` and `message`).
    pub metadata: Value,
    /// Where it is.
    pub status: ProposalStatus,
    /// The optimistic lock: send it back with a decision.
    pub version: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// The decision, once there is one.
    pub decision: Option<DecisionRecord>,
    /// Why applying failed, or why it was superseded.
    pub error: Option<String>,
}

/// Who decided a proposal, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
    /// The reviewer's subject (empty when the system superseded it).
    pub by: String,
    /// The reviewer's display name.
    pub by_name: String,
    /// Unix milliseconds.
    pub at: i64,
    /// The reviewer's comment.
    pub comment: String,
    /// An admin's reason for approving despite error-level policy findings.
    pub override_reason: Option<String>,
    /// True when the author approved their own proposal, which only local mode (one person,
    /// no sign-in) allows.
    pub self_approval: bool,
}

/// What a reviewer decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Apply the proposal.
    Approve,
    /// Close it without applying.
    Reject,
}

/// The body of `POST /api/v1/proposals/{id}/decision`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionInput {
    /// Approve or reject.
    pub decision: Verdict,
    /// Required, non-empty.
    pub comment: String,
    /// The proposal's `version` the reviewer saw.
    pub version: i64,
    /// Required from an admin approving despite error-level policy findings.
    #[serde(default, alias = "override_reason")]
    pub override_reason: Option<String>,
}
