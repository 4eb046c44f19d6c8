use leptos::prelude::*;

/// A titled part of a page, reachable by its `id` (the heading labels the region).
#[component]
pub fn PageSection(
    /// The anchor and test id, such as `tools`.
    id: &'static str,
    /// The heading.
    title: &'static str,
    /// The content.
    children: Children,
) -> impl IntoView {
    let heading = format!("{id}-heading");
    let labelled_by = heading.clone();
    view! {
        <section id=id aria-labelledby=labelled_by data-testid=format!("section-{id}") class="mt-8">
            <h2 id=heading class="text-xl font-semibold">{title}</h2>
            <div class="mt-3">{children()}</div>
        </section>
    }
}
