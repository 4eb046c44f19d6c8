use leptos::prelude::*;

use crate::present::schema_rows::{schema_rows, SchemaRow};

/// A tool's input schema as a table of arguments, with the raw JSON in a `<details>`.
#[component]
pub fn SchemaTable(
    /// The tool's name, for the caption.
    tool: String,
    /// Its JSON Schema.
    schema: serde_json::Value,
) -> impl IntoView {
    let rows = schema_rows(&schema);
    let raw = serde_json::to_string_pretty(&schema).unwrap_or_default();
    let table = if rows.is_empty() {
        view! { <p class="text-sm text-slate-600 dark:text-slate-400">"This tool takes no arguments."</p> }
            .into_any()
    } else {
        view! {
            <div class="overflow-x-auto">
                <table class="w-full min-w-[36rem] text-left text-sm" data-testid="schema-table">
                    <caption class="sr-only">{format!("Arguments of {tool}")}</caption>
                    <thead class="border-b border-slate-300 dark:border-slate-700">
                        <tr>
                            <th scope="col" class="py-1 pr-3">"Argument"</th>
                            <th scope="col" class="py-1 pr-3">"Type"</th>
                            <th scope="col" class="py-1 pr-3">"Required"</th>
                            <th scope="col" class="py-1 pr-3">"Allowed values"</th>
                            <th scope="col" class="py-1">"Description"</th>
                        </tr>
                    </thead>
                    <tbody>{rows.into_iter().map(|row| view! { <SchemaRowView row /> }).collect_view()}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        {table}
        <details class="mt-2">
            <summary class="cursor-pointer text-sm">"Raw JSON schema"</summary>
            <pre class="mt-1 max-h-96 overflow-auto rounded bg-slate-100 p-3 text-xs dark:bg-slate-900" tabindex="0"><code>{raw}</code></pre>
        </details>
    }
}

#[component]
fn SchemaRowView(row: SchemaRow) -> impl IntoView {
    let indent = match row.depth {
        0 => "py-1 pr-3",
        1 => "py-1 pr-3 pl-4",
        _ => "py-1 pr-3 pl-8",
    };
    let allowed =
        (!row.allowed.is_empty()).then(|| {
            row.allowed
            .iter()
            .enumerate()
            .map(|(i, value)| view! {
                {(i > 0).then_some(", ")}
                <code class="rounded bg-slate-100 px-1 dark:bg-slate-800">{value.clone()}</code>
            })
            .collect_view()
        });
    let property = row.path.clone();
    view! {
        <tr class="border-b border-slate-100 align-top dark:border-slate-800" data-testid="schema-row" data-property=property>
            <th scope="row" class=indent><code class="font-normal break-all">{row.path}</code></th>
            <td class="py-1 pr-3">{row.type_label}</td>
            <td class="py-1 pr-3">{if row.required { "required" } else { "optional" }}</td>
            <td class="py-1 pr-3">{allowed}</td>
            <td class="py-1">{row.description}</td>
        </tr>
    }
}
