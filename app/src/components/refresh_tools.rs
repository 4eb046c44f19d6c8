use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::ForViewer;
use crate::access::Action;
use crate::api::RefreshTools;
use crate::model::refresh::RefreshReport;
use crate::model::Viewer;

/// The outcome of a refresh, in a status line (an alert when the fetch failed).
#[component]
fn RefreshOutcome(report: RefreshReport) -> impl IntoView {
    let class = if report.failed() {
        "text-red-800 dark:text-red-300"
    } else {
        "text-emerald-800 dark:text-emerald-300"
    };
    view! {
        <p class=format!("text-sm {class}") data-testid="refresh-outcome"
            data-outcome=if report.failed() { "failed" } else { "fetched" }>
            {report.sentence()}
        </p>
    }
}

/// The **Refresh tools** part of a server page: for owners of the server's team and admins, a
/// button that fetches the tools now and says what it found; for everyone, the outcome a post
/// without JavaScript came back with (in the page's query string).
#[component]
pub fn RefreshToolsButton(namespace: String, name: String, owner_team: String) -> impl IntoView {
    let outcome = RefreshReport::from_query(&use_location().search.get_untracked());
    let part = move |viewer: Option<Viewer>| {
        let may_refresh = viewer.is_some_and(|v| v.may(Action::Refresh, Some(&owner_team)));
        let (namespace, name, outcome) = (namespace.clone(), name.clone(), outcome.clone());
        view! { <RefreshToolsForm namespace name may_refresh outcome /> }
    };
    view! {
        <div id="refresh" class="mt-3 space-y-1">
            <ForViewer render=part />
        </div>
    }
}

/// The refresh button and its live status, an island: while the fetch runs the status is busy
/// and says so, then it shows the outcome. Without JavaScript the form posts and the page comes
/// back with the outcome (`outcome`).
#[island]
fn RefreshToolsForm(
    namespace: String,
    name: String,
    /// Whether the person may refresh this server (the button is shown only then).
    may_refresh: bool,
    /// The outcome of a post without JavaScript.
    outcome: Option<RefreshReport>,
) -> impl IntoView {
    let refresh = ServerAction::<RefreshTools>::new();
    let pending = refresh.pending();
    let page = format!("/servers/{namespace}/{name}");
    let status = move || {
        if pending.get() {
            return view! {
                <p class="text-sm" data-testid="refresh-progress">
                    "Refreshing: starting the server and listing its tools. This can take several seconds…"
                </p>
            }
            .into_any();
        }
        match refresh.value().get() {
            Some(Ok(report)) => view! {
                <RefreshOutcome report />
                <p class="text-sm"><a class="underline" href=page.clone()>"Reload the page"</a>" to see the tools as recorded."</p>
            }
            .into_any(),
            Some(Err(error)) => view! {
                <p class="text-sm text-red-800 dark:text-red-300" data-testid="refresh-outcome" data-outcome="error">
                    {format!("The refresh could not run: {error}")}
                </p>
            }
            .into_any(),
            None => outcome
                .clone()
                .map(|report| view! { <RefreshOutcome report /> })
                .into_any(),
        }
    };
    let form = may_refresh.then(|| {
        view! {
            <ActionForm action=refresh attr:class="flex flex-wrap items-center gap-3" attr:aria-label="Refresh tools">
                <input type="hidden" name="namespace" value=namespace />
                <input type="hidden" name="name" value=name />
                <button type="submit" data-testid="refresh-tools"
                    class="rounded bg-slate-800 px-3 py-1 text-sm text-white disabled:opacity-60 dark:bg-slate-200 dark:text-slate-900"
                    aria-disabled=move || pending.get().then_some("true")
                    disabled=move || pending.get()>
                    {move || if pending.get() { "Refreshing tools…" } else { "Refresh tools" }}
                </button>
            </ActionForm>
        }
    });
    view! {
        {form}
        <div role="status" aria-live="polite" aria-busy=move || pending.get().to_string()
            data-testid="refresh-status">
            {status}
        </div>
    }
}
