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
        let inside = expiry_inside(&self.kind);
        let summary = match first.cookie.lifetime(now) {
            // The value carries its own end (koa-session's `_expire`, a JWT's `exp`), which the
            // server checks: the session has an expiry, even if the cookie does not say it.
            None if inside.is_some() => {
                let at = inside.unwrap_or(now);
                format!(
                    "a browser-session cookie whose value carries its own expiry: {} ({} from now), which the server can check",
                    at.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    crate::words::duration_text((at - now).abs())
                )
            }
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
                    "the cookie lives {}; {}{}",
                    crate::words::duration_text(lifetime),
                    if renewed {
                        "every answer renews it (an idle timeout)"
                    } else {
                        "later answers do not renew it (an absolute timeout from the session's start)"
                    },
                    inside.map_or(String::new(), |at| format!(
                        "; its value carries its own expiry ({} from now)",
                        crate::words::duration_text((at - now).abs())
                    ))
                )
            }
        };
        self.close(CHECK, "Session expiry", before, summary);
        Ok(())
    }
}

/// The end a session kept in the cookie carries in its own value: a JWT's `exp`, koa-session's
/// `_expire` (milliseconds), or an `exp`/`expires`/`expires_at` member of its data.
fn expiry_inside(kind: &SessionKind) -> Option<OffsetDateTime> {
    if let Some(exp) = kind.expires_at {
        return OffsetDateTime::from_unix_timestamp(exp).ok();
    }
    let data: serde_json::Value = serde_json::from_str(kind.data.as_deref()?).ok()?;
    let object = data.as_object()?;
    let from_number = |n: f64, millis: bool| {
        let secs = if millis { n / 1000.0 } else { n };
        OffsetDateTime::from_unix_timestamp(secs as i64).ok()
    };
    for (key, millis) in [
        ("_expire", true),
        ("exp", false),
        ("expires", false),
        ("expires_at", false),
    ] {
        match object.get(key) {
            Some(serde_json::Value::Number(n)) => {
                let n = n.as_f64()?;
                // Seconds until the year 5138; beyond that they are milliseconds.
                return from_number(n, millis || n > 1e11);
            }
            Some(serde_json::Value::String(text)) => {
                return OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .ok();
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_with(data: &str) -> SessionKind {
        let mut kind = SessionKind::server_id("test", "");
        kind.data = Some(data.to_owned());
        kind
    }

    #[test]
    fn expiries_carried_in_the_value() {
        let koa = kind_with(r#"{"views":1,"_expire":1796428800000,"_maxAge":86400000}"#);
        assert_eq!(expiry_inside(&koa).unwrap().unix_timestamp(), 1_796_428_800);
        let jwt_like = kind_with(r#"{"views":1,"exp":1796428800}"#);
        assert_eq!(
            expiry_inside(&jwt_like).unwrap().unix_timestamp(),
            1_796_428_800
        );
        assert_eq!(expiry_inside(&kind_with(r#"{"views":1}"#)), None);
        let mut jwt = kind_with("{}");
        jwt.expires_at = Some(1_796_428_800);
        assert!(expiry_inside(&jwt).is_some());
    }
}
