//! The inspectable store: a wrapper around a session store that can list what the store
//! really holds, announces every change on the store's [`ChangeFeed`], and sweeps expired
//! sessions when they are due (not on a timer: an idle store wakes nobody).
//!
//! Stores implement [`ListSessions`] to enumerate themselves: our [`MemoryStore`](super::MemoryStore)
//! by scanning its shards, SQL and Redis stores by query.

use parking_lot::Mutex;
use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use super::{
    feed::{ChangeFeed, SessionChange},
    session::{DataText, DeleteReason, STORE_FULL, SessionId, SessionRow, unix_millis},
};
use crate::clock::LabClock;

/// The most sessions a store keeps when no limit is set.
pub const DEFAULT_MAX_SESSIONS: usize = 5_000_000;

/// The longest the sweep sleeps before looking again, even with nothing due (a clock that
/// jumped, another process's sessions).
const SWEEP_MAX_SLEEP: Duration = Duration::from_secs(60);

/// The shortest time between two sweeps, however many sessions fall due.
const SWEEP_MIN_GAP: Duration = Duration::from_millis(50);

/// How often a shared store's sessions are counted again for its limit (between counts, this
/// process adds what it creates and takes off what it deletes).
const RECOUNT_EVERY_MS: i64 = 1000;

/// One change to the store, recorded against the request that caused it. Ids stay ids here:
/// they are written out once, when the request's story is told.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreChange {
    /// A handler read the session (`data` is `None` when the store had no such session).
    Loaded {
        /// The id asked for.
        id: SessionId,
        /// What the store returned.
        data: Option<DataText>,
    },
    /// A new session was stored.
    Created {
        /// Its id.
        id: SessionId,
        /// Its first data.
        data: DataText,
    },
    /// An existing session was saved again.
    Saved {
        /// Its id.
        id: SessionId,
        /// Its new data.
        data: DataText,
    },
    /// A handler removed a session (logout, regenerate).
    Deleted {
        /// Its id.
        id: SessionId,
    },
}

/// Which kind of store keeps the sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// This process's memory.
    Memory,
    /// A SQLite file.
    Sqlite,
    /// A Redis server.
    Redis,
}

impl StoreKind {
    /// Its name, as `--store` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Redis => "redis",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session store that can say what it holds.
#[async_trait]
pub trait ListSessions: SessionStore + Clone {
    /// The store's kind, for the header.
    fn kind(&self) -> StoreKind;
    /// Whether other processes may write this store too (so it must be listed again now and
    /// then to see their changes).
    fn is_shared(&self) -> bool;
    /// Every live session, oldest first.
    async fn list(&self) -> session_store::Result<Vec<SessionRow>>;
    /// One live session, if the store holds it.
    async fn get(&self, id: &Id) -> session_store::Result<Option<SessionRow>>;
    /// Deletes every session whose expiry is at or before `now` (Unix milliseconds); returns
    /// their ids. Stores that expire sessions themselves (Redis) return none.
    async fn delete_expired(&self, now: i64) -> session_store::Result<Vec<Id>>;
    /// When the next session falls due (Unix milliseconds), if the store knows; a store may
    /// answer early, never late.
    async fn next_expiry(&self) -> session_store::Result<Option<i64>>;
    /// How many sessions the store holds (expired ones may count until the next sweep).
    async fn count(&self) -> session_store::Result<usize>;
    /// Whether the store holds its limit of sessions (new ones are refused).
    fn is_full(&self) -> bool {
        false
    }
}

tokio::task_local! {
    /// The changes of the request being served on this task, so each change can be told to the
    /// request that caused it (set by the session layer when it records requests).
    pub(crate) static REQUEST_CHANGES: Arc<Mutex<Vec<StoreChange>>>;
}

/// When the sweep should run next, and how a write with an earlier expiry wakes it.
#[derive(Debug)]
struct SweepSchedule {
    /// Unix milliseconds of the next sweep; `i64::MAX` while one runs (every write then
    /// leaves a wake-up, so none is missed).
    due: AtomicI64,
    wake: Notify,
}

impl Default for SweepSchedule {
    fn default() -> Self {
        Self {
            due: AtomicI64::new(i64::MAX),
            wake: Notify::new(),
        }
    }
}

impl SweepSchedule {
    /// A session now expires at `expires`: bring the sweep forward if that is sooner.
    fn note(&self, expires: i64) {
        // One relaxed load on the common path (sessions expiring after the next sweep).
        if expires < self.due.load(Ordering::Relaxed) {
            self.due.fetch_min(expires, Ordering::Relaxed);
            self.wake.notify_one();
        }
    }
}

/// Wraps a listable store: records every change against the request that caused it and
/// publishes it on the feed, so the inspector stays current without listing.
///
/// Architecture Invariant: what `list` returns comes from the wrapped store, never from a copy
/// kept here; what the feed carries is each change, never the store.
#[derive(Clone)]
pub struct InspectableStore<S> {
    inner: S,
    feed: Arc<ChangeFeed>,
    sweep: Arc<SweepSchedule>,
    /// Microseconds every store call waits first, like a database across a network.
    latency_micros: Arc<AtomicU64>,
    /// The time expiry is judged by: the lab's clock, which the user may move ahead.
    clock: LabClock,
    /// The limit of a store other processes share (the memory store keeps its own, exactly).
    limit: Arc<SharedLimit>,
}

/// `--max-sessions` for a store other processes share: its sessions counted now and then
/// (every process's), plus what this process created and deleted since.
#[derive(Debug)]
struct SharedLimit {
    /// The most sessions it may hold.
    most: AtomicU64,
    /// About how many it holds.
    held: AtomicI64,
    /// When it was last counted (Unix milliseconds), `i64::MIN` before the first count.
    counted_at: AtomicI64,
    /// Whether a count is under way (one at a time).
    counting: std::sync::atomic::AtomicBool,
}

impl Default for SharedLimit {
    fn default() -> Self {
        Self {
            most: AtomicU64::new(DEFAULT_MAX_SESSIONS as u64),
            held: AtomicI64::new(0),
            counted_at: AtomicI64::new(i64::MIN),
            counting: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for InspectableStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InspectableStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S: ListSessions> InspectableStore<S> {
    /// Wraps `inner` with a feed of its own, on the machine's clock.
    pub fn new(inner: S) -> Self {
        Self::with_feed(inner, Arc::default(), LabClock::default())
    }

    /// Wraps `inner`, publishing its changes on `feed` (shared with the store this one
    /// replaces, so the reader follows a restarted server) and judging expiry by `clock`.
    pub fn with_feed(inner: S, feed: Arc<ChangeFeed>, clock: LabClock) -> Self {
        Self {
            inner,
            feed,
            sweep: Arc::default(),
            latency_micros: Arc::default(),
            clock,
            limit: Arc::default(),
        }
    }

    /// Changes the most sessions a shared store may hold (the memory store's own limit is set
    /// on it). Those above a lowered limit stay until they go.
    pub fn set_limit(&self, most: usize) {
        self.limit
            .most
            .store(u64::try_from(most).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// About how many sessions a shared store holds: counted again when the last count is
    /// more than a second old (by one request at a time; the others use the last count).
    async fn shared_held(&self) -> session_store::Result<u64> {
        let limit = &self.limit;
        let now = unix_millis(OffsetDateTime::now_utc());
        let stale = now.saturating_sub(limit.counted_at.load(Ordering::Relaxed)) > RECOUNT_EVERY_MS;
        if stale && !limit.counting.swap(true, Ordering::Acquire) {
            /// Lets the next request count, even if this one is dropped while it counts.
            struct Counting<'a>(&'a std::sync::atomic::AtomicBool);
            impl Drop for Counting<'_> {
                fn drop(&mut self) {
                    self.0.store(false, Ordering::Release);
                }
            }
            let _counting = Counting(&limit.counting);
            let counted = self.inner.count().await?;
            limit.held.store(
                i64::try_from(counted).unwrap_or(i64::MAX),
                Ordering::Relaxed,
            );
            limit.counted_at.store(now, Ordering::Relaxed);
        }
        Ok(u64::try_from(limit.held.load(Ordering::Relaxed)).unwrap_or(0))
    }

    /// The clock the store judges expiry by.
    pub fn clock(&self) -> &LabClock {
        &self.clock
    }

    /// Now on the store's clock, in Unix milliseconds.
    fn now_millis(&self) -> i64 {
        unix_millis(self.clock.now())
    }

    /// Makes every store call (load, create, save, delete) wait this long first, as a
    /// database across a network would: the time between a request's load and its save
    /// becomes real, so concurrent requests of one session overlap as they do in production.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_micros.store(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    async fn wait_latency(&self) {
        let micros = self.latency_micros.load(Ordering::Relaxed);
        if micros > 0 {
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
    }

    /// The feed changes are published on.
    pub fn feed(&self) -> &Arc<ChangeFeed> {
        &self.feed
    }

    /// The store's kind, for the header.
    pub fn kind(&self) -> StoreKind {
        self.inner.kind()
    }

    /// Whether other processes may write the store too.
    pub fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    /// Whether the store holds its limit of sessions.
    pub fn is_full(&self) -> bool {
        if self.inner.is_shared() {
            let held = u64::try_from(self.limit.held.load(Ordering::Relaxed)).unwrap_or(0);
            held >= self.limit.most.load(Ordering::Relaxed)
        } else {
            self.inner.is_full()
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Every live session, oldest first, read from the wrapped store.
    pub async fn list(&self) -> session_store::Result<Vec<SessionRow>> {
        self.inner.list().await
    }

    /// One session, read from the wrapped store, if it holds it.
    pub async fn get(&self, id: SessionId) -> session_store::Result<Option<SessionRow>> {
        self.inner.get(&id.into()).await
    }

    /// How many sessions the wrapped store holds.
    pub async fn count(&self) -> session_store::Result<usize> {
        self.inner.count().await
    }

    /// Deletes every expired session from the wrapped store and publishes each; returns how
    /// many went.
    pub async fn delete_expired(&self) -> session_store::Result<usize> {
        let gone = self.inner.delete_expired(self.now_millis()).await?;
        let count = gone.len();
        for id in gone {
            self.feed.publish(SessionChange::Removed {
                id: id.into(),
                reason: DeleteReason::Expired,
            });
        }
        Ok(count)
    }

    /// Sweeps expired sessions until the returned task is aborted: it sleeps until the next
    /// session falls due (a write with an earlier expiry wakes it, and so does moving the
    /// clock), so a store with nothing due costs nothing.
    pub fn spawn_expiry_task(&self) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        let mut moved = self.clock.moved();
        tokio::spawn(async move {
            loop {
                // From here until the next sleep, every write leaves a wake-up.
                store.sweep.due.store(i64::MAX, Ordering::Relaxed);
                moved.mark_unchanged();
                if let Err(err) = store.delete_expired().await {
                    tracing::warn!(%err, "could not delete expired sessions");
                }
                let now = store.now_millis();
                let next = match store.inner.next_expiry().await {
                    Ok(next) => next,
                    Err(err) => {
                        tracing::warn!(%err, "could not read the next expiry");
                        Some(now + 1000)
                    }
                };
                let longest = now.saturating_add(SWEEP_MAX_SLEEP.as_millis() as i64);
                let due = next.unwrap_or(i64::MAX).min(longest);
                store.sweep.due.fetch_min(due, Ordering::Relaxed);
                let due = store.sweep.due.load(Ordering::Relaxed);
                let sleep =
                    Duration::from_millis(u64::try_from(due - now).unwrap_or(0)).max(SWEEP_MIN_GAP);
                tokio::select! {
                    () = tokio::time::sleep(sleep) => {}
                    // The clock jumped: whatever fell due goes now.
                    Ok(()) = moved.changed() => {}
                    () = store.sweep.wake.notified() => {
                        // Something falls due sooner: wait for it (at least the minimum gap),
                        // unless the clock jumps first.
                        let due = store.sweep.due.load(Ordering::Relaxed);
                        let wait = u64::try_from(due - store.now_millis()).unwrap_or(0);
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_millis(wait).max(SWEEP_MIN_GAP)) => {}
                            Ok(()) = moved.changed() => {}
                        }
                    }
                }
            }
        })
    }
}

/// Records a change against the request being served, if any.
fn trace(change: impl FnOnce() -> StoreChange) {
    // Outside a traced request (the expiry task, tests, untraced serving) there is nobody to
    // tell, and the change is not even built.
    let _ = REQUEST_CHANGES.try_with(|changes| {
        changes.lock().push(change());
    });
}

/// Whether a request is being recorded on this task.
fn tracing_request() -> bool {
    REQUEST_CHANGES.try_with(|_| ()).is_ok()
}

impl<S: ListSessions> InspectableStore<S> {
    /// Tells the request's record and the feed that `record` was written.
    fn written(&self, record: &Record, created: bool) {
        let listening = self.feed.is_listening();
        if !listening && !tracing_request() {
            return;
        }
        let id = SessionId::from(record.id);
        let data = DataText::of_record(&record.data);
        if listening {
            // The lab's clock: the sessions table's Created and Updated then agree with the
            // expiry and the countdowns beside them when the clock was moved ahead.
            let at = self.clock.now();
            self.feed.publish(SessionChange::Written(SessionRow {
                id,
                data: data.clone(),
                expires_at: record.expiry_date,
                created_at: created.then_some(at),
                updated_at: Some(at),
                key: None,
            }));
        }
        trace(|| {
            if created {
                StoreChange::Created { id, data }
            } else {
                StoreChange::Saved { id, data }
            }
        });
    }
}

impl<S: ListSessions> InspectableStore<S> {
    /// Tells the feed how a request's call to the store went: a failure of the store itself
    /// (not a full store, a lost lease or a record that does not decode) marks it failing,
    /// a success clears that.
    fn noted<T>(&self, result: session_store::Result<T>) -> session_store::Result<T> {
        match &result {
            Ok(_) => self.feed.note_success(),
            Err(session_store::Error::Backend(message))
                if !message.contains(STORE_FULL) && !message.contains(crate::locks::LEASE_LOST) =>
            {
                self.feed.note_failure(message.clone());
            }
            Err(_) => {}
        }
        result
    }
}

#[async_trait]
impl<S: ListSessions> SessionStore for InspectableStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.wait_latency().await;
        if self.inner.is_shared() {
            let most = self.limit.most.load(Ordering::Relaxed);
            if self.shared_held().await? >= most {
                return Err(session_store::Error::Backend(format!(
                    "{STORE_FULL}: it holds its limit of {most} sessions, counted across every \
                     process that shares it (--max-sessions)"
                )));
            }
            self.limit.held.fetch_add(1, Ordering::Relaxed);
        }
        self.noted(self.inner.create(record).await)?;
        self.sweep.note(unix_millis(record.expiry_date));
        self.written(record, true);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.wait_latency().await;
        self.noted(self.inner.save(record).await)?;
        self.sweep.note(unix_millis(record.expiry_date));
        self.written(record, false);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.wait_latency().await;
        let record = self.noted(self.inner.load(id).await)?;
        // The wrapped store judges expiry by the machine's clock; the lab's may be ahead, and
        // a session due on it is gone (the sweep deletes it). On the machine's clock the
        // wrapped store's judgement stands (no second clock read per request).
        let record = if self.clock.ahead().is_zero() {
            record
        } else {
            let now = self.clock.now();
            record.filter(|r| r.expiry_date > now)
        };
        trace(|| StoreChange::Loaded {
            id: (*id).into(),
            data: record.as_ref().map(|r| DataText::of_record(&r.data)),
        });
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.wait_latency().await;
        self.inner.delete(id).await?;
        if self.inner.is_shared() {
            self.limit.held.fetch_sub(1, Ordering::Relaxed);
        }
        let id = SessionId::from(*id);
        trace(|| StoreChange::Deleted { id });
        self.feed.publish_with(|| SessionChange::Removed {
            id,
            reason: DeleteReason::Deleted,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::MemoryStore;

    fn record(millis_left: i64) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([("views".to_owned(), serde_json::json!(1))]),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::milliseconds(millis_left),
        }
    }

    fn listened(store: &InspectableStore<MemoryStore>) {
        store.feed().listen(Arc::new(|| {}));
        let _ = store.feed().take();
    }

    /// Every write and delete reaches the feed as the change it was, with the session's data.
    #[tokio::test]
    async fn changes_are_published_as_changes() {
        let store = InspectableStore::new(MemoryStore::default());
        listened(&store);
        let mut a = record(60_000);
        store.create(&mut a).await.unwrap();
        a.data.insert("views".into(), serde_json::json!(2));
        store.save(&a).await.unwrap();
        let changes = store.feed().take().into_vec();
        assert_eq!(changes.len(), 1, "create then save coalesce");
        let SessionChange::Written(row) = &changes[0] else {
            panic!("a write")
        };
        assert_eq!(row.id, SessionId::from(a.id));
        assert_eq!(row.data.views(), Some(2));
        assert!(row.created_at.is_some());
        store.delete(&a.id).await.unwrap();
        assert_eq!(
            store.feed().take().into_vec(),
            [SessionChange::Removed {
                id: a.id.into(),
                reason: DeleteReason::Deleted
            }]
        );
    }

    /// The sweep removes a session when it falls due, tells the feed why, and otherwise
    /// sleeps: it does not wake up again and again with nothing to do.
    #[tokio::test(start_paused = true)]
    async fn sweep_runs_when_due_and_sleeps_otherwise() {
        let store = InspectableStore::new(MemoryStore::default());
        listened(&store);
        let sweeper = store.spawn_expiry_task();
        tokio::task::yield_now().await;
        let mut long = record(3_600_000);
        store.create(&mut long).await.unwrap();
        // A session that is already due: the write itself brings the sweep forward.
        let mut short = record(-1);
        store.create(&mut short).await.unwrap();
        let _ = store.feed().take();
        let mut removed = Vec::new();
        for _ in 0..100 {
            // The paused clock moves on by itself while every task waits.
            tokio::time::sleep(Duration::from_millis(10)).await;
            removed = store.feed().take().into_vec();
            if !removed.is_empty() {
                break;
            }
        }
        assert_eq!(
            removed,
            [SessionChange::Removed {
                id: short.id.into(),
                reason: DeleteReason::Expired
            }]
        );
        assert_eq!(store.count().await.unwrap(), 1);
        let due = store.sweep.due.load(Ordering::Relaxed);
        assert!(
            due >= store.now_millis() + SWEEP_MAX_SLEEP.as_millis() as i64 - 1000,
            "with only a session an hour away, the next sweep is the longest sleep away"
        );
        sweeper.abort();
    }

    /// Moving the lab's clock ahead expires at once what the time skipped would have: the
    /// sweep wakes, deletes and tells; a load finds nothing even before it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moving_the_clock_expires_sessions_at_once() {
        let clock = LabClock::default();
        let store =
            InspectableStore::with_feed(MemoryStore::default(), Arc::default(), clock.clone());
        listened(&store);
        let mut hour = record(3_600_000);
        let mut day = record(86_400_000);
        store.create(&mut hour).await.unwrap();
        store.create(&mut day).await.unwrap();
        let _ = store.feed().take();
        clock.advance(time::Duration::minutes(61));
        assert!(
            store.load(&hour.id).await.unwrap().is_none(),
            "due on the lab's clock"
        );
        assert!(store.load(&day.id).await.unwrap().is_some());
        let sweeper = store.spawn_expiry_task();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut removed = Vec::new();
        while removed.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the sweep deletes it");
            tokio::time::sleep(Duration::from_millis(5)).await;
            removed = store.feed().take().into_vec();
        }
        assert_eq!(
            removed,
            [SessionChange::Removed {
                id: hour.id.into(),
                reason: DeleteReason::Expired
            }]
        );
        // The sweep now sleeps (nothing due for hours); a jump wakes it at once.
        tokio::time::sleep(Duration::from_millis(100)).await;
        clock.advance(time::Duration::days(1));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while store.count().await.unwrap() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the jump wakes the sweep"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sweeper.abort();
    }
}
