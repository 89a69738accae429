//! The embedded session server: the Rust twin of the seed's express-session example.
//!
//! `app` builds the router (for in-process tests), and [`RunningServer`] binds (falling back to
//! a free port when the wanted one is taken) and serves it, with an [`Inspector`] that shows
//! the store and a [`ChangeFeed`] that announces each change to it.

mod config;
mod cookie;
mod feed;
mod in_cookie;
mod inspect;
mod layer;
pub mod limits;
mod locks;
mod memory;
mod places;
mod proxy;
mod redis;
mod routes;
mod secret_file;
mod serve;
mod session;
mod site;
mod sqlite;
mod store;
mod tls;

use parking_lot::{Mutex, RwLock};
use std::{io, net::SocketAddr, sync::Arc};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use session_lab_base::{clock, data_dir, files, words};

use crate::clock::LabClock;

pub use config::{
    CookieProtection, ExpiryPolicy, KeptIn, RetiredSecret, SameSitePolicy, Secret, SecretSource,
    SecureRequests, ServerConfig, ServerSettings, fingerprint_text,
};
pub use cookie::{CookieVerdict, RejectReason};
pub use feed::{ChangeFeed, FeedBatch, FeedWaker, MAX_PENDING, SessionChange};
pub use inspect::{
    CookieSession, InCookie, Inspector, PATH_MAX, Served, StoreStory, USER_AGENT_MAX, cut_text,
};
pub use layer::{REQUEST_ID_HEADER, SessionLayer};
pub use locks::SessionLocks;
pub use memory::MemoryStore;
pub use proxy::{Backend, TlsProxy};
pub use redis::RedisSessions;
pub use routes::{MAX_USER_CHARS, app};
pub use secret_file::{SecretFileError, default_secret_path, load_or_create as kept_secret};
pub use session::{
    DATA_TEXT_MAX, DataText, DeleteReason, FoldHasher, MAX_SESSION_BYTES, NEVER, NotASessionId,
    SessionData, SessionId, SessionRow, from_unix_millis, never_expires, now_millis, unix_millis,
};
pub use site::{
    ACCOUNTS, ATTACKER_HOST, ATTACKER_HOSTS, AttackerPage, DEFAULT_PAGE, LoginRefused,
    MAX_PAGE_BYTES, Site, counted_id, next_guess,
};
pub use sqlite::SqliteSessions;
pub use store::DEFAULT_MAX_SESSIONS;
pub use store::{InspectableStore, ListSessions, StoreChange, StoreKind};
pub use tls::{LabTls, TlsSetupError};
/// What a session store call answered when it failed (tower-sessions' error), for the layers
/// above that may not name tower-sessions.
pub use tower_sessions::session_store::Error as StoreCallError;

/// Which store the embedded server keeps its sessions in. Its `Display` and `Debug` never show
/// a Redis password.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum StoreChoice {
    /// In this process: fast, gone when the server restarts.
    #[default]
    Memory,
    /// In a SQLite file: survives restarts, shared by processes on this machine.
    Sqlite(std::path::PathBuf),
    /// In a Redis server (`redis://[user:password@]HOST:PORT[/DB]`): survives restarts,
    /// shared by every instance.
    Redis(String),
}

/// A Redis URL with its password (if any) replaced by `***`, for anything printed.
pub fn masked_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not a URL: show the scheme only, in case a password hides in it.
        Err(_) => format!("{}…", url.split("://").next().unwrap_or("")),
    }
}

impl StoreChoice {
    /// The SQLite file used when none is named: in the platform's data directory.
    pub fn default_sqlite_path() -> std::path::PathBuf {
        crate::data_dir().join("sessions.db")
    }
}

impl StoreChoice {
    /// Like `parse`, from an argument that need not be UTF-8: `sqlite:PATH` takes the path's
    /// bytes as they are (a file name is not a URL: `?`, `%2F` and the like stay themselves).
    pub fn from_os_str(text: &std::ffi::OsStr) -> Result<Self, UnknownStore> {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            if let Some(path) = text.as_bytes().strip_prefix(b"sqlite:")
                && !path.is_empty()
            {
                return Ok(Self::Sqlite(std::ffi::OsStr::from_bytes(path).into()));
            }
        }
        match text.to_str() {
            Some(text) => text.parse(),
            None => Err(UnknownStore(text.to_string_lossy().into_owned())),
        }
    }
}

/// A `--store` that names no store (shown with any password masked).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown store “{0}”: use memory, sqlite, sqlite:PATH or redis://HOST:PORT")]
pub struct UnknownStore(pub String);

impl std::str::FromStr for StoreChoice {
    type Err = UnknownStore;

    /// `memory`, `sqlite` (the default file), `sqlite:PATH` or `redis://…`.
    fn from_str(text: &str) -> Result<Self, UnknownStore> {
        match text.trim() {
            "memory" => Ok(Self::Memory),
            "sqlite" | "sqlite:" => Ok(Self::Sqlite(Self::default_sqlite_path())),
            other if other.starts_with("redis://") || other.starts_with("rediss://") => {
                Ok(Self::Redis(other.to_owned()))
            }
            other => match text.strip_prefix("sqlite:") {
                Some(path) => Ok(Self::Sqlite(path.into())),
                None => Err(UnknownStore(masked_url(other))),
            },
        }
    }
}

impl std::fmt::Display for StoreChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Redis(url) => f.write_str(&masked_url(url)),
        }
    }
}

impl std::fmt::Debug for StoreChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Redis(url) => f.debug_tuple("Redis").field(&masked_url(url)).finish(),
        }
    }
}

/// The store a server runs on, whichever it is.
#[derive(Clone)]
enum Store {
    Memory(InspectableStore<MemoryStore>),
    Sqlite(InspectableStore<SqliteSessions>),
    Redis(InspectableStore<RedisSessions>),
}

impl Store {
    /// Opens the chosen store, publishing its changes on `feed`. The memory store judges
    /// expiry by the lab's `clock`; a store other processes share (SQLite, Redis) by the
    /// machine's, so moving the lab's clock never deletes another process's live sessions or
    /// dates Redis keys into the future. There the lab's clock moves only the lab's own
    /// judgement: what it shows as expired and what its browsers drop.
    async fn open(
        choice: &StoreChoice,
        feed: Arc<ChangeFeed>,
        settings: &ServerSettings,
        clock: &LabClock,
    ) -> Result<Self, ServerError> {
        let store = match choice {
            StoreChoice::Memory => Self::Memory(InspectableStore::with_feed(
                MemoryStore::default(),
                feed,
                clock.clone(),
            )),
            StoreChoice::Sqlite(path) => Self::Sqlite(InspectableStore::with_feed(
                SqliteSessions::open(path.clone()).await?,
                feed,
                LabClock::default(),
            )),
            StoreChoice::Redis(url) => Self::Redis(InspectableStore::with_feed(
                RedisSessions::connect(url).await?,
                feed,
                LabClock::default(),
            )),
        };
        store.apply(settings);
        Ok(store)
    }

    /// The clock the store judges expiry by (see [`Self::open`]); its sessions are dated by it.
    fn clock(&self) -> LabClock {
        match self {
            Self::Memory(store) => store.clock().clone(),
            Self::Sqlite(store) => store.clock().clone(),
            Self::Redis(store) => store.clock().clone(),
        }
    }

    fn router(
        &self,
        config: ServerConfig,
        inspector: Inspector,
        locks: SessionLocks,
    ) -> axum::Router {
        // Sessions are dated by the clock their store judges them by.
        let config = ServerConfig {
            clock: self.clock(),
            ..config
        };
        match self {
            Self::Memory(store) => app(store.clone(), config, inspector, locks),
            // Stores other processes share take a lease they honour too.
            Self::Sqlite(store) => {
                routes::app_sharing(store.clone(), config, inspector, locks, true)
            }
            Self::Redis(store) => {
                routes::app_sharing(store.clone(), config, inspector, locks, true)
            }
        }
    }

    fn inspect(&self) -> Arc<dyn inspect::InspectStore> {
        match self {
            Self::Memory(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
            Self::Redis(store) => Arc::new(store.clone()),
        }
    }

    fn spawn_expiry_task(&self) -> JoinHandle<()> {
        match self {
            Self::Memory(store) => store.spawn_expiry_task(),
            Self::Sqlite(store) => store.spawn_expiry_task(),
            Self::Redis(store) => store.spawn_expiry_task(),
        }
    }

    /// Applies the settings a running store takes in place: its limit (`--max-sessions`) and
    /// the latency every store call waits.
    fn apply(&self, settings: &ServerSettings) {
        let latency = std::time::Duration::from_millis(settings.store_latency_ms);
        match self {
            Self::Memory(store) => {
                store.inner().set_limit(settings.max_sessions);
                store.set_latency(latency);
            }
            Self::Sqlite(store) => {
                store.set_limit(settings.max_sessions);
                store.set_latency(latency);
            }
            Self::Redis(store) => {
                store.set_limit(settings.max_sessions);
                store.set_latency(latency);
            }
        }
    }

    async fn count(&self) -> tower_sessions::session_store::Result<usize> {
        match self {
            Self::Memory(store) => store.count().await,
            Self::Sqlite(store) => store.count().await,
            Self::Redis(store) => store.count().await,
        }
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The session store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Neither the wanted address nor any free port could be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// Why it failed.
        source: io::Error,
    },
}

/// Two failures are the same when they are the same kind and say the same (an I/O error has no
/// other equality): for the lab's log, which compares its lines.
impl PartialEq for ServerError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

/// Why a session store could not be opened, in words a user can act on (a Redis URL shown with
/// its password masked).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A folder, or the database file, could not be made.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        /// What was to be made.
        path: std::path::PathBuf,
        /// Why it could not be.
        source: io::Error,
    },
    /// The file is not a SQLite database, or is corrupt; it was not changed.
    #[error(
        "SQLite store {}: {reason} — the file is not a SQLite database (or is corrupt); it was \
         not changed. Choose another path or move the file away.",
        path.display()
    )]
    NotSqlite {
        /// The file.
        path: std::path::PathBuf,
        /// SQLite's words.
        reason: String,
    },
    /// Another program holds a lock on the database.
    #[error(
        "SQLite store {}: {reason} — another program holds a lock on it; try again when it is \
         done.",
        path.display()
    )]
    Locked {
        /// The file.
        path: std::path::PathBuf,
        /// SQLite's words.
        reason: String,
    },
    /// Any other SQLite failure.
    #[error("SQLite store {}: {reason}", path.display())]
    Sqlite {
        /// The file.
        path: std::path::PathBuf,
        /// SQLite's words.
        reason: String,
    },
    /// A file name this platform's SQLite cannot be given.
    #[error("SQLite store {}: the file name is not valid Unicode", path.display())]
    NotUnicode {
        /// The file.
        path: std::path::PathBuf,
    },
    /// Not a Redis URL.
    #[error("“{shown}” is not a Redis URL (redis[s]://[user:password@]host:port[/db])")]
    RedisUrl {
        /// The URL, its password masked.
        shown: String,
    },
    /// `rediss://`, and TLS could not be set up (no root certificates).
    #[error("{shown}: TLS could not be set up: {details}")]
    RedisTls {
        /// The URL, its password masked.
        shown: String,
        /// What was missing.
        details: String,
    },
    /// Nothing answered at the URL.
    #[error(
        "Redis at {shown} is unreachable: is redis-server running? (or choose the memory store)"
    )]
    RedisUnreachable {
        /// The URL, its password masked.
        shown: String,
    },
    /// Any other Redis failure.
    #[error("Redis at {shown}: {reason}")]
    Redis {
        /// The URL, its password masked.
        shown: String,
        /// The client's words.
        reason: String,
    },
}

/// A listener and what happened while getting it.
pub struct Bound {
    /// The bound listener.
    pub listener: TcpListener,
    /// The address asked for, when it was taken and a free port was used instead.
    pub fallback_from: Option<SocketAddr>,
}

/// Binds `addr`; if it is taken, binds a free port on the same interface instead and says so.
pub async fn bind(addr: SocketAddr) -> Result<Bound, ServerError> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(Bound {
            listener,
            fallback_from: None,
        }),
        Err(err) if err.kind() == io::ErrorKind::AddrInUse && addr.port() != 0 => {
            let free = SocketAddr::new(addr.ip(), 0);
            let listener = TcpListener::bind(free)
                .await
                .map_err(|source| ServerError::Bind { addr: free, source })?;
            Ok(Bound {
                listener,
                fallback_from: Some(addr),
            })
        }
        Err(source) => Err(ServerError::Bind { addr, source }),
    }
}

/// A server running on the current tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    store: RwLock<Store>,
    choice: RwLock<StoreChoice>,
    feed: Arc<ChangeFeed>,
    locks: SessionLocks,
    router: Arc<RwLock<axum::Router>>,
    fallback_from: Option<SocketAddr>,
    inspector: Inspector,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    task: Option<JoinHandle<io::Result<()>>>,
    sweeper: Mutex<JoinHandle<()>>,
}

impl RunningServer {
    /// Binds `addr` (or a free port if it is taken) and starts serving with a memory store.
    pub async fn start(addr: SocketAddr, config: ServerConfig) -> Result<Self, ServerError> {
        Self::start_with(addr, config, StoreChoice::Memory).await
    }

    /// Binds `addr` (or a free port if it is taken) and starts serving with the chosen store.
    /// A store that cannot be opened is an error, and nothing is bound.
    pub async fn start_with(
        addr: SocketAddr,
        config: ServerConfig,
        choice: StoreChoice,
    ) -> Result<Self, ServerError> {
        Self::start_sharing(addr, config, choice, SessionLocks::default()).await
    }

    /// Like [`start_with`](Self::start_with), taking its per-session locks from `locks`, so
    /// instances in one process that share a store also share who may touch which session.
    pub async fn start_sharing(
        addr: SocketAddr,
        config: ServerConfig,
        choice: StoreChoice,
        locks: SessionLocks,
    ) -> Result<Self, ServerError> {
        let feed = Arc::new(ChangeFeed::default());
        let store = Store::open(&choice, feed.clone(), &config.settings, &config.clock).await?;
        let Bound {
            listener,
            fallback_from,
        } = bind(addr).await?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let sweeper = store.spawn_expiry_task();
        let listener = tls::Listener::new(listener, config.tls.as_deref());
        let inspector = Inspector::new(store.inspect(), config.clone());
        let router = Arc::new(RwLock::new(store.router(
            config,
            inspector.clone(),
            locks.clone(),
        )));
        let (tx, rx) = oneshot::channel::<()>();
        let serving = serve::serve(listener, layer::CurrentRouter(router.clone()), async {
            let _ = rx.await;
        });
        let task = tokio::spawn(serving);
        Ok(Self {
            addr,
            store: RwLock::new(store),
            choice: RwLock::new(choice),
            feed,
            locks,
            router,
            fallback_from,
            inspector,
            shutdown: Mutex::new(Some(tx)),
            task: Some(task),
            sweeper: Mutex::new(sweeper),
        })
    }

    /// The per-session locks this server takes (to share with sibling instances).
    pub fn locks(&self) -> SessionLocks {
        self.locks.clone()
    }

    /// The store the server runs on.
    pub fn store_choice(&self) -> StoreChoice {
        self.choice.read().clone()
    }

    /// Restarts the server's state as a process restart would, on another store or the same:
    /// the store is opened afresh — a memory store comes back empty, a SQLite store reopens its
    /// file with every session in it. The socket stays, so browsers need no new address. If the
    /// store cannot be opened, the server keeps running on the one it has.
    pub async fn restart_with(&self, choice: StoreChoice) -> Result<(), ServerError> {
        let config = self.inspector.config();
        let settings = config.settings.clone();
        let store = Store::open(&choice, self.feed.clone(), &settings, &config.clock).await?;
        *self.choice.write() = choice;
        let config = (*self.inspector.config()).clone();
        self.inspector.set_store(store.inspect());
        let router = store.router(config, self.inspector.clone(), self.locks.clone());
        *self.router.write() = router;
        let sweeper = store.spawn_expiry_task();
        std::mem::replace(&mut *self.sweeper.lock(), sweeper).abort();
        *self.store.write() = store;
        // Whoever reads the feed now holds a view of the old store: start it over.
        self.feed.reset();
        Ok(())
    }

    /// Applies new cookie settings in place: the listener, the store and its sessions stay;
    /// requests from now on use the new settings (requests in flight finish with the old).
    pub fn reconfigure(&self, config: ServerConfig) {
        self.inspector.set_config(config.clone());
        let store = self.store.read().clone();
        store.apply(&config.settings);
        let router = store.router(config, self.inspector.clone(), self.locks.clone());
        *self.router.write() = router;
    }

    /// How many sessions the store holds now (expired ones count until the next sweep).
    pub async fn session_count(&self) -> tower_sessions::session_store::Result<usize> {
        let store = self.store.read().clone();
        store.count().await
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's base URL, e.g. `http://127.0.0.1:3000/` (a wildcard bind is shown as
    /// 127.0.0.1, the address a browser on this machine can use).
    pub fn url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}/")
    }

    /// The address that was asked for, if it was taken and a free port was used instead.
    pub fn fallback_from(&self) -> Option<SocketAddr> {
        self.fallback_from
    }

    /// The store inspector.
    pub fn inspector(&self) -> &Inspector {
        &self.inspector
    }

    /// Whether the server task is still serving.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Tells the server to stop accepting connections, without waiting.
    pub fn shutdown(&self) {
        if let Some(tx) = self.shutdown.lock().take() {
            let _ = tx.send(());
        }
        self.sweeper.lock().abort();
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for that.
    pub async fn stop(&mut self) -> io::Result<()> {
        self.shutdown();
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match task.await {
            Ok(result) => result,
            Err(join) => Err(io::Error::other(join)),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
