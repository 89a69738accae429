//! The inspector: the server's window onto its store and its traffic, read by the lab.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};
use tower_sessions::{session::Id, session_store};

use super::{
    config::ServerConfig,
    cookie::SessionCookie,
    store::{DeleteReason, InspectableStore, ListSessions, SessionData, SessionRow, StoreChange},
};

/// How many served requests the inspector remembers for the lab to look up.
const RECENT_SERVED: usize = 1024;

/// A config and the cookie reader made from it (keyed once, not on every check).
fn settings(config: ServerConfig) -> (Arc<ServerConfig>, Arc<SessionCookie>) {
    let cookie = Arc::new(SessionCookie::new(&config));
    (Arc::new(config), cookie)
}

/// What the inspector needs of a store, object-safe so any store type fits behind it.
#[async_trait]
pub trait InspectStore: Send + Sync + 'static {
    /// The store's kind, for the header ("memory", …).
    fn kind(&self) -> &'static str;
    /// Every live session, oldest first.
    async fn list(&self) -> session_store::Result<Vec<SessionRow>>;
    /// One session, if the store holds it.
    async fn get(&self, id: &str) -> session_store::Result<Option<SessionRow>>;
    /// A receiver that changes whenever the store does.
    fn subscribe(&self) -> watch::Receiver<u64>;
}

#[async_trait]
impl<S: ListSessions> InspectStore for InspectableStore<S> {
    fn kind(&self) -> &'static str {
        InspectableStore::kind(self)
    }

    async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        InspectableStore::list(self).await
    }

    async fn get(&self, id: &str) -> session_store::Result<Option<SessionRow>> {
        InspectableStore::get(self, id).await
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        InspectableStore::subscribe(self)
    }
}

/// What the server made of the session cookie a request carried.
#[derive(Clone, Debug, PartialEq)]
pub enum CookieVerdict {
    /// The request carried no session cookie.
    Absent,
    /// The cookie checked out and names this session id.
    Valid {
        /// The session id.
        id: String,
    },
    /// The cookie was there but could not be used; the request gets a fresh session.
    Rejected {
        /// Why, in words for the log.
        reason: String,
    },
}

/// What a request did to the store, summed up for the event log.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreStory {
    /// The request touched no session.
    Untouched,
    /// A new session was created.
    Created {
        /// Its id.
        id: String,
        /// Its data.
        data: SessionData,
    },
    /// An existing session was saved with new data.
    Updated {
        /// Its id.
        id: String,
        /// The data before the request.
        before: SessionData,
        /// The data after.
        after: SessionData,
    },
    /// The session was read and left as it was.
    Unchanged {
        /// Its id.
        id: String,
    },
    /// The session got a new id and kept its data.
    Regenerated {
        /// The id it had.
        old: String,
        /// The id it has now.
        new: String,
    },
    /// The session was deleted.
    Deleted {
        /// Its id.
        id: String,
    },
}

impl StoreStory {
    /// Sums up the changes one request made, in order.
    pub fn from_changes(changes: Vec<StoreChange>) -> Self {
        let mut loaded: Option<(Id, SessionData)> = None;
        let mut deleted: Option<Id> = None;
        let mut created: Option<(Id, SessionData)> = None;
        let mut saved: Option<(Id, SessionData)> = None;
        for change in changes {
            match change {
                StoreChange::Loaded { id, data } => {
                    if let Some(data) = data {
                        loaded = Some((id, data));
                    }
                }
                StoreChange::Created { id, data } => created = Some((id, data)),
                StoreChange::Saved { id, data } => saved = Some((id, data)),
                StoreChange::Deleted {
                    id,
                    reason: DeleteReason::Deleted,
                } => deleted = Some(id),
                StoreChange::Deleted { .. } => {}
            }
        }
        match (created, saved, deleted, loaded) {
            (Some((new, _)), _, Some(old), _) => Self::Regenerated {
                old: old.to_string(),
                new: new.to_string(),
            },
            (Some((id, data)), ..) => Self::Created {
                id: id.to_string(),
                data,
            },
            (None, Some((id, after)), _, loaded) => Self::Updated {
                before: loaded.map(|(_, data)| data).unwrap_or_default(),
                id: id.to_string(),
                after,
            },
            (None, None, Some(id), _) => Self::Deleted { id: id.to_string() },
            (None, None, None, Some((id, _))) => Self::Unchanged { id: id.to_string() },
            (None, None, None, None) => Self::Untouched,
        }
    }

    /// The session the request ended with, if any.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::Created { id, .. } | Self::Updated { id, .. } | Self::Unchanged { id } => {
                Some(id)
            }
            Self::Regenerated { new, .. } => Some(new),
            Self::Untouched | Self::Deleted { .. } => None,
        }
    }
}

/// One request the server answered, as the inspector saw it.
#[derive(Clone, Debug)]
pub struct Served {
    /// The request's number, also sent back in the `x-request-id` response header.
    pub number: u64,
    /// When it arrived.
    pub at: OffsetDateTime,
    /// Request method.
    pub method: String,
    /// Request path and query.
    pub path: String,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// What the server made of the session cookie.
    pub cookie: CookieVerdict,
    /// Response status code.
    pub status: u16,
    /// What the request did to the store.
    pub story: StoreStory,
}

/// The server's window onto its store and traffic. Cheap to clone.
#[derive(Clone)]
pub struct Inspector {
    inner: Arc<InspectorInner>,
}

struct InspectorInner {
    store: RwLock<Arc<dyn InspectStore>>,
    /// The cookie settings and the cookie reader made from them, swapped together.
    config: RwLock<(Arc<ServerConfig>, Arc<SessionCookie>)>,
    requests: AtomicU64,
    tracing: AtomicBool,
    /// Shared with the subscribers' copies: recording a request copies a pointer, not the
    /// record.
    recent: Mutex<VecDeque<Arc<Served>>>,
    served: broadcast::Sender<Arc<Served>>,
}

impl Inspector {
    /// An inspector over `store` for a server using `config`.
    pub fn new(store: Arc<dyn InspectStore>, config: ServerConfig) -> Self {
        let (served, _) = broadcast::channel(256);
        Self {
            inner: Arc::new(InspectorInner {
                store: RwLock::new(store),
                config: RwLock::new(settings(config)),
                requests: AtomicU64::new(0),
                tracing: AtomicBool::new(true),
                recent: Mutex::new(VecDeque::with_capacity(RECENT_SERVED)),
                served,
            }),
        }
    }

    fn store(&self) -> Arc<dyn InspectStore> {
        self.inner
            .store
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Points the inspector at a new store (after a restart).
    pub(crate) fn set_store(&self, store: Arc<dyn InspectStore>) {
        *self.inner.store.write().unwrap_or_else(|e| e.into_inner()) = store;
    }

    /// The store's kind ("memory", …).
    pub fn store_kind(&self) -> &'static str {
        self.store().kind()
    }

    /// The server's cookie settings now.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.inner
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    fn cookie(&self) -> Arc<SessionCookie> {
        self.inner
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// Switches to new cookie settings (the server's router is rebuilt alongside).
    pub(crate) fn set_config(&self, config: ServerConfig) {
        *self.inner.config.write().unwrap_or_else(|e| e.into_inner()) = settings(config);
    }

    /// One session, if the store holds it.
    pub async fn session(&self, id: &str) -> session_store::Result<Option<SessionRow>> {
        self.store().get(id).await
    }

    /// Every live session, oldest first, read from the store.
    pub async fn sessions(&self) -> session_store::Result<Vec<SessionRow>> {
        self.store().list().await
    }

    /// A receiver that changes whenever the store does.
    pub fn store_changes(&self) -> watch::Receiver<u64> {
        self.store().subscribe()
    }

    /// A receiver of every request the server answers from now on.
    pub fn served(&self) -> broadcast::Receiver<Arc<Served>> {
        self.inner.served.subscribe()
    }

    /// Whether each request is recorded (on by default; the lab needs it).
    pub fn is_tracing(&self) -> bool {
        self.inner.tracing.load(Ordering::Relaxed)
    }

    /// Records requests or only counts them. Off saves the per-request work of recording
    /// when nobody reads the records (`serve --quiet`, benchmarks).
    pub fn set_tracing(&self, on: bool) {
        self.inner.tracing.store(on, Ordering::Relaxed);
    }

    /// How many requests the server has answered.
    pub fn requests_served(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The record of request `number`, if it is recent enough to be remembered.
    pub fn served_request(&self, number: u64) -> Option<Served> {
        let recent = self.inner.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .iter()
            .rev()
            .find(|s| s.number == number)
            .map(|s| Served::clone(s))
    }

    /// The session id a cookie (as a browser stores it) stands for, if it is this server's
    /// session cookie and it verifies with this server's secret.
    pub fn session_id_of_cookie(&self, name: &str, value: &str) -> Option<String> {
        if name != self.config().cookie_name {
            return None;
        }
        self.cookie().open_sent(value).id().map(|id| id.to_string())
    }

    /// Checks a session cookie's value the way the session layer will.
    pub fn verify(&self, value: &str) -> CookieVerdict {
        self.cookie().open_sent(value).verdict()
    }

    /// The next request number.
    pub(crate) fn next_request_number(&self) -> u64 {
        self.inner.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Remembers a served request and tells subscribers.
    pub(crate) fn record(&self, served: Served) {
        let served = Arc::new(served);
        {
            let mut recent = self.inner.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT_SERVED {
                recent.pop_front();
            }
            recent.push_back(served.clone());
        }
        // Nobody listening (serve mode) is fine.
        let _ = self.inner.served.send(served);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(views: u64) -> SessionData {
        SessionData::from_iter([("views".to_owned(), serde_json::json!(views))])
    }

    /// A load then a save reads as "updated" with the data before and after.
    #[test]
    fn load_then_save_is_an_update() {
        let a = Id::default();
        let story = StoreStory::from_changes(vec![
            StoreChange::Loaded {
                id: a,
                data: Some(data(2)),
            },
            StoreChange::Saved {
                id: a,
                data: data(3),
            },
        ]);
        assert_eq!(
            story,
            StoreStory::Updated {
                id: a.to_string(),
                before: data(2),
                after: data(3)
            }
        );
    }

    /// A delete then a create reads as a regenerated id.
    #[test]
    fn delete_then_create_is_a_regeneration() {
        let (a, b) = (Id::default(), Id::default());
        let story = StoreStory::from_changes(vec![
            StoreChange::Loaded {
                id: a,
                data: Some(data(2)),
            },
            StoreChange::Deleted {
                id: a,
                reason: DeleteReason::Deleted,
            },
            StoreChange::Created {
                id: b,
                data: data(2),
            },
        ]);
        assert_eq!(
            story,
            StoreStory::Regenerated {
                old: a.to_string(),
                new: b.to_string()
            }
        );
        assert_eq!(story.session_id(), Some(b.to_string().as_str()));
    }
}
