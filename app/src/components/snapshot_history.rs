use leptos::prelude::*;

use super::{EmptyState, TimeAgo};
use crate::model::server_detail::{DriftView, SnapshotEntry};

/// The tool snapshots, newest first, each with its drift from the baseline in words.
#[component]
pub fn SnapshotHistory(history: Vec<SnapshotEntry>) -> impl IntoView {
    if history.is_empty() {
        return view! {
            <EmptyState title="No snapshots yet">
                <p>"Every live fetch whose tools differ from the previous one is kept here."</p>
            </EmptyState>
        }
        .into_any();
    }
    view! {
        <ol class="space-y-3" data-testid="snapshot-history">
            {history.into_iter().map(|entry| view! { <SnapshotItem entry /> }).collect_view()}
        </ol>
    }
    .into_any()
}

#[component]
fn SnapshotItem(entry: SnapshotEntry) -> impl IntoView {
    let tools = match entry.tool_count {
        1 => "1 tool".to_owned(),
        n => format!("{n} tools"),
    };
    let short_hash: String = entry.content_hash.chars().take(12).collect();
    let badge = "rounded bg-slate-200 px-2 text-xs dark:bg-slate-700";
    view! {
        <li class="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900" data-testid="snapshot">
            <div class="flex flex-wrap items-baseline gap-2 text-sm">
                <span class="font-medium"><TimeAgo moment=entry.fetched /></span>
                <span>{tools}</span>
                <code class="text-xs" title=entry.content_hash.clone()>{short_hash}</code>
                {entry.is_baseline.then(|| view! { <span class=badge>"approved baseline"</span> })}
                {entry.is_latest.then(|| view! { <span class=badge>"newest"</span> })}
            </div>
            {entry.drift.map(|drift| view! { <DriftDetails drift /> })}
        </li>
    }
}

/// A drift in words: tools added, removed and changed, broadened schemas marked.
#[component]
pub fn DriftDetails(drift: DriftView) -> impl IntoView {
    let nothing = drift.tools_added.is_empty()
        && drift.tools_removed.is_empty()
        && drift.tools_changed.is_empty();
    let names = |names: Vec<String>| names.join(", ");
    view! {
        <ul class="mt-2 list-disc space-y-1 pl-5 text-sm" data-testid="drift">
            {nothing.then(|| view! { <li>"Different bytes, no structural change."</li> })}
            {(!drift.tools_added.is_empty()).then(|| view! {
                <li>"Tools added (wait for approval): " <code>{names(drift.tools_added.clone())}</code></li>
            })}
            {(!drift.tools_removed.is_empty()).then(|| view! {
                <li>"Tools removed: " <code>{names(drift.tools_removed.clone())}</code></li>
            })}
            {drift.tools_changed.into_iter().map(|change| view! {
                <li>
                    "Changed " <code>{change.tool}</code>
                    {change.broadened.then(|| view! {
                        <span class="ml-2 rounded bg-red-100 px-2 text-xs text-red-900 dark:bg-red-900 dark:text-red-100">
                            "broadened: waits for approval"
                        </span>
                    })}
                    {(!change.details.is_empty()).then(|| view! {
                        <span class="block text-slate-600 dark:text-slate-400">{change.details.join("; ")}</span>
                    })}
                </li>
            }).collect_view()}
        </ul>
    }
}
