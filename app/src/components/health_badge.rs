use leptos::prelude::*;

use crate::model::Health;

/// A coloured badge with the health in words, so colour is never the only signal; `reason`
/// (why it reads so) shows on hover.
#[component]
pub fn HealthBadge(health: Health, #[prop(optional, into)] reason: String) -> impl IntoView {
    let colours = match health {
        Health::Healthy => {
            "bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100"
        }
        Health::Slow => "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100",
        Health::Failing => "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-100",
        Health::Unknown => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
    };
    view! {
        <span
            class=format!("rounded px-2 text-xs {colours}")
            data-testid="health-badge"
            title=(!reason.is_empty()).then_some(reason)
        >
            <span class="sr-only">"Health: "</span>
            {health.label()}
        </span>
    }
}
