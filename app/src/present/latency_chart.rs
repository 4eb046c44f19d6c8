//! The geometry and the text summary of the latency chart: samples placed on a time axis
//! (x) and a latency axis (y) of a fixed-size SVG, with "nice" tick values.

use crate::model::server_detail::{CallPoint, HealthPoint};

/// The SVG's width in user units.
pub const WIDTH: f64 = 640.0;
/// The SVG's height in user units.
pub const HEIGHT: f64 = 220.0;
/// Room for the y-axis labels.
pub const LEFT: f64 = 64.0;
/// Space right of the plot.
pub const RIGHT: f64 = 16.0;
/// Space above the plot.
pub const TOP: f64 = 16.0;
/// Room for the x-axis labels.
pub const BOTTOM: f64 = 40.0;

/// One sample placed on the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotPoint {
    /// Horizontal position.
    pub x: f64,
    /// Vertical position.
    pub y: f64,
    /// Whether the fetch succeeded.
    pub ok: bool,
}

/// A labelled gridline of the latency axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Vertical position.
    pub y: f64,
    /// Such as `500 ms`.
    pub label: String,
}

/// Everything needed to draw the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartLayout {
    /// The samples, oldest first.
    pub points: Vec<PlotPoint>,
    /// The line through every sample, as SVG `points`.
    pub line: String,
    /// Latency gridlines from 0 up.
    pub ticks: Vec<Tick>,
    /// The oldest sample's time label (left end of the x axis).
    pub first_label: String,
    /// The newest sample's time label (right end of the x axis).
    pub last_label: String,
}

/// Lays out `samples` (oldest first); `None` when there are none.
pub fn layout(samples: &[HealthPoint]) -> Option<ChartLayout> {
    let first = samples.first()?;
    let last = samples.last()?;
    let top = nice_ceiling(samples.iter().map(|s| s.latency_ms).max().unwrap_or(0));
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let span = (last.at_ms - first.at_ms) as f64;
    let x_of = |index: usize, at_ms: i64| {
        if span > 0.0 {
            LEFT + plot_width * ((at_ms - first.at_ms) as f64 / span)
        } else if samples.len() > 1 {
            LEFT + plot_width * (index as f64 / (samples.len() - 1) as f64)
        } else {
            LEFT + plot_width / 2.0
        }
    };
    let y_of = |latency_ms: i64| TOP + plot_height * (1.0 - latency_ms as f64 / top as f64);
    let points: Vec<PlotPoint> = samples
        .iter()
        .enumerate()
        .map(|(index, sample)| PlotPoint {
            x: round(x_of(index, sample.at_ms)),
            y: round(y_of(sample.latency_ms)),
            ok: sample.ok,
        })
        .collect();
    let line = points
        .iter()
        .map(|p| format!("{},{}", p.x, p.y))
        .collect::<Vec<_>>()
        .join(" ");
    let ticks = [0, top / 2, top]
        .into_iter()
        .map(|ms| Tick {
            y: round(y_of(ms)),
            label: format!("{ms} ms"),
        })
        .collect();
    Some(ChartLayout {
        points,
        line,
        ticks,
        first_label: first.at_label.clone(),
        last_label: last.at_label.clone(),
    })
}

/// The smallest of 1, 2 or 5 times a power of ten that is at least `value` (and at least 10).
pub fn nice_ceiling(value: i64) -> i64 {
    let mut power = 1_i64;
    loop {
        for step in [1, 2, 5] {
            let candidate = step * power;
            if candidate >= value.max(10) {
                return candidate;
            }
        }
        power = power.saturating_mul(10);
    }
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The chart in words, for screen readers and as a caption: median, 95th percentile, the newest
/// sample and the failures.
pub fn summary(samples: &[HealthPoint]) -> String {
    let Some(last) = samples.last() else {
        return "No health samples yet.".into();
    };
    let mut latencies: Vec<i64> = samples.iter().map(|s| s.latency_ms).collect();
    latencies.sort_unstable();
    let failures = samples.iter().filter(|s| !s.ok).count();
    let outcome = if last.ok { "succeeded" } else { "failed" };
    format!(
        "{count} samples from {first} to {newest}: median {p50} ms, 95th percentile {p95} ms; \
         the newest fetch {outcome} in {last_ms} ms; {failures} failed.",
        count = samples.len(),
        first = samples[0].at_label,
        newest = last.at_label,
        p50 = percentile(&latencies, 50),
        p95 = percentile(&latencies, 95),
        last_ms = last.latency_ms,
    )
}

/// The gateway's intervals as chart points: the 95th percentile as the latency, and an
/// interval with failed calls as a failure.
pub fn calls_as_points(calls: &[CallPoint]) -> Vec<HealthPoint> {
    calls
        .iter()
        .map(|c| HealthPoint {
            at_ms: c.at_ms,
            at_label: c.at_label.clone(),
            ok: c.errors == 0,
            latency_ms: i64::try_from(c.p95_ms).unwrap_or(i64::MAX),
        })
        .collect()
}

/// The gateway chart in words.
pub fn call_summary(calls: &[CallPoint]) -> String {
    let (Some(first), Some(last)) = (calls.first(), calls.last()) else {
        return "No calls through the gateway yet.".into();
    };
    let total: u64 = calls.iter().map(|c| c.calls).sum();
    let failed: u64 = calls.iter().map(|c| c.errors).sum();
    let worst = calls.iter().map(|c| c.p95_ms).max().unwrap_or(0);
    format!(
        "{total} calls in {count} intervals from {from} to {to}, {failed} failed; the worst \
         interval's 95th percentile was {worst} ms; in the newest, {calls} calls took {p50} ms \
         at the median and {p95} ms at the 95th percentile.",
        count = calls.len(),
        from = first.at_label,
        to = last.at_label,
        calls = last.calls,
        p50 = last.p50_ms,
        p95 = last.p95_ms,
    )
}

/// The nearest-rank percentile of sorted, non-empty `values`.
fn percentile(sorted: &[i64], percent: usize) -> i64 {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: i64, latency_ms: i64, ok: bool) -> HealthPoint {
        HealthPoint {
            at_ms,
            at_label: format!("t{at_ms}"),
            ok,
            latency_ms,
        }
    }

    #[test]
    fn gateway_intervals_plot_their_95th_percentile_and_read_as_words() {
        let calls = vec![
            CallPoint {
                at_ms: 0,
                at_label: "t0".into(),
                calls: 10,
                errors: 0,
                p50_ms: 5,
                p95_ms: 20,
            },
            CallPoint {
                at_ms: 60_000,
                at_label: "t1".into(),
                calls: 4,
                errors: 1,
                p50_ms: 10,
                p95_ms: 50,
            },
        ];
        let points = calls_as_points(&calls);
        assert_eq!((points[0].latency_ms, points[0].ok), (20, true));
        assert_eq!((points[1].latency_ms, points[1].ok), (50, false));
        assert_eq!(
            call_summary(&calls),
            "14 calls in 2 intervals from t0 to t1, 1 failed; the worst interval's 95th \
             percentile was 50 ms; in the newest, 4 calls took 10 ms at the median and 50 ms at \
             the 95th percentile."
        );
    }

    #[test]
    fn samples_span_the_plot_and_the_axis_rounds_up() {
        let chart = layout(&[
            sample(0, 100, true),
            sample(50, 0, false),
            sample(100, 340, true),
        ])
        .expect("a chart");
        let xs: Vec<f64> = chart.points.iter().map(|p| p.x).collect();
        assert_eq!(xs, [LEFT, 344.0, WIDTH - RIGHT]);
        assert_eq!(
            chart.points[1].y,
            HEIGHT - BOTTOM,
            "0 ms sits on the x axis"
        );
        assert!(!chart.points[1].ok);
        let labels: Vec<&str> = chart.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0 ms", "250 ms", "500 ms"]);
        assert_eq!(
            (chart.first_label.as_str(), chart.last_label.as_str()),
            ("t0", "t100")
        );
    }

    #[test]
    fn no_samples_no_chart() {
        assert_eq!(layout(&[]), None);
        assert_eq!(summary(&[]), "No health samples yet.");
    }

    #[test]
    fn the_summary_names_percentiles_the_newest_sample_and_failures() {
        let samples: Vec<_> = (1..=20).map(|i| sample(i, i * 10, i != 7)).collect();
        assert_eq!(
            summary(&samples),
            "20 samples from t1 to t20: median 100 ms, 95th percentile 190 ms; \
             the newest fetch succeeded in 200 ms; 1 failed."
        );
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0), 10);
        assert_eq!(nice_ceiling(340), 500);
        assert_eq!(nice_ceiling(1000), 1000);
        assert_eq!(nice_ceiling(1001), 2000);
    }
}
