//! The inspector: the server's window onto its store and its traffic, read by the lab.

use parking_lot::{Mutex, RwLock};
use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use async_trait::async_trait;
use session_lab_base::bounded::{Bounded, Weigh};
use time::OffsetDateTime;
use tokio::sync::broadcast;
use tower_sessions::session_store;

use super::{
    config::ServerConfig,
    cookie::{CookieVerdict, Opened, SessionCookie},
    feed::ChangeFeed,
    session::{DataText, SessionId, SessionRow},
    store::{InspectableStore, ListSessions, StoreChange, StoreKind},
};

/// How many served requests the inspector remembers for the lab to look up.
const RECENT_SERVED: usize = 1024;

/// The most bytes the remembered requests may hold in all.
const RECENT_BYTES: usize = 512 * 1024;

/// The most bytes of a request's path and query a record keeps.
pub const PATH_MAX: usize = 256;

/// The most bytes of a request's `User-Agent` a record keeps.
pub const USER_AGENT_MAX: usize = 128;

/// A config and the cookie reader made from it (keyed once, not on every check).
fn settings(config: ServerConfig) -> (Arc<ServerConfig>, Arc<SessionCookie>) {
    let cookie = Arc::new(SessionCookie::new(&config));
    (Arc::new(config), cookie)
}

/// `text`, cut to at most `max` bytes at a character boundary, with "…" where it was cut.
pub fn cut_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// What the inspector needs of a store, object-safe so any store type fits behind it.
#[async_trait]
pub trait InspectStore: Send + Sync + 'static {
    /// The store's kind, for the header ("memory", …).
    fn kind(&self) -> StoreKind;
    /// Whether other processes may write the store too.
    fn is_shared(&self) -> bool;
    /// Every live session, oldest first.
    async fn list(&self) -> session_store::Result<Vec<SessionRow>>;
    /// One session, if the store holds it.
    async fn get(&self, id: SessionId) -> session_store::Result<Option<SessionRow>>;
    /// The feed the store's changes are published on.
    fn feed(&self) -> Arc<ChangeFeed>;
    /// Whether the store holds its limit of sessions.
    fn is_full(&self) -> bool;
    /// Deletes one session (the change is published like any other).
    async fn delete(&self, id: SessionId) -> session_store::Result<()>;
}

#[async_trait]
impl<S: ListSessions> InspectStore for InspectableStore<S> {
    fn kind(&self) -> StoreKind {
        InspectableStore::kind(self)
    }

    fn is_shared(&self) -> bool {
        InspectableStore::is_shared(self)
    }

    async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        InspectableStore::list(self).await
    }

    async fn get(&self, id: SessionId) -> session_store::Result<Option<SessionRow>> {
        InspectableStore::get(self, id).await
    }

    fn feed(&self) -> Arc<ChangeFeed> {
        InspectableStore::feed(self).clone()
    }

    fn is_full(&self) -> bool {
        InspectableStore::is_full(self)
    }

    async fn delete(&self, id: SessionId) -> session_store::Result<()> {
        tower_sessions::SessionStore::delete(self, &id.into()).await
    }
}

/// What a request did to the store, summed up for the event log.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreStory {
    /// The request touched no session.
    Untouched,
    /// A new session was created.
    Created {
        /// Its id.
        id: SessionId,
        /// Its data.
        data: DataText,
    },
    /// An existing session was saved with new data.
    Updated {
        /// Its id.
        id: SessionId,
        /// The data before the request.
        before: DataText,
        /// The data after.
        after: DataText,
    },
    /// The session was read and left as it was.
    Unchanged {
        /// Its id.
        id: SessionId,
    },
    /// The session got a new id and kept its data.
    Regenerated {
        /// The id it had.
        old: SessionId,
        /// The id it has now.
        new: SessionId,
    },
    /// The session was deleted.
    Deleted {
        /// Its id.
        id: SessionId,
    },
}

impl StoreStory {
    /// Sums up the changes one request made, in order.
    pub fn from_changes(changes: Vec<StoreChange>) -> Self {
        let mut loaded: Option<(SessionId, DataText)> = None;
        let mut deleted: Option<SessionId> = None;
        let mut created: Option<(SessionId, DataText)> = None;
        let mut saved: Option<(SessionId, DataText)> = None;
        for change in changes {
            match change {
                StoreChange::Loaded { id, data } => {
                    if let Some(data) = data {
                        loaded = Some((id, data));
                    }
                }
                StoreChange::Created { id, data } => created = Some((id, data)),
                StoreChange::Saved { id, data } => saved = Some((id, data)),
                StoreChange::Deleted { id } => deleted = Some(id),
            }
        }
        match (created, saved, deleted, loaded) {
            (Some((new, _)), _, Some(old), _) => Self::Regenerated { old, new },
            (Some((id, data)), ..) => Self::Created { id, data },
            (None, Some((id, after)), _, loaded) => Self::Updated {
                before: loaded.map(|(_, data)| data).unwrap_or_default(),
                id,
                after,
            },
            (None, None, Some(id), _) => Self::Deleted { id },
            (None, None, None, Some((id, _))) => Self::Unchanged { id },
            (None, None, None, None) => Self::Untouched,
        }
    }

    /// The session the request ended with, if any.
    pub fn session_id(&self) -> Option<SessionId> {
        match self {
            Self::Created { id, .. } | Self::Updated { id, .. } | Self::Unchanged { id } => {
                Some(*id)
            }
            Self::Regenerated { new, .. } => Some(*new),
            Self::Untouched | Self::Deleted { .. } => None,
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Created { data, .. } => data.heap_bytes(),
            Self::Updated { before, after, .. } => before.heap_bytes() + after.heap_bytes(),
            _ => 0,
        }
    }
}

/// One request the server answered, as the inspector saw it. Bounded: a 64 KiB URL or a huge
/// header keeps at most [`PATH_MAX`] and [`USER_AGENT_MAX`] bytes here, cut with "…".
#[derive(Clone, Debug, PartialEq)]
pub struct Served {
    /// The request's number, also sent back in the `x-request-id` response header.
    pub number: u64,
    /// When it arrived.
    pub at: OffsetDateTime,
    /// Request method.
    pub method: String,
    /// Request path and query (cut to [`PATH_MAX`] bytes).
    pub path: String,
    /// The `User-Agent` header, if any (cut to [`USER_AGENT_MAX`] bytes).
    pub user_agent: Option<String>,
    /// What the server made of the session cookie.
    pub cookie: CookieVerdict,
    /// Response status code.
    pub status: u16,
    /// What the request did to the store.
    pub story: StoreStory,
    /// What the response did to the session's data, when the session is kept in the cookie
    /// (the store is never touched then); `None` for a session kept in the store.
    pub in_cookie: Option<InCookie>,
}

/// What the server makes of its session cookie as a browser stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieSession {
    /// It names this session; the data is in the store.
    Id(SessionId),
    /// It is the session: the data itself, kept in the cookie, with its `views` count if it
    /// has one.
    Data {
        /// The `views` counter the data holds.
        views: Option<u64>,
    },
}

impl CookieSession {
    /// The session id, for a session kept in the store.
    pub fn id(self) -> Option<SessionId> {
        match self {
            Self::Id(id) => Some(id),
            Self::Data { .. } => None,
        }
    }
}

/// What a response did to a session kept in the cookie itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InCookie {
    /// The session's data, changed, sealed into the cookie the response set.
    Sealed,
    /// The cookie cleared: the session was emptied (logout).
    Cleared,
    /// The cookie left as it was.
    Kept,
}

impl Weigh for Served {
    /// Roughly how many bytes the record holds, for byte budgets.
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.method.len()
            + self.path.len()
            + self.user_agent.as_ref().map_or(0, String::len)
            + self.story.heap_bytes()
    }
}

/// The remembered requests, within their count and byte budgets.
type Recent = Bounded<Arc<Served>, RECENT_SERVED, RECENT_BYTES>;

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
    recent: Mutex<Recent>,
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
                recent: Mutex::default(),
                served,
            }),
        }
    }

    fn store(&self) -> Arc<dyn InspectStore> {
        self.inner.store.read().clone()
    }

    /// Points the inspector at a new store (after a restart).
    pub(crate) fn set_store(&self, store: Arc<dyn InspectStore>) {
        *self.inner.store.write() = store;
    }

    /// The store's kind.
    pub fn store_kind(&self) -> StoreKind {
        self.store().kind()
    }

    /// Whether other processes may write the store too (so it is listed again now and then).
    pub fn store_is_shared(&self) -> bool {
        self.store().is_shared()
    }

    /// Whether the store holds its limit of sessions (new visitors get a 503 page).
    pub fn store_is_full(&self) -> bool {
        self.store().is_full()
    }

    /// The server's cookie settings now.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.inner.config.read().0.clone()
    }

    fn cookie(&self) -> Arc<SessionCookie> {
        self.inner.config.read().1.clone()
    }

    /// Switches to new cookie settings (the server's router is rebuilt alongside).
    pub(crate) fn set_config(&self, config: ServerConfig) {
        *self.inner.config.write() = settings(config);
    }

    /// One session, if the store holds it.
    pub async fn session(&self, id: SessionId) -> session_store::Result<Option<SessionRow>> {
        self.store().get(id).await
    }

    /// Deletes `ids` from the store (the lab's own tools' sessions, when the lab is reset);
    /// returns how many it deleted. A store that fails stops the deleting and says why.
    pub async fn delete_sessions(&self, ids: &[SessionId]) -> session_store::Result<usize> {
        let store = self.store();
        for (done, id) in ids.iter().enumerate() {
            if let Err(e) = store.delete(*id).await {
                tracing::warn!("deleted {done} of {} sessions, then: {e}", ids.len());
                return Err(e);
            }
        }
        Ok(ids.len())
    }

    /// Every live session, oldest first, read from the store. Costs as much as the store is
    /// big: the lab lists only at start, after a store switch, and for shared stores.
    pub async fn sessions(&self) -> session_store::Result<Vec<SessionRow>> {
        self.store().list().await
    }

    /// The feed the store's changes are published on (the same across restarts).
    pub fn feed(&self) -> Arc<ChangeFeed> {
        self.store().feed()
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
    pub fn served_request(&self, number: u64) -> Option<Arc<Served>> {
        let recent = self.inner.recent.lock();
        recent.iter().rev().find(|s| s.number == number).cloned()
    }

    /// How many requests are remembered and the bytes they hold.
    pub fn recent_size(&self) -> (usize, usize) {
        let recent = self.inner.recent.lock();
        (recent.len(), recent.bytes())
    }

    /// The session a cookie (as a browser stores it) is, if it is this server's session
    /// cookie and it opens with this server's secret — an encrypted one too: the lab sees what
    /// its server sees.
    pub fn session_of_cookie(&self, name: &str, value: &str) -> Option<CookieSession> {
        if name != self.config().settings.cookie_name {
            return None;
        }
        match self.cookie().open_sent(value) {
            Opened::Session { id, .. } => Some(CookieSession::Id(id.into())),
            Opened::Data { data, .. } => Some(CookieSession::Data {
                views: data.get("views").and_then(serde_json::Value::as_u64),
            }),
            _ => None,
        }
    }

    /// Checks a session cookie's value the way the session layer will.
    pub fn verify(&self, value: &str) -> CookieVerdict {
        self.cookie().open_sent(value).verdict()
    }

    /// The next request number.
    pub(crate) fn next_request_number(&self) -> u64 {
        self.inner.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Remembers a served request (within the count and byte budgets) and tells subscribers.
    pub(crate) fn record(&self, served: Served) {
        let served = Arc::new(served);
        self.inner.recent.lock().push(served.clone());
        // Nobody listening (serve mode) is fine.
        let _ = self.inner.served.send(served);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(views: u64) -> DataText {
        DataText::from_json(format!(r#"{{"views":{views}}}"#).as_bytes())
    }

    fn id() -> SessionId {
        tower_sessions::session::Id::default().into()
    }

    /// A load then a save reads as "updated" with the data before and after.
    #[test]
    fn load_then_save_is_an_update() {
        let a = id();
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
                id: a,
                before: data(2),
                after: data(3)
            }
        );
    }

    /// A delete then a create reads as a regenerated id.
    #[test]
    fn delete_then_create_is_a_regeneration() {
        let (a, b) = (id(), id());
        let story = StoreStory::from_changes(vec![
            StoreChange::Loaded {
                id: a,
                data: Some(data(2)),
            },
            StoreChange::Deleted { id: a },
            StoreChange::Created {
                id: b,
                data: data(2),
            },
        ]);
        assert_eq!(story, StoreStory::Regenerated { old: a, new: b });
        assert_eq!(story.session_id(), Some(b));
    }

    /// Cut text stays within its budget, ends in "…", and never splits a character.
    #[test]
    fn cut_text_is_bounded() {
        assert_eq!(cut_text("short", 10), "short");
        let cut = cut_text(&"ü".repeat(1000), 101);
        assert!(cut.len() <= 101 && cut.ends_with('…'), "{cut}");
    }
}
