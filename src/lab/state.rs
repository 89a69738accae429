//! The lab's state as its users see it: browsers, jars, sessions, the server, the timeline and
//! the event log. Pure data, changed only by applying [`Event`]s, so the UI and the tests read
//! the same thing.

use time::OffsetDateTime;

use crate::{
    browser::{CookieRow, Exchange},
    server::{CookieVerdict, Served, SessionRow},
};

use super::{
    BrowserId, Event, Hop, ServerInfo,
    load::LoadReport,
    text::{exchange_line, served_line as served_text},
};

/// The most log lines kept; older ones are dropped first.
const MAX_LOG_LINES: usize = 2000;

/// The most exchanges the timeline keeps; older ones are dropped first.
const MAX_EXCHANGES: usize = 5000;

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
    /// A private browser forgets its whole jar when restarted.
    pub private: bool,
    /// Cookies on (off: nothing sent, nothing stored).
    pub cookies_enabled: bool,
    /// Requests are made as cross-site requests.
    pub cross_site: bool,
    /// Visits to the embedded server go to its instances in turn.
    pub spread: bool,
    /// Requests in flight.
    pub in_flight: usize,
    /// The last finished exchange (the page shown).
    pub last: Option<Exchange>,
    /// The last visit's error, if it failed.
    pub last_error: Option<String>,
    /// The jar's cookies.
    pub cookies: Vec<JarCookie>,
}

impl BrowserState {
    /// "Browser A" (or "Private browser C").
    pub fn title(&self) -> String {
        if self.private {
            format!("Private browser {}", self.name)
        } else {
            format!("Browser {}", self.name)
        }
    }

    /// Whether this browser's jar holds a cookie for `session_id`.
    pub fn holds(&self, session_id: &str) -> bool {
        self.cookies
            .iter()
            .any(|c| c.session_id.as_deref() == Some(session_id))
    }
}

/// One exchange on the timeline.
#[derive(Clone, Debug)]
pub struct ExchangeRecord {
    /// The browser that made it.
    pub browser: BrowserId,
    /// Its name then.
    pub name: String,
    /// Its colour index.
    pub colour: usize,
    /// What was sent and received.
    pub exchange: Exchange,
    /// What the embedded server recorded, if it went there.
    pub served: Option<Served>,
    /// Which server instance answered (0 is the first), if one did.
    pub instance: Option<usize>,
}

impl ExchangeRecord {
    /// The views count the page showed ("Number of views 3" → 3), if it is the counter page.
    pub fn views(&self) -> Option<u64> {
        self.exchange
            .body
            .strip_prefix("Number of views ")
            .and_then(|n| n.trim().parse().ok())
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
    /// Something worth a look (a rejected cookie, a port fallback, a lost update).
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
    /// The embedded server, once started.
    pub server: Option<ServerInfo>,
    /// Why the embedded server is not running, if it failed.
    pub server_error: Option<String>,
    /// Why the session store is not answering, while it is not.
    pub store_down: Option<String>,
    /// The browsers, in the order they were added.
    pub browsers: Vec<BrowserState>,
    /// The sessions the store holds, oldest first.
    pub sessions: Vec<SessionRow>,
    /// Requests the server has answered.
    pub requests_served: u64,
    /// Every exchange of every browser, in the order they finished.
    pub exchanges: Vec<ExchangeRecord>,
    /// The event log, oldest first.
    pub log: Vec<LogEntry>,
    /// The load under way or last finished, if any.
    pub load: Option<LoadStatus>,
    /// The server instances (one unless more were started), the first first.
    pub instances: Vec<InstanceState>,
}

/// One server instance as the lab sees it.
#[derive(Clone, Debug, Default)]
pub struct InstanceState {
    /// Its base URL.
    pub url: String,
    /// The sessions its store holds.
    pub sessions: Vec<SessionRow>,
    /// Requests it has answered.
    pub requests: u64,
}

/// A load's progress and outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadStatus {
    /// Visits answered so far.
    pub done: usize,
    /// Visits in all.
    pub total: usize,
    /// The outcome, once finished.
    pub outcome: Option<Result<LoadReport, String>>,
}

impl LabState {
    /// Applies one event.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::ServerStarted(info) => {
                let config = &info.config;
                let mut text = format!(
                    "Session server listening on {} ({} store, {} cookie “{}”)",
                    info.url,
                    info.store_kind,
                    config.protection.as_str(),
                    config.cookie_name
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
            Event::ServerReconfigured { info, text } => {
                self.push_log(LogSource::Lab, LogLevel::Warning, text);
                self.server = Some(info);
            }
            Event::ServerFailed(message) => {
                self.push_log(
                    LogSource::Lab,
                    LogLevel::Error,
                    format!("Session server not running: {message}"),
                );
                self.server_error = Some(message);
            }
            Event::BrowserAdded {
                id,
                name,
                colour,
                private,
            } => self.browsers.push(BrowserState {
                id,
                name,
                colour,
                private,
                cookies_enabled: true,
                cross_site: false,
                spread: false,
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
            Event::BrowserOptions {
                browser,
                cookies_enabled,
                cross_site,
                spread,
            } => {
                if let Some(browser) = self.browser_mut(browser) {
                    browser.cookies_enabled = cookies_enabled;
                    browser.cross_site = cross_site;
                    browser.spread = spread;
                }
            }
            Event::VisitStarted { browser, .. } => {
                if let Some(browser) = self.browser_mut(browser) {
                    browser.in_flight += 1;
                }
            }
            Event::VisitFinished { browser, hops } => {
                for hop in &hops {
                    self.record(browser, hop);
                }
                if let Some(state) = self.browser_mut(browser) {
                    state.in_flight = state.in_flight.saturating_sub(1);
                    state.last = hops.last().map(|h| h.exchange.clone());
                    state.last_error = None;
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
            Event::Sessions {
                instance,
                rows,
                requests_served,
            } => {
                self.store_down = None;
                if instance < self.instances.len().max(1) {
                    self.instance_mut(instance).sessions = rows;
                    let requests = &mut self.instance_mut(instance).requests;
                    *requests = (*requests).max(requests_served);
                    self.merge_instances();
                }
            }
            Event::StoreDown(message) => {
                self.push_log(LogSource::Lab, LogLevel::Error, message.clone());
                self.store_down = Some(message);
            }
            Event::Instances(urls) => {
                self.instances
                    .resize_with(urls.len(), InstanceState::default);
                for (state, url) in self.instances.iter_mut().zip(urls) {
                    state.url = url;
                }
                self.merge_instances();
            }
            Event::External(served) => {
                let text = served_text(&served);
                self.push_log_at(served.at, LogSource::External, LogLevel::Info, text);
            }
            Event::RequestsServed { instance, count } => {
                if instance < self.instances.len().max(1) {
                    let requests = &mut self.instance_mut(instance).requests;
                    *requests = (*requests).max(count);
                    self.merge_instances();
                }
            }
            Event::LoadProgress { done, total } => {
                self.load = Some(LoadStatus {
                    done,
                    total,
                    outcome: None,
                });
            }
            Event::LoadFinished(outcome) => {
                let (level, text) = match &outcome {
                    Ok(report) => (
                        LogLevel::Info,
                        format!("Load finished: {}", report.summary()),
                    ),
                    Err(error) => (LogLevel::Error, format!("Load failed: {error}")),
                };
                self.push_log(LogSource::Lab, level, text);
                let (done, total) = self.load.as_ref().map_or((0, 0), |l| (l.done, l.total));
                self.load = Some(LoadStatus {
                    done,
                    total,
                    outcome: Some(outcome),
                });
            }
            Event::Note {
                browser,
                level,
                text,
            } => {
                let source = browser
                    .and_then(|id| self.browser_source(id))
                    .unwrap_or(LogSource::Lab);
                self.push_log(source, level, text);
            }
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

    /// Nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.browsers.iter().all(|b| b.in_flight == 0)
    }

    /// The origins (scheme://host:port) the browsers last visited that are not the embedded
    /// server: their stores cannot be inspected from here.
    pub fn foreign_origins(&self) -> Vec<String> {
        let ours = self
            .server
            .as_ref()
            .and_then(|s| url::Url::parse(&s.url).ok())
            .map(|u| u.origin());
        let mut origins: Vec<String> = self
            .browsers
            .iter()
            .filter_map(|b| b.last.as_ref())
            .filter_map(|e| url::Url::parse(&e.url).ok())
            .filter(|u| Some(u.origin()) != ours)
            .map(|u| u.origin().ascii_serialization())
            .collect();
        origins.sort();
        origins.dedup();
        origins
    }

    /// The instances whose stores hold `session_id` (numbered from 0).
    pub fn instances_holding(&self, session_id: &str) -> Vec<usize> {
        self.instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.sessions.iter().any(|s| s.id == session_id))
            .map(|(n, _)| n)
            .collect()
    }

    fn instance_mut(&mut self, instance: usize) -> &mut InstanceState {
        if self.instances.len() <= instance {
            let url = self
                .server
                .as_ref()
                .map(|s| s.url.clone())
                .unwrap_or_default();
            self.instances
                .resize_with(instance + 1, InstanceState::default);
            if self.instances[0].url.is_empty() {
                self.instances[0].url = url;
            }
        }
        &mut self.instances[instance]
    }

    /// All instances' sessions as one list (a shared store lists the same session on each:
    /// once here), oldest first; requests summed.
    fn merge_instances(&mut self) {
        let mut merged: Vec<SessionRow> = Vec::new();
        for instance in &self.instances {
            for row in &instance.sessions {
                if !merged.iter().any(|m| m.id == row.id) {
                    merged.push(row.clone());
                }
            }
        }
        if self.instances.len() > 1 {
            merged.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        }
        self.sessions = merged;
        self.requests_served = self.instances.iter().map(|i| i.requests).sum();
    }

    fn record(&mut self, browser: BrowserId, hop: &Hop) {
        let text = exchange_line(&hop.exchange, hop.served.as_ref());
        let level = match (&hop.served, hop.exchange.status) {
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
        let Some(source) = self.browser_source(browser) else {
            return;
        };
        self.push_log_at(hop.exchange.sent_at, source.clone(), level, text);
        if let LogSource::Browser { name, colour, .. } = source {
            if self.exchanges.len() == MAX_EXCHANGES {
                self.exchanges.remove(0);
            }
            self.exchanges.push(ExchangeRecord {
                browser,
                name,
                colour,
                exchange: hop.exchange.clone(),
                served: hop.served.clone(),
                instance: hop.instance,
            });
        }
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
