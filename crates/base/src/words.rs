//! Words every layer writes the same way: a value shortened, a count, a span of time, text
//! made safe for a page. The
//! lowest layer of the crate (it imports nothing of it), so the server, the audit and the lab
//! all say these alike.

/// Shortens a session id or cookie value for tables and the log: the first eight characters
/// and an ellipsis.
pub fn short(text: &str) -> String {
    short_to(text, 8)
}

/// The first `keep` characters of `text`, and "…" when there were more.
pub fn short_to(text: &str, keep: usize) -> String {
    match text.char_indices().nth(keep) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A count with thousands separated: `100,001`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A whole duration in the largest units that fit: "1 d 2 h", "1 h", "5 min", "30 s".
pub fn duration_text(duration: time::Duration) -> String {
    let secs = duration.whole_seconds().max(0);
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (mins, "min")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        format!("{secs} s")
    } else {
        parts.join(" ")
    }
}

/// Text made safe to put in an HTML page (a user name, a path, a store's error message).
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
