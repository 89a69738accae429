//! The inspectable store: a wrapper around any `tower_sessions::SessionStore` that can list what
//! the store really holds, deletes expired sessions, and announces every change.

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
    /// When the session was created (as seen by this server).
    pub created_at: OffsetDateTime,
    /// When the session was last saved (as seen by this server).
    pub updated_at: OffsetDateTime,
}

/// Why a session left the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// A handler deleted it (logout) or replaced its id (regenerate).
    Deleted,
    /// Its expiry passed.
    Expired,
}

/// One change to the store, recorded against the request that caused it.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreChange {
    /// A handler read the session (`data` is `None` when the store had no such session).
    Loaded {
        /// The id asked for.
        id: String,
        /// What the store returned.
        data: Option<SessionData>,
    },
    /// A new session was stored.
    Created {
        /// Its id.
        id: String,
        /// Its first data.
        data: SessionData,
    },
    /// An existing session was saved again.
    Saved {
        /// Its id.
        id: String,
        /// Its new data.
        data: SessionData,
    },
    /// A session was removed.
    Deleted {
        /// Its id.
        id: String,
        /// Why.
        reason: DeleteReason,
    },
}

tokio::task_local! {
    /// The changes of the request being served on this task, so each change can be told to the
    /// request that caused it (set by the server's trace middleware).
    pub(crate) static REQUEST_CHANGES: Arc<Mutex<Vec<StoreChange>>>;
}

/// What the inspector remembers of a session besides the record itself: three timestamps, as
/// Unix milliseconds to keep the per-session overhead small.
#[derive(Clone, Copy, Debug)]
struct Meta {
    created: i64,
    updated: i64,
    expires: i64,
}

/// A `SessionStore` wrapper that keeps an index of the sessions written through it, so the
/// inspector can list them by loading each from the real store, and that announces changes.
///
/// Architecture Invariant: what `list` returns comes from the wrapped store's `load`, never
/// from a copy kept here; the index holds ids and timestamps only.
#[derive(Clone)]
pub struct InspectableStore<S> {
    inner: S,
    kind: &'static str,
    index: Arc<Mutex<HashMap<Id, Meta>>>,
    generation: Arc<watch::Sender<u64>>,
}

impl<S: fmt::Debug> fmt::Debug for InspectableStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InspectableStore")
            .field("inner", &self.inner)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<S: SessionStore + Clone> InspectableStore<S> {
    /// Wraps `inner`; `kind` names it in the UI ("memory", "sqlite", …).
    pub fn new(inner: S, kind: &'static str) -> Self {
        let (generation, _) = watch::channel(0);
        Self {
            inner,
            kind,
            index: Arc::default(),
            generation: Arc::new(generation),
        }
    }

    /// The store's kind, for the header.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// How many sessions were written through this store and not deleted (expired ones
    /// count until the next sweep).
    pub fn len(&self) -> usize {
        self.index.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no session is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver that changes whenever the store does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Every live session, oldest first, read from the wrapped store.
    pub async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        let mut known: Vec<(Id, Meta)> = {
            let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            index.iter().map(|(id, meta)| (*id, *meta)).collect()
        };
        known.sort_by_key(|(id, meta)| (meta.created, id.0));
        let mut rows = Vec::with_capacity(known.len());
        for (id, meta) in known {
            if let Some(record) = self.inner.load(&id).await? {
                rows.push(row(record, meta));
            }
        }
        Ok(rows)
    }

    /// One session, read from the wrapped store, if it holds it.
    pub async fn get(&self, id: &str) -> session_store::Result<Option<SessionRow>> {
        let Ok(parsed) = id.parse::<Id>() else {
            return Ok(None);
        };
        let meta = {
            let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            index.get(&parsed).copied()
        };
        let Some(record) = self.inner.load(&parsed).await? else {
            return Ok(None);
        };
        let now = unix_millis(OffsetDateTime::now_utc());
        let meta = meta.unwrap_or(Meta {
            created: now,
            updated: now,
            expires: unix_millis(record.expiry_date),
        });
        Ok(Some(row(record, meta)))
    }

    /// Deletes every session whose expiry has passed; returns how many went.
    pub async fn delete_expired(&self) -> session_store::Result<usize> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let expired: Vec<Id> = {
            let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            index
                .iter()
                .filter(|(_, meta)| meta.expires <= now)
                .map(|(id, _)| *id)
                .collect()
        };
        for id in &expired {
            self.inner.delete(id).await?;
            self.forget(id);
        }
        if !expired.is_empty() {
            self.announce();
        }
        Ok(expired.len())
    }

    /// Runs `delete_expired` every `period` until the returned task is aborted.
    pub fn spawn_expiry_task(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(err) = store.delete_expired().await {
                    tracing::warn!(%err, "could not delete expired sessions");
                }
            }
        })
    }

    fn remember(&self, record: &Record, created: bool) {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
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

    fn forget(&self, id: &Id) {
        self.index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    fn announce(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }
}

/// Records a change against the request being served, if any.
fn trace(change: StoreChange) {
    // Outside a request (the expiry task, tests) there is nobody to tell.
    let _ = REQUEST_CHANGES.try_with(|changes| {
        changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(change);
    });
}

fn row(record: Record, meta: Meta) -> SessionRow {
    SessionRow {
        id: record.id.to_string(),
        data: record.data.into_iter().collect(),
        expires_at: record.expiry_date,
        created_at: from_unix_millis(meta.created),
        updated_at: from_unix_millis(meta.updated),
    }
}

fn data_of(record: &Record) -> SessionData {
    record
        .data
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_unix_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[async_trait]
impl<S: SessionStore + Clone> SessionStore for InspectableStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await?;
        self.remember(record, true);
        trace(StoreChange::Created {
            id: record.id.to_string(),
            data: data_of(record),
        });
        self.announce();
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.inner.save(record).await?;
        self.remember(record, false);
        trace(StoreChange::Saved {
            id: record.id.to_string(),
            data: data_of(record),
        });
        self.announce();
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let record = self.inner.load(id).await?;
        trace(StoreChange::Loaded {
            id: id.to_string(),
            data: record.as_ref().map(data_of),
        });
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await?;
        self.forget(id);
        trace(StoreChange::Deleted {
            id: id.to_string(),
            reason: DeleteReason::Deleted,
        });
        self.announce();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tower_sessions::MemoryStore;

    use super::*;

    fn record(secs_left: i64) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([("views".to_owned(), serde_json::json!(1))]),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::seconds(secs_left),
        }
    }

    /// The inspector lists exactly what the wrapped store holds, and forgets deleted sessions.
    #[tokio::test]
    async fn lists_what_the_store_holds() {
        let store = InspectableStore::new(MemoryStore::default(), "memory");
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
        inner: MemoryStore,
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
        let store = InspectableStore::new(inner.clone(), "memory");
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
