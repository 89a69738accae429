//! One conformance suite for every session store, as tower-sessions runs one suite over its
//! stores: the same cases, at the level of the store traits (`SessionStore`, `ListSessions`,
//! and the inspecting wrapper every server uses), on memory, SQLite and Redis. Time moves on the
//! lab's clock (`LabClock::advance`), never by sleeping; what a store does by design differently
//! (Redis expires keys itself, by the machine's clock) is asserted as that store's behaviour.

mod common;

use std::{
    any::Any,
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use serde_json::json;
use session_lab::{
    clock::LabClock,
    server::{
        ChangeFeed, DeleteReason, InspectableStore, ListSessions, MAX_SESSION_BYTES, MemoryStore,
        RedisSessions, SessionChange, SessionId, SqliteSessions, StoreKind, unix_millis,
    },
};
use time::{Duration, OffsetDateTime};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

/// A store under test, wrapped as the server wraps it, with its clock and whatever must stay
/// alive while it runs (a database file, a redis-server).
struct Subject<S: ListSessions> {
    store: InspectableStore<S>,
    clock: LabClock,
    _keep: Box<dyn Any>,
}

impl<S: ListSessions> Subject<S> {
    fn new(inner: S, keep: Box<dyn Any>) -> Self {
        let clock = LabClock::default();
        let store =
            InspectableStore::with_feed(inner, Arc::new(ChangeFeed::default()), clock.clone());
        store.feed().listen(Arc::new(|| {}));
        Self {
            store,
            clock,
            _keep: keep,
        }
    }

    fn inner(&self) -> &S {
        self.store.inner()
    }

    /// Whether the store expires sessions itself (Redis) rather than by the lab's sweep.
    fn expires_by_itself(&self) -> bool {
        self.inner().kind() == StoreKind::Redis
    }
}

/// A record of `views`, due `left` from now on the machine's clock, with a fresh id.
fn record(views: u64, left: Duration) -> Record {
    Record {
        id: Id::default(),
        data: HashMap::from([("views".to_owned(), json!(views))]),
        expiry_date: OffsetDateTime::now_utc() + left,
    }
}

fn views(record: &Record) -> Option<u64> {
    record.data.get("views").and_then(serde_json::Value::as_u64)
}

/// A SQLite file of the test's own, removed when the test ends.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Self(std::env::temp_dir().join(format!(
            "session-lab-suite-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

async fn memory(limit: Option<usize>) -> Option<Subject<MemoryStore>> {
    let store = limit.map_or_else(MemoryStore::default, MemoryStore::with_limit);
    Some(Subject::new(store, Box::new(())))
}

async fn sqlite(limit: Option<usize>) -> Option<Subject<SqliteSessions>> {
    let db = TempDb::new();
    let store = SqliteSessions::open(db.0.clone()).await.unwrap();
    let subject = Subject::new(store, Box::new(db));
    if let Some(most) = limit {
        subject.store.set_limit(most);
    }
    Some(subject)
}

/// `None` outside CI where redis-server is missing (said once, loudly); under CI its absence
/// fails the test.
async fn redis(limit: Option<usize>) -> Option<Subject<RedisSessions>> {
    let server = common::RedisServer::start()?;
    let store = RedisSessions::connect(&server.url()).await.unwrap();
    let subject = Subject::new(store, Box::new(server));
    if let Some(most) = limit {
        subject.store.set_limit(most);
    }
    Some(subject)
}

/// Each case, for any store.
mod cases {
    use super::*;

    /// A created session gets an id no other session has: a record that arrives with a taken
    /// id leaves with a new one, and the first session keeps its data.
    pub async fn create_gives_each_session_its_own_id<S: ListSessions>(s: Subject<S>) {
        let mut first = record(1, Duration::hours(1));
        s.store.create(&mut first).await.unwrap();
        let mut second = record(2, Duration::hours(1));
        second.id = first.id;
        s.store.create(&mut second).await.unwrap();
        assert_ne!(second.id, first.id, "a taken id is replaced");
        for (id, expected) in [(first.id, 1), (second.id, 2)] {
            let loaded = s.store.load(&id).await.unwrap();
            assert_eq!(loaded.as_ref().and_then(views), Some(expected));
        }
    }

    /// What is saved loads back: the data whole (nested values, text that is not ASCII) and
    /// the expiry to the millisecond.
    pub async fn save_and_load_round_trip<S: ListSessions>(s: Subject<S>) {
        let mut saved = record(3, Duration::minutes(30));
        saved.data.insert("user".into(), json!("zoë"));
        saved
            .data
            .insert("cart".into(), json!({"items": [1, 2, 3], "note": null}));
        s.store.create(&mut saved).await.unwrap();
        let loaded = s.store.load(&saved.id).await.unwrap().expect("it loads");
        assert_eq!(loaded.data, saved.data);
        assert_eq!(
            unix_millis(loaded.expiry_date),
            unix_millis(saved.expiry_date)
        );
    }

    /// Saving again replaces the data (one session, not two); saving an id the store never
    /// saw stores it.
    pub async fn save_replaces_and_saving_a_new_id_stores_it<S: ListSessions>(s: Subject<S>) {
        let mut one = record(1, Duration::hours(1));
        s.store.create(&mut one).await.unwrap();
        one.data.insert("views".into(), json!(2));
        s.store.save(&one).await.unwrap();
        let loaded = s.store.load(&one.id).await.unwrap().unwrap();
        assert_eq!(views(&loaded), Some(2));
        assert_eq!(s.store.count().await.unwrap(), 1);
        let fresh = record(7, Duration::hours(1));
        s.store.save(&fresh).await.unwrap();
        let loaded = s.store.load(&fresh.id).await.unwrap();
        assert_eq!(loaded.as_ref().and_then(views), Some(7));
        assert_eq!(s.store.count().await.unwrap(), 2);
    }

    /// A deleted session is gone from load, get, list and count; deleting it again, or an id
    /// never seen, is no error.
    pub async fn delete_removes_and_may_repeat<S: ListSessions>(s: Subject<S>) {
        let mut gone = record(1, Duration::hours(1));
        let mut kept = record(2, Duration::hours(1));
        s.store.create(&mut gone).await.unwrap();
        s.store.create(&mut kept).await.unwrap();
        s.store.delete(&gone.id).await.unwrap();
        assert!(s.store.load(&gone.id).await.unwrap().is_none());
        assert!(s.store.get(gone.id.into()).await.unwrap().is_none());
        let listed: Vec<SessionId> = s.store.list().await.unwrap().iter().map(|r| r.id).collect();
        assert_eq!(listed, [SessionId::from(kept.id)]);
        assert_eq!(s.store.count().await.unwrap(), 1);
        s.store.delete(&gone.id).await.unwrap();
        s.store.delete(&Id::default()).await.unwrap();
    }

    /// A session whose expiry has passed on the machine's clock never loads, from the wrapped
    /// store itself (tower-sessions' contract) or through the wrapper, and is not listed.
    pub async fn an_expired_session_never_loads<S: ListSessions>(s: Subject<S>) {
        let past = record(1, Duration::seconds(-5));
        s.store.save(&past).await.unwrap();
        assert!(s.inner().load(&past.id).await.unwrap().is_none());
        assert!(s.store.load(&past.id).await.unwrap().is_none());
        assert!(s.store.get(past.id.into()).await.unwrap().is_none());
        assert!(s.store.list().await.unwrap().is_empty());
    }

    /// The lab's clock moved two minutes ahead: a session due in one minute no longer loads,
    /// one due in an hour does; the sweep deletes the first and tells the feed it expired —
    /// except on a store that expires keys itself by the machine's clock (Redis), whose
    /// sweep deletes nothing and which keeps the key until the machine's clock gets there.
    pub async fn the_moved_clock_expires_and_the_sweep_deletes<S: ListSessions>(s: Subject<S>) {
        let mut soon = record(1, Duration::minutes(1));
        let mut later = record(2, Duration::hours(1));
        s.store.create(&mut soon).await.unwrap();
        s.store.create(&mut later).await.unwrap();
        let _ = s.store.feed().take();
        s.clock.advance(Duration::minutes(2));
        assert!(s.store.load(&soon.id).await.unwrap().is_none());
        assert!(s.store.load(&later.id).await.unwrap().is_some());
        let swept = s.store.delete_expired().await.unwrap();
        let changes = s.store.feed().take().into_vec();
        if s.expires_by_itself() {
            assert_eq!(swept, 0);
            assert!(changes.is_empty(), "{changes:?}");
            assert_eq!(s.store.count().await.unwrap(), 2);
        } else {
            assert_eq!(swept, 1);
            assert_eq!(
                changes,
                [SessionChange::Removed {
                    id: soon.id.into(),
                    reason: DeleteReason::Expired
                }]
            );
            assert_eq!(s.store.count().await.unwrap(), 1);
        }
    }

    /// The store says when its next session falls due — early perhaps, never late — or, if
    /// it expires keys itself, nothing.
    pub async fn the_next_expiry_is_never_late<S: ListSessions>(s: Subject<S>) {
        assert!(s.inner().next_expiry().await.unwrap().is_none(), "empty");
        let mut soon = record(1, Duration::minutes(3));
        let mut later = record(2, Duration::hours(2));
        s.store.create(&mut later).await.unwrap();
        s.store.create(&mut soon).await.unwrap();
        let next = s.inner().next_expiry().await.unwrap();
        if s.expires_by_itself() {
            assert_eq!(next, None);
        } else {
            let next = next.expect("a session is due");
            assert!(next <= unix_millis(soon.expiry_date), "never late");
        }
    }

    /// The listing holds every live session, oldest first, with its data; `get` finds one.
    pub async fn list_is_oldest_first_and_get_finds_one<S: ListSessions>(s: Subject<S>) {
        let mut ids = Vec::new();
        for views in 1..=3 {
            let mut r = record(views, Duration::hours(1));
            s.store.create(&mut r).await.unwrap();
            ids.push(SessionId::from(r.id));
            // Creation times a millisecond apart at least, so "oldest first" has one answer.
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        let rows = s.store.list().await.unwrap();
        let listed: Vec<SessionId> = rows.iter().map(|r| r.id).collect();
        assert_eq!(listed, ids);
        assert_eq!(rows[2].data.views(), Some(3));
        let row = s.store.get(ids[1]).await.unwrap().expect("found");
        assert_eq!(row.data.views(), Some(2));
        assert!(row.created_at.is_some() && row.updated_at.is_some());
        assert_eq!(s.store.count().await.unwrap(), 3);
    }

    /// Every write and delete reaches the feed as the change it was.
    pub async fn changes_reach_the_feed<S: ListSessions>(s: Subject<S>) {
        let mut r = record(1, Duration::hours(1));
        s.store.create(&mut r).await.unwrap();
        r.data.insert("views".into(), json!(5));
        s.store.save(&r).await.unwrap();
        let changes = s.store.feed().take().into_vec();
        let [SessionChange::Written(row)] = changes.as_slice() else {
            panic!("one write (create and save coalesce): {changes:?}")
        };
        assert_eq!((row.id, row.data.views()), (r.id.into(), Some(5)));
        s.store.delete(&r.id).await.unwrap();
        assert_eq!(
            s.store.feed().take().into_vec(),
            [SessionChange::Removed {
                id: r.id.into(),
                reason: DeleteReason::Deleted
            }]
        );
    }

    /// With a limit of two, the third new session is refused with the store-full error (no
    /// row written), while the two it holds still save.
    pub async fn a_full_store_refuses_new_sessions<S: ListSessions>(s: Subject<S>) {
        let mut held = Vec::new();
        for views in 1..=2 {
            let mut r = record(views, Duration::hours(1));
            s.store.create(&mut r).await.unwrap();
            held.push(r);
        }
        let mut third = record(3, Duration::hours(1));
        let refused = s.store.create(&mut third).await.unwrap_err();
        assert!(
            refused.to_string().contains("session store full"),
            "{refused}"
        );
        assert_eq!(s.store.count().await.unwrap(), 2);
        assert!(s.store.is_full());
        held[0].data.insert("views".into(), json!(10));
        s.store.save(&held[0]).await.unwrap();
    }

    /// Data over the size limit is refused with a clear error and nothing is stored.
    pub async fn data_over_the_limit_is_refused<S: ListSessions>(s: Subject<S>) {
        let mut big = record(1, Duration::hours(1));
        big.data
            .insert("blob".into(), json!("x".repeat(MAX_SESSION_BYTES + 1)));
        let refused = s.store.create(&mut big).await.unwrap_err();
        assert!(
            matches!(refused, session_store::Error::Encode(ref m) if m.contains("too large")),
            "{refused}"
        );
        assert_eq!(s.store.count().await.unwrap(), 0);
    }

    /// Fifty sessions created at once are fifty sessions, each with its own data.
    pub async fn concurrent_creates_keep_every_session<S: ListSessions>(s: Subject<S>) {
        let store = s.store.clone();
        let made = futures_join(
            (0..50u64)
                .map(|n| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let mut r = record(n, Duration::hours(1));
                        store.create(&mut r).await.unwrap();
                        (r.id, n)
                    })
                })
                .collect(),
        )
        .await;
        assert_eq!(s.store.count().await.unwrap(), 50);
        for (id, n) in made {
            let loaded = s.store.load(&id).await.unwrap();
            assert_eq!(loaded.as_ref().and_then(views), Some(n));
        }
    }

    async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    }
}

/// The suite for one store: a test per case.
macro_rules! suite {
    ($store:ident) => {
        mod $store {
            use super::*;

            suite!(@cases $store,
                create_gives_each_session_its_own_id,
                save_and_load_round_trip,
                save_replaces_and_saving_a_new_id_stores_it,
                delete_removes_and_may_repeat,
                an_expired_session_never_loads,
                the_moved_clock_expires_and_the_sweep_deletes,
                the_next_expiry_is_never_late,
                list_is_oldest_first_and_get_finds_one,
                changes_reach_the_feed,
                data_over_the_limit_is_refused,
                concurrent_creates_keep_every_session
            );

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_full_store_refuses_new_sessions() {
                if let Some(subject) = super::$store(Some(2)).await {
                    cases::a_full_store_refuses_new_sessions(subject).await;
                }
            }
        }
    };
    (@cases $store:ident, $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(subject) = super::$store(None).await {
                    cases::$case(subject).await;
                }
            }
        )*
    };
}

suite!(memory);
suite!(sqlite);
suite!(redis);
