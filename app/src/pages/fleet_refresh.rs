use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{fleet_refresh_status, StartFleetRefresh};
use crate::model::refresh::FleetProgress;

/// How often the page asks for the progress while a fleet refresh runs.
const POLL: Duration = Duration::from_secs(1);

/// `/admin/refresh`: admins refresh every published server's tools in the background and watch
/// the progress (n of m done, the server being fetched, every failure). The page polls while
/// the refresh runs; without JavaScript it reloads itself every two seconds instead.
#[component]
pub fn FleetRefreshPage() -> impl IntoView {
    let start = ServerAction::<StartFleetRefresh>::new();
    let (tick, set_tick) = signal(0_u32);
    let status = crate::api::load(
        move || (start.version().get(), tick.get()),
        |_| fleet_refresh_status(),
    );
    let progress = move || status.get().and_then(Result::ok);
    let running = move || start.pending().get() || progress().is_some_and(|p| p.running);
    Effect::new(move |_| {
        if progress().is_some_and(|p| p.running) {
            set_timeout(move || set_tick.update(|t| *t += 1), POLL);
        }
    });
    view! {
        <Title text="Refresh all tools" />
        <h1 class="text-2xl font-bold">"Refresh all servers' tools"</h1>
        <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">
            "Fetches the tools of every published server again, up to 8 at once, and records snapshots, drift and policy findings as the periodic refresh does. It runs in the background: you can leave this page."
        </p>
        <Transition fallback=|| view! { <p role="status" aria-busy="true">"Loading the progress…"</p> }>
            <ErrorBoundary fallback=|errors| view! {
                <div role="alert" class="mt-4 rounded border border-red-300 p-4 text-red-800 dark:text-red-200">
                    "The refresh progress could not be loaded: "
                    {move || errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ")}
                </div>
            }>
                {move || status.get().map(|found| found.map(|_| ()))}
                <ActionForm action=start attr:class="mt-4" attr:aria-label="Refresh all servers">
                    <button type="submit" data-testid="refresh-all"
                        class="rounded bg-slate-800 px-3 py-1 text-sm text-white disabled:opacity-60 dark:bg-slate-200 dark:text-slate-900"
                        disabled=running>
                        {move || if running() { "Refreshing all servers…" } else { "Refresh all servers" }}
                    </button>
                </ActionForm>
                <div role="status" aria-live="polite" aria-busy=move || running().to_string()
                    class="mt-4 space-y-2" data-testid="fleet-status">
                    {move || progress().map(|p| view! { <FleetProgressView progress=p /> })}
                </div>
                {move || progress().filter(|p| p.running).map(|_| view! {
                    // Without JavaScript, the page reloads itself while the refresh runs.
                    <noscript inner_html=r#"<meta http-equiv="refresh" content="2">"# />
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// How far the fleet refresh got, and what failed.
#[component]
fn FleetProgressView(progress: FleetProgress) -> impl IntoView {
    if !progress.started {
        return view! {
            <p class="text-sm" data-testid="fleet-summary">"No fleet refresh has run since Apiary started; the periodic refresh keeps the tools current in the meantime."</p>
        }
        .into_any();
    }
    let total = progress.total;
    let done = progress.done;
    let failed = progress.failures.len();
    let summary = if progress.running {
        format!("Refreshing: {done} of {total} done, {failed} failed so far.")
    } else {
        format!(
            "Finished {}: {} of {total} fetched, {failed} failed, drift in {}.",
            progress.finished_label,
            done - failed,
            progress.drift
        )
    };
    let failures = (!progress.failures.is_empty()).then(|| {
        let rows = progress
            .failures
            .into_iter()
            .map(|f| {
                view! {
                    <li><a class="underline" href=format!("/servers/{}", f.server)>{f.server.clone()}</a>": "{f.error}</li>
                }
            })
            .collect_view();
        view! {
            <h2 class="text-lg font-semibold">"Failures"</h2>
            <ul class="list-disc space-y-1 pl-5 text-sm text-red-800 dark:text-red-300" data-testid="fleet-failures">{rows}</ul>
        }
    });
    view! {
        <p class="text-sm font-medium" data-testid="fleet-summary">{summary}</p>
        <progress class="w-full max-w-md" max=total.max(1) value=done aria-label="Servers refreshed"></progress>
        <p class="text-xs text-slate-600 dark:text-slate-400">
            {format!("Started {} by {}.", progress.started_label, progress.started_by)}
            {(!progress.in_flight.is_empty())
                .then(|| format!(" Now fetching {}.", progress.in_flight.join(", ")))}
        </p>
        {failures}
    }
    .into_any()
}
