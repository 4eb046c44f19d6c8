use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{EmptyState, FilterForm, SchemaTable};
use crate::model::server_detail::ToolView;

/// Lists of at most this many tools show every tool's arguments; longer ones start folded.
const OPEN_UP_TO: usize = 3;

/// The published tools, each a section that folds open to its description and argument table,
/// with a filter by name, title or description (`?tool=` on the page at `action`, a
/// [`FilterForm`]).
#[component]
pub fn ToolList(tools: Vec<ToolView>, action: String) -> impl IntoView {
    if tools.is_empty() {
        return view! {
            <EmptyState title="No published tools">
                <p>"Tools appear here after the first successful live fetch of a published server."</p>
            </EmptyState>
        }
        .into_any();
    }
    let total = tools.len();
    let filter = use_query_map().with_untracked(|q| q.get("tool").unwrap_or_default());
    let filter = filter.trim().to_owned();
    let words = filter.to_lowercase();
    let matching: Vec<ToolView> = tools
        .into_iter()
        .filter(|tool| matches(tool, &words))
        .collect();
    let open = !words.is_empty() || total <= OPEN_UP_TO;
    let count = if words.is_empty() {
        format!("{total} tools")
    } else {
        format!("{} of {total} tools match “{filter}”", matching.len())
    };
    let items = matching
        .into_iter()
        .map(|tool| view! { <ToolItem tool open /> })
        .collect_view();
    view! {
        <FilterForm action>
            <div role="search" class="flex flex-wrap items-end gap-2">
                <label class="flex flex-col text-sm">
                    "Filter tools"
                    <input
                        type="search"
                        name="tool"
                        value=filter
                        placeholder="name or description"
                        data-testid="tool-filter"
                        class="mt-1 rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-950"
                    />
                </label>
                <button type="submit" class="rounded border border-slate-400 px-3 py-1 text-sm">"Filter"</button>
            </div>
        </FilterForm>
        <p class="mt-2 text-sm" role="status" data-testid="tool-count">{count}</p>
        <ul class="mt-2 space-y-3" data-testid="tool-list">{items}</ul>
    }
    .into_any()
}

/// True when every word (lower case) is in the tool's name, title or description.
fn matches(tool: &ToolView, words: &str) -> bool {
    let text = format!(
        "{} {} {}",
        tool.name,
        tool.title.as_deref().unwrap_or_default(),
        tool.description
    )
    .to_lowercase();
    words.split_whitespace().all(|word| text.contains(word))
}

/// One tool: its name, title and first line in the summary, the rest when opened.
#[component]
fn ToolItem(tool: ToolView, open: bool) -> impl IntoView {
    let heading = tool.title.clone().filter(|t| *t != tool.name);
    let name = tool.name.clone();
    let first_line = tool
        .description
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let description = if tool.description.is_empty() {
        "No description.".to_owned()
    } else {
        tool.description.clone()
    };
    view! {
        <li data-testid="tool" data-tool=name class="rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <details open=open>
                <summary class="cursor-pointer p-4">
                    <h3 class="inline font-mono font-semibold break-all">{tool.name.clone()}</h3>
                    {heading.map(|title| view! { <span class="ml-2 text-sm font-medium">{title}</span> })}
                    <span class="mt-1 block text-sm text-slate-600 dark:text-slate-400">{first_line}</span>
                </summary>
                <div class="px-4 pb-4">
                    <p class="text-sm whitespace-pre-line text-slate-700 dark:text-slate-300">{description}</p>
                    <div class="mt-3"><SchemaTable tool=tool.name schema=tool.input_schema /></div>
                </div>
            </details>
        </li>
    }
}
