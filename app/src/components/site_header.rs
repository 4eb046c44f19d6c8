use leptos::prelude::*;

/// The top bar with the product name and the main navigation.
#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <nav aria-label="Main" class="mx-auto flex max-w-6xl items-center gap-6 px-4 py-3">
                <a href="/" class="text-lg font-bold tracking-tight">"Apiary"</a>
                <a href="/" class="text-sm hover:underline">"Catalog"</a>
            </nav>
        </header>
    }
}
