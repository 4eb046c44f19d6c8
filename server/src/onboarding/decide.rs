//! A reviewer's decision: who may decide, the four-eyes rule, comments, superseded proposals,
//! policy findings with the admin override, and the optimistic lock between two reviewers.
//!
//! With sign-in on, the four-eyes rule is absolute: nobody approves their own proposal. Local
//! mode has one person, the local admin, who approves their own changes; such a decision is a
//! self-approval, recorded as one on the proposal and in the audit log
//! (`proposal.self_approved`), and needs the same required comment.

use apiary_app::access::{Action, Role, Viewer};

use crate::auth::Principal;
use crate::db::{now_millis, DbError};
use crate::servers::server_id;
use crate::validation::FieldError;

use super::findings;
use super::model::{
    DecisionInput, DecisionRecord, Proposal, ProposalKind, ProposalStatus, Verdict,
};
use super::revisions;
use super::store::{ProposalStore, Transition};

/// Why a decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// No such proposal (404).
    #[error("{0}")]
    NotFound(String),
    /// The reviewer may not decide this (403): not an owner of the team, the author approving
    /// their own proposal, or an owner approving over a blocking finding.
    #[error("{0}")]
    Forbidden(String),
    /// A field of the decision is invalid (422).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// Someone else decided first, or the proposal is no longer open (409).
    #[error("{message}")]
    Conflict {
        /// Who decided, when, and what.
        message: String,
        /// The proposal as it is now.
        current: Box<Proposal>,
    },
    /// The server changed since the proposal was made; it is now superseded (409).
    #[error("{message}")]
    Superseded {
        /// What changed, and what to do.
        message: String,
        /// The superseded proposal.
        current: Box<Proposal>,
    },
    /// The database failed (500).
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Loads a proposal and checks that `principal` may review it at all (owners of its team and
/// admins), before anything of the request body is read.
pub async fn authorize(
    store: &ProposalStore,
    principal: &Principal,
    id: &str,
) -> Result<Proposal, DecideError> {
    let proposal = store
        .get(id)
        .await?
        .ok_or_else(|| DecideError::NotFound(format!("no proposal {id}")))?;
    principal
        .require(Action::Review, Some(&proposal.owner_team))
        .map_err(|refused| DecideError::Forbidden(refused.0))?;
    Ok(proposal)
}

/// Checks `input` against `proposal` and records the decision. An approval comes back in
/// state `approved`, for the caller to apply; a rejection in state `rejected`.
pub async fn decide(
    store: &ProposalStore,
    reviewer: &Viewer,
    proposal: Proposal,
    input: &DecisionInput,
) -> Result<Proposal, DecideError> {
    let comment = input.comment.trim();
    if comment.is_empty() {
        return Err(FieldError::new(
            "comment",
            "is required; say why you approve or reject the proposal",
        )
        .into());
    }
    crate::validation::max_len("comment", comment, 2_000)?;
    if proposal.status != ProposalStatus::Open {
        return Err(already_decided(proposal));
    }
    if proposal.version != input.version {
        return Err(DecideError::Conflict {
            message: format!(
                "the proposal changed since you read it (version {} there, {} now); reload it and decide again",
                input.version, proposal.version
            ),
            current: Box::new(proposal),
        });
    }
    let own = proposal.author_subject == reviewer.subject;
    if input.decision == Verdict::Approve && own && !reviewer.local_mode {
        return Err(DecideError::Forbidden(format!(
            "four-eyes rule: {} proposed this change and may not approve it; another owner of team {} must review it",
            reviewer.name, proposal.owner_team
        )));
    }
    if let Some(reason) = superseded_reason(store, &proposal).await? {
        return supersede(store, reviewer, proposal, input.version, reason).await;
    }
    let override_reason = match input.decision {
        Verdict::Reject => None,
        Verdict::Approve => policy_gate(store, reviewer, &proposal, input).await?,
    };
    let record = DecisionRecord {
        by: reviewer.subject.clone(),
        by_name: reviewer.name.clone(),
        at: now_millis(),
        comment: comment.to_owned(),
        override_reason,
        self_approval: input.decision == Verdict::Approve && own,
    };
    let to = match input.decision {
        Verdict::Approve => ProposalStatus::Approved,
        Verdict::Reject => ProposalStatus::Rejected,
    };
    let change = Transition {
        id: &proposal.id,
        version: input.version,
        from: ProposalStatus::Open,
        to,
        decision: Some(&record),
        error: None,
    };
    match store
        .transition(change, crate::audit::Actor::from(reviewer))
        .await?
    {
        Some(decided) => Ok(decided),
        None => Err(lost_race(store, &proposal.id).await?),
    }
}

/// Error-level findings block approval; an admin may override them with a reason, which is
/// returned to be recorded.
async fn policy_gate(
    store: &ProposalStore,
    reviewer: &Viewer,
    proposal: &Proposal,
    input: &DecisionInput,
) -> Result<Option<String>, DecideError> {
    let reason = input
        .override_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let all = findings::for_proposal(store.db(), proposal).await?;
    let blocking = findings::blocking(&all);
    if blocking.is_empty() {
        return Ok(reason.map(str::to_owned));
    }
    let list = blocking
        .iter()
        .map(|f| format!("{} ({}: {})", f.path, f.rule, f.message))
        .collect::<Vec<_>>()
        .join("; ");
    if !reviewer.has(Role::Admin) {
        return Err(DecideError::Forbidden(format!(
            "{} error-level policy finding(s) block approval: {list}. Only an admin may approve \
             over them, with an override reason",
            blocking.len()
        )));
    }
    match reason {
        Some(reason) => {
            crate::validation::max_len("overrideReason", reason, 2_000)?;
            Ok(Some(reason.to_owned()))
        }
        None => Err(FieldError::new(
            "overrideReason",
            format!(
                "is required to approve over {} error-level policy finding(s): {list}",
                blocking.len()
            ),
        )
        .into()),
    }
}

/// Why the proposal no longer fits the server, if it does not.
async fn superseded_reason(
    store: &ProposalStore,
    proposal: &Proposal,
) -> Result<Option<String>, DbError> {
    let mut conn = store.db().pool().acquire().await?;
    if proposal.kind == ProposalKind::Virtual {
        return virtual_moved(&mut conn, proposal).await;
    }
    let exists = server_id(&mut *conn, &proposal.namespace, &proposal.name).await?;
    let target = format!("{}/{}", proposal.namespace, proposal.name);
    Ok(match (proposal.kind, exists, proposal.base_revision) {
        (ProposalKind::Create, Some(_), _) => Some(format!(
            "{target} was created by someone else after this proposal was made; propose an update of it instead"
        )),
        (ProposalKind::Create, None, _) => None,
        (_, None, _) => Some(format!(
            "{target} no longer exists; this proposal cannot be applied"
        )),
        (_, Some(_), base) => {
            let current = revisions::current(&mut conn, &proposal.namespace, &proposal.name).await?;
            let base = base.unwrap_or(0);
            (current != base).then(|| {
                format!(
                    "{target} changed after this proposal was made: it was proposed against revision {base}, \
                     and the server is now at revision {current}; propose the change again from the current revision"
                )
            })
        }
    })
}

/// Why a virtual server proposal no longer fits, if it does not: the virtual server changed
/// (or was created or removed) after it was made.
pub async fn virtual_moved(
    conn: &mut sqlx::AnyConnection,
    proposal: &Proposal,
) -> Result<Option<String>, DbError> {
    let (namespace, name) = (&proposal.namespace, &proposal.name);
    let now = crate::virtual_servers::store::changed_at(conn, namespace, name).await?;
    Ok((now != proposal.base_revision).then(|| match (proposal.base_revision, now) {
        (None, _) => format!(
            "the virtual server {namespace}/{name} was created by someone else after this proposal was made; propose the change again"
        ),
        (Some(_), None) => format!(
            "the virtual server {namespace}/{name} was removed after this proposal was made"
        ),
        (Some(_), Some(_)) => format!(
            "the virtual server {namespace}/{name} changed after this proposal was made; propose the change again from its current definition"
        ),
    }))
}

async fn supersede(
    store: &ProposalStore,
    reviewer: &Viewer,
    proposal: Proposal,
    version: i64,
    reason: String,
) -> Result<Proposal, DecideError> {
    let change = Transition {
        id: &proposal.id,
        version,
        from: ProposalStatus::Open,
        to: ProposalStatus::Superseded,
        decision: None,
        error: Some(&reason),
    };
    match store
        .transition(change, crate::audit::Actor::from(reviewer))
        .await?
    {
        Some(current) => Err(DecideError::Superseded {
            message: format!("this proposal is superseded: {reason}"),
            current: Box::new(current),
        }),
        None => Err(lost_race(store, &proposal.id).await?),
    }
}

/// The conflict to report after the optimistic lock refused a change.
async fn lost_race(store: &ProposalStore, id: &str) -> Result<DecideError, DbError> {
    let current = store
        .get(id)
        .await?
        .ok_or_else(|| DbError::Query(sqlx::Error::RowNotFound))?;
    Ok(already_decided(current))
}

fn already_decided(current: Proposal) -> DecideError {
    let message = match &current.decision {
        Some(decision) => format!(
            "{} already decided this proposal (it is {} now, with the comment {:?}); reload it",
            decision.by_name,
            current.status.as_str(),
            decision.comment
        ),
        None => format!(
            "this proposal is {} now{}; reload it",
            current.status.as_str(),
            current
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
    };
    DecideError::Conflict {
        message,
        current: Box::new(current),
    }
}
