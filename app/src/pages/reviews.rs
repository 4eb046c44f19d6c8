use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::load_review_queue;
use crate::components::{DataTable, EmptyState, Loaded, ReviewModeNote, TimeAgo};
use crate::model::proposals::ProposalSummary;

/// `/reviews`: the open proposals the viewer may decide (owners of the team, admins) and their
/// own open proposals, newest first.
#[component]
pub fn ReviewsPage() -> impl IntoView {
    let queue = crate::api::load(|| (), |_| load_review_queue());
    view! {
        <Title text="Reviews" />
        <h1 class="text-2xl font-bold">"Reviews"</h1>
        <ReviewModeNote
            local="Open proposals, newest first. Local mode: you are the only person, so you approve or reject your own proposals, each with a comment recorded as a self-approval."
            signed_in="Open proposals for your teams' servers, and the ones you proposed, newest first. Nobody approves their own proposal: another owner of the team does."
        />
        <Loaded loading="the reviews" failure="The reviews" resource=queue render={|queue| view! { <ReviewQueue queue /> }} />
    }
}

#[component]
fn ReviewQueue(queue: Vec<ProposalSummary>) -> impl IntoView {
    if queue.is_empty() {
        return view! {
            <div class="mt-6">
                <EmptyState title="Nothing to review">
                    <p>"No open proposals for your teams. "<a class="underline" href="/propose">"Propose a server"</a></p>
                </EmptyState>
            </div>
        }
        .into_any();
    }
    let rows = queue
        .into_iter()
        .map(|p| {
            let role = match (p.decidable, p.yours) {
                (true, true) => "yours: approve it yourself (local mode)",
                (true, false) => "to review",
                (false, _) => "yours: another owner of the team reviews it",
            };
            view! {
                <tr class="border-t border-slate-200 align-top dark:border-slate-800" data-testid="review-row">
                    <td class="px-3 py-2"><a class="underline" href=format!("/reviews/{}", p.id)>{p.target.clone()}</a></td>
                    <td class="px-3 py-2">{p.kind.clone()}</td>
                    <td class="px-3 py-2">{p.author_name.clone()}</td>
                    <td class="px-3 py-2">{p.owner_team.clone()}</td>
                    <td class="px-3 py-2 whitespace-nowrap"><TimeAgo moment=p.created.clone() /></td>
                    <td class="px-3 py-2">{role}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <DataTable
            testid="review-queue"
            class="mt-6"
            columns=&["Server", "Kind", "Proposed by", "Team", "When", ""]
        >
            {rows}
        </DataTable>
    }
    .into_any()
}
