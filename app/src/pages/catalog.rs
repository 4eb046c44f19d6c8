use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::access::Action;
use crate::api::{load_virtual_servers, search_catalog};
use crate::components::{
    request_source, CatalogFilters, EmptyState, ForViewer, Loaded, Pagination, ServerCardView,
};
use crate::model::catalog_search::{CatalogQuery, CatalogResults, FacetKind};
use crate::model::virtual_servers::VirtualServerCard;
use crate::model::Viewer;

/// The catalog: search and facet filters read from the URL query, one page of cards, and page
/// links. The server filters and paginates, so the page stays small with thousands of servers.
///
/// The filter form is a GET form: the filtered page comes from the server. Once its island is
/// hydrated, a select applies its choice at once and the form says the results are updating.
#[component]
pub fn CatalogPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(|p| CatalogQuery::from_params(|key| p.get(key))));
    let results = crate::api::load(request_source(move || query.get()), search_catalog);

    view! {
        <Title text="Catalog" />
        <h1 class="text-2xl font-bold">"Catalog"</h1>
        <Loaded loading="the catalog" failure="The catalog" resource=results render={move |found: CatalogResults| {
            let query = query.get_untracked();
            view! {
                <CatalogFilters query=query.clone() facets=found.facets.clone() />
                <VirtualServerMatches query=query.clone() />
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
    let hint = |viewer: Option<Viewer>| {
        if viewer.is_some_and(|v| v.may(Action::Propose, None)) {
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
    };
    view! { <ForViewer render=hint /> }
}

/// The virtual servers whose name, description or tools hold every word of the search, above
/// the servers: on the first page and without facet filters (they have no category or health
/// of their own). Nothing when none match.
#[component]
fn VirtualServerMatches(query: CatalogQuery) -> impl IntoView {
    let filtered = FacetKind::ALL
        .iter()
        .any(|kind| !query.filter(*kind).is_empty());
    if filtered || query.page > 1 {
        return ().into_any();
    }
    let words: Vec<String> = query
        .text
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let servers = crate::api::load_once(load_virtual_servers());
    view! {
        <Suspense>
            {move || {
                let words = words.clone();
                Suspend::new(async move {
                    let matching: Vec<VirtualServerCard> = servers
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|server| matches(server, &words))
                        .collect();
                    if matching.is_empty() {
                        return ().into_any();
                    }
                    view! {
                        <section aria-labelledby="virtual-matches" class="mt-4" data-testid="virtual-matches">
                            <h2 id="virtual-matches" class="text-lg font-semibold">"Virtual servers"</h2>
                            <ul class="mt-2 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
                                {matching.into_iter().map(|server| view! { <VirtualServerCardView server /> }).collect_view()}
                            </ul>
                        </section>
                    }
                    .into_any()
                })
            }}
        </Suspense>
    }
    .into_any()
}

/// True when every word is in the virtual server's name, description, or a tool's name or
/// description.
fn matches(server: &VirtualServerCard, words: &[String]) -> bool {
    let text = std::iter::once(server.id.as_str())
        .chain(std::iter::once(server.description.as_str()))
        .chain(
            server
                .tools
                .iter()
                .flat_map(|t| [t.name.as_str(), t.description.as_str()]),
        )
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    words.iter().all(|word| text.contains(word.as_str()))
}

#[component]
fn VirtualServerCardView(server: VirtualServerCard) -> impl IntoView {
    let href = format!("/virtual-servers#{}", server.id.replace('/', "-"));
    let tools = match server.tools.len() {
        1 => "1 tool".to_owned(),
        n => format!("{n} tools"),
    };
    let members = match server.members.len() {
        1 => "1 server".to_owned(),
        n => format!("{n} servers"),
    };
    let names = server
        .tools
        .iter()
        .take(6)
        .map(|t| t.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <li class="rounded border border-slate-200 p-4 dark:border-slate-800" data-testid="virtual-card">
            <h3 class="font-semibold"><a class="underline" href=href>{server.id.clone()}</a></h3>
            <p class="mt-1 text-sm">{server.description.clone()}</p>
            <p class="mt-2 text-xs text-slate-600 dark:text-slate-400">
                {format!("Virtual server · {tools} from {members} · owner team {}", server.owner_team)}
            </p>
            {(!names.is_empty()).then(|| view! { <p class="mt-1 text-xs font-mono break-words">{names}</p> })}
        </li>
    }
}
