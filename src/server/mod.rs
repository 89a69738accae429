//! The embedded session server: the Rust twin of the seed's express-session example.
//!
//! `app` builds the router (for in-process tests), `run` serves it on a listener until a
//! shutdown future resolves, and `start` binds (falling back to a free port when the wanted one
//! is taken) and spawns it, returning a [`RunningServer`] whose [`Inspector`] shows the store.

mod config;
mod inspect;
mod layer;
mod locks;
mod memory;
mod routes;
mod store;

use std::{
    future::Future,
    io,
    net::SocketAddr,
    sync::{Arc, Mutex, RwLock},
};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use config::{CookieProtection, ExpiryPolicy, SameSitePolicy, Secret, ServerConfig};
pub use inspect::{CookieVerdict, Inspector, Served, StoreStory};
pub use layer::REQUEST_ID_HEADER;
pub use locks::SessionLocks;
pub use memory::MemoryStore;
pub use routes::app;
pub use store::{
    DeleteReason, Indexed, InspectableStore, ListSessions, SessionData, SessionRow, StoreChange,
};

/// How often expired sessions are swept from the store.
const EXPIRY_SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Neither the wanted address nor any free port could be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// Why it failed.
        source: io::Error,
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

/// Serves the session app on `listener` until `shutdown` resolves, then finishes the requests
/// in flight.
pub async fn run(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A server running on the current tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    store: InspectableStore<MemoryStore>,
    locks: SessionLocks,
    router: Arc<RwLock<axum::Router>>,
    fallback_from: Option<SocketAddr>,
    inspector: Inspector,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    task: Option<JoinHandle<io::Result<()>>>,
    sweeper: JoinHandle<()>,
}

impl RunningServer {
    /// Binds `addr` (or a free port if it is taken) and starts serving with a memory store.
    pub async fn start(addr: SocketAddr, config: ServerConfig) -> Result<Self, ServerError> {
        let Bound {
            listener,
            fallback_from,
        } = bind(addr).await?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let store = InspectableStore::new(MemoryStore::default());
        let sweeper = store.spawn_expiry_task(EXPIRY_SWEEP_PERIOD);
        let inspector = Inspector::new(Arc::new(store.clone()), config.clone());
        let locks = SessionLocks::default();
        let router = Arc::new(RwLock::new(app(
            store.clone(),
            config,
            inspector.clone(),
            locks.clone(),
        )));
        let (tx, rx) = oneshot::channel::<()>();
        let serving = axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(layer::CurrentRouter(
                router.clone(),
            )),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        });
        let task = tokio::spawn(async move { serving.await });
        Ok(Self {
            addr,
            store,
            locks,
            router,
            fallback_from,
            inspector,
            shutdown: Mutex::new(Some(tx)),
            task: Some(task),
            sweeper,
        })
    }

    /// Applies new cookie settings in place: the listener, the store and its sessions stay;
    /// requests from now on use the new settings (requests in flight finish with the old).
    pub fn reconfigure(&self, config: ServerConfig) {
        self.inspector.set_config(config.clone());
        let router = app(
            self.store.clone(),
            config,
            self.inspector.clone(),
            self.locks.clone(),
        );
        *self.router.write().unwrap_or_else(|e| e.into_inner()) = router;
    }

    /// How many sessions the store holds now (cheap: no store reads).
    pub fn session_count(&self) -> usize {
        self.store.len()
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
        if let Some(tx) = self
            .shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = tx.send(());
        }
        self.sweeper.abort();
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
