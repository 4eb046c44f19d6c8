use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any path the router does not know.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <h1 class="text-2xl font-bold">"Page not found"</h1>
        <p class="mt-2"><a class="underline" href="/">"Back to the catalog"</a></p>
    }
}
