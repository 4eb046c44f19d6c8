use leptos::prelude::*;

/// A scrollable table of rows with one left-aligned heading a column.
#[component]
pub fn DataTable(
    /// The table's `data-testid`.
    testid: &'static str,
    /// The column headings, left to right.
    columns: &'static [&'static str],
    /// Classes of the scrolling wrapper besides `overflow-x-auto` (a top margin).
    #[prop(optional)]
    class: &'static str,
    /// The `<tr>` rows.
    children: Children,
) -> impl IntoView {
    let wrapper = if class.is_empty() {
        "overflow-x-auto".to_owned()
    } else {
        format!("{class} overflow-x-auto")
    };
    let headings = columns
        .iter()
        .map(|column| view! { <th scope="col" class="px-3 py-2">{*column}</th> })
        .collect_view();
    view! {
        <div class=wrapper>
            <table class="min-w-full text-sm" data-testid=testid>
                <thead>
                    <tr class="text-left text-slate-600 dark:text-slate-400">{headings}</tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
