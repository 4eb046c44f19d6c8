//! How a server's custom resources in the cluster compare with the revision Apiary applied:
//! what the server page's "Changed outside Apiary" banner and
//! `GET /api/v1/servers/{ns}/{name}/cluster-changes` show (Kubernetes mode only).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The outcome of comparing the cluster with the approved revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ClusterChanges {
    /// Nothing of this server is expected in the cluster (never applied there, retired, or a
    /// remote `url` server); `reason` says which.
    NotApplied {
        /// Why there is nothing to compare.
        reason: String,
    },
    /// The cluster matches revision `revision`.
    InSync {
        /// The approved revision compared against.
        revision: i64,
    },
    /// The cluster differs from revision `revision`.
    Changed {
        /// The approved revision compared against.
        revision: i64,
        /// Kinds (`MCPServer`, `MCPToolConfig`) Apiary applied that are gone from the cluster.
        missing: Vec<String>,
        /// The fields whose live value differs from the approved one.
        fields: Vec<FieldChange>,
    },
    /// The cluster could not be read; `message` says why, without internals.
    Unreadable {
        /// What went wrong.
        message: String,
    },
}

/// One field whose live value is not the approved one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// `MCPServer` or `MCPToolConfig`.
    pub kind: String,
    /// Where, such as `spec.image`, `spec.env[0].value` or
    /// `metadata.annotations[apiary.dev/owner-team]`.
    pub path: String,
    /// The approved value; absent when the approved revision does not set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<Value>,
    /// The live value; absent when it was removed in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    /// The field managers other than Apiary's that own the field in the cluster (such as
    /// `kubectl-edit` or `argocd-controller`); empty when nobody does (a removed field).
    #[serde(default)]
    pub changed_by: Vec<String>,
}

/// A value as the banner shows it: compact JSON, or "(not set)".
pub fn display_value(value: Option<&Value>) -> String {
    match value {
        None => "(not set)".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}
