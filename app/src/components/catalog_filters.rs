use leptos::prelude::*;

use super::FilterForm;
use crate::model::catalog_search::{CatalogQuery, CatalogSort, Facet, FacetKind};

/// The catalog's search box, facet selects and sort order: a [`FilterForm`], so a select's
/// choice applies at once and the results say they are updating.
#[component]
pub fn CatalogFilters(query: CatalogQuery, facets: Vec<Facet>) -> impl IntoView {
    let selects = FacetKind::ALL
        .into_iter()
        .map(|kind| {
            let values = facets
                .iter()
                .find(|f| f.kind == kind)
                .map(|f| f.values.clone())
                .unwrap_or_default();
            view! { <FacetSelect kind selected=query.filter(kind).to_owned() values /> }
        })
        .collect_view();
    view! {
        <FilterForm action="/".to_owned()>
            <div role="search" class="mt-4 grid grid-cols-1 gap-3 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-2 lg:grid-cols-4 dark:border-slate-800 dark:bg-slate-900">
                <label class="flex flex-col text-sm sm:col-span-2">
                    "Search servers and their tools"
                    <input
                        type="search"
                        name="q"
                        value=query.text.clone()
                        placeholder="name, description, tool…"
                        data-testid="catalog-search"
                        class="mt-1 w-full rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-950"
                    />
                </label>
                {selects}
                <SortSelect sort=query.sort />
                <p id="facet-keys" class="sr-only">"With the keyboard, press Enter to apply a filter."</p>
                <div class="flex items-end gap-3">
                    <button
                        type="submit"
                        class="rounded bg-slate-800 px-3 py-1 text-sm text-white hover:bg-slate-700 dark:bg-slate-200 dark:text-slate-900 dark:hover:bg-white"
                    >
                        "Apply filters"
                    </button>
                    {(!query.is_unfiltered()).then(|| view! {
                        <a href="/" class="text-sm underline">"Clear all"</a>
                    })}
                </div>
            </div>
        </FilterForm>
    }
}

/// One facet as a labelled select whose options show their counts, with "Any" first.
#[component]
fn FacetSelect(
    kind: FacetKind,
    selected: String,
    values: Vec<crate::model::catalog_search::FacetValue>,
) -> impl IntoView {
    let options = std::iter::once(Choice {
        selected: selected.is_empty(),
        value: String::new(),
        label: "Any".to_owned(),
    })
    .chain(values.into_iter().map(|v| Choice {
        selected: v.value == selected,
        label: format!("{} ({})", v.label, v.count),
        value: v.value,
    }))
    .collect();
    view! { <ChoiceSelect name=kind.param() label=kind.label() options /> }
}

/// The order of the cards, as a select like the facets.
#[component]
fn SortSelect(sort: CatalogSort) -> impl IntoView {
    let options = CatalogSort::ALL
        .into_iter()
        .map(|option| Choice {
            selected: option == sort,
            value: option.param().to_owned(),
            label: option.label().to_owned(),
        })
        .collect();
    view! { <ChoiceSelect name="sort" label="Sort by" options /> }
}

/// One option of a [`ChoiceSelect`].
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// A labelled select of the filter form ([`FilterForm`] applies its choice).
#[component]
fn ChoiceSelect(name: &'static str, label: &'static str, options: Vec<Choice>) -> impl IntoView {
    let id = format!("facet-{name}");
    let options = options
        .into_iter()
        .map(|choice| view! { <option value=choice.value selected=choice.selected>{choice.label}</option> })
        .collect_view();
    view! {
        <div class="flex flex-col text-sm">
            <label for=id.clone()>{label}</label>
            <select
                id=id.clone()
                name=name
                data-testid=id.clone()
                aria-describedby="facet-keys"
                class="mt-1 w-full rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-950"
            >
                {options}
            </select>
        </div>
    }
}
