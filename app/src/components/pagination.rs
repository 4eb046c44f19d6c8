use leptos::prelude::*;

use crate::model::catalog_search::CatalogQuery;

/// How many page links show on each side of the current page.
const NEIGHBOURS: usize = 2;

/// Links to the previous, next and nearby pages of a catalog query; nothing for one page.
#[component]
pub fn Pagination(query: CatalogQuery, page: usize, page_count: usize) -> impl IntoView {
    (page_count > 1).then(|| {
        let link = "rounded border border-slate-300 px-3 py-1 hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800";
        let first = page.saturating_sub(NEIGHBOURS).max(1);
        let last = (page + NEIGHBOURS).min(page_count);
        let numbers = (first..=last)
            .map(|n| {
                if n == page {
                    view! {
                        <li><span aria-current="page" class="rounded bg-slate-800 px-3 py-1 text-white dark:bg-slate-200 dark:text-slate-900">{n}</span></li>
                    }
                    .into_any()
                } else {
                    view! {
                        <li><a class=link href=query.href_for_page(n) aria-label=format!("Page {n}")>{n}</a></li>
                    }
                    .into_any()
                }
            })
            .collect_view();
        let previous = (page > 1).then(|| view! {
            <li><a class=link href=query.href_for_page(page - 1) rel="prev">"Previous"</a></li>
        });
        let next = (page < page_count).then(|| view! {
            <li><a class=link href=query.href_for_page(page + 1) rel="next">"Next"</a></li>
        });
        view! {
            <nav aria-label="Pages" class="mt-6" data-testid="pagination">
                <ul class="flex flex-wrap items-center gap-2 text-sm">
                    {previous}
                    {numbers}
                    {next}
                </ul>
                <p class="mt-2 text-xs text-slate-600 dark:text-slate-400">{format!("Page {page} of {page_count}")}</p>
            </nav>
        }
    })
}
