use leptos::prelude::*;

use super::{EmptyState, SchemaTable};
use crate::model::server_detail::ToolView;

/// The published tools, each with its description and argument table.
#[component]
pub fn ToolList(tools: Vec<ToolView>) -> impl IntoView {
    if tools.is_empty() {
        return view! {
            <EmptyState title="No published tools">
                <p>"Tools appear here after the first successful live fetch of a published server."</p>
            </EmptyState>
        }
        .into_any();
    }
    view! {
        <ul class="space-y-6" data-testid="tool-list">
            {tools.into_iter().map(|tool| {
                let heading = tool.title.clone().filter(|t| *t != tool.name);
                let name = tool.name.clone();
                view! {
                    <li data-testid="tool" data-tool=name class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
                        <h3 class="font-mono font-semibold break-all">{tool.name.clone()}</h3>
                        {heading.map(|title| view! { <p class="text-sm font-medium">{title}</p> })}
                        <p class="mt-1 text-sm whitespace-pre-line text-slate-700 dark:text-slate-300">
                            {if tool.description.is_empty() { "No description.".to_owned() } else { tool.description.clone() }}
                        </p>
                        <div class="mt-3"><SchemaTable tool=tool.name schema=tool.input_schema /></div>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
