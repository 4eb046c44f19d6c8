//! Times as people read them (the console, progress reports, the audit log).

use time::macros::format_description;
use time::OffsetDateTime;

/// Unix milliseconds as `2026-11-26 14:03 UTC`; empty for a time out of range.
pub fn display_time(millis: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(display_time(1_795_000_000_000), "2026-11-18 11:06 UTC");
    }
}
