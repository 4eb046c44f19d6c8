//! Proposal server functions: propose, the review queue, one review, and decisions. The two
//! that change something take plain form posts and answer with a redirect, so the forms work
//! without JavaScript.

use leptos::prelude::*;

use crate::model::proposals::{FormError, ProposalForm, ProposalReview, ProposalSummary};

/// Proposes a create, update or retire from the propose form. Redirects to the new proposal's
/// review page, or back to the form with the submitted values and every refused field's message.
#[server]
pub async fn propose_server(#[server(flatten)] form: ProposalForm) -> Result<(), ServerFnError> {
    let author = crate::services::authorize(crate::access::Action::Propose, None)?;
    let services = crate::services::services()?;
    let proposed = services.onboarding.propose(&author, &form).await?;
    match proposed {
        Ok(id) => leptos_axum::redirect(&format!("/reviews/{}", path_segment(&id))),
        Err(errors) => leptos_axum::redirect(&refused_url(&form, &errors)),
    }
    Ok(())
}

/// The `MCPServer` manifest the propose form's values would propose, for the live preview; a
/// line saying what is missing when the values do not make one yet.
#[server]
pub async fn preview_proposal(
    #[server(flatten)] form: ProposalForm,
) -> Result<String, ServerFnError> {
    crate::services::authorize(crate::access::Action::Propose, None)?;
    let services = crate::services::services()?;
    Ok(services.onboarding.preview(&form).await?)
}

/// Approves (`decision=approve`) or rejects proposal `id`; the review page then shows what
/// happened. Owners and admins only; whether this owner may decide this proposal (their team,
/// not their own approval) is checked against the proposal.
#[server]
pub async fn decide_proposal(
    #[server(default)] id: String,
    #[server(default)] decision: String,
    #[server(default)] comment: String,
    #[server(default)] version: i64,
    #[server(default)] override_reason: String,
) -> Result<(), ServerFnError> {
    use crate::access::{Action, Role};
    use crate::services::DecisionOutcome;
    let viewer = crate::services::viewer()?;
    if !(viewer.has(Role::Owner) || viewer.has(Role::Admin)) {
        // Refused with a 403 that names what is missing.
        crate::services::authorize(Action::Review, None)?;
    }
    let services = crate::services::services()?;
    let override_reason = Some(override_reason).filter(|r| !r.trim().is_empty());
    let outcome = services
        .onboarding
        .decide(
            &viewer,
            &id,
            decision == "approve",
            &comment,
            version,
            override_reason,
        )
        .await?;
    let page = format!("/reviews/{}", path_segment(&id));
    let query = match outcome {
        DecisionOutcome::NotFound => {
            leptos_axum::redirect("/reviews");
            return Ok(());
        }
        DecisionOutcome::Decided(status) => vec![("decided", status)],
        DecisionOutcome::Refused(message) => vec![("refused", message)],
        DecisionOutcome::Invalid(error) => vec![
            ("field", error.field),
            ("error", error.message),
            ("decision", decision),
            ("comment", comment),
        ],
    };
    let query = serde_urlencoded::to_string(query).unwrap_or_default();
    leptos_axum::redirect(&format!("{page}?{query}"));
    Ok(())
}

/// The open proposals the viewer may decide, and their own open ones, newest first.
#[server]
pub async fn load_review_queue() -> Result<Vec<ProposalSummary>, ServerFnError> {
    let viewer = crate::services::authorize(crate::access::Action::FollowProposals, None)?;
    let services = crate::services::services()?;
    Ok(services.onboarding.queue(&viewer).await?)
}

/// One proposal with its diff and findings, or `None` when there is no such proposal.
#[server]
pub async fn load_proposal_review(
    #[server(default)] id: String,
) -> Result<Option<ProposalReview>, ServerFnError> {
    let viewer = crate::services::authorize(crate::access::Action::FollowProposals, None)?;
    let services = crate::services::services()?;
    Ok(services.onboarding.review(&viewer, &id).await?)
}

/// The change form of `namespace/name`, filled from its current spec and metadata, or `None`
/// when there is no such server.
#[server]
pub async fn load_change_form(
    #[server(default)] namespace: String,
    #[server(default)] name: String,
) -> Result<Option<ProposalForm>, ServerFnError> {
    crate::services::authorize(crate::access::Action::Propose, None)?;
    let services = crate::services::services()?;
    Ok(services.onboarding.change_form(&namespace, &name).await?)
}

/// `text` with everything but letters, digits, `-`, `.` and `_` percent-encoded, for a path.
pub fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Where a refused form post goes: the form's page with the submitted values and each refusal
/// (an `error_field` and `error` pair per field, in order) in the query string. When a
/// refusal is about a secret, the environment and the pasted manifest are left out, so a
/// secret value never lands in a URL.
pub fn refused_url(form: &ProposalForm, errors: &[FormError]) -> String {
    let mut kept = form.clone();
    if errors
        .iter()
        .any(|e| e.message.to_ascii_lowercase().contains("secret"))
    {
        kept.env.clear();
        kept.manifest.clear();
    }
    let path = if kept.kind == "create" || kept.kind.is_empty() {
        "/propose".to_owned()
    } else {
        format!(
            "/servers/{}/{}/change",
            path_segment(&kept.namespace),
            path_segment(&kept.name)
        )
    };
    back_to(&path, &kept, errors)
}

/// `path` with the submitted `values` and each refusal (`error_field`, then `error`) in the
/// query string, for the form to show them again (see `pages::propose::refused_from_query`).
pub fn back_to(path: &str, values: &impl serde::Serialize, errors: &[FormError]) -> String {
    let values = serde_urlencoded::to_string(values).unwrap_or_default();
    let problems: Vec<(&str, &str)> = errors
        .iter()
        .flat_map(|e| {
            [
                ("error_field", e.field.as_str()),
                ("error", e.message.as_str()),
            ]
        })
        .collect();
    let problems = serde_urlencoded::to_string(problems).unwrap_or_default();
    format!("{path}?{values}&{problems}")
}
