//! The headless core: owns the tokio runtime, the embedded server and the simulated browsers,
//! takes [`Command`]s and publishes [`Event`]s. The UI, the `demo` command and the tests all
//! drive the lab the same way, so everything the UI shows can be checked without a window.

mod actions;
pub mod demo;
pub mod load;
mod state;
pub mod text;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use tokio::runtime::Runtime;

pub use state::{
    BrowserState, ExchangeRecord, JarCookie, LabState, LoadStatus, LogEntry, LogLevel, LogSource,
};
pub use text::served_line;

use crate::{
    browser::{Browser, CookieKey, Exchange},
    server::{Inspector, RunningServer, Served, ServerConfig, SessionRow, StoreChoice},
};

/// The user agent every simulated browser sends, so the server can tell them from real ones.
pub const USER_AGENT_PREFIX: &str = "SessionLab/";

/// How many browsers there may be at once (each panel stays readable while scrolling).
pub const MAX_BROWSERS: usize = 26;

/// How often a shared store (SQLite, Redis) is listed again for changes made elsewhere.
const EXTERNAL_REFRESH: Duration = Duration::from_secs(2);

/// The most parallel visits one burst may send.
pub const MAX_BURST: usize = 500;

/// A simulated browser's stable id (names can change; ids do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BrowserId(pub u32);

/// What the lab's users ask for.
#[derive(Clone, Debug)]
#[must_use]
pub enum Command {
    /// Add a browser with the next free name and colour; a private one forgets everything
    /// when it is closed (restarted).
    AddBrowser {
        /// A private (incognito) browser.
        private: bool,
    },
    /// Remove a browser and drop its jar.
    RemoveBrowser(BrowserId),
    /// Give a browser another name.
    RenameBrowser(BrowserId, String),
    /// `GET url` from a browser, following redirects.
    Visit {
        /// Which browser.
        browser: BrowserId,
        /// The address typed.
        url: String,
    },
    /// `count` parallel visits from one browser, then a summary of what they did to its
    /// session's counter.
    Burst {
        /// Which browser.
        browser: BrowserId,
        /// The address.
        url: String,
        /// How many visits at once.
        count: usize,
    },
    /// Empty a browser's jar.
    ClearCookies(BrowserId),
    /// Delete one cookie from a jar.
    DeleteCookie {
        /// Whose jar.
        browser: BrowserId,
        /// Which cookie.
        cookie: CookieKey,
    },
    /// Change a cookie's value (tampering).
    EditCookie {
        /// Whose jar.
        browser: BrowserId,
        /// Which cookie.
        cookie: CookieKey,
        /// The new value.
        value: String,
    },
    /// Copy a cookie into another browser's jar (hijacking a session).
    CopyCookie {
        /// Whose jar it comes from.
        from: BrowserId,
        /// Whose jar it goes to.
        to: BrowserId,
        /// Which cookie.
        cookie: CookieKey,
    },
    /// Turn a browser's cookies on or off.
    SetCookiesEnabled {
        /// Which browser.
        browser: BrowserId,
        /// On or off.
        enabled: bool,
    },
    /// Make a browser's requests cross-site (as if embedded in another site) or not.
    SetCrossSite {
        /// Which browser.
        browser: BrowserId,
        /// Cross-site or not.
        cross_site: bool,
    },
    /// Close and reopen a browser: session cookies go (everything, if private).
    RestartBrowser(BrowserId),
    /// Apply new cookie settings to the embedded server (its secret is kept).
    ApplySettings(ServerConfig),
    /// Give the embedded server a new random secret.
    RotateSecret,
    /// Restart the embedded server, on the same store or another: a memory store comes back
    /// empty, a SQLite store keeps its sessions.
    RestartServer(Option<StoreChoice>),
    /// Run this many server instances (1 to 4) with the same store configuration.
    SetInstances(usize),
    /// Spread a browser's visits to the embedded server over the instances, round-robin.
    SetSpread {
        /// Which browser.
        browser: BrowserId,
        /// Spread or not.
        spread: bool,
    },
    /// Send `visits` visits from `browsers` new browsers to the embedded server, timed.
    Load {
        /// How many visits.
        visits: usize,
        /// How many new browsers share them.
        browsers: usize,
    },
}

/// What the embedded server is, for the header and the settings panel.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// Its base URL.
    pub url: String,
    /// The address asked for, when it was taken and a free port was used instead.
    pub fallback_from: Option<String>,
    /// "memory", …
    pub store_kind: String,
    /// The store in full (`memory`, `sqlite:PATH`).
    pub store: StoreChoice,
    /// The settings in force (the secret shows only as a fingerprint).
    pub config: ServerConfig,
}

/// One request of a visit (a visit that was redirected has several).
#[derive(Clone, Debug)]
pub struct Hop {
    /// What was sent and received.
    pub exchange: Exchange,
    /// What the embedded server recorded of it, when it went there.
    pub served: Option<Served>,
    /// Which server instance answered (0 is the first), when it went to one.
    pub instance: Option<usize>,
}

/// What happened, for [`LabState::apply`].
#[derive(Clone, Debug)]
pub enum Event {
    /// The embedded server is listening.
    ServerStarted(ServerInfo),
    /// The embedded server's settings changed; the text says what that means.
    ServerReconfigured {
        /// The server now.
        info: ServerInfo,
        /// What changed and its consequences.
        text: String,
    },
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
        /// Whether it is private.
        private: bool,
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
    /// A browser's switches changed.
    BrowserOptions {
        /// Which browser.
        browser: BrowserId,
        /// Cookies on.
        cookies_enabled: bool,
        /// Requests made cross-site.
        cross_site: bool,
        /// Visits spread over the server instances.
        spread: bool,
    },
    /// A visit was sent.
    VisitStarted {
        /// From which browser.
        browser: BrowserId,
        /// To where.
        url: String,
    },
    /// A visit came back (every hop of it, the page shown last).
    VisitFinished {
        /// From which browser.
        browser: BrowserId,
        /// The requests it took.
        hops: Vec<Hop>,
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
    /// One instance's store, after a change.
    Sessions {
        /// Which instance (0 is the first).
        instance: usize,
        /// Every live session.
        rows: Vec<SessionRow>,
        /// Requests that instance answered so far.
        requests_served: u64,
    },
    /// The server instances now running: their base URLs, the first first.
    Instances(Vec<String>),
    /// The session store stopped answering (it is marked down until a listing succeeds).
    StoreDown(String),
    /// A client outside the lab (a real browser, curl) was served.
    External(Served),
    /// An instance answered another request.
    RequestsServed {
        /// Which instance.
        instance: usize,
        /// How many it has answered in all.
        count: u64,
    },
    /// A load is under way.
    LoadProgress {
        /// Visits answered so far.
        done: usize,
        /// Visits in all.
        total: usize,
    },
    /// A load finished (or could not run).
    LoadFinished(Result<load::LoadReport, String>),
    /// A line for the log.
    Note {
        /// About which browser, if one.
        browser: Option<BrowserId>,
        /// How to read it.
        level: LogLevel,
        /// What to say.
        text: String,
    },
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
    /// Where the server keeps sessions.
    pub store: StoreChoice,
    /// How many server instances (1 to 4) share that store configuration.
    pub instances: usize,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            server: ServerConfig::default(),
            browsers: 2,
            store: StoreChoice::Memory,
            instances: 1,
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
    /// Instance 1, on the address asked for.
    server: Option<RunningServer>,
    /// Instances 2 to 4, on the following ports, sharing the store configuration.
    extra: Mutex<Vec<Extra>>,
    browsers: Mutex<BTreeMap<BrowserId, BrowserSlot>>,
    next_id: Mutex<u32>,
    outbox: Outbox,
}

#[derive(Clone)]
struct BrowserSlot {
    name: String,
    colour: usize,
    private: bool,
    cross_site: bool,
    spread: bool,
    visits: Arc<std::sync::atomic::AtomicUsize>,
    browser: Browser,
}

/// An additional server instance and the tasks that watch it.
struct Extra {
    server: Arc<RunningServer>,
    watchers: Vec<tokio::task::JoinHandle<()>>,
}

/// The most server instances at once.
pub const MAX_INSTANCES: usize = 4;

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

    fn note(&self, browser: Option<BrowserId>, level: LogLevel, text: impl Into<String>) {
        self.send(Event::Note {
            browser,
            level,
            text: text.into(),
        });
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
        let server = match runtime.block_on(RunningServer::start_with(
            config.bind,
            config.server,
            config.store,
        )) {
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
            extra: Mutex::default(),
            browsers: Mutex::default(),
            next_id: Mutex::new(1),
            outbox,
        });
        if let Some(inspector) = core.inspector() {
            runtime.spawn(watch_store(0, inspector.clone(), core.outbox.clone()));
            runtime.spawn(watch_external(0, inspector.clone(), core.outbox.clone()));
        }
        let lab = Self {
            core,
            events,
            runtime,
        };
        for _ in 0..config.browsers {
            lab.send(Command::AddBrowser { private: false });
        }
        if config.instances > 1 {
            lab.send(Command::SetInstances(config.instances));
        }
        Ok(lab)
    }

    /// Calls `waker` whenever an event is ready (and once now, for any already pending).
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
        let core = self.core.clone();
        match command {
            Command::Visit { browser, url } => {
                self.runtime.spawn(async move {
                    core.visit(browser, url).await;
                });
            }
            Command::Burst {
                browser,
                url,
                count,
            } => {
                self.runtime.spawn(async move {
                    actions::burst(&core, browser, url, count).await;
                });
            }
            Command::SetInstances(count) => {
                self.runtime.spawn(async move {
                    actions::set_instances(&core, count).await;
                });
            }
            Command::RestartServer(store) => {
                self.runtime.spawn(async move {
                    actions::restart_server(&core, store).await;
                });
            }
            Command::Load { visits, browsers } => {
                self.runtime.spawn(async move {
                    actions::load(&core, visits, browsers).await;
                });
            }
            // Everything else is quick and touches no network.
            other => actions::apply(&core, other),
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
        for extra in self.core.lock_extra().iter() {
            extra.server.shutdown();
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

    fn slot(&self, id: BrowserId) -> Option<BrowserSlot> {
        self.lock_browsers().get(&id).cloned()
    }

    async fn visit(&self, id: BrowserId, url: String) {
        let Some(slot) = self.slot(id) else {
            return;
        };
        self.outbox.send(Event::VisitStarted {
            browser: id,
            url: url.clone(),
        });
        let options = crate::browser::VisitOptions {
            cross_site: slot.cross_site,
        };
        let url = if slot.spread {
            let turn = slot
                .visits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.spread(&url, turn)
        } else {
            url
        };
        let result = slot.browser.visit(&url, options).await;
        // The jar was updated as the responses arrived; say so first, so whoever sees the
        // finished visit also sees the cookies it set.
        self.send_cookies(id, &slot.browser);
        match result {
            Ok(exchanges) => {
                let hops = exchanges
                    .into_iter()
                    .map(|exchange| Hop {
                        served: self.served_record(&exchange),
                        instance: self.instance_of(&exchange.url).map(|(n, _)| n),
                        exchange,
                    })
                    .collect();
                self.outbox.send(Event::VisitFinished { browser: id, hops });
            }
            Err(err) => self.outbox.send(Event::VisitFailed {
                browser: id,
                url,
                error: err.to_string(),
            }),
        }
    }

    fn send_cookies(&self, id: BrowserId, browser: &Browser) {
        self.outbox.send(Event::Cookies {
            browser: id,
            cookies: self.jar_cookies(browser),
        });
    }

    /// Every running instance, the first first.
    fn instances(&self) -> Vec<InstanceRef<'_>> {
        let Some(first) = &self.server else {
            return Vec::new();
        };
        let mut all = vec![InstanceRef::First(first)];
        all.extend(
            self.lock_extra()
                .iter()
                .map(|extra| InstanceRef::Extra(extra.server.clone())),
        );
        all
    }

    fn lock_extra(&self) -> std::sync::MutexGuard<'_, Vec<Extra>> {
        self.extra.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Which instance `url` points at, and its inspector.
    fn instance_of(&self, url: &str) -> Option<(usize, Inspector)> {
        let url = url::Url::parse(url).ok()?;
        self.instances().iter().enumerate().find_map(|(n, server)| {
            let addr = server.addr();
            (url.host_str() == Some(&addr.ip().to_string())
                && url.port_or_known_default() == Some(addr.port()))
            .then(|| (n, server.inspector().clone()))
        })
    }

    /// Whether `url` points at an embedded server instance.
    fn is_ours(&self, url: &str) -> bool {
        self.instance_of(url).is_some()
    }

    /// `url` moved to instance `turn % instances` when it points at the first instance.
    fn spread(&self, url: &str, turn: usize) -> String {
        let instances = self.instances();
        let (Some(first), Ok(mut parsed)) = (instances.first(), url::Url::parse(url)) else {
            return url.to_owned();
        };
        let first_port = first.addr().port();
        if parsed.port_or_known_default() != Some(first_port) || instances.len() < 2 {
            return url.to_owned();
        }
        let target = instances[turn % instances.len()].addr().port();
        if parsed.set_port(Some(target)).is_err() {
            return url.to_owned();
        }
        parsed.to_string()
    }

    /// The embedded server's record of an exchange, if the exchange went to an instance.
    fn served_record(&self, exchange: &Exchange) -> Option<Served> {
        let (_, inspector) = self.instance_of(&exchange.url)?;
        inspector.served_request(exchange.request_id()?)
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

/// A running instance: the first (owned by the core) or an additional one.
enum InstanceRef<'a> {
    First(&'a RunningServer),
    Extra(Arc<RunningServer>),
}

impl std::ops::Deref for InstanceRef<'_> {
    type Target = RunningServer;

    fn deref(&self) -> &RunningServer {
        match self {
            Self::First(server) => server,
            Self::Extra(server) => server,
        }
    }
}

fn server_info(server: &RunningServer) -> ServerInfo {
    let inspector = server.inspector();
    ServerInfo {
        url: server.url(),
        fallback_from: server.fallback_from().map(|a| a.to_string()),
        store_kind: inspector.store_kind().to_owned(),
        store: server.store_choice(),
        config: (*inspector.config()).clone(),
    }
}

/// Lists an instance's store after every change (changes that come while listing are
/// coalesced).
async fn watch_store(instance: usize, inspector: Inspector, outbox: Outbox) {
    let mut changes = inspector.store_changes();
    let mut down = false;
    loop {
        match inspector.sessions().await {
            Ok(rows) => {
                if down {
                    down = false;
                    outbox.note(None, LogLevel::Info, "The session store answers again");
                }
                outbox.send(Event::Sessions {
                    instance,
                    rows,
                    requests_served: inspector.requests_served(),
                });
            }
            Err(err) => {
                // Said once per outage, not at every retry.
                if !down {
                    down = true;
                    outbox.send(Event::StoreDown(format!(
                        "The session store is not answering: {err}"
                    )));
                }
            }
        }
        // At most ten listings a second, however busy the store is (a load of thousands of
        // sessions would otherwise keep a core busy listing).
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A shared store also changes behind our back (other processes, Redis's own expiry):
        // look again every couple of seconds as well.
        let shared = inspector.store_kind() != "memory";
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(EXTERNAL_REFRESH), if shared => {}
        }
    }
}

/// Tells the log about requests from clients that are not the lab's browsers.
async fn watch_external(instance: usize, inspector: Inspector, outbox: Outbox) {
    let mut served = inspector.served();
    loop {
        match served.recv().await {
            Ok(record) => {
                outbox.send(Event::RequestsServed {
                    instance,
                    count: inspector.requests_served(),
                });
                let ours = record
                    .user_agent
                    .as_deref()
                    .is_some_and(|ua| ua.starts_with(USER_AGENT_PREFIX));
                if !ours {
                    outbox.send(Event::External(Served::clone(&record)));
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                outbox.send(Event::RequestsServed {
                    instance,
                    count: inspector.requests_served(),
                });
                outbox.note(
                    None,
                    LogLevel::Info,
                    format!("{missed} requests came too fast to log one by one"),
                );
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
