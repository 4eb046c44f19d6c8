use leptos::prelude::*;

use super::{HealthBadge, LifecycleBadge};
use crate::model::server_detail::ServerOverview;

/// A server's metadata and state as a definition list.
#[component]
pub fn ServerOverviewView(overview: ServerOverview) -> impl IntoView {
    let or_unset = |value: &str| {
        if value.is_empty() {
            "not set".to_owned()
        } else {
            value.to_owned()
        }
    };
    let tags = if overview.tags.is_empty() {
        "none".to_owned()
    } else {
        overview.tags.join(", ")
    };
    let docs = if overview.docs_url.is_empty() {
        "not set".into_any()
    } else {
        let url = overview.docs_url.clone();
        view! { <a class="break-all underline" href=url.clone() rel="noopener noreferrer">{url.clone()}</a> }
            .into_any()
    };
    let fields: Vec<(&'static str, String)> = vec![
        ("Owner team", or_unset(&overview.owner_team)),
        ("Category", or_unset(&overview.category)),
        ("Cost class", or_unset(&overview.cost_class)),
        ("Sensitivity", or_unset(&overview.sensitivity)),
        ("Tags", tags),
        ("Transport", overview.transport.as_str().to_owned()),
        ("Lifecycle", overview.lifecycle.as_str().to_owned()),
        (
            "Published",
            if overview.published { "yes" } else { "no" }.to_owned(),
        ),
        (
            "Start-up",
            overview
                .startup_ms
                .map(|ms| format!("{ms} ms (the last time a fetch waited for it)"))
                .unwrap_or_else(|| "not measured".to_owned()),
        ),
        (
            "Last fetched",
            overview
                .last_fetched
                .clone()
                .unwrap_or_else(|| "never".to_owned()),
        ),
    ];
    view! {
        <div class="flex flex-wrap items-center gap-2">
            <HealthBadge health=overview.health reason=overview.health_reason.clone() />
            <LifecycleBadge lifecycle=overview.lifecycle replacement=overview.replacement.clone() message=overview.lifecycle_message.clone() />
        </div>
        <p class="mt-2 text-sm text-slate-600 dark:text-slate-400" data-testid="health-reason">
            {overview.health_reason.clone()}
        </p>
        <p class="mt-3 break-words">
            {if overview.description.is_empty() { "No description.".to_owned() } else { overview.description.clone() }}
        </p>
        <dl class="mt-4 grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-2 lg:grid-cols-3" data-testid="overview">
            {fields.into_iter().map(|(term, value)| view! {
                <div class="min-w-0"><dt class="font-medium text-slate-600 dark:text-slate-400">{term}</dt><dd class="break-words">{value}</dd></div>
            }).collect_view()}
            <div>
                <dt class="font-medium text-slate-600 dark:text-slate-400">"Documentation"</dt>
                <dd>{docs}</dd>
            </div>
        </dl>
    }
}
