//! Auditing any server's sessions with simulated browsers: what the session cookie holds (an
//! id, the data itself, a JWT: [`SessionKind`]), the cookie's attributes, the ids' strength,
//! fixation, logout, exposure, expiry and lost updates — or, for a session kept in the cookie,
//! its readable data, tampering, rollback and the copy logout cannot revoke — each finding with a
//! severity, the exchange that shows it, why it matters, the fix and its references (OWASP
//! WSTG, ZAP rule, CWE). Headless: `session-lab audit`, the window's Audit tab and the tests
//! share it.

mod advice;
mod checks;
pub mod entropy;
mod kind;
mod redact;
mod render;

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use serde::Serialize;

use crate::browser::{Browser, BrowserError};

pub use checks::{USER_AGENT, run};
pub use kind::{Kind, SessionKind, decode as decode_cookie};
pub use render::{counts, markdown, text};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Info,
    /// A weakness with little direct risk.
    Low,
    /// A weakness an attacker can use with some effort.
    Medium,
    /// A weakness that gives sessions away.
    High,
}

impl Severity {
    /// The word: "info", "low", "medium", "high".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "info" => Ok(Self::Info),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            _ => Err(format!(
                "“{text}” is not a severity (info, low, medium, high)"
            )),
        }
    }
}

/// A route the audit may use: `GET` a path, or `POST` a form to it. `{user}` stands for the
/// user the audit logs in as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    /// "GET" or "POST".
    pub method: &'static str,
    /// The path (and query), relative to the target.
    pub path: String,
    /// The form body of a POST.
    pub body: Option<String>,
}

/// A login or logout route that cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadRoute {
    /// `GET /path body`: a body after the path of a GET.
    #[error("“{0}”: only a POST takes a form body")]
    BodyOnGet(String),
    /// `POST` alone, or nothing.
    #[error("“{0}” names no path")]
    NoPath(String),
}

impl FromStr for Route {
    type Err = BadRoute;

    /// `/login?user={user}`, `GET /logout`, or `POST /login user={user}&password=x`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (method, rest) = match text.split_once(char::is_whitespace) {
            Some((m, rest)) if m.eq_ignore_ascii_case("GET") => ("GET", rest.trim()),
            Some((m, rest)) if m.eq_ignore_ascii_case("POST") => ("POST", rest.trim()),
            _ => ("GET", text),
        };
        let (path, body) = match rest.split_once(char::is_whitespace) {
            Some((path, body)) if method == "POST" => (path, Some(body.trim().to_owned())),
            Some(_) => return Err(BadRoute::BodyOnGet(text.to_owned())),
            None => (rest, (method == "POST").then(String::new)),
        };
        if path.is_empty() {
            return Err(BadRoute::NoPath(text.to_owned()));
        }
        Ok(Self {
            method,
            path: path.to_owned(),
            body,
        })
    }
}

/// As the report writes it: a form field that looks like a secret (a password, a token) shows
/// `•••` instead of its value, so a report can be shared without the login's password.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            Some(body) => write!(f, "{} {} {}", self.method, self.path, redact_form(body)),
            None => write!(f, "{} {}", self.method, self.path),
        }
    }
}

/// `user=ann&password=hunter2` → `user=ann&password=•••`.
fn redact_form(body: &str) -> String {
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_field(key) => format!("{key}=•••"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_secret_field(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key", "otp"]
        .iter()
        .any(|word| key.contains(word))
}

/// Makes a fresh simulated browser (its own empty jar) for each part of the audit: a probe that
/// keeps every cookie the server sets ([`Browser::client`]), so the server is tested, not a
/// browser's rules.
pub type BrowserFactory = Arc<dyn Fn() -> Result<Browser, BrowserError> + Send + Sync>;

/// What to audit and how.
#[derive(Clone)]
pub struct AuditOptions {
    /// The target: the page a new visitor opens.
    pub url: String,
    /// A route that changes the session (and shows a number that counts, for the lost-update
    /// check); by default the target itself.
    pub counter: Option<String>,
    /// A route that logs in, with `{user}` for the user.
    pub login: Option<Route>,
    /// A route that logs out.
    pub logout: Option<Route>,
    /// The session cookie's name, if the audit should not guess it.
    pub cookie: Option<String>,
    /// How many fresh ids to collect for the strength tests (at least 100).
    pub samples: usize,
    /// How many requests the lost-update burst sends at once.
    pub burst: usize,
    /// The significance level of the randomness tests.
    pub alpha: f64,
    /// Makes the audit's browsers.
    pub browsers: BrowserFactory,
    /// Whether evidence shows cookie values whole (`--show-secrets`); by default each shows as
    /// its start and length (`mBAU…(68 bytes)`).
    pub show_secrets: bool,
    /// The target's own session store, read-only (`--watch`): the audit then proves from the
    /// store what it could only infer from answers (the logout deleted the record, login
    /// removed the old one, the record's lifetime, anonymous requests' records, what a
    /// session holds).
    pub watch: Option<crate::watch::StoreAddress>,
}

impl AuditOptions {
    /// The defaults for `url`: 1,000 ids, a burst of 64, tests at 0.1 %, plain browsers.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            counter: None,
            login: None,
            logout: None,
            cookie: None,
            samples: 1000,
            burst: 64,
            alpha: entropy::DEFAULT_ALPHA,
            browsers: Arc::new(|| Browser::client(checks::USER_AGENT)),
            show_secrets: false,
            watch: None,
        }
    }
}

impl fmt::Debug for AuditOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditOptions")
            .field("url", &self.url)
            .field("counter", &self.counter)
            .field("login", &self.login)
            .field("logout", &self.logout)
            .field("cookie", &self.cookie)
            .field("samples", &self.samples)
            .finish_non_exhaustive()
    }
}

/// One exchange that shows a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// What it shows ("a new visitor's first request").
    pub what: String,
    /// "GET http://…/".
    pub request: String,
    /// The `Cookie` header sent, if any.
    pub cookie: Option<String>,
    /// The response status.
    pub status: u16,
    /// The response's `Set-Cookie` headers.
    pub set_cookie: Vec<String>,
    /// Response headers that matter here (Cache-Control, Location).
    pub headers: Vec<(String, String)>,
    /// The start of the body.
    pub body: String,
}

/// A weakness found, with what shows it and what to do.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// A stable name ("cookie-no-httponly").
    pub id: &'static str,
    /// The check that found it ("cookie-attributes").
    pub check: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// What was observed, in this target's terms.
    pub detail: String,
    /// The exchanges that show it.
    pub evidence: Vec<Evidence>,
    /// Why it matters.
    pub why: &'static str,
    /// The fix: the express-session option, the tower-sessions call, or the general rule.
    pub fix: &'static str,
    /// OWASP WSTG, ZAP rule and CWE ids.
    pub references: Vec<&'static str>,
}

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Nothing found.
    Passed,
    /// One or more findings.
    Failed,
    /// Not run (a route not given, an answer without a number).
    Skipped,
}

/// One check and its outcome, findings or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// A stable name ("session-fixation").
    pub id: &'static str,
    /// What it checks.
    pub name: &'static str,
    /// How it ended.
    pub status: CheckStatus,
    /// What it saw, in a sentence.
    pub summary: String,
}

/// The scorecard.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditReport {
    /// The schema of this report (bumped when fields change meaning).
    pub schema: u32,
    /// The target.
    pub target: String,
    /// The session cookie's name.
    pub cookie_name: String,
    /// What the session cookie holds (an id, the data itself, a JWT), and what shows it.
    pub kind: SessionKind,
    /// How long the audit took, in milliseconds.
    pub duration_ms: u64,
    /// Every check, in the order run.
    pub checks: Vec<CheckResult>,
    /// Every finding, the most severe first.
    pub findings: Vec<Finding>,
    /// The ids' strength, if enough ids were collected.
    pub entropy: Option<entropy::Analysis>,
    /// Every session cookie value the server set for the audit's probes (not in the JSON: the
    /// window uses them to tag the sessions the audit made).
    #[serde(skip)]
    pub issued: Vec<String>,
}

impl AuditReport {
    /// The most severe finding's severity.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Findings at or above `severity`.
    pub fn at_least(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity >= severity)
            .count()
    }
}

/// The version of [`AuditReport`]'s JSON.
pub const SCHEMA: u32 = 2;

/// How far the audit has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The check under way.
    pub stage: &'static str,
    /// Steps done in it.
    pub done: usize,
    /// Steps in it.
    pub total: usize,
}

/// Why an audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The target could not be reached or answered oddly (said once: the browser's words).
    #[error(transparent)]
    Browser(#[from] BrowserError),
    /// No session cookie to audit.
    #[error(
        "{url} set no cookie for a new visitor (twice): give --counter a route that uses the session, or --cookie its name"
    )]
    NoSessionCookie {
        /// Where it was asked.
        url: String,
    },
    /// Options that cannot work.
    #[error("{0}")]
    Options(String),
}

/// How long the audit's requests may take in all before it gives up on a stage.
pub(crate) const STAGE_TIMEOUT: Duration = Duration::from_secs(120);

#[cfg(test)]
mod tests {
    use super::*;

    /// A login route in a report never shows the password it posts.
    #[test]
    fn routes_hide_secret_form_values() {
        let route: Route = "POST /login user={user}&password=hunter2&csrf_token=abc"
            .parse()
            .unwrap();
        let shown = route.to_string();
        assert_eq!(shown, "POST /login user={user}&password=•••&csrf_token=•••");
    }
}
