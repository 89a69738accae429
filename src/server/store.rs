//! The inspectable store: a wrapper around a session store that can list what the store
//! really holds, deletes expired sessions, and announces every change.
//!
//! Stores that can enumerate themselves (our [`MemoryStore`](super::MemoryStore); SQL and
//! Redis stores by query) implement [`ListSessions`] directly. Any other
//! `tower_sessions::SessionStore` plugs in through [`Indexed`], which keeps an index of the ids
//! written through it and lists them by loading each from the wrapped store.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::watch;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

/// A session's data: the JSON object the handlers stored.
pub type SessionData = serde_json::Map<String, serde_json::Value>;

/// One session as the store holds it, for the server panel.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    /// The session id (what the cookie carries, before signing).
    pub id: String,
    /// The session's data.
    pub data: SessionData,
    /// When the store will drop the session.
    pub expires_at: OffsetDateTime,
    /// When the session was created, if the store keeps that (SQLite does not).
    pub created_at: Option<OffsetDateTime>,
    /// When the session was last saved, if the store keeps that.
    pub updated_at: Option<OffsetDateTime>,
}

/// Why a session left the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// A handler deleted it (logout) or replaced its id (regenerate).
    Deleted,
    /// Its expiry passed.
    Expired,
}

/// One change to the store, recorded against the request that caused it. Ids stay ids here:
/// they are written out once, when the request's story is told.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreChange {
    /// A handler read the session (`data` is `None` when the store had no such session).
    Loaded {
        /// The id asked for.
        id: Id,
        /// What the store returned.
        data: Option<SessionData>,
    },
    /// A new session was stored.
    Created {
        /// Its id.
        id: Id,
        /// Its first data.
        data: SessionData,
    },
    /// An existing session was saved again.
    Saved {
        /// Its id.
        id: Id,
        /// Its new data.
        data: SessionData,
    },
    /// A session was removed.
    Deleted {
        /// Its id.
        id: Id,
        /// Why.
        reason: DeleteReason,
    },
}

/// A session store that can say what it holds.
#[async_trait]
pub trait ListSessions: SessionStore + Clone {
    /// The store's kind, for the header ("memory", …).
    fn kind(&self) -> &'static str;
    /// Every live session, oldest first.
    async fn list(&self) -> session_store::Result<Vec<SessionRow>>;
    /// One live session, if the store holds it.
    async fn get(&self, id: &Id) -> session_store::Result<Option<SessionRow>>;
    /// Deletes every session whose expiry has passed; returns how many went.
    async fn delete_expired(&self) -> session_store::Result<usize>;
    /// Deletes the expired sessions of one part of the store (`part` of `parts`), so a sweep
    /// can be spread over time instead of scanning a large store at once. Stores that cannot
    /// be split sweep everything on part 0.
    async fn delete_expired_part(
        &self,
        part: usize,
        _parts: usize,
    ) -> session_store::Result<usize> {
        if part == 0 {
            self.delete_expired().await
        } else {
            Ok(0)
        }
    }
    /// How many sessions the store holds (expired ones may count until the next sweep).
    async fn count(&self) -> session_store::Result<usize>;
}

tokio::task_local! {
    /// The changes of the request being served on this task, so each change can be told to the
    /// request that caused it (set by the server's trace middleware).
    pub(crate) static REQUEST_CHANGES: Arc<Mutex<Vec<StoreChange>>>;
}

/// Wraps a listable store: records every change against the request that caused it and
/// announces it, so the inspector can refresh without polling.
///
/// Architecture Invariant: what `list` returns comes from the wrapped store, never from a copy
/// kept here.
#[derive(Clone)]
pub struct InspectableStore<S> {
    inner: S,
    generation: Arc<watch::Sender<u64>>,
}

impl<S: fmt::Debug> fmt::Debug for InspectableStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InspectableStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S: ListSessions> InspectableStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self::with_announcer(inner, Arc::new(watch::channel(0).0))
    }

    /// Wraps `inner`, announcing its changes on `generation` (shared with the store this one
    /// replaces, so subscribers follow a restarted server without noticing).
    pub fn with_announcer(inner: S, generation: Arc<watch::Sender<u64>>) -> Self {
        Self { inner, generation }
    }

    /// The channel changes are announced on.
    pub fn announcer(&self) -> Arc<watch::Sender<u64>> {
        self.generation.clone()
    }

    /// The store's kind, for the header.
    pub fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// A receiver that changes whenever the store does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Every live session, oldest first, read from the wrapped store.
    pub async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        self.inner.list().await
    }

    /// One session, read from the wrapped store, if it holds it.
    pub async fn get(&self, id: &str) -> session_store::Result<Option<SessionRow>> {
        match id.parse::<Id>() {
            Ok(id) => self.inner.get(&id).await,
            Err(_) => Ok(None),
        }
    }

    /// How many sessions the wrapped store holds.
    pub async fn count(&self) -> session_store::Result<usize> {
        self.inner.count().await
    }

    /// Deletes every expired session from the wrapped store; returns how many went.
    pub async fn delete_expired(&self) -> session_store::Result<usize> {
        let deleted = self.inner.delete_expired().await?;
        if deleted > 0 {
            self.announce();
        }
        Ok(deleted)
    }

    /// Sweeps expired sessions until the returned task is aborted: the whole store once per
    /// `period`, one sixteenth at a time, so a large store never stalls requests for long.
    pub fn spawn_expiry_task(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        const PARTS: usize = 16;
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period / PARTS as u32);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for part in (0..PARTS).cycle() {
                ticker.tick().await;
                match store.inner.delete_expired_part(part, PARTS).await {
                    Ok(0) => {}
                    Ok(_) => store.announce(),
                    Err(err) => tracing::warn!(%err, "could not delete expired sessions"),
                }
            }
        })
    }

    fn announce(&self) {
        // With nobody subscribed (`serve`, benchmarks) there is nobody to wake: skip the
        // channel's locks. A subscriber arriving later starts from the store as it is then.
        if self.generation.receiver_count() > 0 {
            self.generation.send_modify(|g| *g = g.wrapping_add(1));
        }
    }
}

/// Records a change against the request being served, if any.
fn trace(change: impl FnOnce() -> StoreChange) {
    // Outside a traced request (the expiry task, tests, untraced serving) there is nobody to
    // tell, and the change is not even built.
    let _ = REQUEST_CHANGES.try_with(|changes| {
        changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(change());
    });
}

/// A record's data as a JSON object.
pub(super) fn data_of(record: &Record) -> SessionData {
    record
        .data
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[async_trait]
impl<S: ListSessions> SessionStore for InspectableStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await?;
        trace(|| StoreChange::Created {
            id: record.id,
            data: data_of(record),
        });
        self.announce();
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.inner.save(record).await?;
        trace(|| StoreChange::Saved {
            id: record.id,
            data: data_of(record),
        });
        self.announce();
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let record = self.inner.load(id).await?;
        trace(|| StoreChange::Loaded {
            id: *id,
            data: record.as_ref().map(data_of),
        });
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await?;
        trace(|| StoreChange::Deleted {
            id: *id,
            reason: DeleteReason::Deleted,
        });
        self.announce();
        Ok(())
    }
}

/// Milliseconds since the Unix epoch.
pub(super) fn unix_millis(at: OffsetDateTime) -> i64 {
    // Seconds and milliseconds separately: no 128-bit division on every request.
    at.unix_timestamp()
        .saturating_mul(1000)
        .saturating_add(i64::from(at.millisecond()))
}

/// The moment `millis` after the Unix epoch.
pub(super) fn from_unix_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .map(|at| at + time::Duration::milliseconds(millis.rem_euclid(1000)))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Makes any `tower_sessions::SessionStore` listable by indexing the ids written through it
/// (with their timestamps) and loading each from the store when listing.
#[derive(Clone)]
pub struct Indexed<S> {
    inner: S,
    kind: &'static str,
    index: Arc<Mutex<HashMap<Id, Meta>>>,
}

/// Three timestamps per indexed session, as Unix milliseconds.
#[derive(Clone, Copy, Debug)]
struct Meta {
    created: i64,
    updated: i64,
    expires: i64,
}

impl<S: fmt::Debug> fmt::Debug for Indexed<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Indexed")
            .field("inner", &self.inner)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<S: SessionStore + Clone> Indexed<S> {
    /// Indexes `inner`; `kind` names it in the UI.
    pub fn new(inner: S, kind: &'static str) -> Self {
        Self {
            inner,
            kind,
            index: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Meta>> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, record: &Record, created: bool) {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut index = self.lock();
        let meta = index.entry(record.id).or_insert(Meta {
            created: now,
            updated: now,
            expires: 0,
        });
        if created {
            meta.created = now;
        }
        meta.updated = now;
        meta.expires = unix_millis(record.expiry_date);
    }

    fn row(record: Record, meta: Meta) -> SessionRow {
        SessionRow {
            id: record.id.to_string(),
            data: record.data.into_iter().collect(),
            expires_at: record.expiry_date,
            created_at: Some(from_unix_millis(meta.created)),
            updated_at: Some(from_unix_millis(meta.updated)),
        }
    }
}

#[async_trait]
impl<S: SessionStore + Clone> SessionStore for Indexed<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await?;
        self.remember(record, true);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.inner.save(record).await?;
        self.remember(record, false);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await?;
        self.lock().remove(id);
        Ok(())
    }
}

#[async_trait]
impl<S: SessionStore + Clone> ListSessions for Indexed<S> {
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        let mut known: Vec<(Id, Meta)> = self.lock().iter().map(|(id, m)| (*id, *m)).collect();
        known.sort_by_key(|(id, meta)| (meta.created, id.0));
        let mut rows = Vec::with_capacity(known.len());
        for (id, meta) in known {
            if let Some(record) = self.inner.load(&id).await? {
                rows.push(Self::row(record, meta));
            }
        }
        Ok(rows)
    }

    async fn get(&self, id: &Id) -> session_store::Result<Option<SessionRow>> {
        let meta = self.lock().get(id).copied();
        let Some(record) = self.inner.load(id).await? else {
            return Ok(None);
        };
        let now = unix_millis(OffsetDateTime::now_utc());
        let meta = meta.unwrap_or(Meta {
            created: now,
            updated: now,
            expires: unix_millis(record.expiry_date),
        });
        Ok(Some(Self::row(record, meta)))
    }

    async fn delete_expired(&self) -> session_store::Result<usize> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let expired: Vec<Id> = self
            .lock()
            .iter()
            .filter(|(_, meta)| meta.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.inner.delete(id).await?;
            self.lock().remove(id);
        }
        Ok(expired.len())
    }

    async fn count(&self) -> session_store::Result<usize> {
        Ok(self.lock().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(secs_left: i64) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([("views".to_owned(), serde_json::json!(1))]),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::seconds(secs_left),
        }
    }

    /// tower-sessions' own memory store, which cannot enumerate itself.
    fn foreign() -> tower_sessions::MemoryStore {
        tower_sessions::MemoryStore::default()
    }

    /// Any store, indexed, lists exactly what it holds and forgets deleted sessions.
    #[tokio::test]
    async fn indexed_store_lists_what_it_holds() {
        let store = InspectableStore::new(Indexed::new(foreign(), "memory"));
        let mut a = record(60);
        let mut b = record(60);
        store.create(&mut a).await.unwrap();
        store.create(&mut b).await.unwrap();
        let ids: Vec<String> = store
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&a.id.to_string()) && ids.contains(&b.id.to_string()));

        store.delete(&a.id).await.unwrap();
        let rows = store.list().await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, b.id.to_string());
        assert_eq!(rows[0].data["views"], 1);
    }

    /// A memory store that remembers which ids were deleted from it.
    #[derive(Clone, Debug, Default)]
    struct Recording {
        inner: tower_sessions::MemoryStore,
        deleted: Arc<Mutex<Vec<Id>>>,
    }

    #[async_trait]
    impl SessionStore for Recording {
        async fn save(&self, record: &Record) -> session_store::Result<()> {
            self.inner.save(record).await
        }
        async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
            self.inner.load(id).await
        }
        async fn delete(&self, id: &Id) -> session_store::Result<()> {
            self.deleted.lock().unwrap().push(*id);
            self.inner.delete(id).await
        }
    }

    /// Expired sessions are deleted from the wrapped store (so memory stays bounded), leave
    /// the listing, and the deletion is announced.
    #[tokio::test]
    async fn expired_sessions_are_deleted() {
        let inner = Recording::default();
        let store = InspectableStore::new(Indexed::new(inner.clone(), "memory"));
        let mut live = record(60);
        let mut dead = record(-1);
        store.create(&mut live).await.unwrap();
        store.create(&mut dead).await.unwrap();
        let mut changes = store.subscribe();
        changes.mark_unchanged();

        assert_eq!(store.delete_expired().await.unwrap(), 1);
        assert!(changes.has_changed().unwrap(), "deletion is announced");
        assert_eq!(*inner.deleted.lock().unwrap(), vec![dead.id]);
        let rows = store.list().await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, live.id.to_string());
        assert_eq!(
            store.delete_expired().await.unwrap(),
            0,
            "nothing left to delete"
        );
    }
}
