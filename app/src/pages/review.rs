use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_params_map};

use crate::api::{load_proposal_review, DecideProposal};
use crate::components::{
    request_source, DriftDetails, Loaded, ManifestDiff, NotFound, PageSection, PolicyFindings,
    TimeAgo,
};
use crate::model::proposals::{ProposalReview, RetireView};
use crate::model::server_detail::PendingDrift;

/// What the previous decision post came back with, from the query string.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Notice {
    decided: String,
    refused: String,
    field: String,
    error: String,
    decision: String,
    comment: String,
}

/// `/reviews/{id}`: one proposal, its manifest side by side with the base revision's, the
/// server's pending schema drift, the policy findings, its status, and the approve and reject
/// forms for those who may decide.
#[component]
pub fn ReviewPage() -> impl IntoView {
    let params = use_params_map();
    let search = use_location().search;
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let review = crate::api::load(request_source(move || id.get()), load_proposal_review);
    let render = move |found: Option<ProposalReview>| {
        let notice: Notice =
            serde_urlencoded::from_str(search.get_untracked().trim_start_matches('?'))
                .unwrap_or_default();
        match found {
            Some(review) => view! { <ReviewView review notice /> }.into_any(),
            None => view! {
                <NotFound title="Proposal not found">
                    <p class="mt-2">"There is no such proposal. "<a class="underline" href="/reviews">"Back to the reviews"</a></p>
                </NotFound>
            }
            .into_any(),
        }
    };
    view! { <Loaded loading="the proposal" failure="This proposal" resource=review render /> }
}

fn outcome_text(review: &ProposalReview) -> String {
    match review.status.as_str() {
        "open" if review.local_mode => {
            "Open: waiting for your decision (local mode: you approve or reject it yourself)."
                .into()
        }
        "open" => format!(
            "Open: waiting for a decision by an owner of team {} or an admin.",
            review.owner_team
        ),
        "applied" => "Approved and applied.".into(),
        "failed" => format!(
            "Approved, but applying it failed; nothing was changed. {}",
            review.error.clone().unwrap_or_default()
        ),
        "rejected" => "Rejected.".into(),
        "superseded" => {
            format!(
                "Superseded: {}",
                review.error.clone().unwrap_or_else(|| {
                    "the server changed since it was proposed; propose again".into()
                })
            )
        }
        other => format!("{other}."),
    }
}

#[component]
fn ReviewView(review: ProposalReview, notice: Notice) -> impl IntoView {
    let target = format!("{}/{}", review.namespace, review.name);
    let base = review.base_revision.map_or_else(
        || "none (a new server)".to_owned(),
        |n| format!("revision {n}"),
    );
    let refused = (!notice.refused.is_empty()).then(|| view! {
        <div role="alert" data-testid="decision-refused" class="mt-4 rounded border border-amber-400 p-3 text-sm">
            "Your decision was not taken: " {notice.refused.clone()}
        </div>
    });
    let decision = review.decision.clone().map(|d| {
        let how = if d.self_approval {
            "Self-approved in local mode (no sign-in, one person) by"
        } else {
            "Decided by"
        };
        view! {
            <p class="mt-2 text-sm" data-testid="decision">
                {format!("{how} {} on {}: “{}”", d.by_name, d.at_label, d.comment)}
                {d.override_reason.map(|r| format!(" Policy override: {r}"))}
            </p>
        }
    });
    let author_note = author_note(&review);
    let forms = decision_forms(&review, &notice);
    let approved = approved_label(&review);
    let retire = review
        .retire
        .clone()
        .map(|retire| view! { <RetireDetails retire /> });
    let server = target.clone();
    let drift = review.pending_drift.clone().map(|pending| {
        view! {
            <PageSection id="drift" title="Schema drift">
                <PendingDriftNote server pending />
            </PageSection>
        }
    });
    let what = diff_subject(&review);
    view! {
        <Title text=format!("Review of {target}") />
        <nav aria-label="Breadcrumb" class="text-sm"><a class="underline" href="/reviews">"Reviews"</a>" / "{target.clone()}</nav>
        <h1 class="mt-2 text-2xl font-bold break-words">{format!("{} {}", review.kind, target)}</h1>
        <dl class="mt-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
            <dt class="font-medium">"Status"</dt><dd data-testid="status">{review.status.clone()}</dd>
            <dt class="font-medium">"Proposed by"</dt><dd>{review.author_name.clone()}</dd>
            <dt class="font-medium">"Reviewed by team"</dt><dd>{review.owner_team.clone()}</dd>
            <dt class="font-medium">"Base"</dt><dd>{base}</dd>
            <dt class="font-medium">"Proposed"</dt><dd><TimeAgo moment=review.created.clone() /></dd>
        </dl>
        {refused}
        <div class="mt-4 rounded border border-slate-300 p-3 dark:border-slate-700" data-testid="outcome" role="status">
            <p class="font-medium">{outcome_text(&review)}</p>
            {decision}
        </div>
        {author_note}
        <PageSection id="diff" title="Changes">
            {retire}
            <ManifestDiff approved rows=review.diff.clone() what=what />
        </PageSection>
        {drift}
        <PageSection id="findings" title="Policy findings">
            <PolicyFindings findings=review.findings.clone() />
        </PageSection>
        {forms}
    }
}

/// What the author of an open proposal may do with it: with sign-in on, wait for another
/// owner (four-eyes rule); in local mode, approve it themselves, recorded as a self-approval.
fn author_note(review: &ProposalReview) -> Option<AnyView> {
    if !review.viewer_is_author || review.status != "open" {
        return None;
    }
    let note = "mt-4 rounded border border-slate-300 p-3 text-sm dark:border-slate-700";
    Some(if review.local_mode {
        view! {
            <p class=note data-testid="self-approval-note">
                "Local mode: Apiary has no sign-in and one person, so you approve your own change. "
                "Say why in the comment: it is recorded as a self-approval on this proposal and in the audit log. "
                "With sign-in on, another owner of the team must approve it instead."
            </p>
        }
        .into_any()
    } else {
        view! {
            <p class=note data-testid="cannot-approve">
                {format!(
                    "You proposed this change, so you cannot approve it (four-eyes rule): another owner of team {} must review it.",
                    review.owner_team
                )}
            </p>
        }
        .into_any()
    })
}

/// What the diff compares.
fn diff_subject(review: &ProposalReview) -> &'static str {
    if review.kind == "virtual" {
        "virtual server definition"
    } else {
        "MCPServer manifest"
    }
}

/// The header of the diff's approved column: the base revision, or what stands in for it.
fn approved_label(review: &ProposalReview) -> String {
    match (review.kind.as_str(), review.base_revision) {
        ("create", _) => "Approved (none: a new server)".into(),
        ("virtual", None) => "Current (none: a new virtual server)".into(),
        ("virtual", Some(_)) => "Current definition".into(),
        (_, Some(number)) => format!("Approved (revision {number})"),
        (_, None) => "Approved (the current server)".into(),
    }
}

/// A retirement's replacement and message.
#[component]
fn RetireDetails(retire: RetireView) -> impl IntoView {
    let or_none = |text: String| {
        if text.is_empty() {
            "none".to_owned()
        } else {
            text
        }
    };
    view! {
        <p class="mb-2 text-sm">"Retiring stops the server and unpublishes it, so nothing is proposed in place of its manifest."</p>
        <dl class="mb-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="retire">
            <dt class="font-medium">"Replacement"</dt><dd>{or_none(retire.replacement)}</dd>
            <dt class="font-medium">"Message for consumers"</dt><dd>{or_none(retire.message)}</dd>
        </dl>
    }
}

/// The server's schema drift that waits for approval: what changed (the server page's
/// [`DriftDetails`]) and a link to the server page, where owners approve it.
#[component]
fn PendingDriftNote(
    /// `namespace/name`.
    server: String,
    /// The drift.
    pending: PendingDrift,
) -> impl IntoView {
    view! {
        <div data-testid="review-drift" class="rounded-lg border border-amber-300 bg-amber-50 p-3 dark:border-amber-700 dark:bg-amber-950">
            <p class="text-sm font-medium">
                {format!("The live tools of {server}, fetched {}, differ from the approved ones. Consumers see the approved tools until an owner approves the drift; deciding this proposal does not approve it.", pending.fetched_at)}
            </p>
            <DriftDetails drift=pending.drift />
            <p class="mt-2 text-sm">
                <a class="underline" href=format!("/servers/{server}#drift") data-testid="drift-link">"Review and approve the drift on the server page"</a>
            </p>
        </div>
    }
}

fn decision_forms(review: &ProposalReview, notice: &Notice) -> Option<AnyView> {
    if review.status != "open" {
        return None;
    }
    if !review.may_decide {
        return Some(view! {
            <p class="mt-8 text-sm" data-testid="may-not-decide">
                {format!("Only owners of team {} and admins decide this proposal.", review.owner_team)}
            </p>
        }.into_any());
    }
    let comment_for = |decision: &str| -> (String, Option<String>) {
        if notice.decision == decision {
            (
                notice.comment.clone(),
                (notice.field == "comment" || notice.field == "overrideReason")
                    .then(|| notice.error.clone()),
            )
        } else {
            (String::new(), None)
        }
    };
    let field = "mt-1 block w-full rounded border border-slate-300 px-2 py-1 dark:border-slate-700 dark:bg-slate-900";
    let form = |decision: &'static str, label: &'static str, extra: Option<AnyView>| {
        let (comment, error) = comment_for(decision);
        let comment_id = format!("{decision}-comment");
        let error_id = format!("{decision}-comment-error");
        view! {
            <form method="post" action=DecideProposal::url() class="mt-3 grid gap-2" data-testid=format!("{decision}-form")>
                <input type="hidden" name="id" value=review.id.clone() />
                <input type="hidden" name="decision" value=decision />
                <input type="hidden" name="version" value=review.version.to_string() />
                <label for=comment_id.clone() class="text-sm font-medium">"Comment (required)"</label>
                <textarea id=comment_id name="comment" rows="2" class=field aria-describedby=error_id.clone()
                    aria-invalid=error.is_some().then_some("true")>{comment}</textarea>
                {error.map(|e| view! {
                    <p id=error_id role="alert" data-testid=format!("error-{decision}-comment")
                        class="text-sm text-red-800 dark:text-red-300">{e}</p>
                })}
                {extra}
                <div><button type="submit" class="rounded bg-slate-800 px-3 py-1 text-white dark:bg-slate-200 dark:text-slate-900">{label}</button></div>
            </form>
        }
    };
    let approve = if review.viewer_is_author && !review.local_mode {
        None
    } else if review.blocked && !review.viewer_is_admin {
        Some(view! {
            <p class="mt-3 text-sm" data-testid="blocked">
                "An error-level policy finding blocks approval. Only an admin can approve it, with a reason."
            </p>
        }.into_any())
    } else {
        let extra = (review.blocked && review.viewer_is_admin).then(|| view! {
            <label for="override_reason" class="text-sm font-medium">"Override reason (an error-level finding blocks approval)"</label>
            <textarea id="override_reason" name="override_reason" rows="2" class=field data-testid="override-reason"></textarea>
        }.into_any());
        Some(form("approve", "Approve and apply", extra).into_any())
    };
    let reject = form("reject", "Reject", None).into_any();
    Some(
        view! {
            <PageSection id="decide" title="Decide">
                {approve}
                {reject}
            </PageSection>
        }
        .into_any(),
    )
}
