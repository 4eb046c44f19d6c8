use leptos::prelude::*;

use super::EmptyState;
use crate::model::server_detail::{CallPoint, HealthPoint};
use crate::present::latency_chart::{
    call_summary, calls_as_points, layout, summary, ChartLayout, BOTTOM, HEIGHT, LEFT, RIGHT, TOP,
    WIDTH,
};

/// Fetch latency over time: every live tool fetch, failures marked with a cross.
#[component]
pub fn LatencyChart(samples: Vec<HealthPoint>) -> impl IntoView {
    let Some(chart) = layout(&samples) else {
        return view! {
            <EmptyState title="No health samples yet">
                <p>"Apiary records the latency of every live tool fetch. Published servers are fetched periodically; samples appear after the first fetch."</p>
            </EmptyState>
        }
        .into_any();
    };
    view! {
        <TimeChart
            chart
            title="Fetch latency over time"
            words=summary(&samples)
            legend="Dots: successful fetches. Crosses: failed fetches."
            test_id="latency-chart"
            summary_test_id="latency-summary"
        />
    }
    .into_any()
}

/// Tool-call latency through the gateway: the 95th percentile of each sampling interval,
/// intervals with failed calls marked with a cross.
#[component]
pub fn CallLatencyChart(calls: Vec<CallPoint>) -> impl IntoView {
    let points = calls_as_points(&calls);
    let Some(chart) = layout(&points) else {
        return view! {
            <EmptyState title="No calls through the gateway yet">
                <p>"Apiary measures every tool call that goes through its gateway endpoint and stores the counts and latencies every minute. Connect a client with a snippet on this page to see them here."</p>
            </EmptyState>
        }
        .into_any();
    };
    view! {
        <TimeChart
            chart
            title="Tool-call latency through the gateway (95th percentile per interval)"
            words=call_summary(&calls)
            legend="Dots: intervals without failed calls. Crosses: intervals with failed calls."
            test_id="call-chart"
            summary_test_id="call-summary"
        />
    }
    .into_any()
}

/// A time series as an inline SVG drawn on the server: gridlines with labels, a line through
/// the points, failures marked with a cross, and the chart in words.
#[component]
fn TimeChart(
    chart: ChartLayout,
    title: &'static str,
    words: String,
    legend: &'static str,
    test_id: &'static str,
    summary_test_id: &'static str,
) -> impl IntoView {
    let axis_y = HEIGHT - BOTTOM;
    let right = WIDTH - RIGHT;
    let gridlines = chart
        .ticks
        .iter()
        .map(|tick| view! {
            <line x1=LEFT x2=right y1=tick.y y2=tick.y class="stroke-slate-200 dark:stroke-slate-700" stroke-width="1" />
            <text x=LEFT - 6.0 y=tick.y + 4.0 text-anchor="end" class="fill-slate-600 text-[11px] dark:fill-slate-400">{tick.label.clone()}</text>
        })
        .collect_view();
    let marks = chart
        .points
        .iter()
        .map(|p| {
            if p.ok {
                view! {
                    <circle cx=p.x cy=p.y r="3" class="fill-sky-600 dark:fill-sky-400" data-ok="true" />
                }
                .into_any()
            } else {
                let cross = format!(
                    "M{} {} L{} {} M{} {} L{} {}",
                    p.x - 5.0, p.y - 5.0, p.x + 5.0, p.y + 5.0, p.x - 5.0, p.y + 5.0, p.x + 5.0, p.y - 5.0
                );
                view! {
                    <path d=cross class="stroke-red-600 dark:stroke-red-400" stroke-width="2" data-ok="false" />
                }
                .into_any()
            }
        })
        .collect_view();
    view! {
        <figure data-testid=test_id>
            <div class="overflow-x-auto">
                <svg
                    viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                    role="img"
                    aria-label=format!("{title}. {words}")
                    class="h-auto w-full min-w-[20rem] max-w-3xl"
                >
                    <title>{title}</title>
                    {gridlines}
                    <line x1=LEFT x2=right y1=axis_y y2=axis_y class="stroke-slate-500" stroke-width="1" />
                    <line x1=LEFT x2=LEFT y1=TOP y2=axis_y class="stroke-slate-500" stroke-width="1" />
                    <text x=LEFT y=HEIGHT - 12.0 class="fill-slate-600 text-[11px] dark:fill-slate-400">{chart.first_label.clone()}</text>
                    <text x=right y=HEIGHT - 12.0 text-anchor="end" class="fill-slate-600 text-[11px] dark:fill-slate-400">{chart.last_label.clone()}</text>
                    <polyline points=chart.line fill="none" class="stroke-sky-600 dark:stroke-sky-400" stroke-width="1.5" />
                    {marks}
                </svg>
            </div>
            <figcaption class="mt-2 text-sm text-slate-700 dark:text-slate-300" data-testid=summary_test_id>
                {words}
                <span class="ml-2 text-xs text-slate-600 dark:text-slate-400">{legend}</span>
            </figcaption>
        </figure>
    }
    .into_any()
}
