//! The checks, run in order with fresh simulated browsers against the target. Each records a
//! [`CheckResult`], and a [`Finding`] with its evidence for every weakness it sees.

use std::{sync::Arc, time::Instant};

use time::OffsetDateTime;
use tokio::task::JoinSet;

use crate::browser::{Browser, CookieRow, Exchange, SetCookie, VisitOptions, parse_http_url};

use super::{
    AuditError, AuditOptions, AuditReport, CheckResult, CheckStatus, Evidence, Finding, Progress,
    Route, SCHEMA, Severity,
    advice::advice,
    entropy,
    kind::{self, Kind, SessionKind, inner_id},
};

/// The user agent of the audit's browsers.
pub const USER_AGENT: &str = concat!("SessionLab/", env!("CARGO_PKG_VERSION"), " (session audit)");

/// The longest cookie value the id-strength test takes as an id: real ids are 16 to 64
/// characters, 100 or so when signed (`s:ID.SIG`); a longer value is data, not an id.
const MAX_ID_BYTES: usize = 512;

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

/// Lifetimes longer than this make a session cookie "long-lived".
const LONG_LIVED: time::Duration = time::Duration::days(30);

/// Requests in flight while collecting ids (few, so the ids arrive in about the order they
/// were issued).
const SAMPLE_CONCURRENCY: usize = 8;

/// How much of a body evidence keeps.
const BODY_EXCERPT: usize = 200;

/// The user the audit logs in as.
const AUDIT_USER: &str = "audit";

/// Runs every check against `options.url`, telling `progress` how far it has come.
pub async fn run(
    options: AuditOptions,
    progress: impl Fn(Progress) + Send + Sync,
) -> Result<AuditReport, AuditError> {
    let started = Instant::now();
    if options.samples < 100 {
        return Err(AuditError::Options(format!(
            "{} ids are too few to test (at least 100)",
            options.samples
        )));
    }
    let target = parse_http_url(&options.url)?;
    let counter_url = match &options.counter {
        Some(path) => target
            .join(path)
            .map_err(|e| AuditError::Options(format!("--counter {path}: {e}")))?
            .to_string(),
        None => target.to_string(),
    };
    let mut audit = Audit {
        options: &options,
        target: target.to_string(),
        counter_url,
        cookie_name: String::new(),
        checks: Vec::new(),
        findings: Vec::new(),
        seen: Vec::new(),
        session_values: Vec::new(),
        kind: SessionKind::server_id("a random id", ""),
        progress: &progress,
    };
    let first = audit.first_contact().await?;
    audit.identify(&first).await?;
    audit.cookie_attributes(&first);
    audit.expiry(&first).await?;
    let client_side = audit.kind.kind.client_side();
    if client_side {
        // No id to plant or to renew: the cookie is the session. Its signature is tested
        // under tampering instead.
        audit.not_for_client_side("session-fixation", "Session fixation (invented id)");
        audit.not_for_client_side("login-regenerates", "New id at login");
    } else {
        audit.fixation().await?;
        audit.login().await?;
    }
    audit.logout(&first).await?;
    if client_side {
        audit.client_data(&first).await?;
    }
    audit.lost_updates().await?;
    let (analysis, sampled) = if client_side {
        audit.not_for_client_side("session-id-strength", "Session id strength");
        (None, Vec::new())
    } else {
        audit.id_strength().await?
    };
    audit.exposure();
    let issued = audit.issued(sampled);
    audit
        .findings
        .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(b.id)));
    if !options.show_secrets {
        for finding in &mut audit.findings {
            let evidence = std::mem::take(&mut finding.evidence);
            finding.evidence = evidence.into_iter().map(super::redact::evidence).collect();
        }
    }
    Ok(AuditReport {
        schema: SCHEMA,
        target: audit.target,
        cookie_name: audit.cookie_name,
        kind: audit.kind,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        checks: audit.checks,
        findings: audit.findings,
        entropy: analysis,
        issued,
    })
}

/// A value the server never issued, sent to see whether it is taken as the session.
struct Forgery {
    /// The finding if it is.
    id: &'static str,
    /// The finding's title.
    title: &'static str,
    /// What was done, for the detail ("… (it answered “…”)").
    done: &'static str,
    /// What follows in the detail (what acceptance means), or nothing.
    then: &'static str,
    /// The evidence's caption.
    what: &'static str,
    /// Its name in the check's summary ("… accepted" / "… refused").
    called: &'static str,
}

/// A copy of what a browser held of the session, to send again from another browser.
struct Copy {
    /// The session cookie's value.
    value: String,
    /// The cookies that travel with it (cookie-session's `NAME.sig`), as they were.
    companions: Vec<CookieRow>,
}

/// What a new visitor saw first.
struct FirstContact {
    /// The exchange whose response set the session cookie.
    exchange: Exchange,
    /// The session cookie as set.
    cookie: SetCookie,
    /// The page a stranger gets (to tell a live session from a new one later).
    stranger_body: String,
    /// The names of the other cookies set with it (cookie-session signs into `NAME.sig`).
    siblings: Vec<String>,
}

struct Audit<'a> {
    options: &'a AuditOptions,
    target: String,
    counter_url: String,
    cookie_name: String,
    checks: Vec<CheckResult>,
    findings: Vec<Finding>,
    /// Every exchange made (but the id sample), to look for the id where it must not be.
    seen: Vec<Exchange>,
    /// Session cookie values and ids seen, to look for.
    session_values: Vec<String>,
    /// What the session cookie holds (an id until [`Audit::identify`] says otherwise).
    kind: SessionKind,
    progress: &'a (dyn Fn(Progress) + Send + Sync),
}

impl Audit<'_> {
    fn browser(&self) -> Result<Browser, AuditError> {
        Ok((self.options.browsers)()?)
    }

    fn tell(&self, stage: &'static str, done: usize, total: usize) {
        (self.progress)(Progress { stage, done, total });
    }

    fn check(
        &mut self,
        id: &'static str,
        name: &'static str,
        status: CheckStatus,
        summary: String,
    ) {
        self.checks.push(CheckResult {
            id,
            name,
            status,
            summary,
        });
    }

    fn find(
        &mut self,
        check: &'static str,
        id: &'static str,
        severity: Severity,
        title: impl Into<String>,
        detail: impl Into<String>,
        evidence: Vec<Evidence>,
    ) {
        let advice = advice(id);
        self.findings.push(Finding {
            id,
            check,
            severity,
            title: title.into(),
            detail: detail.into(),
            evidence,
            why: advice.why,
            fix: advice.fix,
            references: advice.references.to_vec(),
        });
    }

    /// Every session cookie value the server set: in the exchanges seen and the id sample.
    fn issued(&self, sampled: Vec<String>) -> Vec<String> {
        let mut issued = sampled;
        issued.extend(self.seen.iter().flat_map(|exchange| {
            exchange
                .set_cookies()
                .filter_map(SetCookie::parse)
                .filter(|c| c.name == self.cookie_name && !c.value.is_empty())
                .map(|c| c.value)
        }));
        issued.sort_unstable();
        issued.dedup();
        issued
    }

    async fn visit(&mut self, browser: &Browser, url: &str) -> Result<Exchange, AuditError> {
        let hops = browser.visit(url, VisitOptions::default()).await?;
        self.seen.extend(hops.iter().cloned());
        Ok(hops
            .into_iter()
            .last()
            .expect("a visit has at least one hop"))
    }

    /// The session cookie among `exchange`'s `Set-Cookie`s.
    fn session_cookie(&self, exchange: &Exchange) -> Option<SetCookie> {
        exchange
            .set_cookies()
            .filter_map(SetCookie::parse)
            .find(|c| c.name == self.cookie_name)
    }

    /// A new visitor's first request: which cookie is the session's, and what a stranger sees.
    async fn first_contact(&mut self) -> Result<FirstContact, AuditError> {
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
    async fn identify(&mut self, first: &FirstContact) -> Result<(), AuditError> {
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

    /// Records a check that does not apply to a session kept in the cookie.
    fn not_for_client_side(&mut self, id: &'static str, name: &'static str) {
        let why = match id {
            "session-fixation" => {
                "not for a session kept in the cookie: there is no id to plant (the signature \
                 is tested under tampering instead)"
            }
            "login-regenerates" => {
                "not for a session kept in the cookie: there is no id to renew at login"
            }
            _ => "not for a session kept in the cookie: its values are data, not random ids",
        };
        self.check(id, name, CheckStatus::Skipped, why.to_owned());
    }

    /// A fresh browser holding only `copy` visits the counter.
    async fn replay(&mut self, copy: &Copy) -> Result<Exchange, AuditError> {
        let browser = self.browser_holding(copy)?;
        let url = self.counter_url.clone();
        self.visit(&browser, &url).await
    }

    /// A fresh browser whose jar holds only `copy`: the session cookie (for the counter's host,
    /// host-only, no attributes) and its companions as they were.
    fn browser_holding(&self, copy: &Copy) -> Result<Browser, AuditError> {
        let browser = self.browser()?;
        let host = parse_http_url(&self.counter_url)?
            .host_str()
            .unwrap_or("")
            .to_owned();
        let session = CookieRow {
            name: self.cookie_name.clone(),
            value: cookie_safe(&copy.value),
            domain: host,
            host_only: true,
            path: "/".to_owned(),
            expires: None,
            http_only: false,
            secure: false,
            same_site: None,
            partition: None,
        };
        for row in std::iter::once(&session).chain(&copy.companions) {
            browser
                .put_cookie(row)
                .map_err(|e| AuditError::Options(e.to_string()))?;
        }
        Ok(browser)
    }

    /// What `browser` holds of the session: the session cookie's value and the cookies that
    /// travel with it (cookie-session's `NAME.sig`).
    fn copy_of(&self, browser: &Browser) -> Option<Copy> {
        let cookies = browser.cookies();
        let value = cookies
            .iter()
            .find(|c| c.name == self.cookie_name)?
            .value
            .clone();
        let prefix = format!("{}.", self.cookie_name);
        let companions = cookies
            .into_iter()
            .filter(|c| c.name.starts_with(&prefix))
            .collect();
        Some(Copy { value, companions })
    }

    /// Whether `exchange` continued a session rather than starting one: its count is past a
    /// stranger's (or, with no count, its page is not a stranger's).
    fn continues(first: &FirstContact, exchange: &Exchange) -> bool {
        match (
            last_number(&exchange.body),
            last_number(&first.stranger_body),
        ) {
            (Some(seen), Some(stranger)) => seen > stranger,
            _ => exchange.body != first.stranger_body,
        }
    }

    /// The threats of a session kept in the cookie: its data readable, unsigned data forged, a
    /// changed signature accepted (and a JWT's `alg: none`), an older copy rolling the state
    /// back, and how long a copy stays good.
    async fn client_data(&mut self, first: &FirstContact) -> Result<(), AuditError> {
        const CHECK: &str = "client-side-session";
        const NAME: &str = "The session kept in the cookie";
        self.tell("the data in the cookie", 0, 1);
        let before = self.findings.len();
        let name = self.cookie_name.clone();
        let found = self.kind.clone();
        let shown = vec![evidence(
            "the response that set the session cookie",
            &first.exchange,
        )];
        let mut seen = vec![found.kind.describe().to_owned()];
        // Readable data.
        if let Some(data) = &found.data {
            let sensitive = kind::sensitive_fields(data);
            let (severity, also) = if sensitive.is_empty() {
                (Severity::Low, String::new())
            } else {
                (
                    Severity::Medium,
                    format!(
                        " It names fields that look private: {}.",
                        sensitive.join(", ")
                    ),
                )
            };
            self.find(
                CHECK,
                "client-data-readable",
                severity,
                format!("The session's data is readable in the cookie “{name}”"),
                format!(
                    "Anyone who holds the cookie (the user, a script if it is not HttpOnly, a \
                     log) reads {}: {}.{also}",
                    if found.kind == Kind::Jwt {
                        "the token's claims"
                    } else {
                        "the session's data"
                    },
                    excerpt(data, 200)
                ),
                shown.clone(),
            );
            seen.push("its data readable".to_owned());
        }
        // A session of the audit's own, to change and send back.
        let base_browser = self.browser()?;
        let url = self.counter_url.clone();
        self.visit(&base_browser, &url).await?;
        let base = self.copy_of(&base_browser).unwrap_or_else(|| Copy {
            value: first.cookie.value.clone(),
            companions: Vec::new(),
        });
        let value = kind::unwrap_value(&base.value);
        let with_value = |value: String| Copy {
            value,
            companions: base.companions.clone(),
        };
        // Unsigned data: change it and see whether the server believes it.
        if found.kind == Kind::PlainData
            && let Some(changed) = kind::forged(&value)
        {
            let probe = Forgery {
                id: "client-data-unsigned",
                title: "Anyone can change the session's data: nothing signs it",
                done: "The audit changed the data in the cookie and the server took it as the \
                       session",
                then: "",
                what: "the changed data, sent back",
                called: "changed data",
            };
            self.try_forgery(first, &with_value(changed), &probe, &mut seen)
                .await?;
        }
        // A changed signature: in the value, or in the cookie beside it that carries it.
        let tampered = match kind::tampered(&value, &found) {
            Some(tampered) => Some(with_value(tampered)),
            None => base.companions.first().map(|signature| {
                let mut copy = with_value(value.clone());
                copy.companions[0].value = kind::altered(&signature.value);
                copy
            }),
        };
        if let Some(tampered) = tampered {
            let probe = Forgery {
                id: "client-signature-unchecked",
                title: "The server accepts the session with a changed signature",
                done: "One character of the cookie's signature was changed; the server still \
                       took it as the session",
                then: "",
                what: "the changed signature, sent back",
                called: "a changed signature",
            };
            self.try_forgery(first, &tampered, &probe, &mut seen)
                .await?;
        }
        if found.kind == Kind::Jwt {
            self.jwt_claims(first, &found, &base, &mut seen).await?;
        }
        self.rollback(&mut seen).await?;
        // How long a stolen copy is good for.
        match found.kind {
            Kind::Jwt => {}
            Kind::EncryptedData => {
                seen.push("its expiry, if it carries one, is not visible".to_owned());
            }
            _ => match found.issued_at {
                Some(at) => seen.push(format!(
                    "signed at {} (the server can refuse it after a maximum age it does not show)",
                    unix_text(at)
                )),
                None if !carries_expiry(found.data.as_deref()) => {
                    self.find(
                        CHECK,
                        "client-no-expiry",
                        Severity::Medium,
                        format!(
                            "A copy of the cookie “{name}” is good for as long as the secret is"
                        ),
                        "The value carries no time the server could check (no timestamp, no \
                         expiry in the data): the cookie's own lifetime binds only the browser, \
                         so a copy taken once keeps working."
                            .to_owned(),
                        shown.clone(),
                    );
                    seen.push("no expiry inside".to_owned());
                }
                None => seen.push("an expiry inside its data".to_owned()),
            },
        }
        seen.push(format!(
            "{} bytes",
            first.cookie.name.len() + first.cookie.value.len()
        ));
        self.close(CHECK, NAME, before, seen.join("; "));
        Ok(())
    }

    /// A JWT's `alg: none` and its times.
    async fn jwt_claims(
        &mut self,
        first: &FirstContact,
        found: &SessionKind,
        base: &Copy,
        seen: &mut Vec<String>,
    ) -> Result<(), AuditError> {
        const CHECK: &str = "client-side-session";
        if let Some(unsigned) = kind::alg_none(&kind::unwrap_value(&base.value)) {
            let copy = Copy {
                value: unsigned,
                companions: base.companions.clone(),
            };
            let probe = Forgery {
                id: "jwt-alg-none",
                title: "The server accepts a JWT with alg: none",
                done: "The token with its header changed to alg: none and no signature still \
                       opened the session",
                then: ": anyone can write any claims",
                what: "the alg: none token, sent",
                called: "alg: none",
            };
            self.try_forgery(first, &copy, &probe, seen).await?;
        }
        let start = found
            .issued_at
            .or(found.not_before)
            .unwrap_or_else(|| OffsetDateTime::now_utc().unix_timestamp());
        match found.expires_at {
            None => {
                self.find(
                    CHECK,
                    "jwt-no-exp",
                    Severity::Medium,
                    "The JWT never expires (no exp claim)",
                    format!(
                        "Its claims are {}: with no exp, a copy is good until the signing key \
                         changes.",
                        excerpt(found.data.as_deref().unwrap_or(""), 120)
                    ),
                    vec![evidence("the response that set the token", &first.exchange)],
                );
                seen.push("no exp".to_owned());
            }
            Some(exp) => {
                let span = time::Duration::seconds(exp.saturating_sub(start));
                if span > LONG_LIVED {
                    self.find(
                        CHECK,
                        "jwt-long-lived",
                        Severity::Low,
                        format!("The JWT is good for {} days", span.whole_days()),
                        format!(
                            "exp is {} days after {}: a stolen copy works that long, logout or not.",
                            span.whole_days(),
                            if found.issued_at.is_some() { "iat" } else { "now" }
                        ),
                        vec![evidence("the response that set the token", &first.exchange)],
                    );
                }
                seen.push(format!(
                    "exp {} ({} after {})",
                    unix_text(exp),
                    crate::words::duration_text(span),
                    if found.issued_at.is_some() {
                        "iat"
                    } else {
                        "now"
                    }
                ));
            }
        }
        Ok(())
    }

    /// Sends `copy` (a value the server never issued) from a fresh browser: if the server takes
    /// it as the session, that is `probe`'s finding (high). `seen` says which it was.
    async fn try_forgery(
        &mut self,
        first: &FirstContact,
        copy: &Copy,
        probe: &Forgery,
        seen: &mut Vec<String>,
    ) -> Result<(), AuditError> {
        let answer = self.replay(copy).await?;
        if Self::continues(first, &answer) {
            self.find(
                "client-side-session",
                probe.id,
                Severity::High,
                probe.title,
                format!(
                    "{} (it answered “{}”){}.",
                    probe.done,
                    excerpt(&answer.body, 60),
                    probe.then
                ),
                vec![evidence(probe.what, &answer)],
            );
            seen.push(format!("{} accepted", probe.called));
        } else {
            seen.push(format!("{} refused", probe.called));
        }
        Ok(())
    }

    /// Does an older copy of the cookie bring an older state back?
    async fn rollback(&mut self, seen: &mut Vec<String>) -> Result<(), AuditError> {
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        let one = self.visit(&browser, &url).await?;
        let Some(old) = self.copy_of(&browser) else {
            return Ok(());
        };
        self.visit(&browser, &url).await?;
        let later = self.visit(&browser, &url).await?;
        let (Some(then), Some(now)) = (last_number(&one.body), last_number(&later.body)) else {
            seen.push("rollback not tested (the counter shows no number)".to_owned());
            return Ok(());
        };
        let again = self.replay(&old).await?;
        match last_number(&again.body) {
            Some(back) if back == then + 1 && back < now + 1 => {
                self.find(
                    "client-side-session",
                    "client-rollback",
                    Severity::Medium,
                    "An older copy of the cookie rolls the session back",
                    format!(
                        "After the count reached {now}, the copy of the cookie from count {then} \
                         answered {back}: whatever the session held then (a balance, a role, a \
                         login) comes back with it."
                    ),
                    vec![
                        evidence("the later state", &later),
                        evidence("the older copy, sent back", &again),
                    ],
                );
                seen.push("an older copy rolls it back".to_owned());
            }
            _ => seen.push("an older copy does not roll it back".to_owned()),
        }
        Ok(())
    }

    fn cookie_attributes(&mut self, first: &FirstContact) {
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

    /// Records the check as passed or failed by whether it added findings since `before`.
    fn close(&mut self, id: &'static str, name: &'static str, before: usize, summary: String) {
        let status = if self.findings[before..]
            .iter()
            .any(|f| f.severity > Severity::Info)
        {
            CheckStatus::Failed
        } else {
            CheckStatus::Passed
        };
        self.check(id, name, status, summary);
    }

    /// What the cookie and the server's answers show of the session's end: a lifetime, and
    /// whether each answer renews it (an idle timeout) or not (an absolute one).
    async fn expiry(&mut self, first: &FirstContact) -> Result<(), AuditError> {
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

    /// Does the server keep a session under an id the client invented?
    async fn fixation(&mut self) -> Result<(), AuditError> {
        const CHECK: &str = "session-fixation";
        self.tell("fixation", 0, 1);
        let before = self.findings.len();
        let sample = self.session_values.first().cloned().unwrap_or_default();
        let invented = invent_like(&sample);
        let browser = self.browser_holding(&Copy {
            value: invented.clone(),
            companions: Vec::new(),
        })?;
        let url = self.counter_url.clone();
        let one = self.visit(&browser, &url).await?;
        let two = self.visit(&browser, &url).await?;
        let replaced = [&one, &two].iter().any(|e| {
            self.session_cookie(e)
                .is_some_and(|c| c.value != invented && !c.value.is_empty())
        });
        let echoed = self
            .session_cookie(&one)
            .is_some_and(|c| c.value == invented);
        let adopted = echoed || (!replaced && one.body != two.body);
        if adopted {
            self.find(
                CHECK,
                "session-fixation-adopted",
                Severity::High,
                "The server adopts a session id the client invented",
                format!(
                    "A browser sent {}={} (made up by the audit); the server kept a session under it: {}.",
                    self.cookie_name,
                    crate::words::short(&invented),
                    if echoed {
                        "it set the very same id back"
                    } else {
                        "the next request with it continued the same state, with no new id"
                    }
                ),
                vec![
                    evidence("the invented id, first request", &one),
                    evidence("the invented id, second request", &two),
                ],
            );
        }
        let summary = if adopted {
            "the server kept a session under an id the client made up".to_owned()
        } else {
            "an id the client made up was replaced by one the server issued".to_owned()
        };
        self.close(CHECK, "Session fixation (invented id)", before, summary);
        Ok(())
    }

    /// Does the id change at login?
    async fn login(&mut self) -> Result<(), AuditError> {
        const CHECK: &str = "login-regenerates";
        const NAME: &str = "New id at login";
        let Some(route) = self.options.login.clone() else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "give --login (e.g. \"/login?user={user}\" or \"POST /login user={user}\") to check".to_owned(),
            );
            return Ok(());
        };
        self.tell("login", 0, 1);
        let before = self.findings.len();
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        self.visit(&browser, &url).await?;
        let id_before = self.jar_value(&browser);
        let exchange = self.follow(&browser, &route).await?;
        let id_after = self.jar_value(&browser);
        if exchange.status >= 400 {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                format!("the login route answered {}", exchange.status),
            );
            return Ok(());
        }
        if let Some(value) = &id_after {
            self.session_values.push(value.clone());
        }
        let summary = match (&id_before, &id_after) {
            (Some(old), Some(new)) if old == new => {
                self.find(
                    CHECK,
                    "session-fixation-login",
                    Severity::Medium,
                    "The session id does not change at login",
                    format!(
                        "Before and after {route} the browser holds the same {}={}.",
                        self.cookie_name,
                        crate::words::short(old)
                    ),
                    vec![evidence("the login", &exchange)],
                );
                "the same id before and after login".to_owned()
            }
            (Some(_), Some(_)) => {
                // A planted id is dropped at login: adopting it risks only what a session
                // holds before login.
                if let Some(adopted) = self
                    .findings
                    .iter_mut()
                    .find(|f| f.id == "session-fixation-adopted")
                {
                    adopted.severity = Severity::Medium;
                    adopted.detail.push_str(
                        " Login gives a new id, so a planted id never becomes a logged-in \
                         session: what is at risk is what the session holds before login.",
                    );
                }
                "a new id after login".to_owned()
            }
            (None, Some(_)) => "a session first made at login".to_owned(),
            (_, None) => "no session cookie after login".to_owned(),
        };
        self.close(CHECK, NAME, before, summary);
        Ok(())
    }

    /// Does the old cookie still open the session after logout?
    async fn logout(&mut self, first: &FirstContact) -> Result<(), AuditError> {
        const CHECK: &str = "logout-invalidates";
        const NAME: &str = "Logout ends the session";
        let Some(route) = self.options.logout.clone() else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "give --logout (e.g. /logout) to check".to_owned(),
            );
            return Ok(());
        };
        self.tell("logout", 0, 1);
        let before = self.findings.len();
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        if let Some(login) = self.options.login.clone() {
            self.visit(&browser, &url).await?;
            self.follow(&browser, &login).await?;
        }
        self.visit(&browser, &url).await?;
        let live = self.visit(&browser, &url).await?;
        let Some(copy) = self.copy_of(&browser) else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "no session to log out of".to_owned(),
            );
            return Ok(());
        };
        let out = self.follow(&browser, &route).await?;
        let cleared = out.set_cookies().filter_map(SetCookie::parse).any(|c| {
            c.name == self.cookie_name
                && (c.is_removal(OffsetDateTime::now_utc()) || c.value.is_empty())
        });
        // The old cookie, replayed by another browser.
        let again = self.replay(&copy).await?;
        let replaced = self
            .session_cookie(&again)
            .is_some_and(|c| c.value != copy.value);
        let client_side = self.kind.kind.client_side();
        // A session kept in the cookie answers a replay with a new value (its data changed):
        // whether the old state went on is what tells.
        let alive = if client_side {
            Self::continues(first, &again)
        } else {
            !replaced && again.body != first.stranger_body && again.body != live.body
        };
        if alive && client_side {
            self.find(
                CHECK,
                "logout-not-revocable",
                Severity::High,
                "Logout cannot end the session: a copy of the cookie still gets in",
                format!(
                    "The cookie is the session itself ({}). After {route}, the cookie from before \
                     it, replayed from another browser, still opened the session (it answered \
                     “{}” where a stranger gets “{}”): the server keeps nothing it could delete.",
                    self.kind.kind.describe(),
                    excerpt(&again.body, 60),
                    excerpt(&first.stranger_body, 60)
                ),
                vec![
                    evidence("the logout", &out),
                    evidence("the old cookie replayed", &again),
                ],
            );
        } else if alive {
            self.find(
                CHECK,
                "logout-session-alive",
                Severity::High,
                "The session outlives logout",
                format!(
                    "After {route}, the old cookie, replayed from another browser, still opened the session (it answered “{}” where a stranger gets “{}”).",
                    excerpt(&again.body, 60),
                    excerpt(&first.stranger_body, 60)
                ),
                vec![evidence("the logout", &out), evidence("the old cookie replayed", &again)],
            );
        }
        if !cleared {
            self.find(
                CHECK,
                "logout-cookie-kept",
                Severity::Low,
                "Logout does not clear the session cookie",
                format!(
                    "The answer to {route} sets no expired {} cookie.",
                    self.cookie_name
                ),
                vec![evidence("the logout", &out)],
            );
        }
        let summary = match (alive, cleared) {
            (false, true) => "the session is deleted and the cookie cleared".to_owned(),
            (false, false) => "the session is gone, but the cookie is not cleared".to_owned(),
            (true, _) => "the old cookie still opens the session".to_owned(),
        };
        self.close(CHECK, NAME, before, summary);
        Ok(())
    }

    /// A burst of concurrent requests on one session: are all its changes kept?
    async fn lost_updates(&mut self) -> Result<(), AuditError> {
        const CHECK: &str = "lost-updates";
        const NAME: &str = "Concurrent requests of one session";
        const ROUNDS: usize = 2;
        let burst = self.options.burst.max(2);
        self.tell("concurrency", 0, ROUNDS * burst);
        let before = self.findings.len();
        let browser = self.browser()?;
        let url = self.counter_url.clone();
        let start = self.visit(&browser, &url).await?;
        let held = self.jar_value(&browser);
        let Some(first) = last_number(&start.body) else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "the counter's answer holds no number (give --counter a route that counts)"
                    .to_owned(),
            );
            return Ok(());
        };
        // Two rounds: the first also opens the connections, so the second's requests leave
        // at once, as a busy page's do. Each round's requests carry the cookies of its start
        // (see `Browser::cookies_at_start`), so the answer does not hang on the scheduler.
        let mut failed = 0;
        for round in 0..ROUNDS {
            let cookies = Arc::new(browser.cookies_at_start(&url, VisitOptions::default())?);
            let mut tasks = JoinSet::new();
            for _ in 0..burst {
                let (browser, url, cookies) = (browser.clone(), url.clone(), cookies.clone());
                tasks.spawn(async move {
                    browser
                        .visit_carrying(&url, VisitOptions::default(), &cookies)
                        .await
                });
            }
            while let Some(done) = tasks.join_next().await {
                if !matches!(done, Ok(Ok(_))) {
                    failed += 1;
                }
            }
            self.tell("concurrency", (round + 1) * burst, ROUNDS * burst);
        }
        let sent = ROUNDS * burst;
        let end = self.visit(&browser, &url).await?;
        // The browser follows the cookie as it changes (a session kept in the cookie changes
        // it on every answer); only a browser that never got one has no session to test.
        if held.is_none() || self.jar_value(&browser).is_none() {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "the browser held no session cookie through the burst".to_owned(),
            );
            return Ok(());
        }
        let Some(last) = last_number(&end.body) else {
            self.check(
                CHECK,
                NAME,
                CheckStatus::Skipped,
                "the last answer holds no number".to_owned(),
            );
            return Ok(());
        };
        let expected = first + sent as i64 + 1 - failed;
        let lost = expected - last;
        if lost > 0 {
            self.find(
                CHECK,
                "lost-updates",
                Severity::Medium,
                format!("{lost} of {sent} concurrent updates lost"),
                format!(
                    "{ROUNDS} rounds of {burst} requests at once on one session: the count went from {first} to {last} where {expected} was due.{}",
                    if self.kind.kind.client_side() {
                        " Each request carried the same cookie and each answer set its own: the copy the browser kept last wins, and a lock on the server cannot help (there is no session there to lock)."
                    } else {
                        ""
                    }
                ),
                vec![evidence("before the burst", &start), evidence("after the burst", &end)],
            );
        }
        let summary = format!(
            "{ROUNDS} × {burst} at once: {first} to {last}, {}",
            if lost > 0 {
                format!("{lost} lost")
            } else {
                "all counted".to_owned()
            }
        );
        self.close(CHECK, NAME, before, summary);
        Ok(())
    }

    /// Collects fresh ids and tests them; values over [`MAX_ID_BYTES`] are left out.
    /// The ids' strength, and the cookie values collected for it.
    async fn id_strength(
        &mut self,
    ) -> Result<(Option<entropy::Analysis>, Vec<String>), AuditError> {
        const CHECK: &str = "session-id-strength";
        const NAME: &str = "Session id strength";
        let total = self.options.samples;
        self.tell("collecting ids", 0, total);
        let browser = self.browser()?;
        browser.set_cookies_enabled(false);
        let url = Arc::new(self.counter_url.clone());
        let mut values = Vec::with_capacity(total);
        let mut tasks = JoinSet::new();
        let mut next = 0;
        let deadline = Instant::now() + super::STAGE_TIMEOUT;
        while values.len() < total {
            while next < total && tasks.len() < SAMPLE_CONCURRENCY {
                let (browser, url) = (browser.clone(), url.clone());
                tasks.spawn(async move { browser.visit(&url, VisitOptions::default()).await });
                next += 1;
            }
            let Some(done) = tasks.join_next().await else {
                break;
            };
            if let Ok(Ok(hops)) = done
                && let Some(cookie) = hops.iter().find_map(|e| self.session_cookie(e))
            {
                values.push(cookie.value);
                if values.len() % 50 == 0 {
                    self.tell("collecting ids", values.len(), total);
                }
            }
            if next >= total && tasks.is_empty() || Instant::now() > deadline {
                break;
            }
        }
        self.tell("testing ids", 0, 1);
        // A value too large to be an id (client-side data, a hostile server's megabyte) is
        // not fed to the randomness tests, whose cost grows with every bit.
        let collected = values.len();
        values.retain(|v| v.len() <= MAX_ID_BYTES);
        let too_large = collected - values.len();
        if values.len() < 100 {
            let why = if too_large > 0 {
                format!(
                    "{too_large} of {collected} session cookie values are over {MAX_ID_BYTES} \
                     bytes, too large to be session ids (data kept in the cookie?)"
                )
            } else {
                format!(
                    "only {} of {total} fresh visits got a session cookie",
                    values.len()
                )
            };
            self.check(CHECK, NAME, CheckStatus::Skipped, why);
            return Ok((None, values));
        }
        let format = inner_id(&values[0]).map(|(_, format)| format);
        let ids: Vec<String> = values
            .iter()
            .map(|v| inner_id(v).map_or_else(|| v.clone(), |(id, _)| id))
            .collect();
        let before = self.findings.len();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let analysis = entropy::analyse(&ids, self.options.alpha, now);
        let example = ids[0].clone();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        let duplicates = ids.len() - unique.len();
        let seen = format!(
            "{} ids like {} ({}{}); {}",
            ids.len(),
            crate::words::short(&example),
            analysis.encoding.describe(),
            format
                .map(|f| format!(", taken from {f}"))
                .unwrap_or_default(),
            entropy_summary(&analysis)
        );
        if duplicates > 0 {
            self.find(
                CHECK,
                "session-id-duplicate",
                Severity::High,
                format!("{duplicates} new visitors got an id already given"),
                seen.clone(),
                vec![],
            );
        }
        if let Some(pattern) = &analysis.pattern {
            self.find(
                CHECK,
                "session-id-guessable",
                Severity::High,
                format!("Session ids are predictable: {pattern}"),
                seen.clone(),
                vec![],
            );
        } else if analysis.entropy_bits() < entropy::MIN_BITS as f64 {
            self.find(
                CHECK,
                "session-id-weak",
                Severity::High,
                format!(
                    "Session ids carry about {:.0} bits of entropy (at least {} needed)",
                    analysis.entropy_bits(),
                    entropy::MIN_BITS
                ),
                seen.clone(),
                vec![],
            );
        }
        self.close(CHECK, NAME, before, seen);
        Ok((Some(analysis), values))
    }

    /// The id where it must not be (URLs, bodies), and responses that set it without
    /// Cache-Control.
    fn exposure(&mut self) {
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

    /// Follows a route (GET or POST form), with `{user}` filled in.
    async fn follow(&mut self, browser: &Browser, route: &Route) -> Result<Exchange, AuditError> {
        let path = route.path.replace("{user}", AUDIT_USER);
        let url = parse_http_url(&self.target)?
            .join(&path)
            .map_err(|e| AuditError::Options(format!("{route}: {e}")))?
            .to_string();
        let hops = match &route.body {
            Some(body) => {
                browser
                    .submit(
                        &url,
                        &body.replace("{user}", AUDIT_USER),
                        VisitOptions::default(),
                    )
                    .await?
            }
            None => browser.visit(&url, VisitOptions::default()).await?,
        };
        self.seen.extend(hops.iter().cloned());
        // The first hop is the route's own answer (its Set-Cookie); redirects follow.
        Ok(hops
            .into_iter()
            .next()
            .expect("a visit has at least one hop"))
    }

    /// The session cookie's value in `browser`'s jar.
    fn jar_value(&self, browser: &Browser) -> Option<String> {
        browser
            .cookies()
            .into_iter()
            .find(|c| c.name == self.cookie_name)
            .map(|c| c.value)
    }
}

fn entropy_summary(analysis: &entropy::Analysis) -> String {
    if let Some(pattern) = &analysis.pattern {
        return format!("predictable: {pattern}");
    }
    let fips = if analysis.fips.is_empty() {
        String::new()
    } else {
        let passed: Vec<String> = analysis
            .fips
            .iter()
            .map(|f| format!("{} {}/{}", f.test, f.passed, f.blocks))
            .collect();
        format!("; FIPS 140-2 blocks passed: {}", passed.join(", "))
    };
    if !analysis.whole_bits() {
        // The bit-level tests do not apply (uneven bits by construction): say what was judged.
        return format!(
            "about {:.0} bits of effective entropy ({} of {} character positions evenly spread and \
             independent at {})",
            analysis.entropy_bits(),
            analysis.uniform_characters,
            analysis.length,
            analysis.alpha
        );
    }
    format!(
        "about {:.0} bits of effective entropy ({} of {} bit positions pass at {}; {} constant){fips}",
        analysis.entropy_bits(),
        analysis.effective_bits,
        analysis.bit_positions,
        analysis.alpha,
        analysis.constant_bits
    )
}

/// `value` as a cookie may carry it: characters a cookie value cannot hold (quotes, commas,
/// semicolons, spaces, backslashes, anything outside ASCII) percent-encoded.
fn cookie_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_graphic() && !matches!(byte, b'"' | b',' | b';' | b'\\') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A Unix time as a UTC date and time ("2026-12-04 10:00 UTC").
fn unix_text(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at).map_or_else(
        |_| format!("{at} (Unix time)"),
        |t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        },
    )
}

/// Whether session data (JSON) names an expiry of its own.
fn carries_expiry(data: Option<&str>) -> bool {
    let Some(data) = data else { return false };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(data) else {
        return false;
    };
    map.keys().any(|key| {
        let key = key.to_ascii_lowercase();
        [
            "exp",
            "expires",
            "_expires",
            "expiry",
            "expires_at",
            "iat",
            "issued",
        ]
        .iter()
        .any(|name| key == *name)
    })
}

/// The evidence of one exchange.
fn evidence(what: &str, exchange: &Exchange) -> Evidence {
    Evidence {
        what: what.to_owned(),
        request: format!("{} {}", exchange.method, exchange.url),
        cookie: exchange.cookie_header.clone(),
        status: exchange.status,
        set_cookie: exchange.set_cookies().map(str::to_owned).collect(),
        headers: exchange
            .response_headers
            .iter()
            .filter(|(n, _)| {
                n.eq_ignore_ascii_case("cache-control") || n.eq_ignore_ascii_case("location")
            })
            .cloned()
            .collect(),
        body: excerpt(&exchange.body, BODY_EXCERPT),
    }
}

fn excerpt(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}

/// The count a counter page shows ("Number of views 12" → 12), as a number to subtract from.
fn last_number(body: &str) -> Option<i64> {
    crate::browser::views_shown(body).and_then(|n| i64::try_from(n).ok())
}

/// A value shaped like `sample` that no server issued: the id part made up from the same
/// characters (a signed format keeps its shape, with a made-up signature).
fn invent_like(sample: &str) -> String {
    let made_up = |like: &str| -> String {
        let chars: Vec<char> = {
            let mut set: Vec<char> = like.chars().collect();
            set.sort_unstable();
            set.dedup();
            if set.len() < 2 {
                "abcdefghijklmnopqrstuvwxyz0123456789".chars().collect()
            } else {
                set
            }
        };
        (0..like.chars().count().max(16))
            .map(|_| chars[rand::random_range(0..chars.len())])
            .collect()
    };
    match inner_id(sample) {
        Some((id, format)) if format.starts_with("express") => {
            format!(
                "s%3A{}.{}",
                made_up(&id),
                made_up(
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijk"
                )
            )
        }
        Some((id, _)) => {
            let signature: String =
                made_up("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
            format!("{}={}", &signature[..43.min(signature.len())], made_up(&id))
        }
        None => made_up(sample),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// express-session's and the cookie crate's signed values give up their ids.
    #[test]
    fn signed_values_give_up_their_ids() {
        assert_eq!(
            inner_id("s%3AabcDEF123.sigSIG")
                .map(|(id, _)| id)
                .as_deref(),
            Some("abcDEF123")
        );
        let signed = format!("{}{}", "A".repeat(43) + "=", "Xyz_-0123456789abcdefg");
        assert_eq!(
            inner_id(&signed).map(|(id, _)| id).as_deref(),
            Some("Xyz_-0123456789abcdefg")
        );
        assert_eq!(inner_id("plainvalue"), None);
        let invented = invent_like(&signed);
        assert_eq!(invented.len(), signed.len());
        assert!(inner_id(&invented).is_some());
        assert_ne!(invented, signed);
    }

    /// Django's ids (32 characters of a-z0-9, not a whole number of bits each) are summed up by
    /// the character tests that judged them, never as "0 of 192 bit positions pass" beside a
    /// pass.
    #[test]
    fn the_summary_says_what_judged_the_ids() {
        let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789".chars().collect();
        let django: Vec<String> = (0..400)
            .map(|_| {
                (0..32)
                    .map(|_| alphabet[rand::random_range(0..alphabet.len())])
                    .collect()
            })
            .collect();
        let analysis = entropy::analyse(&django, entropy::DEFAULT_ALPHA, 0);
        let summary = entropy_summary(&analysis);
        assert!(summary.contains("character positions"), "{summary}");
        assert!(!summary.contains("bit positions"), "{summary}");
        assert!(analysis.entropy_bits() > 150.0, "{summary}");
    }

    /// The counter's number is the last one in the page.
    #[test]
    fn the_last_number_is_the_count() {
        assert_eq!(last_number("Number of views 12"), Some(12));
        assert_eq!(last_number("no number"), None);
    }
}
