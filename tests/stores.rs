//! One suite, run against every store the server can use (the tower-sessions way): memory and
//! SQLite. Each test starts its own lab; SQLite tests get their own database file.

mod common;

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use common::{RedisServer, WAIT, burst, id, lab_on, session_of, visit, visit_url};
use session_lab::lab::{BrowserCommand, ServerCommand};
use session_lab::server::{ListSessions, SessionId, SqliteSessions};
use session_lab::{
    lab::{Lab, LabConfig, LabState, Logged},
    server::{
        ExpiryPolicy, Secret, ServerConfig, ServerError, StoreChoice, StoreError, UnknownStore,
    },
};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
};

/// A database file of its own for each SQLite test, removed when the test ends.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "session-lab-test-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        Self(path)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

fn config() -> ServerConfig {
    ServerConfig::with_secret(Secret::from_phrase("store suite"))
}

/// [`config`] with every store call taking 5 ms, as across a network: a request's load and
/// its save lie far enough apart that concurrent requests of one session overlap, so a burst
/// loses updates unless the per-session lock holds (with `lock_per_session` off it does lose
/// them: `lifecycle.rs`, `burst_on_a_slow_store_loses_updates_only_without_the_lock`).
fn slow_config() -> ServerConfig {
    let mut config = config();
    config.settings.store_latency_ms = 5;
    config
}

/// A server on a free port of 127.0.0.1 with `config`, on `store` (as a process of its own
/// would be, but in this one).
async fn serve_on(
    config: ServerConfig,
    store: StoreChoice,
) -> Result<session_lab::server::RunningServer, session_lab::server::ServerError> {
    session_lab::server::RunningServer::start_with("127.0.0.1:0".parse().unwrap(), config, store)
        .await
}

fn url(lab: &Lab, path: &str) -> String {
    format!(
        "{}{}",
        lab.server_url().unwrap(),
        path.trim_start_matches('/')
    )
}

/// Restarts the server on its store; returns how many sessions it had before and after.
fn restart(lab: &Lab, state: &mut LabState) -> (usize, usize) {
    let lines = state.logged;
    lab.send(ServerCommand::RestartServer(None));
    let restarted = |s: &LabState| {
        s.log_since(lines).find_map(|l| match l.what {
            Logged::ServerRestarted {
                sessions_before,
                sessions_after,
                ..
            } => Some((sessions_before, sessions_after)),
            _ => None,
        })
    };
    assert!(lab.wait_until(state, WAIT, |s| restarted(s).is_some()));
    restarted(state).unwrap()
}

macro_rules! store_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;

            /// Each browser has its own session and counter.
            #[test]
            fn sessions_are_isolated_per_browser() {
                let Some((_db, store)) = ($make) else { return };
                let (lab, mut state) = lab_on(store, config());
                for _ in 0..3 {
                    visit(&lab, &mut state, "A");
                }
                assert_eq!(visit(&lab, &mut state, "B"), "Number of views 1");
                assert_eq!(visit(&lab, &mut state, "A"), "Number of views 4");
                let (a, b) = (
                    session_of(&state, "A").unwrap(),
                    session_of(&state, "B").unwrap(),
                );
                assert_ne!(a, b);
                assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 2
                    && common::stored_views(s, a) == Some(4)));
            }

            /// Logout removes the session from the store; regenerate keeps the data.
            #[test]
            fn logout_and_regenerate() {
                let Some((_db, store)) = ($make) else { return };
                let (lab, mut state) = lab_on(store, config());
                visit(&lab, &mut state, "A");
                visit(&lab, &mut state, "A");
                let old = session_of(&state, "A").unwrap();
                visit_url(&lab, &mut state, "A", &url(&lab, "/regenerate"));
                let new = session_of(&state, "A").unwrap();
                assert_ne!(old, new);
                assert_eq!(visit(&lab, &mut state, "A"), "Number of views 3");
                visit_url(&lab, &mut state, "A", &url(&lab, "/logout"));
                assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.is_empty()));
                assert!(state.browser_named("A").unwrap().cookies.is_empty());
            }

            /// A session idle past its timeout on the lab's clock is over: the browser drops
            /// its cookie and the next visit starts again. The memory store deletes it at
            /// once; a store other processes share (SQLite, Redis) keeps it until the
            /// machine's clock says so, and the lab shows it as expired meanwhile.
            #[test]
            fn expiry_ends_the_session() {
                let Some((keep, store)) = ($make) else { return };
                let shared = !matches!(store, StoreChoice::Memory);
                let mut config = config();
                config.settings.expiry = ExpiryPolicy::OnInactivity { secs: 600 };
                let (lab, mut state) = lab_on(store, config);
                visit(&lab, &mut state, "A");
                assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 1));
                let session = session_of(&state, "A").unwrap();
                common::time_passes(&lab, &mut state, time::Duration::minutes(11));
                if shared {
                    shared_store_keeps(&keep, &lab, &mut state, session);
                    assert!(
                        lab.wait_until(&mut state, WAIT, |s| {
                            let now = time::OffsetDateTime::now_utc() + s.clock_ahead;
                            s.sessions
                                .iter()
                                .any(|row| row.id == session && row.expires_at() <= now)
                        }),
                        "still in the store, shown as expired"
                    );
                } else {
                    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.is_empty()));
                }
                assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
            }

            /// Concurrent visits on one session lose nothing, whatever the store (each store
            /// call slowed, so that without the lock they would).
            #[test]
            fn bursts_lose_nothing() {
                let Some((_db, store)) = ($make) else { return };
                let (lab, mut state) = lab_on(store, slow_config());
                visit(&lab, &mut state, "A");
                let outcome = burst(&lab, &mut state, "A", 25);
                assert_eq!(outcome.lost(), Some(0), "{outcome:?}");
            }
        }
    };
}

/// After the lab's clock moved past `session`'s expiry, a store other processes share still
/// holds it: it expires by the machine's clock. Shown without sleeping. SQLite: an
/// already-expired session is planted in the file and the server restarted, so its sweep runs
/// at once, with the lab's clock moved; once the planted one is gone a sweep has been over the
/// file, and `session` must still be in it. Redis expires keys itself, by the machine's clock:
/// the key is still there with (at most) its ten minutes to live.
fn shared_store_keeps(keep: &Keep, lab: &Lab, state: &mut LabState, session: SessionId) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    match keep {
        Keep::Db(db) => {
            let (file, planted) = runtime.block_on(plant_expired(&db.0));
            restart(lab, state);
            runtime.block_on(until_swept(&file, planted));
            let kept = runtime
                .block_on(ListSessions::get(&file, &session.into()))
                .unwrap();
            assert!(kept.is_some(), "the sweep left the session in the file");
        }
        Keep::Redis(redis) => {
            let reply = runtime.block_on(redis_command(
                redis.port(),
                &format!("PTTL session-lab:session:{session}"),
            ));
            let left: i64 = reply
                .trim()
                .trim_start_matches(':')
                .parse()
                .unwrap_or_else(|_| panic!("PTTL answers a number: {reply:?}"));
            assert!(
                (1..=600_000).contains(&left),
                "the key stays, with at most ten minutes to live: {left} ms"
            );
        }
        Keep::Nothing => unreachable!("the memory store is not shared"),
    }
}

/// Writes a session that expired a minute ago by the machine's clock straight into the SQLite
/// file at `path` (as another process may leave one); returns a handle on the file and how
/// many rows it holds with it. Any sweep that runs from now on deletes it, in the one statement
/// that also decides on every other session in the file.
async fn plant_expired(path: &std::path::Path) -> (SqliteSessions, usize) {
    let file = SqliteSessions::open(path.to_owned()).await.unwrap();
    let planted = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
    };
    SessionStore::save(&file, &planted).await.unwrap();
    let rows = ListSessions::count(&file).await.unwrap();
    (file, rows)
}

/// Waits until a sweep has deleted the session [`plant_expired`] planted (the file holds fewer
/// than `planted` rows): a sweep has run since, and what it left, it left on purpose.
async fn until_swept(file: &SqliteSessions, planted: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    while ListSessions::count(file).await.unwrap() >= planted {
        assert!(
            std::time::Instant::now() < deadline,
            "no sweep deleted the expired session planted in the file"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a suite run keeps alive while it runs (a database file, a redis-server).
#[allow(dead_code)] // Held for its Drop.
enum Keep {
    Nothing,
    Db(TempDb),
    Redis(RedisServer),
}

store_suite!(memory, Some((Keep::Nothing, StoreChoice::Memory)));
store_suite!(sqlite, {
    let db = TempDb::new();
    let store = StoreChoice::Sqlite(db.0.clone());
    Some((Keep::Db(db), store))
});
store_suite!(
    redis,
    RedisServer::start().map(|server| {
        let store = StoreChoice::Redis(server.url());
        (Keep::Redis(server), store)
    })
);

/// Restarting a memory-store server loses every session; the next visit starts over.
#[test]
fn memory_sessions_do_not_survive_a_restart() {
    let (lab, mut state) = lab_on(StoreChoice::Memory, config());
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    let (before, after) = restart(&lab, &mut state);
    assert_eq!(
        (before, after),
        (1, 0),
        "the memory store's session is gone"
    );
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.is_empty()));
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
}

/// Restarting a SQLite-store server keeps every session: browsers continue where they were.
#[test]
fn sqlite_sessions_survive_a_restart() {
    let db = TempDb::new();
    let (lab, mut state) = lab_on(StoreChoice::Sqlite(db.0.clone()), config());
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "B");
    let (_, after) = restart(&lab, &mut state);
    assert_eq!(after, 2, "both sessions were kept on disk");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 3");
    assert_eq!(visit(&lab, &mut state, "B"), "Number of views 2");
    drop(lab);
    // A second server on the same file sees the same sessions (another process would too).
    let (lab, mut state) = lab_on(StoreChoice::Sqlite(db.0.clone()), config());
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 2));
    assert_eq!(
        state.server.as_ref().unwrap().store_kind,
        session_lab::server::StoreKind::Sqlite
    );
}

/// A file that is not a SQLite database is refused with a clear message and left unchanged.
#[test]
fn corrupt_sqlite_file_is_refused_and_kept() {
    let db = TempDb::new();
    std::fs::write(&db.0, b"this is not a database, and it is precious").unwrap();
    let lab = Lab::start(LabConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        server: config(),
        browsers: 2,
        store: StoreChoice::Sqlite(db.0.clone()),
        instances: 1,
    })
    .unwrap();
    let mut state = LabState::default();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.server_error.is_some()));
    let error = state.server_error.clone().unwrap();
    assert!(
        matches!(*error, ServerError::Store(StoreError::NotSqlite { .. })),
        "{error}"
    );
    assert_eq!(
        std::fs::read(&db.0).unwrap(),
        b"this is not a database, and it is precious"
    );
}

/// `--store` reads memory, sqlite and sqlite:PATH, and refuses anything else with a hint.
#[test]
fn store_choice_parses() {
    assert_eq!(
        "memory".parse::<StoreChoice>().unwrap(),
        StoreChoice::Memory
    );
    assert_eq!(
        "sqlite:/tmp/x.db".parse::<StoreChoice>().unwrap(),
        StoreChoice::Sqlite("/tmp/x.db".into())
    );
    assert!(
        matches!("sqlite".parse::<StoreChoice>().unwrap(), StoreChoice::Sqlite(p) if p.ends_with("sessions.db"))
    );
    // Shown as a URL is (its password masked, anything unparsed cut short).
    assert!(
        matches!("mongo".parse::<StoreChoice>(), Err(UnknownStore(shown)) if shown.starts_with("mongo")),
    );
}

/// Starts `count` instances and waits until the lab knows them all.
fn instances(lab: &Lab, state: &mut LabState, count: usize) {
    lab.send(ServerCommand::SetInstances(count));
    assert!(lab.wait_until(state, WAIT, |s| s.instances.len() == count
        && s.instances.iter().all(|i| !i.url.is_empty())));
}

fn spread(lab: &Lab, state: &mut LabState, name: &str) {
    lab.send(BrowserCommand::SetSpread {
        browser: id(state, name),
        spread: true,
    });
    assert!(lab.wait_until(state, WAIT, |s| s.browser_named(name).unwrap().spread));
}

/// Two instances with a memory store each: a browser spreading its visits meets a different
/// session on each, because one cookie for 127.0.0.1 goes to both ports.
#[test]
fn memory_instances_do_not_share_sessions() {
    let (lab, mut state) = lab_on(StoreChoice::Memory, config());
    instances(&lab, &mut state, 2);
    spread(&lab, &mut state, "A");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    let answered: Vec<Option<usize>> = state.exchanges.iter().map(|r| r.instance).collect();
    assert_eq!(answered, [Some(0), Some(1)]);
    assert!(
        state.exchanges[1].exchange.cookie_header.is_some(),
        "instance 1's cookie went to instance 2"
    );
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 2));
}

/// Two instances sharing one SQLite store: one session continues across both.
#[test]
fn sqlite_instances_share_one_session() {
    let db = TempDb::new();
    let (lab, mut state) = lab_on(StoreChoice::Sqlite(db.0.clone()), config());
    instances(&lab, &mut state, 2);
    spread(&lab, &mut state, "A");
    for views in 1..=4 {
        assert_eq!(
            visit(&lab, &mut state, "A"),
            format!("Number of views {views}")
        );
    }
    let answered: Vec<Option<usize>> = state.exchanges.iter().map(|r| r.instance).collect();
    assert_eq!(answered, [Some(0), Some(1), Some(0), Some(1)]);
    let session = session_of(&state, "A").unwrap();
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.sessions
            .get(session)
            .is_some_and(|v| v.instances().collect::<Vec<_>>() == [0, 1])
    }));
    instances(&lab, &mut state, 1);
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 5");
}

/// Two instances sharing SQLite, one browser spreading a burst over both: no increment lost,
/// because the instances share their per-session locks.
#[test]
fn sqlite_instances_lose_no_updates() {
    let db = TempDb::new();
    let (lab, mut state) = lab_on(StoreChoice::Sqlite(db.0.clone()), slow_config());
    instances(&lab, &mut state, 2);
    visit(&lab, &mut state, "A");
    spread(&lab, &mut state, "A");
    let outcome = burst(&lab, &mut state, "A", 40);
    assert_eq!(outcome.after.map(|a| a.views), Some(41), "{outcome:?}");
    assert_eq!(outcome.lost(), Some(0));
    let instances: std::collections::BTreeSet<Option<usize>> =
        state.exchanges.iter().map(|r| r.instance).collect();
    assert_eq!(instances.len(), 2, "both instances answered");
}

/// Restarting a Redis-store server keeps every session; a second server sees them too.
#[test]
fn redis_sessions_survive_a_restart() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (lab, mut state) = lab_on(StoreChoice::Redis(redis.url()), config());
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    let (_, after) = restart(&lab, &mut state);
    assert_eq!(after, 1, "the session was kept in Redis");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 3");
    assert_eq!(
        state.server.as_ref().unwrap().store_kind,
        session_lab::server::StoreKind::Redis
    );
}

/// Two instances sharing Redis, one browser spreading a burst over both: one session, nothing
/// lost.
#[test]
fn redis_instances_share_one_session_and_lose_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (lab, mut state) = lab_on(StoreChoice::Redis(redis.url()), slow_config());
    instances(&lab, &mut state, 2);
    visit(&lab, &mut state, "A");
    spread(&lab, &mut state, "A");
    let outcome = burst(&lab, &mut state, "A", 64);
    assert_eq!(outcome.after.map(|a| a.views), Some(65), "{outcome:?}");
    assert_eq!(outcome.lost(), Some(0));
}

/// Redis unreachable at start: a clear message, and the lab runs on (a restart on the memory
/// store is the way out). Redis stopped while running: visits get a clear 503 page; when Redis
/// is back, visits continue with the sessions Redis kept.
#[test]
fn redis_faults_are_clear_and_recoverable() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    redis.stop();
    let lab = Lab::start(LabConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        server: config(),
        browsers: 2,
        store: StoreChoice::Redis(url.clone()),
        instances: 1,
    })
    .unwrap();
    let mut state = LabState::default();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.server_error.is_some()));
    assert!(
        matches!(
            state.server_error.as_deref(),
            Some(ServerError::Store(StoreError::RedisUnreachable { .. }))
        ),
        "{:?}",
        state.server_error
    );
    drop(lab);

    assert!(redis.spawn(), "redis-server restarts");
    let (lab, mut state) = lab_on(StoreChoice::Redis(url), config());
    visit(&lab, &mut state, "A");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 2");
    redis.stop();
    let down = visit(&lab, &mut state, "A");
    assert!(down.starts_with("Session store unavailable"), "{down}");
    assert_eq!(
        state
            .browser_named("A")
            .unwrap()
            .last
            .as_ref()
            .unwrap()
            .status,
        503
    );
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.store_down.is_some()),
        "the store is marked down"
    );
    // Redis is back (empty: this test's server keeps nothing on disk), and visits work again.
    assert!(redis.spawn());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = visit(&lab, &mut state, "A");
        if body.starts_with("Number of views") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "visits recover: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.store_down.is_none()),
        "and the mark goes"
    );
}

/// Two servers that share nothing but Redis — as two processes would: separate per-session
/// lock tables — get 64 concurrent requests with one cookie, split across both: every
/// increment counts, because the session's lock is held in Redis.
#[test]
fn redis_servers_in_separate_processes_lose_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let start = || serve_on(slow_config(), StoreChoice::Redis(redis.url()));
        let (one, two) = (start().await.unwrap(), start().await.unwrap());
        let first = common::raw_get(one.addr(), "/", b"").await;
        let cookie = first.set_cookie_pair().unwrap();
        let mut visits = tokio::task::JoinSet::new();
        for n in 0..64 {
            let addr = if n % 2 == 0 { one.addr() } else { two.addr() };
            let header = format!("Cookie: {cookie}\r\n");
            visits.spawn(async move { common::raw_get(addr, "/", header.as_bytes()).await.status });
        }
        while let Some(status) = visits.join_next().await {
            assert_eq!(status.unwrap(), 200);
        }
        let last =
            common::raw_get(two.addr(), "/", format!("Cookie: {cookie}\r\n").as_bytes()).await;
        assert_eq!(last.body, "Number of views 66", "1 + 64 + 1, none lost");
    });
}

/// `sqlite:PATH` is a file name, not a URL: `?`, `%2F` and bytes that are not UTF-8 name the
/// very file they spell.
#[test]
fn sqlite_paths_are_file_names() {
    let dir = std::env::temp_dir().join(format!("session-lab-paths-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut names: Vec<std::ffi::OsString> = vec!["odd?mode=memory%2Fname.db".into()];
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt as _;
        names.push(std::ffi::OsString::from_vec(b"caf\xe9 db.db".to_vec()));
    }
    for name in names {
        let path = dir.join(&name);
        let mut argument = std::ffi::OsString::from("sqlite:");
        argument.push(&path);
        let choice = StoreChoice::from_os_str(&argument).unwrap();
        assert_eq!(choice, StoreChoice::Sqlite(path.clone()));
        let (lab, mut state) = lab_on(choice.clone(), config());
        assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
        drop(lab);
        assert!(path.exists(), "the file {} was made", path.display());
        // Opened again by the same name, it is the same database.
        let (lab, mut state) = lab_on(choice, config());
        assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 1));
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A Redis password never shows: not in the store's name, its debug form, or the error when
/// the server cannot be reached.
#[test]
fn redis_passwords_are_masked() {
    let choice: StoreChoice = "redis://alice:hunter2@127.0.0.1:1/3".parse().unwrap();
    assert_eq!(choice.to_string(), "redis://alice:***@127.0.0.1:1/3");
    assert!(!format!("{choice:?}").contains("hunter2"));
    let lab = Lab::start(LabConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        server: config(),
        browsers: 0,
        store: choice,
        instances: 1,
    })
    .unwrap();
    let mut state = LabState::default();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.server_error.is_some()));
    let error = state.server_error.clone().unwrap().to_string();
    assert!(
        error.contains("alice:***@") && !error.contains("hunter2"),
        "{error}"
    );
}

/// Moving one lab's clock a day ahead does not delete another process's live sessions (an
/// hour's idle timeout) from a shared SQLite file: the shared store sweeps by the machine's
/// clock.
#[test]
fn a_moved_clock_leaves_a_shared_sqlite_store_alone() {
    let db = TempDb::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = || {
        let mut config = config();
        config.settings.expiry = ExpiryPolicy::OnInactivity { secs: 3600 };
        config
    };
    runtime.block_on(async {
        let start = |config| serve_on(config, StoreChoice::Sqlite(db.0.clone()));
        let moved = config();
        let clock = moved.clock.clone();
        let (one, mut other) = (start(moved).await.unwrap(), start(config()).await.unwrap());
        let first = common::raw_get(other.addr(), "/", b"").await;
        let cookie = format!("Cookie: {}\r\n", first.set_cookie_pair().unwrap());
        // The other process goes (its sweep with it): from here only the moved server sweeps.
        other.stop().await.unwrap();
        clock.advance(time::Duration::days(1));
        // The moved server's sweep would wake on the move, and it runs whenever the server
        // opens its store: restarted, it sweeps at once. A session already expired by the
        // machine's clock, planted after the move, is gone once such a sweep has run.
        let (file, planted) = plant_expired(&db.0).await;
        one.restart_with(StoreChoice::Sqlite(db.0.clone()))
            .await
            .unwrap();
        until_swept(&file, planted).await;
        assert_eq!(one.session_count().await.unwrap(), 1, "the session stays");
        let other = start(config()).await.unwrap();
        let again = common::raw_get(other.addr(), "/", cookie.as_bytes()).await;
        assert_eq!(again.body, "Number of views 2");
    });
}

/// A Redis key written by a lab whose clock runs a year ahead expires by the machine's clock:
/// its time to live is the policy's ten minutes, not a year and ten minutes.
#[test]
fn redis_keys_expire_by_the_machine_clock() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut config = config();
        config.settings.expiry = ExpiryPolicy::OnInactivity { secs: 600 };
        config.clock.advance(time::Duration::days(365));
        let server = serve_on(config, StoreChoice::Redis(redis.url()))
            .await
            .unwrap();
        let first = common::raw_get(server.addr(), "/", b"").await;
        assert_eq!(first.body, "Number of views 1");
        let keys = redis_command(redis.port(), "KEYS session-lab:session:*").await;
        let key = keys
            .lines()
            .find(|l| l.starts_with("session-lab:"))
            .unwrap();
        let ttl = redis_command(redis.port(), &format!("PTTL {key}")).await;
        let ttl: i64 = ttl.trim().trim_start_matches(':').parse().unwrap();
        assert!((590_000..=600_000).contains(&ttl), "{ttl} ms");
    });
}

/// One inline command to Redis; its raw reply.
async fn redis_command(port: u16, command: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(format!("{command}\r\nQUIT\r\n").as_bytes())
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply.trim_end().trim_end_matches("+OK").to_owned()
}

/// `--max-sessions` binds a shared store too, counted across the processes sharing it: with a
/// limit of 4 and 3 sessions made by another server on the same SQLite file, this server
/// starts one more, then answers new visitors 503 while a returning one is served.
#[test]
fn max_sessions_binds_a_shared_sqlite_store() {
    let db = TempDb::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let start = || {
            let mut config = config();
            config.settings.max_sessions = 4;
            serve_on(config, StoreChoice::Sqlite(db.0.clone()))
        };
        let (other, this) = (start().await.unwrap(), start().await.unwrap());
        for _ in 0..3 {
            assert_eq!(common::raw_get(other.addr(), "/", b"").await.status, 200);
        }
        let fourth = common::raw_get(this.addr(), "/", b"").await;
        assert_eq!(fourth.status, 200);
        let refused = common::raw_get(this.addr(), "/", b"").await;
        assert_eq!(refused.status, 503);
        assert!(
            refused.body.contains("limit of 4 sessions"),
            "{}",
            refused.body
        );
        let cookie = format!("Cookie: {}\r\n", fourth.set_cookie_pair().unwrap());
        let returning = common::raw_get(this.addr(), "/", cookie.as_bytes()).await;
        assert_eq!(returning.body, "Number of views 2");
        assert_eq!(this.session_count().await.unwrap(), 4);
    });
}
