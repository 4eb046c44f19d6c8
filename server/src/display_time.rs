//! Times as people read them (the console, progress reports, the audit log).

use time::macros::format_description;
use time::OffsetDateTime;

use apiary_app::model::moment::{ago, Moment};

/// Unix milliseconds as the console shows them: how long before now, with the exact time.
pub fn moment(millis: i64) -> Moment {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok();
    let date = at
        .and_then(|t| t.format(format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or_default();
    Moment {
        iso: at
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default(),
        exact: display_time(millis),
        ago: ago(millis, now_millis(), &date),
    }
}

/// The time now, Unix milliseconds.
fn now_millis() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

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
    fn a_moment_has_the_exact_time_and_how_long_ago() {
        let now = now_millis();
        let moment = moment(now - 3 * 60 * 60 * 1000 - 1000);
        assert_eq!(moment.ago, "3 hours ago");
        assert!(moment.exact.ends_with(" UTC"), "{moment:?}");
        assert!(
            moment.iso.ends_with('Z') && moment.iso.contains('T'),
            "{moment:?}"
        );
    }

    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(display_time(1_795_000_000_000), "2026-11-18 11:06 UTC");
    }
}
