//! The lab's state as its users see it: browsers, jars, sessions, the server and the event log.
//! Pure data, changed only by applying [`Event`]s, so the UI and the tests read the same thing.

use time::OffsetDateTime;

use crate::{
    browser::{CookieRow, Exchange},
    server::{CookieVerdict, Served, SessionData, SessionRow, StoreStory},
};

use super::{
    BrowserId, Event, ServerInfo,
    text::{data_text, short},
};

/// The most log lines kept; older ones are dropped first.
const MAX_LOG_LINES: usize = 2000;

/// A cookie in a browser's jar, and the server session it stands for (if it is a valid
/// session cookie of the embedded server).
#[derive(Clone, Debug, PartialEq)]
pub struct JarCookie {
    /// The cookie itself.
    pub cookie: CookieRow,
    /// The embedded server's session id this cookie carries, if any.
    pub session_id: Option<String>,
}

/// One simulated browser as the UI shows it.
#[derive(Clone, Debug)]
pub struct BrowserState {
    /// Stable id.
    pub id: BrowserId,
    /// Display name ("A", "B", …).
    pub name: String,
    /// Index into the colour palette.
    pub colour: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// The last finished exchange.
    pub last: Option<Exchange>,
    /// The last visit's error, if it failed.
    pub last_error: Option<String>,
    /// The jar's cookies.
    pub cookies: Vec<JarCookie>,
}

impl BrowserState {
    /// "Browser A".
    pub fn title(&self) -> String {
        format!("Browser {}", self.name)
    }

    /// Whether this browser's jar holds a cookie for `session_id`.
    pub fn holds(&self, session_id: &str) -> bool {
        self.cookies
            .iter()
            .any(|c| c.session_id.as_deref() == Some(session_id))
    }
}

/// Who a log line is about.
#[derive(Clone, Debug, PartialEq)]
pub enum LogSource {
    /// A simulated browser.
    Browser {
        /// Its id.
        id: BrowserId,
        /// Its name when the line was written.
        name: String,
        /// Its colour index.
        colour: usize,
    },
    /// A client that is not one of the lab's browsers (a real browser, curl).
    External,
    /// The lab or the server itself.
    Lab,
}

/// How a log line should be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Something happened.
    Info,
    /// Something worth a look (a rejected cookie, a port fallback).
    Warning,
    /// Something failed.
    Error,
}

/// One line of the event log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// When it happened.
    pub at: OffsetDateTime,
    /// Who it is about.
    pub source: LogSource,
    /// How to read it.
    pub level: LogLevel,
    /// The line itself, without time and source.
    pub text: String,
}

/// Everything the lab shows.
#[derive(Clone, Debug, Default)]
pub struct LabState {
    /// The embedded server, once started (or the reason it is not).
    pub server: Option<ServerInfo>,
    /// Why the embedded server is not running, if it failed.
    pub server_error: Option<String>,
    /// The browsers, in the order they were added.
    pub browsers: Vec<BrowserState>,
    /// The sessions the store holds, oldest first.
    pub sessions: Vec<SessionRow>,
    /// Requests the server has answered.
    pub requests_served: u64,
    /// The event log, oldest first.
    pub log: Vec<LogEntry>,
}

impl LabState {
    /// Applies one event.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::ServerStarted(info) => {
                let mut text = format!(
                    "Session server listening on {} ({} store, {} cookie “{}”)",
                    info.url, info.store_kind, info.protection, info.cookie_name
                );
                let level = if let Some(wanted) = &info.fallback_from {
                    text.push_str(&format!(
                        " — {wanted} was taken, so a free port was used instead"
                    ));
                    LogLevel::Warning
                } else {
                    LogLevel::Info
                };
                self.push_log(LogSource::Lab, level, text);
                self.server = Some(info);
                self.server_error = None;
            }
            Event::ServerFailed(message) => {
                self.push_log(
                    LogSource::Lab,
                    LogLevel::Error,
                    format!("Session server not running: {message}"),
                );
                self.server_error = Some(message);
            }
            Event::BrowserAdded { id, name, colour } => self.browsers.push(BrowserState {
                id,
                name,
                colour,
                in_flight: 0,
                last: None,
                last_error: None,
                cookies: Vec::new(),
            }),
            Event::BrowserRemoved(id) => self.browsers.retain(|b| b.id != id),
            Event::BrowserRenamed { id, name } => {
                if let Some(browser) = self.browser_mut(id) {
                    browser.name = name;
                }
            }
            Event::VisitStarted { browser, .. } => {
                if let Some(browser) = self.browser_mut(browser) {
                    browser.in_flight += 1;
                }
            }
            Event::VisitFinished {
                browser,
                exchange,
                served,
            } => {
                let text = exchange_line(&exchange, served.as_ref());
                let level = match (&served, exchange.status) {
                    (_, 500..) => LogLevel::Error,
                    (
                        Some(Served {
                            cookie: CookieVerdict::Rejected { .. },
                            ..
                        }),
                        _,
                    ) => LogLevel::Warning,
                    _ => LogLevel::Info,
                };
                if let Some(source) = self.browser_source(browser) {
                    self.push_log_at(exchange.sent_at, source, level, text);
                }
                if let Some(browser) = self.browser_mut(browser) {
                    browser.in_flight = browser.in_flight.saturating_sub(1);
                    browser.last = Some(exchange);
                    browser.last_error = None;
                }
            }
            Event::VisitFailed {
                browser,
                url,
                error,
            } => {
                if let Some(source) = self.browser_source(browser) {
                    self.push_log(
                        source,
                        LogLevel::Error,
                        format!("GET {url} failed: {error}"),
                    );
                }
                if let Some(browser) = self.browser_mut(browser) {
                    browser.in_flight = browser.in_flight.saturating_sub(1);
                    browser.last_error = Some(error);
                }
            }
            Event::Cookies { browser, cookies } => {
                if let Some(browser) = self.browser_mut(browser) {
                    browser.cookies = cookies;
                }
            }
            Event::CookiesCleared { browser, count } => {
                if let Some(source) = self.browser_source(browser) {
                    self.push_log(
                        source,
                        LogLevel::Info,
                        format!("Cleared {count} cookie(s): the next visit starts without one"),
                    );
                }
            }
            Event::Sessions {
                rows,
                requests_served,
            } => {
                self.sessions = rows;
                self.requests_served = self.requests_served.max(requests_served);
            }
            Event::External(served) => {
                let text = served_line(&served);
                self.push_log_at(served.at, LogSource::External, LogLevel::Info, text);
            }
            Event::RequestsServed(count) => {
                self.requests_served = self.requests_served.max(count);
            }
            Event::Problem(message) => self.push_log(LogSource::Lab, LogLevel::Error, message),
        }
    }

    /// The browser with this id.
    pub fn browser(&self, id: BrowserId) -> Option<&BrowserState> {
        self.browsers.iter().find(|b| b.id == id)
    }

    /// The browser with this name.
    pub fn browser_named(&self, name: &str) -> Option<&BrowserState> {
        self.browsers.iter().find(|b| b.name == name)
    }

    /// The browsers whose jars hold a cookie for `session_id`, in panel order.
    pub fn holders(&self, session_id: &str) -> Vec<&BrowserState> {
        self.browsers
            .iter()
            .filter(|b| b.holds(session_id))
            .collect()
    }

    /// The last exchange of every browser is finished and nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.browsers.iter().all(|b| b.in_flight == 0)
    }

    fn browser_mut(&mut self, id: BrowserId) -> Option<&mut BrowserState> {
        self.browsers.iter_mut().find(|b| b.id == id)
    }

    fn browser_source(&self, id: BrowserId) -> Option<LogSource> {
        self.browser(id).map(|b| LogSource::Browser {
            id,
            name: b.name.clone(),
            colour: b.colour,
        })
    }

    fn push_log(&mut self, source: LogSource, level: LogLevel, text: String) {
        self.push_log_at(OffsetDateTime::now_utc(), source, level, text);
    }

    fn push_log_at(
        &mut self,
        at: OffsetDateTime,
        source: LogSource,
        level: LogLevel,
        text: String,
    ) {
        if self.log.len() == MAX_LOG_LINES {
            self.log.remove(0);
        }
        self.log.push(LogEntry {
            at,
            source,
            level,
            text,
        });
    }
}

/// `GET /  Cookie: id=3f2a…  ← 200 "Number of views 3"  · session 3f2a… views 2→3`
fn exchange_line(exchange: &Exchange, served: Option<&Served>) -> String {
    let path = url::Url::parse(&exchange.url)
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .unwrap_or_else(|_| exchange.url.clone());
    let cookie = match &exchange.cookie_header {
        Some(header) => format!("Cookie: {}", short_cookie_header(header)),
        None => "no cookie".to_owned(),
    };
    let mut line = format!(
        "{} {path}  {cookie}  ← {} “{}”",
        exchange.method,
        exchange.status,
        body_preview(&exchange.body)
    );
    if exchange.set_cookies().next().is_some() {
        line.push_str("  Set-Cookie");
    }
    if let Some(served) = served {
        line.push_str("  · ");
        line.push_str(&story_text(served));
    }
    line
}

/// A log line for a request the server answered: method, path, user agent, status, story.
pub fn served_line(served: &Served) -> String {
    let agent = served
        .user_agent
        .as_deref()
        .map(|ua| format!(" ({})", short_agent(ua)))
        .unwrap_or_default();
    format!(
        "{} {}{agent}  ← {}  · {}",
        served.method,
        served.path,
        served.status,
        story_text(served)
    )
}

/// What the request did to the store, in words.
fn story_text(served: &Served) -> String {
    let rejected = match &served.cookie {
        CookieVerdict::Rejected { reason } => format!("cookie rejected: {reason}; "),
        _ => String::new(),
    };
    let story = match &served.story {
        StoreStory::Untouched => "no session".to_owned(),
        StoreStory::Created { id, data } => {
            format!("session {} created {}", short(id), data_text(data))
        }
        StoreStory::Updated { id, before, after } => {
            format!("session {} {}", short(id), diff_text(before, after))
        }
        StoreStory::Unchanged { id } => format!("session {} unchanged", short(id)),
        StoreStory::Regenerated { old, new } => {
            format!("session {} regenerated as {}", short(old), short(new))
        }
        StoreStory::Deleted { id } => format!("session {} deleted", short(id)),
    };
    format!("{rejected}{story}")
}

/// `views 2→3`, one entry per changed key.
fn diff_text(before: &SessionData, after: &SessionData) -> String {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let changes: Vec<String> = keys
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let show =
                |v: Option<&serde_json::Value>| v.map_or("∅".to_owned(), |v| v.to_string());
            format!("{k} {}→{}", show(before.get(k)), show(after.get(k)))
        })
        .collect();
    if changes.is_empty() {
        "saved, unchanged".to_owned()
    } else {
        changes.join(", ")
    }
}

fn short_cookie_header(header: &str) -> String {
    header
        .split("; ")
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => format!("{name}={}", short(value)),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn body_preview(body: &str) -> String {
    const KEEP: usize = 60;
    let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

fn short_agent(agent: &str) -> String {
    const KEEP: usize = 40;
    match agent.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", &agent[..cut]),
        None => agent.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The diff names each changed key with its old and new value.
    #[test]
    fn diff_names_changed_keys() {
        let before = SessionData::from_iter([("views".into(), serde_json::json!(2))]);
        let after = SessionData::from_iter([("views".into(), serde_json::json!(3))]);
        assert_eq!(diff_text(&before, &after), "views 2→3");
    }
}
