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
    let status = crate::api::load_once(fleet_refresh_status());
    let panel = move || {
        Suspend::new(async move {
            status.await.map(|progress| {
                let running = progress.running;
                view! {
                    <FleetRefreshPanel progress />
                    {running.then(|| view! {
                        // Without JavaScript, the page reloads itself while the refresh runs.
                        <noscript inner_html=r#"<meta http-equiv="refresh" content="2">"# />
                    })}
                }
            })
        })
    };
    view! {
        <Title text="Refresh all tools" />
        <h1 class="text-2xl font-bold">"Refresh all servers' tools"</h1>
        <p class="mt-1 text-sm text-slate-700 dark:text-slate-300">
            "Fetches the tools of every published server again, up to 8 at once, and records snapshots, drift and policy findings as the periodic refresh does. It runs in the background: you can leave this page."
        </p>
        <Suspense fallback=|| view! { <p role="status" aria-busy="true">"Loading the progress…"</p> }>
            <ErrorBoundary fallback=|errors| view! {
                <div role="alert" class="mt-4 rounded border border-red-300 p-4 text-red-800 dark:text-red-200">
                    "The refresh progress could not be loaded: "
                    {move || errors.get().into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; ")}
                </div>
            }>
                {panel}
            </ErrorBoundary>
        </Suspense>
    }
}

/// The start button and the live progress, an island: it asks for the progress every
/// [`POLL`] while the refresh runs (again after a failed ask).
#[island]
fn FleetRefreshPanel(
    /// The progress when the page was rendered.
    progress: FleetProgress,
) -> impl IntoView {
    let start = ServerAction::<StartFleetRefresh>::new();
    let progress = RwSignal::new(progress);
    let failure = RwSignal::new(None::<String>);
    // Counts the failed polls, so that a failed one is tried again.
    let failed_polls = RwSignal::new(0_u32);
    let poll = move || {
        leptos::task::spawn_local(async move {
            match fleet_refresh_status().await {
                Ok(now) => {
                    failure.set(None);
                    progress.set(now);
                }
                Err(error) => {
                    failure.set(Some(error.to_string()));
                    failed_polls.update(|n| *n += 1);
                }
            }
        })
    };
    Effect::new(move |_| {
        if let Some(Ok(started)) = start.value().get() {
            progress.set(started);
        }
    });
    Effect::new(move |_| {
        failed_polls.track();
        if progress.with(|p| p.running) {
            set_timeout(poll, POLL);
        }
    });
    let running = move || start.pending().get() || progress.with(|p| p.running);
    view! {
        <ActionForm action=start attr:class="mt-4" attr:aria-label="Refresh all servers">
            <button type="submit" data-testid="refresh-all"
                class="rounded bg-slate-800 px-3 py-1 text-sm text-white disabled:opacity-60 dark:bg-slate-200 dark:text-slate-900"
                disabled=running>
                {move || if running() { "Refreshing all servers…" } else { "Refresh all servers" }}
            </button>
        </ActionForm>
        {move || start.value().get().and_then(Result::err).map(|error| view! {
            <p role="alert" class="mt-4 text-sm text-red-800 dark:text-red-300">{format!("The refresh could not start: {error}")}</p>
        })}
        {move || failure.get().map(|error| view! {
            <p role="alert" class="mt-4 text-sm text-red-800 dark:text-red-300">{format!("The refresh progress could not be loaded: {error}")}</p>
        })}
        <div role="status" aria-live="polite" aria-busy=move || running().to_string()
            class="mt-4 space-y-2" data-testid="fleet-status">
            {move || view! { <FleetProgressView progress=progress.get() /> }}
        </div>
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
