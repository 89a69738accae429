//! The headless core: owns the tokio runtime, the embedded server instances and the simulated
//! browsers, takes [`Command`]s and publishes [`Event`]s. The UI, the `demo` command and the
//! tests all drive the lab the same way, so everything the UI shows can be checked without a
//! window.
//!
//! Two roads lead to [`LabState`]: events (visits, settings, the log) on a channel, and each
//! server instance's store changes on its [`ChangeFeed`], which coalesces them per session. Both
//! are drained by [`Lab::pump`] within a time budget, so the window never falls behind however
//! fast a client outside writes the store.

mod actions;
mod command;
pub mod demo;
mod event;
pub mod export;
pub mod load;
mod log;
mod ranked;
pub mod saved;
pub mod sessions;
mod state;
pub mod text;
mod visit;
mod watch;
pub mod watched;

use visit::Navigation;

use parking_lot::{Condvar, Mutex, RwLock};
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use tokio::{runtime::Runtime, task::JoinHandle};

pub use command::{
    AuditRequest, BrowserCommand, ClockMove, Command, RequestCommand, ServerCommand,
};
pub use event::{
    AuditFailed, BrowserEvent, BrowserId, BrowserSwitch, BurstOutcome, ClockMoved, Event, Hop,
    JarCookie, JarEdit, LoadFailed, Problem, RunEvent, ServerEvent, ServerInfo, SettingChange,
    Shared, Views,
};
pub use log::{ExchangeLine, LogLevel, LogSource, Logged};
pub use sessions::{Maker, SessionSort, SessionTable, SessionView, SortColumn};
pub use state::{
    AuditRun, AuditState, BrowserState, ExchangeRecord, InstanceState, LabState, LoadStatus,
    LogEntry, MAX_EXCHANGE_BYTES, MAX_LOG_BYTES, Referee,
};
pub use text::{failure_text, served_line};
pub use watched::WatchedState;

use crate::{
    browser::{Browser, Exchange, LAB_HOSTS, LabTarget, RequestFrom, is_lab_host},
    clock::LabClock,
    server::{
        ChangeFeed, Inspector, RunningServer, Served, ServerConfig, SessionChange, SessionId,
        SessionRow, StoreChoice,
    },
};

/// The user agent every simulated browser sends, so the server can tell them from real ones.
pub const USER_AGENT_PREFIX: &str = "SessionLab/";

/// How many browsers there may be at once (each panel stays readable while scrolling).
pub const MAX_BROWSERS: usize = 26;

/// The most parallel visits one burst may send.
pub const MAX_BURST: usize = 500;

/// The most server instances at once.
pub const MAX_INSTANCES: usize = 4;

/// How long [`Lab::pump`] may work per call (per frame): the rest waits for the next. With
/// the window's own drawing (about 2 ms with 16 browsers) a busy frame stays near 4 ms, and
/// at 60 frames a second this still applies several hundred thousand changes a second.
pub const PUMP_BUDGET: Duration = Duration::from_micros(1500);

/// How many store changes go into one [`ServerEvent::SessionChanges`] (about 0.1 ms of work).
const CHANGES_PER_EVENT: usize = 256;

/// How to start a lab.
#[derive(Clone, Debug)]
pub struct LabConfig {
    /// Where the embedded server should listen (a busy port falls back to a free one).
    pub bind: std::net::SocketAddr,
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
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 3000)),
            server: ServerConfig::default(),
            browsers: 2,
            store: StoreChoice::Memory,
            instances: 1,
        }
    }
}

/// Something to call when an event is ready (the UI passes `request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The headless core. Dropping it stops the servers and every request in flight.
pub struct Lab {
    core: Arc<Core>,
    events: mpsc::Receiver<Event>,
    /// Store changes taken from a feed and not yet applied, per instance: applied a slice at a
    /// time within the pump's budget.
    taken: Mutex<Vec<Option<Taken>>>,
    /// The same for the watched store's feed.
    watch_taken: Mutex<Option<Taken>>,
    /// The watched store's status as it changes (copied only when it did).
    watch_status: Mutex<Option<tokio::sync::watch::Receiver<crate::watch::WatchStatus>>>,
    // Declared last so it drops last: tasks above may still hold handles into it.
    runtime: Runtime,
}

/// Applies `feed`'s changes a slice of [`CHANGES_PER_EVENT`] at a time until the feed is empty
/// or `deadline` passes (then the rest of the batch waits in `taken`); whether time ran out.
fn drain(
    feed: &ChangeFeed,
    taken: &mut Option<Taken>,
    deadline: Instant,
    mut apply: impl FnMut(bool, Vec<SessionChange>),
) -> bool {
    loop {
        if Instant::now() >= deadline {
            return true;
        }
        if taken.is_none() {
            let batch = feed.take();
            if batch.is_empty() {
                return false;
            }
            *taken = Some(Taken {
                reset: batch.reset,
                changes: batch.into_changes(),
            });
        }
        let Some(rest) = taken else {
            return false;
        };
        let changes: Vec<SessionChange> = rest.changes.by_ref().take(CHANGES_PER_EVENT).collect();
        let reset = std::mem::take(&mut rest.reset);
        if changes.len() < CHANGES_PER_EVENT {
            *taken = None;
        }
        apply(reset, changes);
    }
}

/// The rest of one feed batch.
struct Taken {
    reset: bool,
    changes: std::collections::hash_map::IntoValues<SessionId, SessionChange>,
}

struct Core {
    /// Where the first instance listens and with what settings, to start it again when it could
    /// not start (a store that was unreachable).
    start: (std::net::SocketAddr, ServerConfig),
    /// A random tag in the user agent of this lab's browsers, so requests of this lab tell
    /// themselves from those of anyone else (another lab, `session-lab load`, curl).
    tag: String,
    /// The server instances, the first first (empty if the server could not start). Shared
    /// with the browsers' resolvers, which send the lab's names to the first.
    instances: Arc<RwLock<Vec<Instance>>>,
    /// The lab's clock, which the user can move ahead.
    clock: LabClock,
    browsers: Mutex<BTreeMap<BrowserId, BrowserSlot>>,
    next_id: Mutex<u32>,
    outbox: Outbox,
    /// The TLS-terminating proxy in front of the first instance (while the lab has https).
    proxy: Mutex<Option<crate::server::TlsProxy>>,
    /// The other application's store the lab watches, if any.
    watch: Mutex<Option<Arc<crate::watch::Watch>>>,
}

#[derive(Clone)]
struct BrowserSlot {
    name: String,
    colour: usize,
    private: bool,
    from: RequestFrom,
    spread: bool,
    visits: Arc<AtomicUsize>,
    browser: Browser,
}

/// One server instance and the tasks that watch it.
struct Instance {
    server: Arc<RunningServer>,
    watchers: Vec<JoinHandle<()>>,
}

/// Rings when anything arrives for the reader: an event, or store changes on a feed.
#[derive(Default)]
struct Doorbell {
    rung: Mutex<bool>,
    ring: Condvar,
}

impl Doorbell {
    fn ring(&self) {
        *self.rung.lock() = true;
        self.ring.notify_all();
    }

    /// Waits until rung (or `timeout`), and resets it.
    fn wait(&self, timeout: Duration) {
        let mut rung = self.rung.lock();
        self.ring.wait_while_for(&mut rung, |rung| !*rung, timeout);
        *rung = false;
    }
}

/// Sends events to the lab's reader and wakes it.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<Event>,
    /// Events sent and not yet taken.
    backlog: Arc<AtomicUsize>,
    doorbell: Arc<Doorbell>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Outbox {
    fn send(&self, event: impl Into<Event>) {
        // The reader is gone only when the lab is being dropped.
        if self.tx.send(event.into()).is_ok() {
            self.backlog.fetch_add(1, Ordering::Relaxed);
        }
        self.wake();
    }

    fn wake(&self) {
        self.doorbell.ring();
        let waker = self.waker.lock().clone();
        if let Some(wake) = waker {
            wake();
        }
    }

    fn problem(&self, browser: Option<BrowserId>, problem: Problem) {
        self.send(BrowserEvent::Problem { browser, problem });
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
    /// A server that cannot start is reported as [`ServerEvent::ServerFailed`]; the lab still runs,
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
            backlog: Arc::default(),
            doorbell: Arc::default(),
            waker: Arc::default(),
        };
        let mut config = config;
        if config.server.tls.is_none() {
            // https for the lab's names (and the server's own address), trusted by the lab's
            // browsers only; without it the lab still serves http.
            let mut names: Vec<String> = crate::browser::LAB_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .chain([
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                    "::1".to_owned(),
                ])
                .collect();
            let bound = config.bind.ip().to_string();
            if !config.bind.ip().is_unspecified() && !names.contains(&bound) {
                names.push(bound);
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            match crate::server::LabTls::generate(&names) {
                Ok(tls) => config.server.tls = Some(Arc::new(tls)),
                Err(err) => tracing::warn!(%err, "https is off"),
            }
        }
        let core = Arc::new(Core {
            start: (config.bind, config.server.clone()),
            tag: format!("{:08x}", rand::random::<u32>()),
            instances: Arc::default(),
            clock: config.server.clock.clone(),
            browsers: Mutex::default(),
            next_id: Mutex::new(1),
            outbox,
            proxy: Mutex::default(),
            watch: Mutex::default(),
        });
        if let Some(tls) = config.server.tls.clone() {
            let instances = core.instances.clone();
            let backend: crate::server::Backend = Arc::new(move || {
                let instances = instances.read();
                instances.first().map(|i| i.server.addr())
            });
            match runtime.block_on(crate::server::TlsProxy::start(&tls, backend)) {
                Ok(proxy) => {
                    core.outbox.send(ServerEvent::ProxyStarted {
                        url: format!(
                            "https://{}:{}/",
                            crate::browser::APP_HOST,
                            proxy.addr().port()
                        ),
                    });
                    *core.proxy.lock() = Some(proxy);
                }
                Err(err) => tracing::warn!(%err, "the TLS proxy did not start"),
            }
        }
        match runtime.block_on(RunningServer::start_with(
            config.bind,
            config.server,
            config.store,
        )) {
            Ok(server) => {
                if let Some(wanted) = server.fallback_from() {
                    tracing::warn!(%wanted, actual = %server.addr(), "port taken; using a free one");
                }
                core.outbox
                    .send(ServerEvent::ServerStarted(server_info(&server)));
                let _guard = runtime.enter();
                core.add_instance(Arc::new(server));
            }
            Err(err) => core.outbox.send(ServerEvent::ServerFailed(Arc::new(err))),
        }
        let lab = Self {
            core,
            events,
            taken: Mutex::default(),
            watch_taken: Mutex::default(),
            watch_status: Mutex::default(),
            runtime,
        };
        for _ in 0..config.browsers {
            lab.send(BrowserCommand::AddBrowser { private: false });
        }
        if config.instances > 1 {
            lab.send(ServerCommand::SetInstances(config.instances));
        }
        Ok(lab)
    }

    /// Calls `waker` whenever an event or store changes are ready (and once now).
    pub fn set_waker(&self, waker: Waker) {
        *self.core.outbox.waker.lock() = Some(waker.clone());
        waker();
    }

    /// The tag this lab's browsers carry in their user agent (`…; lab TAG)`), by which it tells
    /// its own requests from everyone else's.
    pub fn tag(&self) -> &str {
        &self.core.tag
    }

    /// The embedded server's base URL, if it runs.
    pub fn server_url(&self) -> Option<String> {
        self.core.first().map(|s| s.url())
    }

    /// What the first instance's store holds now, listed in full (oldest first): for checks
    /// and scripts that compare the lab's view with the store. Costs as much as the store.
    pub fn store_listing(&self) -> Option<Result<Vec<SessionRow>, crate::server::StoreCallError>> {
        let inspector = self.core.inspector()?;
        Some(self.runtime.block_on(inspector.sessions()))
    }

    /// How many events wait to be applied (store changes wait, coalesced, in the feeds).
    pub fn backlog(&self) -> usize {
        self.core.outbox.backlog.load(Ordering::Relaxed)
    }

    /// Carries out a command; anything slow runs in the background and answers with events.
    pub fn send(&self, command: impl Into<Command>) {
        match command.into() {
            Command::Browser(command) => actions::change_browser(&self.core, command),
            Command::Request(command) => self.request(command),
            Command::Server(command) => self.server(command),
        }
    }

    /// Sends requests, in the background.
    fn request(&self, command: RequestCommand) {
        let core = self.core.clone();
        match command {
            RequestCommand::Visit { browser, url } => {
                self.runtime.spawn(async move {
                    core.visit(browser, url).await;
                });
            }
            RequestCommand::VisitFrom { browser, url, from } => {
                self.runtime.spawn(async move {
                    let navigation = Navigation {
                        url,
                        form: None,
                        from: Some(from),
                        cookies: None,
                    };
                    core.navigate(browser, navigation, false).await;
                });
            }
            RequestCommand::Submit { browser, url, form } => {
                self.runtime.spawn(async move {
                    let from = url::Url::parse(&url)
                        .ok()
                        .as_ref()
                        .and_then(crate::browser::lab_page)
                        .map_or(RequestFrom::AddressBar, RequestFrom::Link);
                    let navigation = Navigation {
                        url,
                        form: Some(form),
                        from: Some(from),
                        cookies: None,
                    };
                    core.navigate(browser, navigation, false).await;
                });
            }
            RequestCommand::Lure { browser, host } => {
                let host = crate::server::ATTACKER_HOSTS
                    .into_iter()
                    .find(|h| h.eq_ignore_ascii_case(&host))
                    .unwrap_or(crate::server::ATTACKER_HOST);
                self.runtime.spawn(async move {
                    let navigation = Navigation {
                        url: format!("http://{host}/"),
                        form: None,
                        // A link in a mail: no page of any site starts it.
                        from: Some(RequestFrom::AddressBar),
                        cookies: None,
                    };
                    core.navigate(browser, navigation, true).await;
                });
            }
            RequestCommand::Burst {
                browser,
                url,
                count,
            } => {
                self.runtime.spawn(async move {
                    actions::burst(&core, browser, url, count).await;
                });
            }
            RequestCommand::Load { visits, browsers } => {
                self.runtime.spawn(async move {
                    actions::load(&core, visits, browsers).await;
                });
            }
            RequestCommand::RunAudit(request) => {
                self.runtime.spawn(async move {
                    actions::audit(&core, request).await;
                });
            }
        }
    }

    /// Changes the server, its site or the clock: a restart and new instances in the
    /// background, the rest at once.
    fn server(&self, command: ServerCommand) {
        let core = self.core.clone();
        match command {
            ServerCommand::SetInstances(count) => {
                self.runtime.spawn(async move {
                    actions::set_instances(&core, count).await;
                });
            }
            ServerCommand::RestartServer(store) => {
                self.runtime.spawn(async move {
                    actions::restart_server(&core, store).await;
                });
            }
            ServerCommand::ApplySettings(settings) => actions::apply_settings(&core, settings),
            ServerCommand::RotateSecret { grace_secs } => actions::rotate_secret(&core, grace_secs),
            ServerCommand::MoveClock(how) => actions::move_clock(&core, how),
            ServerCommand::SetAttackerPage(page) => {
                actions::change_site(&core, |site| site.set_page(&page));
            }
            ServerCommand::ResetSite => actions::change_site(&core, crate::server::Site::reset),
            ServerCommand::DeleteSessions(ids) => {
                self.runtime.spawn(async move {
                    actions::delete_sessions(&core, &ids).await;
                });
            }
            ServerCommand::WatchStore(address) => self.watch_store(address),
        }
    }

    /// Starts watching a store (stopping the one watched before), or stops.
    fn watch_store(&self, address: Option<String>) {
        let address = match address.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(text) => match crate::watch::StoreAddress::parse(text) {
                Ok(address) => Some(address),
                Err(why) => {
                    self.core
                        .outbox
                        .send(ServerEvent::WatchRefused(why.to_string()));
                    return;
                }
            },
        };
        let started = address.map(|address| {
            let _entered = self.runtime.enter();
            let watch = Arc::new(crate::watch::Watch::start(address));
            let outbox = self.core.outbox.clone();
            watch.feed().listen(Arc::new(move || outbox.wake()));
            watch
        });
        let shown = started.as_ref().map(|w| w.shown().to_owned());
        *self.watch_status.lock() = started.as_ref().map(|watch| {
            let mut status = watch.subscribe();
            // What the state holds is the empty status of a new watch: the first is news too.
            status.mark_changed();
            status
        });
        *self.core.watch.lock() = started;
        *self.watch_taken.lock() = None;
        self.core.outbox.send(ServerEvent::Watching(shown));
    }

    /// The watched store's status and changes, within the pump's deadline; whether more wait.
    fn pump_watch(&self, state: &mut LabState, deadline: Instant) -> bool {
        let Some(watch) = self.core.watch.lock().clone() else {
            return false;
        };
        let Some(watched) = &state.watched else {
            // The event that it began is still on its way.
            return false;
        };
        if watched.address != watch.shown() {
            // A new watch whose start the state has not applied yet: its changes wait for it.
            return false;
        }
        let mut news = self.watch_status.lock();
        if let Some(status) = news.as_mut().filter(|s| s.has_changed().unwrap_or(false)) {
            let status = status.borrow_and_update().clone();
            state.apply(ServerEvent::WatchStatus(status));
        }
        drop(news);
        drain(
            &watch.feed(),
            &mut self.watch_taken.lock(),
            deadline,
            |reset, changes| state.apply(ServerEvent::WatchedChanges { reset, changes }),
        )
    }

    /// Applies what is ready — events, then store changes — for at most [`PUMP_BUDGET`];
    /// returns whether more is waiting (the caller should come back soon, e.g. next frame).
    pub fn pump(&self, state: &mut LabState) -> bool {
        self.pump_for(state, PUMP_BUDGET)
    }

    /// [`Self::pump`] with another time budget.
    pub fn pump_for(&self, state: &mut LabState, budget: Duration) -> bool {
        let deadline = Instant::now() + budget;
        // Events first: they are few (every source that a client outside can drive is
        // coalesced before it gets here).
        loop {
            if Instant::now() >= deadline {
                return true;
            }
            match self.events.try_recv() {
                Ok(event) => {
                    self.core.outbox.backlog.fetch_sub(1, Ordering::Relaxed);
                    state.apply(event);
                }
                Err(_) => break,
            }
        }
        let instances: Vec<(Arc<ChangeFeed>, Inspector)> = self
            .core
            .read_instances()
            .iter()
            .map(|i| (i.server.inspector().feed(), i.server.inspector().clone()))
            .collect();
        for (n, (_, inspector)) in instances.iter().enumerate() {
            let count = inspector.requests_served();
            if state.instances.get(n).is_some_and(|i| i.requests != count) {
                state.apply(ServerEvent::RequestsServed { instance: n, count });
            }
        }
        if let Some((_, first)) = instances.first() {
            let full = first.store_is_full();
            if full != state.store_full {
                state.apply(ServerEvent::StoreFull(full));
            }
        }
        let mut taken = self.taken.lock();
        taken.resize_with(instances.len(), || None);
        for (n, (feed, _)) in instances.iter().enumerate() {
            let out_of_time = drain(feed, &mut taken[n], deadline, |reset, changes| {
                state.apply(ServerEvent::SessionChanges {
                    instance: n,
                    reset,
                    changes,
                });
            });
            if out_of_time {
                return true;
            }
        }
        drop(taken);
        self.pump_watch(state, deadline)
    }

    /// Applies events and store changes until `done(state)` holds or `timeout` passes; returns
    /// whether it held.
    pub fn wait_until(
        &self,
        state: &mut LabState,
        timeout: Duration,
        mut done: impl FnMut(&LabState) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let more = self.pump_for(state, Duration::from_millis(50));
            if done(state) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if !more {
                self.core
                    .outbox
                    .doorbell
                    .wait(left.min(Duration::from_millis(100)));
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Stop accepting connections now; dropping the runtime then ends every task.
        for instance in self.core.read_instances().iter() {
            instance.server.shutdown();
        }
    }
}

impl Core {
    fn read_instances(&self) -> parking_lot::RwLockReadGuard<'_, Vec<Instance>> {
        self.instances.read()
    }

    fn write_instances(&self) -> parking_lot::RwLockWriteGuard<'_, Vec<Instance>> {
        self.instances.write()
    }

    /// Where the lab's names (`app.lab.test`, …) lead: the first instance, wherever it
    /// listens at the time.
    fn lab_target(&self) -> LabTarget {
        let instances = Arc::downgrade(&self.instances);
        Arc::new(move || {
            let instances = instances.upgrade()?;
            let instances = instances.read();
            instances.first().map(|i| i.server.addr())
        })
    }

    /// The first instance, on the address asked for.
    fn first(&self) -> Option<Arc<RunningServer>> {
        self.read_instances().first().map(|i| i.server.clone())
    }

    /// Every running instance, the first first.
    fn servers(&self) -> Vec<Arc<RunningServer>> {
        self.read_instances()
            .iter()
            .map(|i| i.server.clone())
            .collect()
    }

    fn inspector(&self) -> Option<Inspector> {
        self.first().map(|s| s.inspector().clone())
    }

    /// Adds a running instance and starts watching it: its feed wakes the reader, a task
    /// lists its store when needed, another tells of requests from outside. Must run inside
    /// the lab's runtime.
    fn add_instance(self: &Arc<Self>, server: Arc<RunningServer>) {
        let mut instances = self.write_instances();
        let number = instances.len();
        let inspector = server.inspector().clone();
        let outbox = self.outbox.clone();
        inspector.feed().listen(Arc::new(move || outbox.wake()));
        let watchers = vec![
            tokio::spawn(watch::listings(inspector.clone(), self.outbox.clone())),
            tokio::spawn(watch::requests(
                number,
                inspector,
                self.outbox.clone(),
                format!("; lab {})", self.tag),
            )),
        ];
        instances.push(Instance { server, watchers });
    }

    /// Stops the last instance (never the first).
    fn remove_last_instance(&self) -> bool {
        let mut instances = self.write_instances();
        if instances.len() < 2 {
            return false;
        }
        if let Some(instance) = instances.pop() {
            for watcher in &instance.watchers {
                watcher.abort();
            }
            instance.server.shutdown();
        }
        true
    }

    fn lock_browsers(&self) -> parking_lot::MutexGuard<'_, BTreeMap<BrowserId, BrowserSlot>> {
        self.browsers.lock()
    }

    fn slot(&self, id: BrowserId) -> Option<BrowserSlot> {
        self.lock_browsers().get(&id).cloned()
    }
}

/// What a running server is, for the lab's state.
fn server_info(server: &RunningServer) -> ServerInfo {
    let inspector = server.inspector();
    let config = inspector.config();
    ServerInfo {
        url: server.url(),
        fallback_from: server.fallback_from().map(|a| a.to_string()),
        store_kind: inspector.store_kind(),
        store: server.store_choice(),
        shared_store: inspector.store_is_shared(),
        settings: config.settings.clone(),
        secret_fingerprint: config.secret.fingerprint(),
        secret_source: config.secret_source.clone(),
        retired: config
            .retired
            .iter()
            .map(|r| (r.secret.fingerprint(), r.until))
            .collect(),
    }
}
