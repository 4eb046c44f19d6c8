use leptos::prelude::*;

use super::{HealthBadge, LifecycleBadge};
use crate::model::ServerCard;

/// One server in the catalog grid; its name links to the server's page.
#[component]
pub fn ServerCardView(server: ServerCard) -> impl IntoView {
    let id = server.id();
    let tools = match server.tool_count {
        1 => "1 tool".to_string(),
        n => format!("{n} tools"),
    };
    let owner = if server.owner_team.is_empty() {
        "no owner set".to_string()
    } else {
        server.owner_team
    };
    view! {
        <li
            class="flex flex-col rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
            data-testid="server-card"
            data-server=id.clone()
        >
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 class="min-w-0 font-semibold break-words">
                    <a class="hover:underline" href=format!("/servers/{id}")>{id.clone()}</a>
                </h2>
                <div class="flex flex-wrap gap-1">
                    <LifecycleBadge lifecycle=server.lifecycle replacement=server.replacement message=server.lifecycle_message />
                    <HealthBadge health=server.health reason=server.health_reason />
                </div>
            </div>
            <p class="mt-1 text-sm break-words text-slate-600 dark:text-slate-400">{server.description}</p>
            <MetadataChips category=server.category sensitivity=server.sensitivity cost_class=server.cost_class />
            <dl class="mt-auto flex flex-wrap gap-x-4 gap-y-1 pt-3 text-xs text-slate-600 dark:text-slate-400">
                <div><dt class="inline">"Owner: "</dt><dd class="inline">{owner}</dd></div>
                <div><dt class="inline">"Transport: "</dt><dd class="inline">{server.transport.as_str()}</dd></div>
                <div><dt class="sr-only">"Tools"</dt><dd class="inline" data-testid="tool-count">{tools}</dd></div>
            </dl>
        </li>
    }
}

/// The card's metadata as labelled chips; unset values are left out.
#[component]
fn MetadataChips(category: String, sensitivity: String, cost_class: String) -> impl IntoView {
    let chips: Vec<(&'static str, String)> = [
        ("Category", category),
        ("Sensitivity", sensitivity),
        ("Cost", cost_class),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .collect();
    (!chips.is_empty()).then(|| {
        view! {
            <dl class="mt-2 flex flex-wrap gap-1 text-xs" data-testid="metadata-chips">
                {chips
                    .into_iter()
                    .map(|(term, value)| view! {
                        <div class="rounded-full border border-slate-300 px-2 dark:border-slate-700">
                            <dt class="inline text-slate-500 dark:text-slate-400">{term}": "</dt>
                            <dd class="inline">{value}</dd>
                        </div>
                    })
                    .collect_view()}
            </dl>
        }
    })
}
