//! How the lab writes times, ids and data for people: shared by the UI, the log and the demo.

use time::{Duration, OffsetDateTime, UtcOffset};

use crate::{
    browser::Exchange,
    server::{CookieVerdict, Served, SessionData, StoreStory},
};

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

/// `GET /  Cookie: id=3f2a…  ← 200 "Number of views 3"  · session 3f2a… views 2→3`
pub fn exchange_line(exchange: &Exchange, served: Option<&Served>) -> String {
    let path = exchange.path();
    let cookie = match &exchange.cookie_header {
        Some(header) => format!("Cookie: {}", short_cookie_header(header)),
        None => "no cookie".to_owned(),
    };
    let mut line = format!(
        "{} {path}  {cookie}  ← {} “{}”",
        exchange.method,
        exchange.status,
        body_preview(&exchange.body)
    );
    if exchange.set_cookies().next().is_some() {
        line.push_str("  Set-Cookie");
    }
    if exchange.cross_site {
        line.push_str("  (cross-site)");
    }
    if !exchange.not_sent.is_empty() {
        let held: Vec<String> = exchange
            .not_sent
            .iter()
            .map(|n| format!("{} ({})", n.key.name, n.reason))
            .collect();
        line.push_str(&format!("  · not sent: {}", held.join(", ")));
    }
    if let Some(served) = served {
        line.push_str("  · ");
        line.push_str(&story_text(served));
    }
    line
}

/// A log line for a request the server answered: method, path, user agent, status, story.
pub fn served_line(served: &Served) -> String {
    let agent = served
        .user_agent
        .as_deref()
        .map(|ua| format!(" ({})", short_agent(ua)))
        .unwrap_or_default();
    format!(
        "{} {}{agent}  ← {}  · {}",
        served.method,
        served.path,
        served.status,
        story_text(served)
    )
}

/// What the request did to the store, in words.
pub fn story_text(served: &Served) -> String {
    let rejected = match &served.cookie {
        CookieVerdict::Rejected { reason } => format!("cookie rejected: {reason}; "),
        _ => String::new(),
    };
    let story = match &served.story {
        StoreStory::Untouched => "no session".to_owned(),
        StoreStory::Created { id, data } => {
            format!("session {} created {}", short(id), data_text(data))
        }
        StoreStory::Updated { id, before, after } => {
            format!("session {} {}", short(id), diff_text(before, after))
        }
        StoreStory::Unchanged { id } => format!("session {} unchanged", short(id)),
        StoreStory::Regenerated { old, new } => {
            format!("session {} regenerated as {}", short(old), short(new))
        }
        StoreStory::Deleted { id } => format!("session {} deleted", short(id)),
    };
    format!("{rejected}{story}")
}

/// `views 2→3`, one entry per changed key.
fn diff_text(before: &SessionData, after: &SessionData) -> String {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let changes: Vec<String> = keys
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let show =
                |v: Option<&serde_json::Value>| v.map_or("∅".to_owned(), |v| v.to_string());
            format!("{k} {}→{}", show(before.get(k)), show(after.get(k)))
        })
        .collect();
    if changes.is_empty() {
        "saved, unchanged".to_owned()
    } else {
        changes.join(", ")
    }
}

/// A `Cookie` header with each value shortened: `id=3f2a9c01…; theme=dark`.
pub fn short_cookie_header(header: &str) -> String {
    header
        .split("; ")
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => format!("{name}={}", short(value)),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn body_preview(body: &str) -> String {
    const KEEP: usize = 60;
    let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

fn short_agent(agent: &str) -> String {
    const KEEP: usize = 40;
    match agent.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", &agent[..cut]),
        None => agent.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The diff names each changed key with its old and new value.
    #[test]
    fn diff_names_changed_keys() {
        let before = SessionData::from_iter([("views".into(), serde_json::json!(2))]);
        let after = SessionData::from_iter([("views".into(), serde_json::json!(3))]);
        assert_eq!(diff_text(&before, &after), "views 2→3");
    }

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
