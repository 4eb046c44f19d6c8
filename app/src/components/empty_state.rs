use leptos::prelude::*;

/// A friendly explanation shown where a list has nothing in it.
#[component]
pub fn EmptyState(
    /// The headline.
    title: &'static str,
    /// What the person can do about it.
    children: Children,
) -> impl IntoView {
    view! {
        <div
            class="rounded-lg border border-dashed border-slate-300 p-8 text-center dark:border-slate-700"
            data-testid="empty-state"
        >
            <h2 class="text-lg font-semibold">{title}</h2>
            <div class="mt-2 text-slate-600 dark:text-slate-400">{children()}</div>
        </div>
    }
}
