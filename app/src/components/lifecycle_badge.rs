use leptos::prelude::*;

use crate::model::Lifecycle;

/// "deprecated" or "retired" as a badge, with a link to the replacement of a deprecated server
/// and the owners' message. Active servers get nothing.
#[component]
pub fn LifecycleBadge(
    lifecycle: Lifecycle,
    replacement: Option<String>,
    #[prop(optional)] message: String,
) -> impl IntoView {
    (lifecycle != Lifecycle::Active).then(|| {
        let replacement = replacement.filter(|r| r.contains('/'));
        view! {
            <span
                class="rounded bg-amber-200 px-2 text-xs text-amber-950 dark:bg-amber-800 dark:text-amber-50"
                data-testid="lifecycle-badge"
            >
                {lifecycle.as_str()}
                {replacement.map(|target| view! {
                    ": use "
                    <a class="underline" href=format!("/servers/{target}")>{target.clone()}</a>
                })}
            </span>
            {(!message.is_empty()).then(|| view! {
                <span class="text-xs text-amber-900 dark:text-amber-200" data-testid="lifecycle-message">{message}</span>
            })}
        }
    })
}
