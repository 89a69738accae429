//! How the lab writes times, ids and data for people: shared by the UI, the log and the demo.

use time::{Duration, OffsetDateTime, UtcOffset};

use crate::server::SessionData;

/// Shortens a session id or cookie value for tables and the log: the first eight characters
/// and an ellipsis.
pub fn short(text: &str) -> String {
    const KEEP: usize = 8;
    match text.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Session data as compact JSON.
pub fn data_text(data: &SessionData) -> String {
    serde_json::Value::Object(data.clone()).to_string()
}

/// How long until `at`: "13d 23h", "4h 05m", "2m 09s", "42s", or "expired".
pub fn time_left(now: OffsetDateTime, at: OffsetDateTime) -> String {
    let left = at - now;
    if left <= Duration::ZERO {
        return "expired".to_owned();
    }
    let secs = left.whole_seconds();
    let (days, hours, minutes, seconds) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

/// How long until the text of [`time_left`] for `at` changes, so a view can repaint just then.
pub fn time_left_changes_in(
    now: OffsetDateTime,
    at: OffsetDateTime,
) -> Option<std::time::Duration> {
    let left = at - now;
    if left <= Duration::ZERO {
        return None;
    }
    let granularity = if left > Duration::hours(1) {
        Duration::minutes(1)
    } else {
        Duration::seconds(1)
    };
    let until_tick = left.whole_milliseconds() % granularity.whole_milliseconds();
    let millis = if until_tick == 0 {
        granularity.whole_milliseconds()
    } else {
        until_tick
    };
    Some(std::time::Duration::from_millis(
        u64::try_from(millis).unwrap_or(1000),
    ))
}

/// Wall-clock time of day, "01:02:09", in `offset`.
pub fn clock_time(at: OffsetDateTime, offset: UtcOffset) -> String {
    let local = at.to_offset(offset);
    format!(
        "{:02}:{:02}:{:02}",
        local.hour(),
        local.minute(),
        local.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are cut to eight characters with an ellipsis; short text is left alone.
    #[test]
    fn short_cuts_long_ids() {
        assert_eq!(short("3f2a9c01deadbeef"), "3f2a9c01…");
        assert_eq!(short("abc"), "abc");
    }

    /// Time left reads like the design: days and hours far out, seconds near the end.
    #[test]
    fn time_left_reads_naturally() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let at = |secs| now + Duration::seconds(secs);
        assert_eq!(time_left(now, at(14 * 86_400 - 3600)), "13d 23h");
        assert_eq!(time_left(now, at(3 * 3600 + 5 * 60)), "3h 05m");
        assert_eq!(time_left(now, at(129)), "2m 09s");
        assert_eq!(time_left(now, at(42)), "42s");
        assert_eq!(time_left(now, at(-1)), "expired");
    }

    /// Far-off expiries ask for a repaint within a minute, near ones within a second.
    #[test]
    fn repaint_follows_the_text() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let far = time_left_changes_in(now, now + Duration::days(3)).unwrap();
        let near = time_left_changes_in(now, now + Duration::milliseconds(42_500)).unwrap();
        assert!(far <= std::time::Duration::from_secs(60));
        assert_eq!(near, std::time::Duration::from_millis(500));
        assert!(time_left_changes_in(now, now - Duration::seconds(1)).is_none());
    }
}
