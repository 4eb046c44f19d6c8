use leptos::prelude::*;

use crate::model::server_detail::ToolUsage;

/// Each tool's calls through the gateway over the last day: calls, failures and latency.
#[component]
pub fn ToolUsageTable(usage: Vec<ToolUsage>) -> impl IntoView {
    if usage.is_empty() {
        return ().into_any();
    }
    let cell = "px-3 py-2 text-right tabular-nums";
    let rows = usage
        .into_iter()
        .map(|tool| {
            let failed = if tool.errors > 0 {
                "font-semibold text-red-700 dark:text-red-400"
            } else {
                ""
            };
            view! {
                <tr class="border-t border-slate-200 dark:border-slate-800" data-testid="tool-usage-row">
                    <th scope="row" class="px-3 py-2 text-left font-mono font-normal">{tool.tool}</th>
                    <td class=cell>{tool.calls}</td>
                    <td class=format!("{cell} {failed}")>{tool.errors}</td>
                    <td class=cell>{format!("{} ms", tool.p50_ms)}</td>
                    <td class=cell>{format!("{} ms", tool.p95_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="min-w-full text-sm" data-testid="tool-usage">
                <caption class="mb-2 text-left text-sm text-slate-700 dark:text-slate-300">
                    "Calls through the gateway in the last 24 hours, by tool. Latency comes from buckets (1, 2, 5, 10, 20, 50 ms …), so it reads as \"at most\"."
                </caption>
                <thead>
                    <tr class="text-slate-600 dark:text-slate-400">
                        <th scope="col" class="px-3 py-2 text-left">"Tool"</th>
                        <th scope="col" class="px-3 py-2 text-right">"Calls"</th>
                        <th scope="col" class="px-3 py-2 text-right">"Failed"</th>
                        <th scope="col" class="px-3 py-2 text-right">"Median"</th>
                        <th scope="col" class="px-3 py-2 text-right">"95th percentile"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
