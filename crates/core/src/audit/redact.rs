//! Evidence without secrets: the cookie values a server set, the ones sent back, and anything
//! in a URL or a page that repeats them, shown as their first characters and length
//! (`mBAU…(68 bytes)`), so a report can be pasted into a ticket without handing over a live
//! session. `--show-secrets` keeps them whole.

use super::Evidence;

/// Values this long or shorter are shown whole: a counter, a flag, a language.
const SHOWN_WHOLE: usize = 8;

/// How many characters of a longer value are kept.
const KEPT: usize = 4;

/// `value` as a report shows it: whole when short, else its start and length.
pub fn redact(value: &str) -> String {
    if value.len() <= SHOWN_WHOLE {
        return value.to_owned();
    }
    let start: String = value.chars().take(KEPT).collect();
    format!("{start}…({} bytes)", value.len())
}

/// The evidence with every cookie value in it redacted, wherever it shows.
pub fn evidence(mut evidence: Evidence) -> Evidence {
    let mut values: Vec<String> = Vec::new();
    if let Some(cookie) = &evidence.cookie {
        let pairs = cookie.split(';').map(str::trim);
        values.extend(
            pairs
                .filter_map(|p| p.split_once('='))
                .map(|(_, v)| v.to_owned()),
        );
        evidence.cookie = Some(redact_pairs(cookie, "; "));
    }
    for line in &mut evidence.set_cookie {
        let (pair, attributes) = line.split_once(';').unwrap_or((line.as_str(), ""));
        if let Some((name, value)) = pair.split_once('=') {
            values.push(value.trim().to_owned());
            let attributes = if attributes.is_empty() {
                String::new()
            } else {
                format!(";{attributes}")
            };
            *line = format!("{name}={}{attributes}", redact(value.trim()));
        }
    }
    // The longest first, so a value that contains another is replaced whole.
    values.retain(|v| v.len() > SHOWN_WHOLE);
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    let hide = |text: &str| {
        values.iter().fold(text.to_owned(), |text, value| {
            text.replace(value.as_str(), &redact(value))
        })
    };
    evidence.request = hide(&redact_query(&evidence.request));
    for (_, value) in &mut evidence.headers {
        *value = hide(&redact_query(value));
    }
    evidence.body = hide(&evidence.body);
    evidence
}

/// `a=1; sid=mBAUxyz…` with each value redacted, joined by `separator`.
fn redact_pairs(text: &str, separator: &str) -> String {
    text.split(';')
        .map(str::trim)
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => format!("{name}={}", redact(value)),
            None => redact(pair),
        })
        .collect::<Vec<_>>()
        .join(separator)
}

/// A URL (or a request line ending in one) with the values of its query redacted: a session
/// id in a URL is a secret as much as one in a cookie.
fn redact_query(text: &str) -> String {
    let Some((before, query)) = text.split_once('?') else {
        return text.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let query = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => format!("{name}={}", redact(value)),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    match fragment {
        Some(fragment) => format!("{before}?{query}#{fragment}"),
        None => format!("{before}?{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Evidence {
        let id = "s%3AmBAUq0PBh1Oe4B4zZy5yK9r3.Xv0FJ4aW3P8kqIY2YkQ";
        Evidence {
            what: "a login".into(),
            request: format!("GET http://127.0.0.1:3000/whoami?sid={id}&lang=en"),
            cookie: Some(format!("connect.sid={id}; theme=dark")),
            status: 200,
            set_cookie: vec![format!("connect.sid={id}; Path=/; HttpOnly")],
            headers: vec![("location".into(), format!("/next?sid={id}"))],
            body: format!("You are {id}, welcome"),
        }
    }

    /// No part of the evidence still holds the live value; its start and length show, short
    /// values and the cookie's attributes are kept, and nothing else changes.
    #[test]
    fn every_place_a_value_shows_is_redacted() {
        let id = "s%3AmBAUq0PBh1Oe4B4zZy5yK9r3.Xv0FJ4aW3P8kqIY2YkQ";
        let redacted = evidence(sample());
        let shown = format!("{redacted:?}");
        assert!(!shown.contains("q0PBh1Oe4B4z"), "{shown}");
        let short = format!("s%3A…({} bytes)", id.len());
        assert_eq!(
            redacted.cookie.as_deref(),
            Some(format!("connect.sid={short}; theme=dark").as_str())
        );
        assert_eq!(
            redacted.set_cookie,
            [format!("connect.sid={short}; Path=/; HttpOnly")]
        );
        assert_eq!(
            redacted.request,
            format!("GET http://127.0.0.1:3000/whoami?sid={short}&lang=en")
        );
        assert_eq!(redacted.body, format!("You are {short}, welcome"));
        assert_eq!(redacted.headers[0].1, format!("/next?sid={short}"));
        assert_eq!(redacted.status, 200);
    }

    /// A value of 8 bytes or fewer is shown whole; a longer one keeps 4 characters, even when
    /// they are not ASCII.
    #[test]
    fn short_values_show_whole() {
        assert_eq!(redact("12"), "12");
        assert_eq!(redact("ééééééé"), "éééé…(14 bytes)");
    }
}
