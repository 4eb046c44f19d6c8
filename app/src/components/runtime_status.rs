use leptos::prelude::*;

use crate::model::server_detail::{ConditionView, EventView, RunState, RuntimeView};

/// Is the server running, and if not, why: its state in words, the exit or start error, the
/// restarts, the command, and the newest log lines (secrets already redacted).
#[component]
pub fn RuntimeStatusView(
    /// What the runtime reports; `None` when it was not asked.
    runtime: Option<RuntimeView>,
) -> impl IntoView {
    let Some(runtime) = runtime else {
        return view! { <p class="text-sm" data-testid="runtime-unknown">"The runtime was not asked about this server."</p> }
            .into_any();
    };
    let colours = match runtime.state {
        RunState::Running | RunState::Remote => {
            "bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100"
        }
        RunState::Starting | RunState::Restarting => {
            "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100"
        }
        RunState::Crashed => "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-100",
        RunState::Stopped => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
    };
    let summary = match runtime.state {
        RunState::Running => "Running: it is up and the gateway serves it.",
        RunState::Remote => "Remote: Apiary does not run it; the gateway forwards to its URL.",
        RunState::Starting => "Starting: the process was started and is not ready yet.",
        RunState::Restarting => "Restarting: it stopped by itself and was started again.",
        RunState::Crashed => {
            "Crashed: the process exited or could not start. Apiary starts it again after a pause."
        }
        RunState::Stopped => "Stopped: nothing runs.",
    };
    let reason = runtime.reason.clone().map(|reason| {
        view! {
            <dt class="font-medium">"Why"</dt>
            <dd data-testid="runtime-reason" class="break-words">{reason}</dd>
        }
    });
    let exit_code = runtime.exit_code.map(|code| {
        view! { <dt class="font-medium">"Exit code"</dt><dd data-testid="runtime-exit-code">{code}</dd> }
    });
    let command = runtime.command.clone().map(|command| {
        view! { <dt class="font-medium">"Command"</dt><dd><code class="break-all">{command}</code></dd> }
    });
    let logs = if runtime.logs.is_empty() {
        view! { <p class="mt-3 text-sm" data-testid="runtime-no-logs">"No log lines yet."</p> }
            .into_any()
    } else {
        let text = runtime
            .logs
            .iter()
            .map(|l| format!("{}  {}", l.at_label, l.line))
            .collect::<Vec<_>>()
            .join("\n");
        view! {
            <h3 class="mt-4 font-medium" id="runtime-logs-title">"Newest log lines (stderr, secrets redacted)"</h3>
            <pre
                class="mt-1 max-h-80 overflow-auto rounded bg-slate-100 p-2 text-xs whitespace-pre-wrap break-all dark:bg-slate-900"
                tabindex="0"
                aria-labelledby="runtime-logs-title"
                data-testid="runtime-logs"
            >{text}</pre>
        }
        .into_any()
    };
    view! {
        <div data-testid="runtime" data-state=runtime.state.label()>
            <p class="text-sm">
                <span class=format!("rounded px-2 text-xs font-medium {colours}") data-testid="runtime-state">
                    <span class="sr-only">"Runtime state: "</span>
                    {runtime.state.label()}
                </span>
                " " {summary}
            </p>
            <dl class="mt-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                {reason}
                {exit_code}
                <dt class="font-medium">"Restarts"</dt>
                <dd data-testid="runtime-restarts">{runtime.restarts}</dd>
                {command}
            </dl>
            <ClusterConditions conditions=runtime.conditions />
            <ClusterEvents events=runtime.events />
            {logs}
        </div>
    }
    .into_any()
}

/// The `MCPServer`'s status conditions (Kubernetes mode), as a table.
#[component]
fn ClusterConditions(conditions: Vec<ConditionView>) -> impl IntoView {
    (!conditions.is_empty()).then(|| {
        let rows = conditions
            .into_iter()
            .map(|c| {
                let kind = c.kind.clone();
                view! {
                    <tr class="border-t border-slate-200 align-top dark:border-slate-800" data-testid="runtime-condition" data-condition=kind>
                        <td class="py-1 pr-3">{c.kind}</td>
                        <td class="py-1 pr-3">{c.status}</td>
                        <td class="py-1 pr-3">{c.reason}</td>
                        <td class="py-1 break-words">{c.message}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="mt-4 overflow-x-auto">
                <table class="w-full min-w-[32rem] text-left text-sm">
                    <caption class="text-left font-medium">"MCPServer conditions"</caption>
                    <thead>
                        <tr>
                            <th scope="col" class="py-1 pr-3">"Condition"</th>
                            <th scope="col" class="py-1 pr-3">"Status"</th>
                            <th scope="col" class="py-1 pr-3">"Reason"</th>
                            <th scope="col" class="py-1">"Message"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
    })
}

/// The newest Events about the `MCPServer` (Kubernetes mode), newest first.
#[component]
fn ClusterEvents(events: Vec<EventView>) -> impl IntoView {
    (!events.is_empty()).then(|| {
        let items = events
            .into_iter()
            .map(|e| {
                let reason = e.reason.clone();
                view! {
                    <li data-testid="runtime-event" data-reason=reason>
                        <span class="font-medium">{format!("{} {}", e.kind, e.reason)}</span>
                        {format!(" ({}): {}", e.at_label, e.message)}
                    </li>
                }
            })
            .collect_view();
        view! {
            <h3 class="mt-4 font-medium">"Recent Events"</h3>
            <ul class="mt-1 list-disc pl-5 text-sm break-words">{items}</ul>
        }
    })
}
