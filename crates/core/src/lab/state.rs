//! The lab's state as its users see it: browsers, jars, sessions, the server, the timeline and
//! the event log. Pure data, changed only by applying [`Event`]s, so the UI and the tests read
//! the same thing. The log and the timeline are bounded in lines and in bytes.
//!
//! Why one file of about 900 lines: it is the reducer — one exhaustive match per kind of
//! [`Event`] over one struct; the data it keeps in parts lives elsewhere (`sessions/`, `log.rs`,
//! `base::bounded`).

use std::{collections::VecDeque, sync::Arc};

use session_lab_base::bounded::{Bounded, Weigh};
use time::OffsetDateTime;

use crate::{
    browser::{Exchange, RequestFrom},
    server::{DataText, Served, SessionId, cut_text},
};

use super::{
    AuditRequest,
    event::{
        BrowserEvent, BrowserId, BurstOutcome, Event, Hop, JarCookie, RunEvent, ServerEvent,
        ServerInfo,
    },
    load::LoadReport,
    log::{ExchangeLine, LOG_TEXT_MAX, LogLevel, LogSource, Logged},
    sessions::{Holders, Maker, SessionSort, SessionTable},
};

/// The most sessions of loads remembered as the loads' (the latest).
const MAX_MADE_SESSIONS: usize = 100_000;

/// The most log lines kept; older ones are dropped first.
pub const MAX_LOG_LINES: usize = 2000;

/// The most bytes the log keeps in all.
pub const MAX_LOG_BYTES: usize = 1024 * 1024;

/// The most exchanges the timeline keeps; older ones are dropped first.
pub const MAX_EXCHANGES: usize = 5000;

/// The most sessions whose making browser the lab remembers (past it, it starts again).
pub const MAX_MADE_BY: usize = 100_000;

/// The most clock jumps the lab remembers (for the views plot).
pub const MAX_CLOCK_MOVES: usize = 1000;

/// The most bytes the timeline keeps in all.
pub const MAX_EXCHANGE_BYTES: usize = 8 * 1024 * 1024;

/// The most of a response body an exchange on the timeline keeps (the browser's last page is
/// kept whole, up to the browser's own limit).
pub const HISTORY_BODY_MAX: usize = 2048;

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
    /// Where its requests come from (the address bar, or a link or an image on a site).
    pub from: RequestFrom,
    /// Visits to the embedded server go to its instances in turn.
    pub spread: bool,
    /// Requests in flight.
    pub in_flight: usize,
    /// The last finished exchange (the page shown).
    pub last: Option<Exchange>,
    /// The forms on the page shown, read once when it arrived.
    pub forms: Vec<crate::browser::PageForm>,
    /// The page's links to its own server, read once when it arrived (the panel follows them
    /// with a click, as a reader would).
    pub links: Vec<url::Url>,
    /// The last visit's error, if it failed.
    pub last_error: Option<super::Shared<crate::browser::BrowserError>>,
    /// The jar's cookies.
    pub cookies: Vec<JarCookie>,
    /// What the last burst did to this browser's counter.
    pub last_burst: Option<BurstOutcome>,
}

impl BrowserState {
    /// Shows `page`: it becomes the page shown, and its forms are read now, once.
    fn show(&mut self, page: Option<Exchange>) {
        (self.forms, self.links) = page.as_ref().map(page_forms).unwrap_or_default();
        self.last = page;
    }

    /// "Browser A" (or "Browser C (private)": not the private window of some browser C).
    pub fn title(&self) -> String {
        if self.private {
            format!("Browser {} (private)", self.name)
        } else {
            format!("Browser {}", self.name)
        }
    }

    /// Whether this browser's jar holds a cookie for `session_id`.
    pub fn holds(&self, session_id: SessionId) -> bool {
        self.cookies
            .iter()
            .any(|c| c.session_id() == Some(session_id))
    }

    /// The embedded server's session this browser's jar carries, if any.
    pub fn session(&self) -> Option<SessionId> {
        self.cookies.iter().find_map(JarCookie::session_id)
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
    /// What was sent and received (the body cut to [`HISTORY_BODY_MAX`] bytes).
    pub exchange: Exchange,
    /// What the embedded server recorded, if it went there.
    pub served: Option<Arc<Served>>,
    /// Which server instance answered (0 is the first), if one did.
    pub instance: Option<usize>,
    /// The views count the page showed, read once when the record was kept (the plot asks
    /// for it every frame).
    views: Option<u64>,
}

impl ExchangeRecord {
    /// The views count the page showed ("Number of views 3" → 3), if it was a counter page
    /// that answered with success: a page whose words end with the count. A JSON answer (the
    /// digits of an id on /whoami) or a page that only mentions a number is not a count.
    pub fn views(&self) -> Option<u64> {
        self.views
    }

    /// [`Self::views`], read from the page.
    fn read_views(&self) -> Option<u64> {
        let exchange = &self.exchange;
        let json = exchange
            .header_values("content-type")
            .any(|v| v.to_ascii_lowercase().contains("json"));
        if !(200..300).contains(&exchange.status) || json {
            return None;
        }
        crate::browser::counter_shown(&exchange.body)
    }
}

impl Weigh for ExchangeRecord {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + exchange_weight(&self.exchange) + self.name.len()
    }
}

impl Weigh for LogEntry {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.what.heap_bytes()
    }
}

fn exchange_weight(exchange: &Exchange) -> usize {
    std::mem::size_of::<Exchange>()
        + exchange.url.len()
        + exchange.method.len()
        + exchange.reason.len()
        + exchange.body.len()
        + exchange.cookie_header.as_ref().map_or(0, String::len)
        + exchange.request_body.as_ref().map_or(0, String::len)
        + exchange.http_version.len()
        + exchange
            .response_headers
            .iter()
            .chain(&exchange.request_headers)
            .map(|(n, v)| n.len() + v.len() + 48)
            .sum::<usize>()
        + exchange
            .not_sent
            .iter()
            .map(|n| n.key.name.len() + n.key.domain.len() + n.key.path.len() + 96)
            .sum::<usize>()
        + exchange
            .blocked
            .iter()
            .map(|b| b.name.len() + 96)
            .sum::<usize>()
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
    /// What it says, as data.
    pub what: Logged,
}

impl LogEntry {
    /// The line in words (without time and source).
    pub fn text(&self) -> String {
        super::text::logged_text(&self.what)
    }
}

/// Whoever judges the lab as it goes — a guided scenario's judge (`scenario::Judge`): it sees
/// each event before the state applies it and the state after. The lab calls it and keeps
/// what it solved; what a scenario is, the lab does not know.
pub trait Referee: std::any::Any + std::fmt::Debug + Send {
    /// Sees `event` before the state applies it.
    fn before(&mut self, event: &Event, state: &LabState);
    /// Looks at the state after an event.
    fn after(&mut self, state: &LabState);
    /// The id of the scenario solved for real (not on its fixed server), once it is.
    fn solved(&self) -> Option<&str>;
    /// A copy (the state is cloned for a saved lab and for tests).
    fn clone_boxed(&self) -> Box<dyn Referee>;
}

impl Clone for Box<dyn Referee> {
    fn clone(&self) -> Self {
        self.clone_boxed()
    }
}

/// Everything the lab shows.
#[derive(Clone, Debug, Default)]
pub struct LabState {
    /// The embedded server, once started.
    pub server: Option<ServerInfo>,
    /// Why the embedded server is not running, if it failed.
    pub server_error: Option<Arc<crate::server::ServerError>>,
    /// Why the session store is not answering, while it is not.
    pub store_down: Option<super::Shared<crate::server::StoreCallError>>,
    /// The memory store holds its limit of sessions: new visitors get a 503 page.
    pub store_full: bool,
    /// The browsers, in the order they were added.
    pub browsers: Vec<BrowserState>,
    /// The sessions the stores hold, kept from their changes.
    pub sessions: SessionTable,
    /// Who holds which session's cookie (from the jars, and the window's loads' jars).
    pub holders: Holders,
    /// The store of another application the lab watches (its sessions and who holds them),
    /// while it watches one.
    pub watched: Option<super::WatchedState>,
    /// Requests the server instances have answered.
    pub requests_served: u64,
    /// The latest exchanges of every browser, in the order they finished.
    pub exchanges: Bounded<ExchangeRecord, MAX_EXCHANGES, MAX_EXCHANGE_BYTES>,
    /// The latest lines of the event log, oldest first.
    pub log: Bounded<LogEntry, MAX_LOG_LINES, MAX_LOG_BYTES>,
    /// Lines written to the log since the start (including those dropped since).
    pub logged: u64,
    /// Events applied since the start (anything may have changed when it moves).
    pub applied: u64,
    /// Browser restores (a kept or opened lab, a reset) finished since the start.
    pub restores: u64,
    /// The load under way or last finished, if any.
    pub load: Option<LoadStatus>,
    /// The server instances (one unless more were started), the first first.
    pub instances: Vec<InstanceState>,
    /// How far the lab's clock runs ahead of real time.
    pub clock_ahead: time::Duration,
    /// The lab clock's jumps, oldest first: when (on the lab's clock, just after) and by how
    /// much — the views plot draws them as gaps instead of stretching its time axis. The last
    /// [`MAX_CLOCK_MOVES`] are kept.
    pub clock_moves: std::collections::VecDeque<(OffsetDateTime, time::Duration)>,
    /// Which browser's request made each session (created it, or gave it a new id): a
    /// session no jar holds is still the Victim's own, not someone else's. At most
    /// [`MAX_MADE_BY`] are remembered.
    made_by_browser: std::collections::HashMap<SessionId, BrowserId>,
    /// The audits run from the window.
    pub audit: AuditState,
    /// The guided scenario under way, judged as events arrive (`scenario::Judge`; the lab
    /// knows only that it referees).
    pub judge: Option<Box<dyn Referee>>,
    /// Restarts of the embedded server since the start (a scenario waits for its fresh store).
    pub server_restarts: u64,
    /// The next restart is one a scenario asked for (its fresh store): logged as news, not as
    /// a warning that sessions were lost.
    pub restart_asked_by_scenario: bool,
    /// The guided scenarios solved (without their fix), by id; kept with the lab.
    pub solved_scenarios: std::collections::BTreeSet<String>,
    /// What other-site.test serves (the attacker's page), once the lab said; `None`: the page
    /// a new lab serves.
    pub attacker_page: Option<crate::server::AttackerPage>,
    /// Each account's e-mail address, as last reported (empty until the site changed once).
    pub emails: Vec<(String, String)>,
    /// The TLS-terminating proxy's address (`https://app.lab.test:PORT/`), once it listens.
    pub proxy_url: Option<String>,
    /// How many times the site changed (the attacker's page, the accounts' reset).
    pub site_changes: u64,
}

/// How many finished audits the window keeps, for comparing.
pub const MAX_AUDIT_RUNS: usize = 8;

/// The audits run from the window, and the one under way.
#[derive(Clone, Debug, Default)]
pub struct AuditState {
    /// How far the audit under way has come.
    pub running: Option<crate::audit::Progress>,
    /// Finished audits, the newest last.
    pub runs: VecDeque<AuditRun>,
    /// Why the last audit could not run.
    pub error: Option<super::AuditFailed>,
    /// Audits started since the lab began (numbers the runs).
    pub started: usize,
}

/// One finished audit.
#[derive(Clone, Debug)]
pub struct AuditRun {
    /// Its number, from 1.
    pub number: usize,
    /// When it finished (the lab's clock).
    pub at: OffsetDateTime,
    /// What was asked.
    pub request: AuditRequest,
    /// The embedded server's settings at the time, in words, if the target was it.
    pub settings: Option<String>,
    /// The scorecard.
    pub report: Arc<crate::audit::AuditReport>,
}

/// One server instance as the lab sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceState {
    /// Its base URL.
    pub url: String,
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
    pub outcome: Option<Result<LoadReport, super::LoadFailed>>,
}

impl LabState {
    /// Applies one event. Cost: proportional to the event, never to the store. A scenario's
    /// judge sees the event before and the state after.
    pub fn apply(&mut self, event: impl Into<Event>) {
        let event = event.into();
        let Some(mut judge) = self.judge.take() else {
            self.apply_event(event);
            return;
        };
        judge.before(&event, self);
        self.apply_event(event);
        judge.after(self);
        if let Some(id) = judge.solved()
            && !self.solved_scenarios.contains(id)
        {
            self.solved_scenarios.insert(id.to_owned());
        }
        self.judge = Some(judge);
    }

    fn apply_event(&mut self, event: Event) {
        self.applied += 1;
        match event {
            Event::Server(event) => self.apply_server_event(event),
            Event::Browser(event) => self.apply_browser_event(event),
            Event::Run(event) => self.apply_run_event(event),
        }
    }

    /// The server, its store and settings, the proxy and the attacker's site, the clock.
    fn apply_server_event(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::ProxyStarted { url } => {
                self.log_lab(Logged::ProxyStarted(url.clone()));
                self.proxy_url = Some(url);
            }
            ServerEvent::SiteChanged { page, emails } => {
                self.log_lab(Logged::SiteChanged {
                    page_bytes: page.html.len(),
                    set_cookie: crate::server::cut_text(&page.set_cookie, LOG_TEXT_MAX),
                });
                self.attacker_page = Some(page);
                self.emails = emails;
                self.site_changes += 1;
            }
            ServerEvent::ServerStarted(info) => {
                self.log_lab(Logged::ServerStarted(Box::new(info.clone())));
                if self.instances.is_empty() {
                    self.instances.push(InstanceState {
                        url: info.url.clone(),
                        requests: 0,
                    });
                }
                self.server = Some(info);
                self.server_error = None;
            }
            ServerEvent::ServerFailed(message) => {
                self.log_lab(Logged::ServerFailed(message.clone()));
                self.server_error = Some(message);
            }
            ServerEvent::SettingsApplied {
                info,
                changes,
                old_cookies_still_valid,
            } => {
                self.log_lab(Logged::SettingsApplied {
                    changes,
                    old_cookies_still_valid,
                });
                self.server = Some(info);
            }
            ServerEvent::SecretRotated {
                info,
                old,
                new,
                old_accepted_until,
            } => {
                self.log_lab(Logged::SecretRotated {
                    old,
                    new,
                    old_accepted_until,
                });
                self.server = Some(info);
            }
            ServerEvent::ServerRestarted {
                info,
                sessions_before,
                sessions_after,
            } => {
                if std::mem::take(&mut self.restart_asked_by_scenario) {
                    self.log_lab(Logged::ScenarioStore { sessions_before });
                } else {
                    self.log_lab(Logged::ServerRestarted {
                        store: info.store.clone(),
                        sessions_before,
                        sessions_after,
                    });
                }
                self.server = Some(info);
                self.server_restarts += 1;
            }
            ServerEvent::InstancesChanged { urls, store } => {
                for gone in urls.len()..self.instances.len() {
                    self.sessions.forget_instance(gone);
                }
                self.instances
                    .resize_with(urls.len(), InstanceState::default);
                for (state, url) in self.instances.iter_mut().zip(&urls) {
                    state.url.clone_from(url);
                }
                self.requests_served = self.instances.iter().map(|i| i.requests).sum();
                self.log_lab(Logged::Instances { urls, store });
            }
            ServerEvent::Watching(address) => {
                let text = match &address {
                    Some(address) => format!("Watching {address} (read-only): finding its format…"),
                    None => match self.watched.take() {
                        Some(watched) => format!("No longer watching {}", watched.address),
                        None => return,
                    },
                };
                self.watched = address.map(super::WatchedState::new);
                self.log_lab(Logged::Watch {
                    text,
                    problem: false,
                });
            }
            ServerEvent::WatchRefused(why) => self.log_lab(Logged::Watch {
                text: why,
                problem: true,
            }),
            ServerEvent::WatchStatus(status) => {
                let Some(watched) = &mut self.watched else {
                    return;
                };
                let before = std::mem::replace(&mut watched.status, status);
                let now = watched.status.clone();
                let found_format = before.format.is_none() && now.format.is_some();
                let new_error = now.error.is_some() && now.error != before.error;
                let recovered = before.error.is_some() && now.error.is_none();
                let address = watched.address.clone();
                if found_format {
                    watched.update_holders(&self.browsers);
                }
                let line = if new_error {
                    now.error.clone().map(|e| (e, true))
                } else if found_format {
                    now.format
                        .map(|f| (format!("{address}: {} sessions", f.title()), false))
                } else if recovered {
                    Some((format!("{address} can be read again"), false))
                } else {
                    None
                };
                if let Some((text, problem)) = line {
                    self.log_lab(Logged::Watch { text, problem });
                }
            }
            ServerEvent::WatchedChanges { reset, changes } => {
                if let Some(watched) = &mut self.watched {
                    watched.apply(reset, changes);
                }
            }
            ServerEvent::SessionChanges {
                instance,
                reset,
                changes,
            } => {
                if reset {
                    self.sessions.forget_instance(instance);
                }
                for change in changes {
                    self.sessions.apply(instance, change, &self.holders);
                }
            }
            ServerEvent::StoreDown(message) => {
                self.log_lab(Logged::StoreDown(message.clone()));
                self.store_down = Some(message);
            }
            ServerEvent::StoreBack => {
                self.store_down = None;
                self.log_lab(Logged::StoreBack);
            }
            ServerEvent::ClockMoved(moved) => {
                let by = moved.ahead - self.clock_ahead;
                self.clock_ahead = moved.ahead;
                if !by.is_zero() {
                    if self.clock_moves.len() == MAX_CLOCK_MOVES {
                        self.clock_moves.pop_front();
                    }
                    self.clock_moves.push_back((self.now(), by));
                }
                self.log_lab(Logged::Clock(moved));
            }
            ServerEvent::StoreFull(full) => {
                self.store_full = full;
                self.log_lab(Logged::StoreFull(full));
            }
            ServerEvent::External(served) => {
                self.push_log_at(served.at, LogSource::External, Logged::External(served));
            }
            ServerEvent::RequestsSkipped { count } => self.log_lab(Logged::Skipped { count }),
            ServerEvent::RequestsServed { instance, count } => {
                if let Some(state) = self.instances.get_mut(instance) {
                    state.requests = state.requests.max(count);
                }
                self.requests_served = self.instances.iter().map(|i| i.requests).sum();
            }
        }
    }

    /// The browsers: added, changed, visiting; their jars, bursts and problems.
    fn apply_browser_event(&mut self, event: BrowserEvent) {
        match event {
            BrowserEvent::BrowsersRestored => self.restores += 1,
            BrowserEvent::BrowserAdded {
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
                from: RequestFrom::AddressBar,
                spread: false,
                in_flight: 0,
                last: None,
                forms: Vec::new(),
                links: Vec::new(),
                last_error: None,
                cookies: Vec::new(),
                last_burst: None,
            }),
            BrowserEvent::HistoryRestored { browser, exchanges } => {
                let Some(state) = self.browser_mut(browser) else {
                    return;
                };
                state.show(exchanges.last().cloned());
                let (name, colour) = (state.name.clone(), state.colour);
                for exchange in exchanges {
                    self.push_exchange(ExchangeRecord {
                        views: None,
                        browser,
                        name: name.clone(),
                        colour,
                        exchange,
                        served: None,
                        instance: None,
                    });
                }
            }
            BrowserEvent::BrowserRemoved(id) => {
                self.browsers.retain(|b| b.id != id);
                self.update_holders();
            }
            BrowserEvent::BrowserRenamed { id, name } => {
                if let Some(browser) = self.browser_mut(id) {
                    browser.name = name;
                }
                self.update_holders();
            }
            BrowserEvent::BrowserOptions {
                browser,
                cookies_enabled,
                from,
                spread,
                flipped,
            } => {
                if let Some(state) = self.browser_mut(browser) {
                    state.cookies_enabled = cookies_enabled;
                    state.from = from;
                    state.spread = spread;
                }
                self.log_browser(browser, Logged::Switch(flipped));
            }
            BrowserEvent::BrowserRestarted {
                browser,
                private,
                dropped,
            } => self.log_browser(browser, Logged::BrowserRestarted { private, dropped }),
            BrowserEvent::VisitStarted { browser, .. } => {
                if let Some(browser) = self.browser_mut(browser) {
                    browser.in_flight += 1;
                }
            }
            BrowserEvent::VisitFinished { browser, hops } => {
                let count = hops.len();
                for (n, hop) in hops.into_iter().enumerate() {
                    if n + 1 == count
                        && let Some(state) = self.browser_mut(browser)
                    {
                        state.show(Some(hop.exchange.clone()));
                        state.last_error = None;
                    }
                    self.record(browser, hop);
                }
                if let Some(state) = self.browser_mut(browser) {
                    state.in_flight = state.in_flight.saturating_sub(1);
                }
            }
            BrowserEvent::VisitFailed {
                browser,
                url,
                hops,
                error,
            } => {
                // The requests made before the failure happened: shown, kept in the history
                // and the timeline, the last one's page on screen.
                if let (Some(last), Some(state)) = (hops.last(), self.browser_mut(browser)) {
                    state.show(Some(last.exchange.clone()));
                }
                for hop in hops {
                    self.record(browser, hop);
                }
                self.log_browser(
                    browser,
                    Logged::VisitFailed {
                        url: cut_text(&url, LOG_TEXT_MAX),
                        error: error.clone(),
                    },
                );
                if let Some(browser) = self.browser_mut(browser) {
                    browser.in_flight = browser.in_flight.saturating_sub(1);
                    browser.last_error = Some(error);
                }
            }
            BrowserEvent::Cookies { browser, cookies } => {
                if let Some(browser) = self.browser_mut(browser) {
                    browser.cookies = cookies;
                }
                self.update_holders();
            }
            BrowserEvent::JarEdited { browser, edit } => {
                self.log_browser(browser, Logged::Jar(edit))
            }
            BrowserEvent::BurstFinished(outcome) => {
                let browser = outcome.browser;
                if let Some(state) = self.browser_mut(browser) {
                    state.last_burst = Some(outcome.clone());
                }
                self.log_browser(browser, Logged::Burst(outcome));
            }
            BrowserEvent::Problem { browser, problem } => {
                let what = Logged::Problem(problem);
                match browser {
                    Some(browser) => self.log_browser(browser, what),
                    None => self.log_lab(what),
                }
            }
        }
    }

    /// Loads and audits under way and done.
    fn apply_run_event(&mut self, event: RunEvent) {
        match event {
            RunEvent::LoadStarted {
                visits,
                browsers,
                concurrency,
            } => {
                self.load = Some(LoadStatus {
                    done: 0,
                    total: visits,
                    outcome: None,
                });
                self.log_lab(Logged::LoadStarted {
                    visits,
                    browsers,
                    concurrency,
                });
            }
            RunEvent::LoadProgress { done, total } => {
                self.load = Some(LoadStatus {
                    done,
                    total,
                    outcome: None,
                });
            }
            RunEvent::MadeSessions { by, sessions } => {
                self.holders.add_made(by, &sessions, MAX_MADE_SESSIONS);
                self.sessions.refilter(&sessions, &self.holders);
            }
            RunEvent::AuditProgress(progress) => {
                if self.audit.running.is_none() {
                    self.audit.started += 1;
                    self.audit.error = None;
                }
                self.audit.running = Some(progress);
            }
            RunEvent::AuditFinished { request, outcome } => {
                if self.audit.running.take().is_none() {
                    self.audit.started += 1;
                }
                let target = request.url.clone();
                match outcome {
                    Ok(report) => {
                        let settings = self
                            .server
                            .as_ref()
                            .filter(|s| same_server(&s.url, &report.target))
                            .map(|s| super::text::settings_summary(&s.settings));
                        self.log_lab(Logged::Audit {
                            target,
                            outcome: Ok(crate::audit::counts(&report)),
                        });
                        if self.audit.runs.len() == MAX_AUDIT_RUNS {
                            self.audit.runs.pop_front();
                        }
                        self.audit.runs.push_back(AuditRun {
                            number: self.audit.started,
                            at: self.now(),
                            request,
                            settings,
                            report,
                        });
                    }
                    Err(error) => {
                        self.log_lab(Logged::Audit {
                            target,
                            outcome: Err(error.clone()),
                        });
                        self.audit.error = Some(error);
                    }
                }
            }
            RunEvent::LoadFinished(outcome) => {
                self.log_lab(Logged::LoadFinished(outcome.clone()));
                let (done, total) = self.load.as_ref().map_or((0, 0), |l| (l.done, l.total));
                self.load = Some(LoadStatus {
                    done,
                    total,
                    outcome: Some(outcome),
                });
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
    pub fn holders(&self, session_id: SessionId) -> Vec<&BrowserState> {
        self.browsers
            .iter()
            .filter(|b| b.holds(session_id))
            .collect()
    }

    /// The browser (still in the lab) whose request made this session, if the lab saw it.
    pub fn made_by_browser(&self, session_id: SessionId) -> Option<&BrowserState> {
        let id = self.made_by_browser.get(&session_id)?;
        self.browser(*id)
    }

    /// Which of the window's loads or audits made this session, if one did.
    pub fn made_by(&self, session_id: SessionId) -> Option<Maker> {
        self.holders.made_by(session_id)
    }

    /// Nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.browsers.iter().all(|b| b.in_flight == 0)
    }

    /// The browsers whose jars hold a session of the watched store (by its framework's rule).
    pub fn watched_holders(&self, session_id: SessionId) -> Vec<&BrowserState> {
        let Some(watched) = &self.watched else {
            return Vec::new();
        };
        let names = watched.holders.of(session_id);
        self.browsers
            .iter()
            .filter(|b| names.iter().any(|n| b.name.eq_ignore_ascii_case(n)))
            .collect()
    }

    /// Sorts the watched store's table.
    pub fn set_watched_sort(&mut self, sort: SessionSort) {
        if let Some(w) = &mut self.watched {
            w.sessions.set_sort(sort, &w.holders);
        }
    }

    /// Filters the watched store's table.
    pub fn set_watched_filter(&mut self, text: &str) {
        if let Some(w) = &mut self.watched {
            w.sessions.set_filter(text, &w.holders);
        }
    }

    /// Sorts the sessions table.
    pub fn set_session_sort(&mut self, sort: SessionSort) {
        self.sessions.set_sort(sort, &self.holders);
    }

    /// Filters the sessions table (see [`SessionTable::set_filter`]).
    pub fn set_session_filter(&mut self, text: &str) {
        self.sessions.set_filter(text, &self.holders);
    }

    /// The sessions in the store that the window's Audit and Load made.
    pub fn made_sessions(&self) -> Vec<SessionId> {
        self.sessions
            .iter()
            .map(|s| s.id)
            .filter(|id| self.holders.made_by(*id).is_some())
            .collect()
    }

    /// Shows or hides the sessions the window's Audit and Load made, when no filter text is
    /// given (see [`SessionTable::set_show_made`]).
    pub fn show_made_sessions(&mut self, show: bool) {
        self.sessions.set_show_made(show, &self.holders);
    }

    /// Goes on building the sessions table's sort and filter until `deadline`; returns whether
    /// work is left (the window calls it every frame).
    pub fn work_on_sessions(&mut self, deadline: std::time::Instant) -> bool {
        let mut more = self.sessions.work(&self.holders, deadline);
        if let Some(w) = &mut self.watched {
            more |= w.sessions.work(&w.holders, deadline);
        }
        more
    }

    /// Builds the sessions table's sort and filter to the end (for tests and scripts).
    pub fn finish_sessions(&mut self) {
        if let Some(w) = &mut self.watched {
            w.sessions.finish(&w.holders);
        }
        self.sessions.finish(&self.holders);
    }

    /// The session's data as the store last announced it, if the store holds it.
    pub fn session_data(&self, id: SessionId) -> Option<DataText> {
        self.sessions.get(id).map(|s| s.data)
    }

    /// The origins (scheme://host:port) the browsers last visited that are not the embedded
    /// server: their stores cannot be inspected from here. The lab's names always lead to the
    /// embedded server, and so do its address and `localhost` on an instance's port, over http
    /// or https.
    pub fn foreign_origins(&self) -> Vec<String> {
        // Each instance's (host, port), and localhost on its port.
        let instances: Vec<(String, u16)> = self
            .instances
            .iter()
            .filter_map(|i| url::Url::parse(&i.url).ok())
            .filter_map(|u| Some((u.host_str()?.to_owned(), u.port_or_known_default()?)))
            .flat_map(|(host, port)| [(host, port), ("localhost".to_owned(), port)])
            .collect();
        let ours = |u: &url::Url| {
            let host = u.host_str().unwrap_or_default();
            crate::browser::is_lab_host(host)
                || instances.iter().any(|(h, p)| {
                    h.eq_ignore_ascii_case(host) && u.port_or_known_default() == Some(*p)
                })
        };
        let mut origins: Vec<String> = self
            .browsers
            .iter()
            .filter_map(|b| b.last.as_ref())
            .filter_map(|e| url::Url::parse(&e.url).ok())
            .filter(|u| !ours(u))
            .map(|u| u.origin().ascii_serialization())
            .collect();
        origins.sort();
        origins.dedup();
        origins
    }

    /// Keeps [`Self::holders`] in step with the jars, and the filter with it.
    fn update_holders(&mut self) {
        let jars = Holders::new(self.browsers.iter().map(|b| {
            (
                b.name.as_str(),
                b.cookies.iter().filter_map(JarCookie::session_id).collect(),
            )
        }));
        let changed = self.holders.replace_jars(jars);
        if !changed.is_empty() {
            self.sessions.refilter(&changed, &self.holders);
        }
        if let Some(watched) = &mut self.watched {
            watched.update_holders(&self.browsers);
        }
    }

    fn record(&mut self, browser: BrowserId, hop: Hop) {
        let Some(source) = self.browser_source(browser) else {
            return;
        };
        let Hop {
            exchange,
            served,
            instance,
        } = hop;
        let line = ExchangeLine::of(&exchange, served.clone());
        self.push_log_at(
            exchange.sent_at,
            source.clone(),
            Logged::Exchange(Box::new(line)),
        );
        if let LogSource::Browser { name, colour, .. } = source {
            self.push_exchange(ExchangeRecord {
                views: None,
                browser,
                name,
                colour,
                exchange,
                served,
                instance,
            });
        }
    }

    /// Adds an exchange to the timeline (its body cut to [`HISTORY_BODY_MAX`]), dropping the
    /// oldest past the timeline's budget.
    fn push_exchange(&mut self, mut record: ExchangeRecord) {
        if let Some(served) = &record.served {
            let made = match served.story {
                crate::server::StoreStory::Created { id, .. } => Some(id),
                crate::server::StoreStory::Regenerated { new, .. } => Some(new),
                _ => None,
            };
            if let Some(id) = made {
                if self.made_by_browser.len() >= MAX_MADE_BY {
                    self.made_by_browser.clear();
                }
                self.made_by_browser.insert(id, record.browser);
            }
        }
        if record.exchange.body.len() > HISTORY_BODY_MAX {
            record.exchange.body = cut_text(&record.exchange.body, HISTORY_BODY_MAX);
        }
        record.views = record.read_views();
        self.exchanges.push(record);
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

    /// Now on the lab's clock (real time plus how far the user moved it ahead).
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.clock_ahead
    }

    fn log_lab(&mut self, what: Logged) {
        self.push_log_at(self.now(), LogSource::Lab, what);
    }

    fn log_browser(&mut self, browser: BrowserId, what: Logged) {
        let source = self.browser_source(browser).unwrap_or(LogSource::Lab);
        self.push_log_at(self.now(), source, what);
    }

    fn push_log_at(&mut self, at: OffsetDateTime, source: LogSource, what: Logged) {
        let entry = LogEntry {
            at,
            source,
            level: what.level(),
            what,
        };
        self.log.push(entry);
        self.logged += 1;
    }

    /// The log lines written after the first `before` lines ever written (pass an earlier
    /// [`Self::logged`]), as far as the log still keeps them.
    pub fn log_since(&self, before: u64) -> impl Iterator<Item = &LogEntry> {
        let new = usize::try_from(self.logged.saturating_sub(before)).unwrap_or(usize::MAX);
        self.log.iter().skip(self.log.len().saturating_sub(new))
    }

    /// Bytes the log and the timeline hold, for budgets and tests.
    pub fn retained_bytes(&self) -> (usize, usize) {
        (self.log.bytes(), self.exchanges.bytes())
    }
}

/// The forms on a page (none unless its body has one).
/// The forms of a page, and its links to the same server (at most [`MAX_LINKS`], each once).
fn page_forms(page: &Exchange) -> (Vec<crate::browser::PageForm>, Vec<url::Url>) {
    if !page.body.contains("<form") && !page.body.contains("<a") {
        return (Vec::new(), Vec::new());
    }
    let Ok(base) = url::Url::parse(&page.url) else {
        return (Vec::new(), Vec::new());
    };
    let parts = crate::browser::read_page(&page.body, &base);
    let mut links: Vec<url::Url> = Vec::new();
    for link in parts.links {
        if link.origin() == base.origin() && !links.contains(&link) && links.len() < MAX_LINKS {
            links.push(link);
        }
    }
    (parts.forms, links)
}

/// The most links of a page the browser panel offers to follow.
pub const MAX_LINKS: usize = 8;

/// Whether two URLs name the same server (scheme, host and port).
fn same_server(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}
