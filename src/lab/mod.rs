//! The headless core: owns the tokio runtime, the embedded server and the simulated browsers,
//! takes [`Command`]s and publishes [`Event`]s. The UI, the `demo` command and the tests all
//! drive the lab the same way, so everything the UI shows can be checked without a window.

pub mod demo;
mod state;
pub mod text;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use tokio::runtime::Runtime;

pub use state::{BrowserState, JarCookie, LabState, LogEntry, LogLevel, LogSource, served_line};

use crate::{
    browser::{Browser, Exchange},
    server::{Inspector, RunningServer, Served, ServerConfig, SessionRow},
};

/// The user agent every simulated browser sends, so the server can tell them from real ones.
pub const USER_AGENT_PREFIX: &str = "SessionLab/";

/// How many browsers there may be at once (each panel stays readable while scrolling).
pub const MAX_BROWSERS: usize = 26;

/// A simulated browser's stable id (names can change; ids do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BrowserId(pub u32);

/// What the lab's users ask for.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub enum Command {
    /// Add a browser with the next free name and colour.
    AddBrowser,
    /// Remove a browser and drop its jar.
    RemoveBrowser(BrowserId),
    /// Give a browser another name.
    RenameBrowser(BrowserId, String),
    /// `GET url` from a browser.
    Visit {
        /// Which browser.
        browser: BrowserId,
        /// The address typed.
        url: String,
    },
    /// Empty a browser's jar.
    ClearCookies(BrowserId),
}

/// What the embedded server is, for the header.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerInfo {
    /// Its base URL.
    pub url: String,
    /// The address asked for, when it was taken and a free port was used instead.
    pub fallback_from: Option<String>,
    /// "memory", …
    pub store_kind: String,
    /// "plain", "signed" or "private".
    pub protection: String,
    /// The session cookie's name.
    pub cookie_name: String,
    /// Identifies the secret without revealing it.
    pub secret_fingerprint: String,
}

/// What happened, for [`LabState::apply`].
#[derive(Clone, Debug)]
pub enum Event {
    /// The embedded server is listening.
    ServerStarted(ServerInfo),
    /// The embedded server could not start.
    ServerFailed(String),
    /// A browser was added.
    BrowserAdded {
        /// Its id.
        id: BrowserId,
        /// Its name.
        name: String,
        /// Its colour index.
        colour: usize,
    },
    /// A browser was removed.
    BrowserRemoved(BrowserId),
    /// A browser was renamed.
    BrowserRenamed {
        /// Its id.
        id: BrowserId,
        /// Its new name.
        name: String,
    },
    /// A visit was sent.
    VisitStarted {
        /// From which browser.
        browser: BrowserId,
        /// To where.
        url: String,
    },
    /// A visit came back.
    VisitFinished {
        /// From which browser.
        browser: BrowserId,
        /// What was sent and received.
        exchange: Exchange,
        /// What the embedded server recorded of it, when the visit went there.
        served: Option<Served>,
    },
    /// A visit failed.
    VisitFailed {
        /// From which browser.
        browser: BrowserId,
        /// To where.
        url: String,
        /// Why, in words.
        error: String,
    },
    /// A browser's jar, after a change.
    Cookies {
        /// Whose jar.
        browser: BrowserId,
        /// Every cookie in it.
        cookies: Vec<JarCookie>,
    },
    /// A browser's jar was emptied.
    CookiesCleared {
        /// Whose jar.
        browser: BrowserId,
        /// How many cookies it held.
        count: usize,
    },
    /// The store's sessions, after a change.
    Sessions {
        /// Every live session.
        rows: Vec<SessionRow>,
        /// Requests answered so far.
        requests_served: u64,
    },
    /// A client outside the lab (a real browser, curl) was served.
    External(Served),
    /// The server answered another request.
    RequestsServed(u64),
    /// Something failed in the background.
    Problem(String),
}

/// How to start a lab.
#[derive(Clone, Debug)]
pub struct LabConfig {
    /// Where the embedded server should listen (a busy port falls back to a free one).
    pub bind: SocketAddr,
    /// The server's cookie settings and secret.
    pub server: ServerConfig,
    /// How many browsers to start with (named A, B, …).
    pub browsers: usize,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            server: ServerConfig::default(),
            browsers: 2,
        }
    }
}

/// Something to call when an event is ready (the UI passes `request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The headless core. Dropping it stops the server and every request in flight.
pub struct Lab {
    core: Arc<Core>,
    events: mpsc::Receiver<Event>,
    // Declared last so it drops last: tasks above may still hold handles into it.
    runtime: Runtime,
}

struct Core {
    server: Option<RunningServer>,
    browsers: Mutex<BTreeMap<BrowserId, BrowserSlot>>,
    next_id: Mutex<u32>,
    outbox: Outbox,
}

struct BrowserSlot {
    name: String,
    colour: usize,
    browser: Browser,
}

/// Sends events to the lab's reader and wakes it.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<Event>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Outbox {
    fn send(&self, event: Event) {
        // The reader is gone only when the lab is being dropped.
        let _ = self.tx.send(event);
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(wake) = waker {
            wake();
        }
    }
}

/// Errors starting the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The tokio runtime could not be built.
    #[error("could not start the background runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

impl Lab {
    /// Starts the runtime, the embedded server and the first browsers.
    ///
    /// A server that cannot start is reported as [`Event::ServerFailed`]; the lab still runs,
    /// so its browsers can visit other servers.
    pub fn start(config: LabConfig) -> Result<Self, LabError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("session-lab")
            .enable_all()
            .build()?;
        let (tx, events) = mpsc::channel();
        let outbox = Outbox {
            tx,
            waker: Arc::default(),
        };
        let server = match runtime.block_on(RunningServer::start(config.bind, config.server)) {
            Ok(server) => {
                if let Some(wanted) = server.fallback_from() {
                    tracing::warn!(%wanted, actual = %server.addr(), "port taken; using a free one");
                }
                outbox.send(Event::ServerStarted(server_info(&server)));
                Some(server)
            }
            Err(err) => {
                outbox.send(Event::ServerFailed(err.to_string()));
                None
            }
        };
        let core = Arc::new(Core {
            server,
            browsers: Mutex::default(),
            next_id: Mutex::new(1),
            outbox,
        });
        if let Some(inspector) = core.inspector() {
            runtime.spawn(watch_store(inspector.clone(), core.outbox.clone()));
            runtime.spawn(watch_external(inspector.clone(), core.outbox.clone()));
        }
        let lab = Self {
            core,
            events,
            runtime,
        };
        for _ in 0..config.browsers {
            lab.send(Command::AddBrowser);
        }
        Ok(lab)
    }

    /// Calls `waker` whenever an event is ready (after any already pending).
    pub fn set_waker(&self, waker: Waker) {
        *self
            .core
            .outbox
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(waker.clone());
        waker();
    }

    /// The embedded server's base URL, if it runs.
    pub fn server_url(&self) -> Option<String> {
        self.core.server.as_ref().map(RunningServer::url)
    }

    /// Carries out a command; anything slow runs in the background and answers with events.
    pub fn send(&self, command: Command) {
        let core = &self.core;
        match command {
            Command::AddBrowser => core.add_browser(),
            Command::RemoveBrowser(id) => {
                let removed = core.lock_browsers().remove(&id).is_some();
                if removed {
                    core.outbox.send(Event::BrowserRemoved(id));
                }
            }
            Command::RenameBrowser(id, name) => {
                let name = name.trim().to_owned();
                if name.is_empty() {
                    return;
                }
                if let Some(slot) = core.lock_browsers().get_mut(&id) {
                    slot.name = name.clone();
                } else {
                    return;
                }
                core.outbox.send(Event::BrowserRenamed { id, name });
            }
            Command::Visit { browser, url } => {
                let core = core.clone();
                self.runtime
                    .spawn(async move { core.visit(browser, url).await });
            }
            Command::ClearCookies(id) => {
                let Some(browser) = core.browser(id) else {
                    return;
                };
                let count = browser.cookies().len();
                browser.clear_cookies();
                core.outbox
                    .send(Event::CookiesCleared { browser: id, count });
                core.outbox.send(Event::Cookies {
                    browser: id,
                    cookies: core.jar_cookies(&browser),
                });
            }
        }
    }

    /// Applies every pending event to `state`; returns how many there were.
    pub fn pump(&self, state: &mut LabState) -> usize {
        let mut applied = 0;
        while let Ok(event) = self.events.try_recv() {
            state.apply(event);
            applied += 1;
        }
        applied
    }

    /// Applies events until `done(state)` holds or `timeout` passes; returns whether it held.
    pub fn wait_until(
        &self,
        state: &mut LabState,
        timeout: Duration,
        mut done: impl FnMut(&LabState) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        self.pump(state);
        while !done(state) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => state.apply(event),
                Err(_) => return false,
            }
        }
        true
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Stop accepting connections now; dropping the runtime then ends every task.
        if let Some(server) = &self.core.server {
            server.shutdown();
        }
    }
}

impl Core {
    fn inspector(&self) -> Option<&Inspector> {
        self.server.as_ref().map(RunningServer::inspector)
    }

    fn lock_browsers(&self) -> std::sync::MutexGuard<'_, BTreeMap<BrowserId, BrowserSlot>> {
        self.browsers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn browser(&self, id: BrowserId) -> Option<Browser> {
        self.lock_browsers()
            .get(&id)
            .map(|slot| slot.browser.clone())
    }

    fn add_browser(&self) {
        let mut browsers = self.lock_browsers();
        if browsers.len() >= MAX_BROWSERS {
            drop(browsers);
            self.outbox.send(Event::Problem(format!(
                "There are already {MAX_BROWSERS} browsers; remove one to add another"
            )));
            return;
        }
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            let id = BrowserId(*next);
            *next += 1;
            id
        };
        let name = next_free_name(browsers.values().map(|s| s.name.as_str()));
        let colour = (0..)
            .find(|c| browsers.values().all(|s| s.colour != *c))
            .unwrap_or(0);
        let user_agent = format!(
            "{USER_AGENT_PREFIX}{} (simulated browser #{})",
            env!("CARGO_PKG_VERSION"),
            id.0
        );
        let browser = match Browser::new(&user_agent) {
            Ok(browser) => browser,
            Err(err) => {
                drop(browsers);
                self.outbox.send(Event::Problem(err.to_string()));
                return;
            }
        };
        browsers.insert(
            id,
            BrowserSlot {
                name: name.clone(),
                colour,
                browser,
            },
        );
        drop(browsers);
        self.outbox.send(Event::BrowserAdded { id, name, colour });
    }

    async fn visit(&self, id: BrowserId, url: String) {
        let Some(browser) = self.browser(id) else {
            return;
        };
        self.outbox.send(Event::VisitStarted {
            browser: id,
            url: url.clone(),
        });
        let result = browser.visit(&url).await;
        // The jar was updated as the response arrived; say so first, so whoever sees the
        // finished visit also sees the cookies it set.
        self.outbox.send(Event::Cookies {
            browser: id,
            cookies: self.jar_cookies(&browser),
        });
        match result {
            Ok(exchange) => {
                let served = self.served_record(&exchange);
                self.outbox.send(Event::VisitFinished {
                    browser: id,
                    exchange,
                    served,
                });
            }
            Err(err) => self.outbox.send(Event::VisitFailed {
                browser: id,
                url,
                error: err.to_string(),
            }),
        }
    }

    /// The embedded server's record of an exchange, if the exchange went to it.
    fn served_record(&self, exchange: &Exchange) -> Option<Served> {
        let server = self.server.as_ref()?;
        let url = url::Url::parse(&exchange.url).ok()?;
        let ours = url.host_str() == Some(&server.addr().ip().to_string())
            && url.port_or_known_default() == Some(server.addr().port());
        if !ours {
            return None;
        }
        server.inspector().served_request(exchange.request_id()?)
    }

    /// A browser's cookies, each tagged with the embedded server's session it carries.
    fn jar_cookies(&self, browser: &Browser) -> Vec<JarCookie> {
        let inspector = self.inspector();
        let host = self.server.as_ref().map(|s| s.addr().ip().to_string());
        browser
            .cookies()
            .into_iter()
            .map(|cookie| {
                let session_id = match (inspector, &host) {
                    (Some(inspector), Some(host)) if &cookie.domain == host => {
                        inspector.session_id_of_cookie(&cookie.name, &cookie.value)
                    }
                    _ => None,
                };
                JarCookie { cookie, session_id }
            })
            .collect()
    }
}

/// A, B, …, Z, then A2, B2, …: the first name no browser has.
fn next_free_name<'a>(taken: impl Iterator<Item = &'a str> + Clone) -> String {
    (1..)
        .flat_map(|round: u32| {
            ('A'..='Z').map(move |letter| {
                if round == 1 {
                    letter.to_string()
                } else {
                    format!("{letter}{round}")
                }
            })
        })
        .find(|name| !taken.clone().any(|t| t == name))
        .unwrap_or_else(|| "?".to_owned())
}

fn server_info(server: &RunningServer) -> ServerInfo {
    let inspector = server.inspector();
    let config = inspector.config();
    ServerInfo {
        url: server.url(),
        fallback_from: server.fallback_from().map(|a| a.to_string()),
        store_kind: inspector.store_kind().to_owned(),
        protection: config.protection.as_str().to_owned(),
        cookie_name: config.cookie_name.clone(),
        secret_fingerprint: config.secret.fingerprint(),
    }
}

/// Lists the store after every change (changes that come while listing are coalesced).
async fn watch_store(inspector: Inspector, outbox: Outbox) {
    let mut changes = inspector.store_changes();
    loop {
        match inspector.sessions().await {
            Ok(rows) => outbox.send(Event::Sessions {
                rows,
                requests_served: inspector.requests_served(),
            }),
            Err(err) => outbox.send(Event::Problem(format!(
                "Could not list the session store: {err}"
            ))),
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Tells the log about requests from clients that are not the lab's browsers.
async fn watch_external(inspector: Inspector, outbox: Outbox) {
    let mut served = inspector.served();
    loop {
        match served.recv().await {
            Ok(record) => {
                outbox.send(Event::RequestsServed(inspector.requests_served()));
                let ours = record
                    .user_agent
                    .as_deref()
                    .is_some_and(|ua| ua.starts_with(USER_AGENT_PREFIX));
                if !ours {
                    outbox.send(Event::External(record));
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                outbox.send(Event::Problem(format!(
                    "{missed} requests came too fast to log one by one"
                )));
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names go A, B, … and reuse the first gap.
    #[test]
    fn names_fill_the_first_gap() {
        assert_eq!(next_free_name(["A", "B"].into_iter()), "C");
        assert_eq!(next_free_name(["A", "C"].into_iter()), "B");
        let all: Vec<String> = ('A'..='Z').map(String::from).collect();
        assert_eq!(next_free_name(all.iter().map(String::as_str)), "A2");
    }
}
