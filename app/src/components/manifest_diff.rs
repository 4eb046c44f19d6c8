use leptos::prelude::*;

use crate::model::proposals::{DiffLine, DiffRow};

/// Which side of the diff a cell is on.
#[derive(Clone, Copy)]
enum Side {
    Approved,
    Proposed,
}

impl Side {
    /// The test id of the side's cells.
    fn test_id(self) -> &'static str {
        match self {
            Side::Approved => "diff-before",
            Side::Proposed => "diff-after",
        }
    }

    /// The visible marker and the words a screen reader says for a changed line.
    fn marker(self) -> (&'static str, &'static str) {
        match self {
            Side::Approved => ("−", "removed: "),
            Side::Proposed => ("+", "added: "),
        }
    }

    /// The cell's colour for a changed line; the marker and the words carry the meaning too.
    fn changed_class(self) -> &'static str {
        match self {
            Side::Approved => "bg-red-50 dark:bg-red-950",
            Side::Proposed => "bg-emerald-50 dark:bg-emerald-950",
        }
    }
}

/// One side of a row: the line number, the `−`/`+` marker with its words for screen readers,
/// and the line; an empty cell where this side has no line.
fn cell(side: Side, line: Option<DiffLine>) -> impl IntoView {
    let base = "w-1/2 border-t border-slate-200 px-2 py-0.5 align-top dark:border-slate-800";
    let Some(line) = line else {
        return view! { <td class=base data-testid=side.test_id() data-change="none"></td> }
            .into_any();
    };
    let (marker, words) = side.marker();
    let (change, class) = if line.changed {
        (
            if matches!(side, Side::Approved) {
                "removed"
            } else {
                "added"
            },
            format!("{base} {}", side.changed_class()),
        )
    } else {
        ("same", base.to_owned())
    };
    view! {
        <td class=class data-testid=side.test_id() data-change=change>
            <span class="inline-block w-8 select-none pr-2 text-right text-slate-500 dark:text-slate-400">{line.number}</span>
            <span class="inline-block w-4 select-none font-bold" aria-hidden="true">{line.changed.then_some(marker)}</span>
            {line.changed.then(|| view! { <span class="sr-only">{words}</span> })}
            <code class="whitespace-pre-wrap break-all">{line.text}</code>
        </td>
    }
    .into_any()
}

/// Two manifests side by side in a table: the approved one under the `approved` column header
/// (such as "Approved (revision 3)"), the proposed one under "Proposed". Changed lines are
/// coloured, and also marked `−` or `+` with the words "removed" or "added" for screen readers.
#[component]
pub fn ManifestDiff(
    /// The header of the approved column.
    approved: String,
    /// The rows, from [`DiffRow`].
    rows: Vec<DiffRow>,
    /// What is compared, for the caption.
    #[prop(default = "MCPServer manifest")]
    what: &'static str,
) -> impl IntoView {
    let note = (!rows.iter().any(DiffRow::changed)).then(|| {
        view! {
            <p class="mb-2 text-sm" data-testid="diff-unchanged">"The proposed version is the same as the approved one."</p>
        }
    });
    let rows = rows
        .into_iter()
        .map(|row| {
            let changed = row.changed().to_string();
            view! {
                <tr data-testid="diff-row" data-changed=changed>
                    {cell(Side::Approved, row.before)}
                    {cell(Side::Proposed, row.after)}
                </tr>
            }
        })
        .collect_view();
    view! {
        {note}
        <div class="overflow-x-auto">
            <table class="w-full table-fixed font-mono text-xs" data-testid="diff">
                <caption class="sr-only">{format!("The approved {what} and the proposed one, line by line")}</caption>
                <thead>
                    <tr class="text-left font-sans text-sm text-slate-600 dark:text-slate-400">
                        <th scope="col" class="px-2 py-1">{approved}</th>
                        <th scope="col" class="px-2 py-1">"Proposed"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
