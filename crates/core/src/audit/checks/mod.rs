//! The checks, run in order with fresh simulated browsers against the target. Each records a
//! [`CheckResult`], and a [`Finding`] with its evidence for every weakness it sees.

mod attributes;
mod burst;
mod contact;
mod exposure;
mod in_cookie;
mod logout;
mod server_id;
mod store;

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

/// Lifetimes longer than this make a session cookie "long-lived".
const LONG_LIVED: time::Duration = time::Duration::days(30);

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
        store: None,
        store_note: None,
    };
    let first = audit.first_contact().await?;
    if let Some(address) = &options.watch {
        // Opened once the first visitor has a session, so an empty store has one to tell
        // its format by.
        match crate::watch::Reader::open(address).await {
            Ok(reader) => audit.store = Some(reader),
            Err(e @ crate::watch::WatchError::Empty { .. }) => {
                audit.store_note = Some(e.to_string())
            }
            Err(e) => return Err(AuditError::Options(format!("--watch: {e}"))),
        }
    }
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
    audit.store_proofs(&first).await?;
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

/// A copy of what a browser held of the session, to send again from another browser.
struct Held {
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
    /// The target's own store, when the audit was given it (`--watch`).
    store: Option<crate::watch::Reader>,
    /// Why the store given is not read (it holds nothing: a session kept in the cookie).
    store_note: Option<String>,
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
    async fn replay(&mut self, copy: &Held) -> Result<Exchange, AuditError> {
        let browser = self.browser_holding(copy)?;
        let url = self.counter_url.clone();
        self.visit(&browser, &url).await
    }

    /// A fresh browser whose jar holds only `copy`: the session cookie (for the counter's host,
    /// host-only, no attributes) and its companions as they were.
    fn browser_holding(&self, copy: &Held) -> Result<Browser, AuditError> {
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
    fn copy_of(&self, browser: &Browser) -> Option<Held> {
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
        Some(Held { value, companions })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The counter's number is the last one in the page.
    #[test]
    fn the_last_number_is_the_count() {
        assert_eq!(last_number("Number of views 12"), Some(12));
        assert_eq!(last_number("no number"), None);
    }
}
