//! Exposure: the session's id or cookie where it must not be (URLs, bodies, logs of redirects).

use super::*;

impl Audit<'_> {
    /// The id where it must not be (URLs, bodies), and responses that set it without
    /// Cache-Control.
    pub(super) fn exposure(&mut self) {
        const CHECK: &str = "exposure";
        let before = self.findings.len();
        let needles: Vec<String> = self
            .session_values
            .iter()
            .filter(|v| v.len() >= 8)
            .cloned()
            .collect();
        let leaked = self
            .seen
            .iter()
            .find(|e| {
                needles.iter().any(|needle| {
                    e.url.contains(needle.as_str())
                        || e.header_values("location")
                            .any(|l| l.contains(needle.as_str()))
                        || e.body.contains(needle.as_str())
                })
            })
            .cloned();
        if let Some(exchange) = &leaked {
            self.find(
                CHECK,
                "session-id-in-url",
                Severity::High,
                "The session id appears in a URL or a page",
                format!("The id shows in {}.", exchange.url),
                vec![evidence("where the id shows", exchange)],
            );
        }
        let uncached = self
            .seen
            .iter()
            .filter(|e| self.session_cookie(e).is_some())
            .find(|e| {
                !e.header_values("cache-control").any(|v| {
                    let v = v.to_ascii_lowercase();
                    v.contains("no-store") || v.contains("private")
                })
            })
            .cloned();
        if let Some(exchange) = &uncached {
            self.find(
                CHECK,
                "cache-control-missing",
                Severity::Low,
                "Responses that set the session cookie may be cached",
                format!(
                    "The response to {} sets {} without Cache-Control: no-store or private.",
                    exchange.url, self.cookie_name
                ),
                vec![evidence("a response that set the session cookie", exchange)],
            );
        }
        let summary = format!(
            "the {} {} in URLs and pages; responses setting it {}",
            if self.kind.kind.client_side() {
                "cookie's value"
            } else {
                "id"
            },
            if leaked.is_some() {
                "shows"
            } else {
                "never shows"
            },
            if uncached.is_some() {
                "may be cached"
            } else {
                "forbid caching"
            }
        );
        self.close(CHECK, "Session id exposure", before, summary);
    }
}
