use leptos::prelude::*;

use super::HealthBadge;
use crate::model::{Lifecycle, ServerCard};

/// One server in the catalog grid.
#[component]
pub fn ServerCardView(server: ServerCard) -> impl IntoView {
    let id = server.id();
    let tools = match server.tool_count {
        1 => "1 tool".to_string(),
        n => format!("{n} tools"),
    };
    let badge = match server.lifecycle {
        Lifecycle::Active => None,
        other => Some(other.as_str()),
    };
    view! {
        <li
            class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
            data-testid="server-card"
            data-server=id.clone()
        >
            <div class="flex items-baseline justify-between gap-2">
                <h2 class="font-semibold">{id.clone()}</h2>
                <div class="flex gap-1">
                    {badge.map(|b| view! {
                        <span class="rounded bg-amber-200 px-2 text-xs text-amber-900">{b}</span>
                    })}
                    <HealthBadge health=server.health />
                </div>
            </div>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{server.description}</p>
            <dl class="mt-3 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-500 dark:text-slate-400">
                <div><dt class="inline">"Owner: "</dt><dd class="inline">{server.owner_team}</dd></div>
                <div><dt class="inline">"Transport: "</dt><dd class="inline">{server.transport.as_str()}</dd></div>
                <div><dt class="sr-only">"Tools"</dt><dd class="inline">{tools}</dd></div>
            </dl>
        </li>
    }
}
