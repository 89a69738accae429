//! The session cookie's attributes (HttpOnly, Secure, SameSite, lifetime, scope) and how long the session lasts.

use super::*;

impl Audit<'_> {
    pub(super) fn cookie_attributes(&mut self, first: &FirstContact) {
        const CHECK: &str = "cookie-attributes";
        let cookie = &first.cookie;
        let evidence = || {
            vec![evidence(
                "the response that set the session cookie",
                &first.exchange,
            )]
        };
        let before = self.findings.len();
        let name = cookie.name.clone();
        if !cookie.http_only {
            self.find(
                CHECK,
                "cookie-no-httponly",
                Severity::Medium,
                format!("Session cookie “{name}” without HttpOnly"),
                "The Set-Cookie has no HttpOnly attribute: document.cookie shows it to every script on the page.",
                evidence(),
            );
        }
        let https = first.exchange.url.starts_with("https:");
        if !cookie.secure {
            let (severity, detail) = if https {
                (
                    Severity::Medium,
                    "Served over https, but the cookie has no Secure attribute: a single plain-http request sends it in the clear.".to_owned(),
                )
            } else {
                (
                    Severity::Low,
                    "The cookie has no Secure attribute (this target is plain http, where Secure would stop it being stored: set it where the site is served over https).".to_owned(),
                )
            };
            self.find(
                CHECK,
                "cookie-no-secure",
                severity,
                format!("Session cookie “{name}” without Secure"),
                detail,
                evidence(),
            );
        }
        match cookie.same_site.as_deref() {
            None => self.find(
                CHECK,
                "cookie-no-samesite",
                Severity::Low,
                format!("Session cookie “{name}” without SameSite"),
                "No SameSite attribute: each browser applies its own default to cross-site requests.",
                evidence(),
            ),
            Some(value) if value.eq_ignore_ascii_case("none") && !cookie.secure => self.find(
                CHECK,
                "cookie-samesite-none-insecure",
                Severity::Medium,
                format!("Session cookie “{name}”: SameSite=None without Secure"),
                "Browsers refuse this cookie outright: SameSite=None requires Secure.",
                evidence(),
            ),
            Some(value) if value.eq_ignore_ascii_case("none") => self.find(
                CHECK,
                "cookie-samesite-none",
                Severity::Low,
                format!("Session cookie “{name}” sent on cross-site requests (SameSite=None)"),
                "SameSite=None: every other site's images, forms and fetches carry the session.",
                evidence(),
            ),
            Some(_) => {}
        }
        if let Some(domain) = &cookie.domain {
            self.find(
                CHECK,
                "cookie-domain-wide",
                Severity::Low,
                format!("Session cookie “{name}” shared with every subdomain of {domain}"),
                format!("Domain={domain}: the browser sends the session to {domain} and all its subdomains."),
                evidence(),
            );
        }
        let now = OffsetDateTime::now_utc();
        if let Some(lifetime) = cookie.asked_lifetime(now).filter(|l| *l > LONG_LIVED) {
            let cut = if lifetime > crate::browser::MAX_LIFETIME {
                " (browsers cut it to 400 days)"
            } else {
                ""
            };
            self.find(
                CHECK,
                "cookie-long-lived",
                Severity::Low,
                format!(
                    "Session cookie “{name}” lives {} days",
                    lifetime.whole_days()
                ),
                format!(
                    "The cookie's {} keeps it for {} days{cut}, across browser restarts.",
                    if cookie.max_age.is_some() {
                        "Max-Age"
                    } else {
                        "Expires"
                    },
                    lifetime.whole_days()
                ),
                evidence(),
            );
        }
        let size = cookie.name.len() + cookie.value.len();
        if size > 4096 {
            self.find(
                CHECK,
                "cookie-too-large",
                Severity::Medium,
                format!("Session cookie “{name}” is {size} bytes"),
                "Browsers keep at most about 4096 bytes of name and value.",
                evidence(),
            );
        }
        let summary = format!(
            "“{name}”: {}{}SameSite={}, Path={}{}, {}, {size} bytes",
            if cookie.http_only { "HttpOnly, " } else { "" },
            if cookie.secure { "Secure, " } else { "" },
            cookie.same_site.as_deref().unwrap_or("(unset)"),
            cookie.path.as_deref().unwrap_or("(unset)"),
            cookie
                .domain
                .as_ref()
                .map(|d| format!(", Domain={d}"))
                .unwrap_or_default(),
            match cookie.lifetime(now) {
                Some(l) => format!("lives {}", crate::words::duration_text(l)),
                None => "a browser-session cookie".to_owned(),
            },
        );
        self.close(CHECK, "Session cookie attributes", before, summary);
    }

    /// What the cookie and the server's answers show of the session's end: a lifetime, and
    /// whether each answer renews it (an idle timeout) or not (an absolute one).
    pub(super) async fn expiry(&mut self, first: &FirstContact) -> Result<(), AuditError> {
        const CHECK: &str = "expiry";
        self.tell("expiry", 0, 1);
        let before = self.findings.len();
        let now = OffsetDateTime::now_utc();
        let summary = match first.cookie.lifetime(now) {
            None => {
                self.find(
                    CHECK,
                    "expiry-not-visible",
                    Severity::Info,
                    "No session timeout visible",
                    "The cookie has no Max-Age or Expires: it ends when the browser closes, and only the server's own idle timeout (not visible from outside) ends the session before that.",
                    vec![evidence("the response that set the session cookie", &first.exchange)],
                );
                "a browser-session cookie; the server's idle timeout, if any, is not visible"
                    .to_owned()
            }
            Some(lifetime) => {
                // Does a later answer renew it?
                let browser = self.browser()?;
                let url = self.counter_url.clone();
                self.visit(&browser, &url).await?;
                let again = self.visit(&browser, &url).await?;
                let renewed = self.session_cookie(&again).is_some();
                format!(
                    "the cookie lives {}; {}",
                    crate::words::duration_text(lifetime),
                    if renewed {
                        "every answer renews it (an idle timeout)"
                    } else {
                        "later answers do not renew it (an absolute timeout from the session's start)"
                    }
                )
            }
        };
        self.close(CHECK, "Session expiry", before, summary);
        Ok(())
    }
}
