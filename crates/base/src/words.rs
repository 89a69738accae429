//! Words every layer writes the same way: a value shortened, a count, a span of time, text
//! made safe for a page. The
//! lowest layer of the crate (it imports nothing of it), so the server, the audit and the lab
//! all say these alike.

use std::fmt::Write as _;

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

/// Whether a terminal would act on `c` rather than show it: C0 controls but newline and tab,
/// DEL, C1 controls, and the characters that reorder text (bidi embeddings, overrides,
/// isolates and marks).
fn acts_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` safe to print to a terminal (or a Markdown report, a CI log): every control, C1
/// and bidi character made visible as `\u{1b}`, so what a server or a file sends cannot clear
/// the screen, recolour it, plant a hidden link or reverse a line. Newlines and tabs stay.
/// The one helper every line the command line prints from outside goes through.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    escaping_terminal_codes(text, |c, out| {
        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
    })
}

/// JSON text (as `serde_json` writes it) safe to print: the characters [`visible`] shows that
/// JSON leaves raw (C1 controls and bidi characters; JSON escapes C0 itself) written as JSON
/// escapes (`\u202e`), so the output stays valid JSON and reads back the same.
pub fn json_visible(json: &str) -> std::borrow::Cow<'_, str> {
    escaping_terminal_codes(json, |c, out| {
        let _ = write!(out, "\\u{:04x}", u32::from(c));
    })
}

/// `text` with every character a terminal would act on written by `escape` instead.
fn escaping_terminal_codes(
    text: &str,
    escape: impl Fn(char, &mut String),
) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if acts_on_terminal(c) {
            escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod visible_tests {
    use super::*;

    /// Escapes, C1 controls, carriage returns and right-to-left overrides are shown, not obeyed;
    /// plain text, newlines, tabs and other languages pass untouched.
    #[test]
    fn what_a_terminal_would_obey_is_shown() {
        assert_eq!(
            visible("\u{1b}[2Jclean\rok\u{9b}31m \u{202e}txt.exe\u{7f}"),
            "\\u{1b}[2Jclean\\u{d}ok\\u{9b}31m \\u{202e}txt.exe\\u{7f}"
        );
        assert!(matches!(
            visible("línea 1\n\tzwei — 三"),
            std::borrow::Cow::Borrowed(_)
        ));
        // An OSC 8 link hides its target; shown, the target is in plain sight.
        assert_eq!(
            visible("\u{1b}]8;;http://evil.test\u{7}here\u{1b}]8;;\u{7}"),
            "\\u{1b}]8;;http://evil.test\\u{7}here\\u{1b}]8;;\\u{7}"
        );
    }

    /// JSON keeps valid and reads back to the same text.
    #[test]
    fn json_stays_json() {
        let value = serde_json::json!({ "body": "a\u{202e}b\u{85}c\u{1b}" });
        let text = serde_json::to_string(&value).unwrap();
        let shown = json_visible(&text);
        assert!(!shown.chars().any(acts_on_terminal), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value);
    }
}
