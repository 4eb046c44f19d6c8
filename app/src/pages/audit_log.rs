use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::load_audit;
use crate::components::{request_source, DataTable, EmptyState, Loaded, PageSection, TimeAgo};
use crate::model::audit::{target_href, AuditEntry, AuditPage, AuditQuery};

/// The audit log for admins: who did what to which server, when, with hashes of the state
/// before and after. Filters are a plain GET form (the URL holds them); both exports take the
/// same filters.
#[component]
pub fn AuditLogPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        params.with(|p| AuditQuery {
            actor: p.get("actor").unwrap_or_default(),
            action: p.get("action").unwrap_or_default(),
            target: p.get("target").unwrap_or_default(),
            page: p.get("page").and_then(|v| v.parse().ok()).unwrap_or(1),
        })
    });
    let page = crate::api::load(request_source(move || query.get()), load_audit);
    view! {
        <Title text="Audit log" />
        <h1 class="text-2xl font-bold">"Audit log"</h1>
        <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">
            "Every change to a server, its curation and its access, newest first. Entries are only ever added."
        </p>
        <Loaded loading="the audit log" failure="The audit log" resource=page render={move |found| {
            let query = query.get_untracked();
            view! { <AuditView query found /> }
        }} />
    }
}

#[component]
fn AuditView(query: AuditQuery, found: AuditPage) -> impl IntoView {
    let filters = query.filter_query();
    let export = |format: &str| {
        if filters.is_empty() {
            format!("/api/v1/audit/export?format={format}")
        } else {
            format!("/api/v1/audit/export?format={format}&{filters}")
        }
    };
    let field = "mt-1 block w-full rounded border border-slate-300 px-2 py-1 dark:border-slate-700 dark:bg-slate-900";
    let actions = found
        .actions
        .iter()
        .map(|action| {
            let selected = *action == query.action;
            view! { <option value=action.clone() selected=selected>{action.clone()}</option> }
        })
        .collect_view();
    let page = query.page();
    let newer = (page > 1).then(|| query.href_for_page(page - 1));
    let older = found.has_more.then(|| query.href_for_page(page + 1));
    view! {
        <form method="get" action="/admin/audit" class="mt-4 grid gap-3 sm:grid-cols-4" aria-label="Filter the audit log">
            <label class="text-sm">"Actor"
                <input class=field name="actor" value=query.actor.clone() placeholder="local-admin" />
            </label>
            <label class="text-sm">"Action"
                <select class=field name="action">
                    <option value="">"Any action"</option>
                    {actions}
                </select>
            </label>
            <label class="text-sm">"Target contains"
                <input class=field name="target" value=query.target.clone() placeholder="team/search" />
            </label>
            <div class="flex items-end gap-2">
                <button type="submit" class="rounded bg-slate-800 px-3 py-1 text-white dark:bg-slate-200 dark:text-slate-900">"Filter"</button>
                <a class="underline text-sm" href="/admin/audit">"Clear"</a>
            </div>
        </form>
        <p class="mt-3 text-sm">
            "Download these entries: "
            <a class="underline" href=export("csv") data-testid="export-csv">"CSV"</a>
            " · "
            <a class="underline" href=export("jsonl") data-testid="export-jsonl">"JSON lines"</a>
        </p>
        <PageSection id="entries" title="Entries">
            <AuditTable entries=found.entries />
            <nav aria-label="Audit log pages" class="mt-3 flex gap-4 text-sm">
                {newer.map(|href| view! { <a class="underline" href=href>"Newer entries"</a> })}
                {older.map(|href| view! { <a class="underline" href=href>"Older entries"</a> })}
            </nav>
        </PageSection>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! {
            <EmptyState title="No entries">
                <p>"Nothing matches these filters. Registering, curating or changing access to a server adds an entry."</p>
            </EmptyState>
        }
        .into_any();
    }
    let short = |hash: &Option<String>| -> String {
        hash.as_deref()
            .map_or_else(|| "—".to_owned(), |h| h.chars().take(12).collect())
    };
    let rows = entries
        .into_iter()
        .map(|entry| {
            view! {
                <tr class="border-t border-slate-200 align-top dark:border-slate-800" data-testid="audit-row">
                    <td class="px-3 py-2 whitespace-nowrap"><TimeAgo moment=entry.at.clone() /></td>
                    <td class="px-3 py-2 break-all" data-testid="audit-actor">
                        {entry.actor_name.clone().unwrap_or_else(|| entry.actor.clone())}
                        <span class="block text-xs text-slate-500">{entry.actor_name.is_some().then(|| entry.actor.clone())}</span>
                    </td>
                    <td class="px-3 py-2 font-mono">{entry.action.clone()}</td>
                    <td class="px-3 py-2 break-all">
                        {match target_href(&entry.action, &entry.target) {
                            Some(href) => view! { <a class="underline" href=href>{entry.target.clone()}</a> }.into_any(),
                            None => entry.target.clone().into_any(),
                        }}
                    </td>
                    <td class="px-3 py-2 font-mono text-xs" title=entry.before_hash.clone().unwrap_or_default()>{short(&entry.before_hash)}</td>
                    <td class="px-3 py-2 font-mono text-xs" title=entry.after_hash.clone().unwrap_or_default()>{short(&entry.after_hash)}</td>
                    <td class="px-3 py-2" data-testid="audit-comment">{entry.comment.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <DataTable
            testid="audit-log"
            columns=&["When", "Actor", "Action", "Target", "Before", "After", "Comment"]
        >
            {rows}
        </DataTable>
    }
    .into_any()
}
