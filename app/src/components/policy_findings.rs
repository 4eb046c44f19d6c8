use leptos::prelude::*;

use crate::model::server_detail::FindingView;

/// The schema contract findings of the newest snapshot, as a table.
#[component]
pub fn PolicyFindings(
    findings: Vec<FindingView>,
    /// False when there is no tool snapshot, so nothing was checked.
    #[prop(default = true)]
    checked: bool,
) -> impl IntoView {
    if !checked {
        return view! {
            <p class="text-sm" data-testid="no-snapshot">"Not checked yet: there is no tool snapshot to check against the schema contract. One is taken once the server's tools are fetched."</p>
        }
        .into_any();
    }
    if findings.is_empty() {
        return view! {
            <p class="text-sm" data-testid="no-findings">"No policy findings: the newest snapshot meets the schema contract."</p>
        }
        .into_any();
    }
    view! {
        <div class="overflow-x-auto">
            <table class="w-full min-w-[32rem] text-left text-sm" data-testid="findings">
                <thead class="border-b border-slate-300 dark:border-slate-700">
                    <tr>
                        <th scope="col" class="py-1 pr-3">"Severity"</th>
                        <th scope="col" class="py-1 pr-3">"Tool"</th>
                        <th scope="col" class="py-1">"Finding"</th>
                    </tr>
                </thead>
                <tbody>
                    {findings.into_iter().map(|f| {
                        let colour = if f.severity == "error" {
                            "rounded bg-red-100 px-2 text-xs text-red-900 dark:bg-red-900 dark:text-red-100"
                        } else {
                            "rounded bg-amber-100 px-2 text-xs text-amber-900 dark:bg-amber-900 dark:text-amber-100"
                        };
                        view! {
                            <tr class="border-b border-slate-100 align-top dark:border-slate-800">
                                <td class="py-1 pr-3"><span class=colour>{f.severity}</span></td>
                                <td class="py-1 pr-3"><code class="break-all">{f.tool}</code></td>
                                <td class="py-1">{f.message}<span class="block text-xs break-all text-slate-600 dark:text-slate-400">{f.path}</span></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
