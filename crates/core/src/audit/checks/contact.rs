//! First contact: the session cookie a new visitor gets, and what it holds (an id, signed data, a JWT).

use super::*;

impl Audit<'_> {
    /// A new visitor's first request: which cookie is the session's, and what a stranger sees.
    pub(super) async fn first_contact(&mut self) -> Result<FirstContact, AuditError> {
        self.tell("first visit", 0, 1);
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        for _ in 0..2 {
            let hops = browser.visit(&url, VisitOptions::default()).await?;
            self.seen.extend(hops.iter().cloned());
            for exchange in &hops {
                let cookies: Vec<SetCookie> = exchange
                    .set_cookies()
                    .filter_map(SetCookie::parse)
                    .collect();
                let chosen = match &self.options.cookie {
                    Some(name) => cookies.iter().find(|c| &c.name == name),
                    None => SESSION_NAMES
                        .iter()
                        .find_map(|n| cookies.iter().find(|c| c.name.eq_ignore_ascii_case(n)))
                        .or_else(|| cookies.iter().max_by_key(|c| c.value.len())),
                };
                if let Some(cookie) = chosen.filter(|c| !c.value.is_empty()) {
                    self.cookie_name = cookie.name.clone();
                    self.session_values.push(cookie.value.clone());
                    if let Some((id, _)) = inner_id(&cookie.value) {
                        self.session_values.push(id);
                    }
                    let stranger = self.browser()?;
                    let hops = stranger.visit(&url, VisitOptions::default()).await?;
                    let stranger_body = hops.last().map(|e| e.body.clone()).unwrap_or_default();
                    self.seen.extend(hops);
                    let siblings = cookies
                        .iter()
                        .filter(|c| c.name != cookie.name)
                        .map(|c| c.name.clone())
                        .collect();
                    return Ok(FirstContact {
                        exchange: exchange.clone(),
                        cookie: cookie.clone(),
                        stranger_body,
                        siblings,
                    });
                }
            }
        }
        Err(AuditError::NoSessionCookie { url })
    }

    /// What the session cookie holds: a known format by its shape; else, by its behaviour, the
    /// session's data (the value changes with the state, and an older copy brings the older
    /// state back) or an id.
    pub(super) async fn identify(&mut self, first: &FirstContact) -> Result<(), AuditError> {
        const CHECK: &str = "session-kind";
        self.tell("what the cookie holds", 0, 1);
        let value = &first.cookie.value;
        if let Some(found) = kind::decode(&self.cookie_name, value, &first.siblings) {
            self.kind = found;
        } else {
            let browser = self.browser()?;
            let url = self.counter_url.clone();
            let one = self.visit(&browser, &url).await?;
            let early = self.copy_of(&browser);
            let two = self.visit(&browser, &url).await?;
            let late = self.copy_of(&browser);
            let moved_on = last_number(&two.body).is_some() && one.body != two.body;
            let state_in_value = match (&early, &late) {
                (Some(early), Some(late)) if early.value != late.value && moved_on => {
                    let again = self.replay(early).await?;
                    again.body == two.body && again.body != first.stranger_body
                }
                _ => false,
            };
            self.kind = if state_in_value {
                SessionKind::opaque_data(
                    "the value changes with every change of the state, and an older copy, \
                     replayed, brings the older state back: the state travels in the cookie",
                )
            } else {
                SessionKind::server_id(
                    "an opaque id",
                    if early.is_some()
                        && early.as_ref().map(|c| &c.value) == late.as_ref().map(|c| &c.value)
                    {
                        "the value stays the same while the state changes: it names the session"
                    } else {
                        "the value does not carry the state (an older copy does not bring an \
                         older state back)"
                    },
                )
            };
        }
        let summary = format!("{}: {}", self.kind.summary(), self.kind.evidence);
        self.check(
            CHECK,
            "What the session cookie holds",
            CheckStatus::Passed,
            summary,
        );
        Ok(())
    }
}

/// Names servers commonly give their session cookie, most specific first.
const SESSION_NAMES: [&str; 12] = [
    "connect.sid",
    "PHPSESSID",
    "JSESSIONID",
    "ASP.NET_SessionId",
    "laravel_session",
    "_session_id",
    "sessionid",
    "session_id",
    "session",
    "sessid",
    "sid",
    "id",
];
