//! The policy findings a reviewer weighs: for an update, the schema contract findings of the
//! server's newest tool snapshot. A create has no tools yet and a retire removes them, so
//! neither has findings.

use crate::db::{Db, DbError};
use crate::registry::model::{PolicyFinding, Severity};
use crate::registry::store::SnapshotStore;
use crate::servers::server_id;

use super::model::{Proposal, ProposalKind};

/// Every policy finding relevant to `proposal`.
pub async fn for_proposal(db: &Db, proposal: &Proposal) -> Result<Vec<PolicyFinding>, DbError> {
    if proposal.kind != ProposalKind::Update {
        return Ok(Vec::new());
    }
    let Some(id) = server_id(db.pool(), &proposal.namespace, &proposal.name).await? else {
        return Ok(Vec::new());
    };
    Ok(SnapshotStore::new(db.clone())
        .latest(&id)
        .await?
        .map(|snapshot| snapshot.findings)
        .unwrap_or_default())
}

/// The error-level findings among `findings`: these block approval unless an admin overrides.
pub fn blocking(findings: &[PolicyFinding]) -> Vec<&PolicyFinding> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect()
}
