use leptos::prelude::*;

use super::{DriftDetails, ForViewer};
use crate::access::Action;
use crate::api::ApproveDrift;
use crate::model::server_detail::PendingDrift;
use crate::model::Viewer;

/// Schema drift waiting for approval: what changed, and for owners of the server's team and
/// admins, a form that approves it with a comment (a plain form post without JavaScript).
#[component]
pub fn DriftApproval(
    namespace: String,
    name: String,
    owner_team: String,
    pending: Option<PendingDrift>,
) -> impl IntoView {
    let Some(pending) = pending else {
        return view! {
            <p class="text-sm" data-testid="no-drift">"No drift: consumers see the server's newest tools."</p>
        }
        .into_any();
    };
    let snapshot_id = pending.snapshot_id.clone();
    let form = move |viewer: Option<Viewer>| {
        let team = &owner_team;
        if !viewer?.may(Action::Review, Some(team)) {
            return Some(view! {
                <p class="mt-2 text-sm">{format!("Owners of team {team} and admins can approve it.")}</p>
            }.into_any());
        }
        let (namespace, name, snapshot_id) = (namespace.clone(), name.clone(), snapshot_id.clone());
        Some(view! { <DriftApprovalForm namespace name snapshot_id /> }.into_any())
    };
    view! {
        <div data-testid="drift-review" class="rounded-lg border border-amber-300 bg-amber-50 p-3 dark:border-amber-700 dark:bg-amber-950">
            <p class="text-sm font-medium">
                {format!("The fetch of {} differs from the approved tools. Until it is approved, consumers see the approved tools: added tools and broadened schemas stay unpublished.", pending.fetched_at)}
            </p>
            <DriftDetails drift=pending.drift.clone() />
            <ForViewer render=form />
        </div>
    }
    .into_any()
}

/// The approval form of one drifted snapshot, an island: it approves in place and says so.
#[island]
fn DriftApprovalForm(namespace: String, name: String, snapshot_id: String) -> impl IntoView {
    let approve = ServerAction::<ApproveDrift>::new();
    let result = move || {
        approve.value().get().map(|outcome| match outcome {
            Ok(()) => view! {
                <p role="status" class="mt-2 text-sm text-emerald-800 dark:text-emerald-300">
                    "Approved: consumers see the new tools now. Reload to see the new baseline."
                </p>
            }
            .into_any(),
            Err(error) => view! {
                <p role="alert" class="mt-2 text-sm text-red-800 dark:text-red-300">{error.to_string()}</p>
            }
            .into_any(),
        })
    };
    view! {
        <ActionForm action=approve attr:class="mt-3 space-y-2" attr:aria-label="Approve the drift">
            <input type="hidden" name="namespace" value=namespace />
            <input type="hidden" name="name" value=name />
            <input type="hidden" name="snapshot_id" value=snapshot_id />
            <label class="block text-sm">"Comment (required)"
                <textarea name="comment" required rows="2"
                    class="mt-1 block w-full rounded border border-slate-300 px-2 py-1 dark:border-slate-700 dark:bg-slate-900"></textarea>
            </label>
            <button type="submit" class="rounded bg-slate-800 px-3 py-1 text-white dark:bg-slate-200 dark:text-slate-900"
                disabled=move || approve.pending().get()>
                {move || if approve.pending().get() { "Approving…" } else { "Approve the new tools" }}
            </button>
        </ActionForm>
        {result}
    }
}
