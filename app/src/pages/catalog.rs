use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::list_catalog;
use crate::components::{EmptyState, ServerCardView};
use crate::model::ServerCard;

/// The catalog: every server, with a search box.
///
/// Without JavaScript the search box submits `?q=` and the server filters; once hydrated it
/// filters as you type, with no page load.
#[component]
pub fn CatalogPage() -> impl IntoView {
    let initial_query = use_query_map().with_untracked(|q| q.get("q").unwrap_or_default());
    let query = RwSignal::new(initial_query);
    let servers = OnceResource::new(list_catalog());

    view! {
        <Title text="Catalog" />
        <div class="flex flex-wrap items-end justify-between gap-4">
            <h1 class="text-2xl font-bold">"Catalog"</h1>
            <form
                method="get"
                action="/"
                role="search"
                class="flex items-end gap-2"
                on:submit=|ev| ev.prevent_default()
            >
                <label class="flex flex-col text-sm">
                    "Search servers"
                    <input
                        type="search"
                        name="q"
                        data-testid="catalog-search"
                        class="mt-1 w-64 rounded border border-slate-300 px-2 py-1 dark:border-slate-700 dark:bg-slate-900"
                        prop:value=move || query.get()
                        on:input=move |ev| query.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit" class="rounded bg-slate-800 px-3 py-1 text-sm text-white dark:bg-slate-200 dark:text-slate-900">
                    "Search"
                </button>
            </form>
        </div>
        <Transition fallback=|| view! { <p role="status" aria-busy="true">"Loading the catalog…"</p> }>
            <ErrorBoundary fallback=|errors| view! {
                <div role="alert" class="mt-6 rounded border border-red-300 p-4 text-red-800">
                    "The catalog could not be loaded: "
                    {move || errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ")}
                </div>
            }>
                {move || Suspend::new(async move {
                    let all = servers.await?;
                    Ok::<_, ServerFnError>(view! { <CatalogList all query /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The filtered list, or the right empty state.
#[component]
fn CatalogList(all: Vec<ServerCard>, query: RwSignal<String>) -> impl IntoView {
    if all.is_empty() {
        return view! {
            <div class="mt-6">
                <EmptyState title="No servers yet">
                    <p>
                        "Register your first MCP server with "
                        <code>"PUT /api/v1/servers/{namespace}/{name}"</code>
                        ", or apply an MCPServer manifest in Kubernetes mode. It will appear here."
                    </p>
                </EmptyState>
            </div>
        }
        .into_any();
    }
    let all = StoredValue::new(all);
    let visible = move || {
        let q = query.get();
        all.with_value(|servers| {
            servers
                .iter()
                .filter(|s| s.matches(&q))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <p class="sr-only" aria-live="polite">{move || format!("{} servers shown", visible().len())}</p>
        <Show
            when=move || !visible().is_empty()
            fallback=move || view! {
                <div class="mt-6">
                    <EmptyState title="No matching servers">
                        <p>{move || format!("Nothing matches “{}”. Try fewer words.", query.get())}</p>
                    </EmptyState>
                </div>
            }
        >
            <ul class="mt-6 grid gap-4 sm:grid-cols-2 lg:grid-cols-3" data-testid="server-list">
                <For each=visible key=|s| s.id() let:server>
                    <ServerCardView server />
                </For>
            </ul>
        </Show>
    }
    .into_any()
}
