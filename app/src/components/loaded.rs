use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::Viewer;

/// The frame of a page that loads one thing: an alert when loading fails ("{failure} could not
/// be loaded: …"), else `render` of what it loaded. Pages render on the server, which waits for
/// the answer; a browser never sees the busy marker unless the answer is streamed.
#[component]
pub fn Loaded<T, V, F>(
    /// What loads, for the busy marker: "the server".
    loading: &'static str,
    /// What failed to load, for the alert: "This server".
    failure: &'static str,
    /// The loader.
    resource: crate::api::Loading<T>,
    /// The page for what was loaded.
    render: F,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    let fallback =
        move || view! { <p role="status" aria-busy="true">{format!("Loading {loading}…")}</p> };
    view! {
        <Suspense fallback>
            <ErrorBoundary fallback=move |errors| view! {
                <div role="alert" class="mt-6 rounded border border-red-300 p-4 text-red-800 dark:text-red-200">
                    {failure} " could not be loaded: "
                    {move || errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ")}
                    " Reload the page to try again."
                </div>
            }>
                {move || {
                    let render = render.clone();
                    Suspend::new(async move { resource.await.map(render) })
                }}
            </ErrorBoundary>
        </Suspense>
    }
}

/// `render` of the person viewing the page (`None` when it cannot be read), once the server
/// knows who they are.
#[component]
pub fn ForViewer<V, F>(render: F) -> impl IntoView
where
    V: IntoView + 'static,
    F: Fn(Option<Viewer>) -> V + Clone + Send + Sync + 'static,
{
    let viewer = crate::api::load_once(crate::api::current_viewer());
    view! {
        <Suspense>
            {move || {
                let render = render.clone();
                Suspend::new(async move { render(viewer.await.ok()) })
            }}
        </Suspense>
    }
}

/// A page resource's source, read once. A page renders on the server and answers one request,
/// so its source cannot change, and the resource's task, which can run again after the render
/// while the page's signals are disposed (or written on another worker thread), must not read
/// them: reactive_graph 0.2 panics ("already disposed"). Seen in a release build of the catalog
/// benchmark once the catalog answered in about a millisecond: about one render in seventy left
/// a panic behind.
pub fn request_source<S>(
    source: impl Fn() -> S + Send + Sync + 'static,
) -> impl Fn() -> S + Send + Sync + 'static
where
    S: Clone + Send + Sync + 'static,
{
    let value = untrack(source);
    move || value.clone()
}

/// The page for something that does not exist: its title and heading, what to do (the
/// children), answered with 404.
#[component]
pub fn NotFound(
    /// The headline, also the page title: "Server not found".
    title: &'static str,
    /// What the person can do about it.
    children: Children,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <leptos_meta::Title text=title />
        <h1 class="text-2xl font-bold" data-testid="not-found">{title}</h1>
        {children()}
    }
}
