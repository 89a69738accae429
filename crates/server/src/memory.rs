//! The embedded server's memory store: sessions kept in this process, compactly (the data as
//! JSON bytes beside three timestamps), sharded so that sessions rarely contend, and able to
//! list itself for the inspector and sweep its expired sessions.

use parking_lot::{Mutex, MutexGuard};
use std::sync::{
    Arc,
    atomic::{AtomicI64, AtomicUsize, Ordering},
};

use async_trait::async_trait;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use super::{
    session::FoldMap,
    session::{
        DataText, STORE_FULL, SessionRow, encode_for_store, from_unix_millis, now_millis,
        unix_millis,
    },
    store::{DEFAULT_MAX_SESSIONS, ListSessions, StoreKind},
};

/// How many independently locked parts the store has. Many, so that growing one part's table
/// (a rehash, which holds its lock) moves few sessions and stalls few requests.
const SHARDS: usize = 256;

/// One stored session.
#[derive(Clone, Debug)]
struct Entry {
    /// The data as a JSON object, serialized with its keys in order.
    data: Box<[u8]>,
    /// Unix milliseconds.
    expires: i64,
    created: i64,
    updated: i64,
}

/// One independently locked part of the store.
#[derive(Debug)]
struct Shard {
    sessions: Mutex<FoldMap<Id, Entry>>,
    /// No session of this shard expires before this (Unix milliseconds): lowered by every
    /// write, made exact by every sweep of the shard. Read without the lock, so the sweep skips
    /// shards with nothing due.
    earliest_expiry: AtomicI64,
}

impl Default for Shard {
    fn default() -> Self {
        Self {
            sessions: Mutex::default(),
            earliest_expiry: AtomicI64::new(i64::MAX),
        }
    }
}

/// Sessions in memory. Clones share the same sessions.
///
/// Ids are random 128-bit values the server made, so they pick their shard and bucket by their
/// own bits. Ids from cookies that name no session only probe, and are never stored.
///
/// It holds at most a limit of sessions (a new one beyond it is refused, existing ones are
/// served as usual), so a flood of new visitors cannot grow the server without bound.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    shards: Arc<[Shard]>,
    /// How many sessions it holds, kept as they come and go.
    held: Arc<AtomicUsize>,
    /// The most it may hold.
    limit: Arc<AtomicUsize>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_limit(DEFAULT_MAX_SESSIONS)
    }
}

impl MemoryStore {
    /// An empty store that holds at most `limit` sessions.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            held: Arc::default(),
            limit: Arc::new(AtomicUsize::new(limit)),
        }
    }

    /// Changes the most sessions it may hold (those above a lowered limit stay until they go).
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Whether it holds its limit (new sessions are refused).
    pub fn is_full(&self) -> bool {
        self.held.load(Ordering::Relaxed) >= self.limit.load(Ordering::Relaxed)
    }

    fn shard_of(&self, id: &Id) -> &Shard {
        // The high bits pick the shard; the map's buckets use the folded low bits.
        &self.shards[((id.0 >> 112) as usize) % self.shards.len()]
    }

    // A blocking mutex, not a tokio one: no await happens while a shard is held.
    fn lock(shard: &Shard) -> MutexGuard<'_, FoldMap<Id, Entry>> {
        shard.sessions.lock()
    }

    fn entry(record: &Record, created: i64, now: i64) -> session_store::Result<Entry> {
        let data = encode_for_store(&record.data)?;
        Ok(Entry {
            data: data.into_boxed_slice(),
            expires: unix_millis(record.expiry_date),
            created,
            updated: now,
        })
    }

    fn record(id: Id, entry: &Entry) -> session_store::Result<Record> {
        Ok(Record {
            id,
            data: serde_json::from_slice(&entry.data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: from_unix_millis(entry.expires),
        })
    }

    fn row(id: Id, entry: &Entry) -> SessionRow {
        SessionRow {
            id: id.into(),
            data: DataText::from_json(&entry.data),
            expires_at: from_unix_millis(entry.expires),
            created_at: Some(from_unix_millis(entry.created)),
            updated_at: Some(from_unix_millis(entry.updated)),
            key: None,
        }
    }

    fn insert(shard: &Shard, sessions: &mut FoldMap<Id, Entry>, id: Id, entry: Entry) {
        shard
            .earliest_expiry
            .fetch_min(entry.expires, Ordering::Relaxed);
        sessions.insert(id, entry);
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let now = now_millis();
        let entry = Self::entry(record, now, now)?;
        let limit = self.limit.load(Ordering::Relaxed);
        if self.held.fetch_add(1, Ordering::Relaxed) >= limit {
            self.held.fetch_sub(1, Ordering::Relaxed);
            return Err(session_store::Error::Backend(format!(
                "{STORE_FULL}: it holds its limit of {limit} sessions (--max-sessions)"
            )));
        }
        loop {
            let shard = self.shard_of(&record.id);
            let mut sessions = Self::lock(shard);
            if !sessions.contains_key(&record.id) {
                Self::insert(shard, &mut sessions, record.id, entry);
                return Ok(());
            }
            drop(sessions);
            // Session id collision (one in 2^128): pick another.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let now = now_millis();
        let shard = self.shard_of(&record.id);
        let mut sessions = Self::lock(shard);
        let created = sessions.get(&record.id).map(|e| e.created);
        let entry = Self::entry(record, created.unwrap_or(now), now)?;
        if created.is_none() {
            // A save of a session the store does not have (it expired meanwhile) adds one.
            self.held.fetch_add(1, Ordering::Relaxed);
        }
        Self::insert(shard, &mut sessions, record.id, entry);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let sessions = Self::lock(self.shard_of(id));
        match sessions.get(id) {
            Some(entry) if entry.expires > now_millis() => Self::record(*id, entry).map(Some),
            _ => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        if Self::lock(self.shard_of(id)).remove(id).is_some() {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[async_trait]
impl ListSessions for MemoryStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Memory
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        let now = now_millis();
        let mut live: Vec<(i64, SessionRow)> = Vec::new();
        for shard in self.shards.iter() {
            let sessions = Self::lock(shard);
            for (id, entry) in sessions.iter().filter(|(_, e)| e.expires > now) {
                live.push((entry.created, Self::row(*id, entry)));
            }
        }
        live.sort_by(|(a, ra), (b, rb)| a.cmp(b).then_with(|| ra.id.cmp(&rb.id)));
        Ok(live.into_iter().map(|(_, row)| row).collect())
    }

    async fn get(&self, id: &Id) -> session_store::Result<Option<SessionRow>> {
        let sessions = Self::lock(self.shard_of(id));
        Ok(match sessions.get(id) {
            Some(entry) if entry.expires > now_millis() => Some(Self::row(*id, entry)),
            _ => None,
        })
    }

    async fn delete_expired(&self, now: i64) -> session_store::Result<Vec<Id>> {
        let mut gone = Vec::new();
        // Only shards with something due are locked, one at a time, each for one pass.
        for shard in self.shards.iter() {
            if shard.earliest_expiry.load(Ordering::Relaxed) > now {
                continue;
            }
            let mut sessions = Self::lock(shard);
            let mut earliest = i64::MAX;
            sessions.retain(|id, entry| {
                if entry.expires > now {
                    earliest = earliest.min(entry.expires);
                    true
                } else {
                    gone.push(*id);
                    false
                }
            });
            // Exact again (writes lower it only while the lock is held, as here).
            shard.earliest_expiry.store(earliest, Ordering::Relaxed);
        }
        self.held.fetch_sub(gone.len(), Ordering::Relaxed);
        Ok(gone)
    }

    async fn next_expiry(&self) -> session_store::Result<Option<i64>> {
        let earliest = self
            .shards
            .iter()
            .map(|shard| shard.earliest_expiry.load(Ordering::Relaxed))
            .min()
            .unwrap_or(i64::MAX);
        Ok((earliest != i64::MAX).then_some(earliest))
    }

    async fn count(&self) -> session_store::Result<usize> {
        Ok(self.held.load(Ordering::Relaxed))
    }

    fn is_full(&self) -> bool {
        MemoryStore::is_full(self)
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn record(secs_left: i64, views: u64) -> Record {
        Record {
            id: Id::default(),
            data: std::collections::HashMap::from([("views".to_owned(), serde_json::json!(views))]),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::seconds(secs_left),
        }
    }

    /// What is saved loads back the same; the listing shows it with its times, oldest first.
    #[tokio::test]
    async fn saves_loads_and_lists() {
        let store = MemoryStore::default();
        let mut a = record(60, 1);
        store.create(&mut a).await.unwrap();
        // Creation times are kept to the millisecond; make the order unambiguous.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let mut b = record(60, 7);
        store.create(&mut b).await.unwrap();
        a.data.insert("views".into(), serde_json::json!(2));
        store.save(&a).await.unwrap();
        let loaded = store.load(&a.id).await.unwrap().unwrap();
        assert_eq!(loaded.data["views"], 2);
        let rows = store.list().await.unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            [a.id.into(), b.id.into()]
        );
        assert!(rows[0].updated_at >= rows[0].created_at);
        store.delete(&a.id).await.unwrap();
        assert!(store.load(&a.id).await.unwrap().is_none());
        assert_eq!(store.count().await.unwrap(), 1);
    }

    /// Expired sessions do not load, do not list, and are swept.
    #[tokio::test]
    async fn expired_sessions_are_swept() {
        let store = MemoryStore::default();
        let mut dead = record(-1, 1);
        let mut live = record(60, 1);
        store.create(&mut dead).await.unwrap();
        store.create(&mut live).await.unwrap();
        assert!(store.load(&dead.id).await.unwrap().is_none());
        assert_eq!(store.list().await.unwrap().len(), 1);
        assert_eq!(store.delete_expired(now_millis()).await.unwrap(), [dead.id]);
        assert_eq!(
            store.next_expiry().await.unwrap(),
            Some(unix_millis(live.expiry_date)),
            "the sweep knows exactly when the next session falls due"
        );
        assert_eq!(store.count().await.unwrap(), 1);
    }
}
