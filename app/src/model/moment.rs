//! A point in time as the console shows it: how long ago, with the exact time on hover.

use serde::{Deserialize, Serialize};

/// When something happened, as people read it. Made on the server when the page is made, so
/// the page reads the same before and after hydration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// Machine-readable (RFC 3339), for `<time datetime>`.
    pub iso: String,
    /// The exact time, such as `2026-11-26 14:03 UTC`.
    pub exact: String,
    /// How long before the page was made, such as `5 minutes ago`.
    pub ago: String,
}

/// How long before `now_ms` the time `at_ms` was (both Unix milliseconds): `just now` within
/// a minute, then minutes, hours, days, and after 60 days the date itself (`on 2026-11-26`,
/// given as `date`). A time ahead of `now_ms` (clocks that differ) reads `in …`.
pub fn ago(at_ms: i64, now_ms: i64, date: &str) -> String {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let span = now_ms.saturating_sub(at_ms);
    let length = span.saturating_abs();
    if length < MINUTE {
        return "just now".into();
    }
    if length >= 60 * DAY {
        return format!("on {date}");
    }
    let (count, unit) = if length < HOUR {
        (length / MINUTE, "minute")
    } else if length < DAY {
        (length / HOUR, "hour")
    } else {
        (length / DAY, "day")
    };
    let plural = if count == 1 { "" } else { "s" };
    if span < 0 {
        format!("in {count} {unit}{plural}")
    } else {
        format!("{count} {unit}{plural} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::ago;

    #[test]
    fn reads_in_the_largest_whole_unit() {
        let now = 1_800_000_000_000;
        let at = |back_ms: i64| ago(now - back_ms, now, "2026-11-26");
        assert_eq!(at(0), "just now");
        assert_eq!(at(59_999), "just now");
        assert_eq!(at(60_000), "1 minute ago");
        assert_eq!(at(5 * 60_000 + 59_000), "5 minutes ago");
        assert_eq!(at(3_600_000), "1 hour ago");
        assert_eq!(at(23 * 3_600_000), "23 hours ago");
        assert_eq!(at(2 * 86_400_000), "2 days ago");
        assert_eq!(at(61 * 86_400_000), "on 2026-11-26");
        assert_eq!(at(-3 * 60_000), "in 3 minutes", "a clock ahead of ours");
    }
}
