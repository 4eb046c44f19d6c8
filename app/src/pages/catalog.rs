use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::access::Action;
use crate::api::{current_viewer, search_catalog};
use crate::components::{CatalogFilters, EmptyState, Loaded, Pagination, ServerCardView};
use crate::model::catalog_search::{CatalogQuery, CatalogResults};

/// The catalog: search and facet filters read from the URL query, one page of cards, and page
/// links. The server filters and paginates, so the page stays small with thousands of servers.
///
/// Without JavaScript the filter form is a plain GET form; once hydrated, submitting it (or
/// changing a select, or following a page link) navigates without a page load and the results
/// re-run from the new query.
#[component]
pub fn CatalogPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(|p| CatalogQuery::from_params(|key| p.get(key))));
    let results = Resource::new(move || query.get(), search_catalog);

    view! {
        <Title text="Catalog" />
        <h1 class="text-2xl font-bold">"Catalog"</h1>
        <Loaded loading="the catalog" failure="The catalog" resource=results render={move |found: CatalogResults| {
            let query = query.get_untracked();
            view! {
                <CatalogFilters query=query.clone() facets=found.facets.clone() />
                <CatalogResultsView query found />
            }
        }} />
    }
}

/// The count, the cards and the page links, or the right empty state.
#[component]
fn CatalogResultsView(query: CatalogQuery, found: CatalogResults) -> impl IntoView {
    let mut count = match found.matching {
        1 => "1 server matches".to_owned(),
        n => format!("{n} servers match"),
    };
    if found.matching != found.total {
        count.push_str(&format!(" (of {})", found.total));
    }
    let body = if found.total == 0 {
        view! {
            <EmptyState title="No servers yet">
                <FirstServerHint />
            </EmptyState>
        }
        .into_any()
    } else if found.cards.is_empty() {
        let hint = if query.text.is_empty() {
            "No server has that combination of filters. Choose “Any” for one of them, or clear all filters.".to_owned()
        } else {
            format!(
                "Nothing matches “{}” with these filters. Try fewer words or clear the filters.",
                query.text
            )
        };
        view! {
            <EmptyState title="No matching servers">
                <p>{hint}</p>
                <p class="mt-2"><a class="underline" href="/">"Clear all filters"</a></p>
            </EmptyState>
        }
        .into_any()
    } else {
        view! {
            <ul class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" data-testid="server-list">
                {found.cards.into_iter().map(|server| view! { <ServerCardView server /> }).collect_view()}
            </ul>
            <Pagination query=query.clone() page=found.page page_count=found.page_count />
        }
        .into_any()
    };
    view! {
        <p class="mt-4 mb-3 text-sm" role="status" aria-live="polite" data-testid="match-count">
            {count}
        </p>
        {body}
    }
}

/// How the first server gets into an empty catalog: for those who may propose, a link to the
/// propose form; for the others, who to ask.
#[component]
fn FirstServerHint() -> impl IntoView {
    let viewer = OnceResource::new(current_viewer());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let may_propose = viewer.await.is_ok_and(|v| v.may(Action::Propose, None));
                if may_propose {
                    view! {
                        <p>"Add your first MCP server: describe it in a short form, and it runs and appears here once the proposal is approved."</p>
                        <p class="mt-3">
                            <a href="/propose" data-testid="propose-first" class="inline-block rounded bg-slate-800 px-3 py-1 text-white dark:bg-slate-200 dark:text-slate-900">"Propose a server"</a>
                        </p>
                    }.into_any()
                } else {
                    view! {
                        <p>"No MCP server is published yet. People with the proposer role add servers; ask your Apiary admin."</p>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}
