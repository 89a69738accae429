//! Watching other applications' session stores: real apps of each framework (tests/apps/) on
//! their real stores, driven by the lab's browsers while the lab watches the store — which
//! browser holds which session, what each holds, that a logout's record leaves — and proof
//! that watching never writes the store.

mod common;

use std::time::Duration;

use common::{
    RedisServer, WAIT,
    apps::{App, Postgres, redis_cli, redis_set_long},
    axum_app::{AxumApp, AxumStore},
    visit_url,
};
use serde_json::Value;
use session_lab::{
    lab::{Lab, LabState, ServerCommand},
    watch::{Format, Reader, StoreAddress, key_id},
};

/// Starts watching `store` and waits until the lab says it watches it.
fn watch(lab: &Lab, state: &mut LabState, store: &str) {
    lab.send(ServerCommand::WatchStore(Some(store.to_owned())));
    assert!(
        lab.wait_until(state, WAIT, |s| s.watched.as_ref().is_some_and(|w| {
            w.status.format.is_some() || w.status.waiting.is_some()
        })),
        "the lab watches {store}: {:?}",
        state.watched.as_ref().map(|w| &w.status)
    );
}

/// The session `browser` holds in the watched store: its key and data.
fn held(state: &LabState, browser: &str) -> Option<(String, Value)> {
    let watched = state.watched.as_ref()?;
    let name = browser.to_lowercase();
    watched.sessions.iter().find_map(|view| {
        watched.holders.of(view.id).contains(&name).then(|| {
            (
                watched.key(view.id).unwrap_or_default().to_owned(),
                serde_json::from_str(view.data.as_str()).unwrap_or(Value::Null),
            )
        })
    })
}

/// Waits until each browser holds a session whose `views` is as given.
fn assert_views(lab: &Lab, state: &mut LabState, expected: &[(&str, i64)]) {
    let ok = lab.wait_until(state, WAIT, |s| {
        expected.iter().all(|(browser, views)| {
            held(s, browser).is_some_and(|(_, data)| data["views"].as_i64() == Some(*views))
        })
    });
    assert!(
        ok,
        "the watched store shows {expected:?}; it shows {:?} (status {:?})",
        expected
            .iter()
            .map(|(b, _)| (b, held(state, b)))
            .collect::<Vec<_>>(),
        state.watched.as_ref().map(|w| &w.status)
    );
}

/// The seed's scenario against `app` while the lab watches `store`: A visits three times, B
/// once; A's session holds views 3 and B's views 1, each mapped by the framework's own cookie
/// rule. Then A logs out, and its record leaves the watched table (the store deleted it).
fn seed_scenario(app: &str, store: &str, format: Format) -> (Lab, LabState) {
    let (lab, mut state) = common::lab();
    watch(&lab, &mut state, store);
    for _ in 0..3 {
        let body = visit_url(&lab, &mut state, "A", app);
        assert!(body.contains("Number of views"), "{body}");
    }
    visit_url(&lab, &mut state, "B", app);
    assert_views(&lab, &mut state, &[("A", 3), ("B", 1)]);
    let watched = state.watched.as_ref().unwrap();
    assert_eq!(watched.format(), Some(format));
    let (a_key, _) = held(&state, "A").unwrap();
    // A's cookie names the record by the framework's rule, not by chance.
    let a_cookie = state
        .browser_named("A")
        .unwrap()
        .cookies
        .iter()
        .find(|c| format.id_from_cookie(&c.cookie.value).as_deref() == Some(a_key.as_str()));
    assert!(a_cookie.is_some(), "A's cookie names {a_key}");
    let view = watched.sessions.get(key_id(&a_key)).unwrap();
    let left = view.expires_at() - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::minutes(10) && left < time::Duration::days(32),
        "an expiry from the store: {left}"
    );
    visit_url(&lab, &mut state, "A", &format!("{app}logout"));
    assert!(
        lab.wait_until(&mut state, WAIT, |s| !s
            .watched
            .as_ref()
            .unwrap()
            .sessions
            .contains(key_id(&a_key))),
        "A's record leaves the store at logout"
    );
    assert!(held(&state, "B").is_some(), "B's session stays");
    (lab, state)
}

/// A second, fresh reader lists the store (as the CLI and the audit do) and finds `sessions`.
fn list_once(store: &str) -> usize {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut reader = Reader::open(&StoreAddress::parse(store).unwrap())
            .await
            .expect("the store opens");
        let listing = reader.list(Duration::from_secs(10)).await.unwrap();
        assert!(!listing.cut);
        listing.sessions.len()
    })
}

fn redis_writes(redis: &RedisServer) -> String {
    redis_cli(redis.port(), &["INFO", "persistence"])
        .lines()
        .find(|l| l.starts_with("rdb_changes_since_last_save:"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn express_session_on_redis_with_connect_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let Some(app) = App::start("express-redis", &[("REDIS_URL", redis.url())]) else {
        return;
    };
    let (lab, state) = seed_scenario(&app.url, &redis.url(), Format::Express);
    drop(app);
    // Watching writes nothing: Redis counts every write since its last save.
    let before = redis_writes(&redis);
    let keys_before = redis_cli(redis.port(), &["KEYS", "*"]);
    assert_eq!(list_once(&redis.url()), 1, "B's session is left");
    let (lab2, mut state2) = common::lab();
    watch(&lab2, &mut state2, &redis.url());
    assert!(lab2.wait_until(
        &mut state2,
        WAIT,
        |s| s.watched.as_ref().unwrap().status.listings >= 3
    ));
    assert_eq!(redis_writes(&redis), before, "the watch wrote to Redis");
    assert_eq!(redis_cli(redis.port(), &["KEYS", "*"]), keys_before);
    drop((lab, state));
}

#[test]
fn flask_session_on_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let Some(app) = App::start("flask-redis", &[("REDIS_URL", redis.url())]) else {
        return;
    };
    seed_scenario(&app.url, &redis.url(), Format::Flask);
}

#[test]
fn django_on_sqlite() {
    let dir = common::temp_dir("django-sqlite");
    let db = dir.join("db.sqlite3");
    let Some(app) = App::start("django", &[("DJANGO_SQLITE", db.display().to_string())]) else {
        return;
    };
    let store = format!("sqlite:{}", db.display());
    seed_scenario(&app.url, &store, Format::Django);
    drop(app);
    // Watching writes nothing: the file's bytes and time are the same after a watch.
    let stamp = |p: &std::path::Path| {
        let meta = std::fs::metadata(p).unwrap();
        (std::fs::read(p).unwrap(), meta.modified().unwrap())
    };
    let before = stamp(&db);
    assert_eq!(list_once(&store), 1);
    let (lab, mut state) = common::lab();
    watch(&lab, &mut state, &store);
    assert!(lab.wait_until(
        &mut state,
        WAIT,
        |s| s.watched.as_ref().unwrap().status.listings >= 3
    ));
    drop((lab, state));
    assert!(stamp(&db) == before, "the watch changed the database file");
}

#[test]
fn django_on_postgresql() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let Some(app) = App::start("django", &[("DJANGO_POSTGRES", pg.url.clone())]) else {
        return;
    };
    seed_scenario(&app.url, &pg.url, Format::Django);
    drop(app);
    let table = "SELECT md5(coalesce(string_agg(session_key || session_data || expire_date::text, ',' ORDER BY session_key), '')) FROM django_session";
    let before = pg.psql(table);
    assert_eq!(list_once(&pg.url), 1);
    // The lab's connection is read-only: PostgreSQL itself refuses a write on it.
    assert_eq!(before, pg.psql(table), "the watch changed django_session");
}

#[test]
fn php_native_file_sessions() {
    let dir = common::temp_dir("php-sessions");
    let Some(app) = App::start("php", &[("SAVE_PATH", dir.display().to_string())]) else {
        return;
    };
    let store = format!("dir:{}", dir.display());
    seed_scenario(&app.url, &store, Format::Php);
    drop(app);
    let snapshot = || {
        let mut files: Vec<(String, Vec<u8>, std::time::SystemTime)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let meta = e.metadata().unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                    meta.modified().unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot();
    assert_eq!(list_once(&store), 1);
    assert!(snapshot() == before, "the watch changed the session files");
}

#[test]
fn undecodable_and_huge_records_are_shown_not_fatal() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let huge = format!(r#"{{"cookie":{{}},"blob":"{}"}}"#, "x".repeat(300_000));
    redis_cli(
        redis.port(),
        &["SET", "sess:good", r#"{"cookie":{},"views":2}"#],
    );
    redis_cli(redis.port(), &["SET", "sess:bad", "\u{1b}[2J not json"]);
    redis_set_long(redis.port(), "sess:huge", huge.as_bytes());
    redis_cli(redis.port(), &["HSET", "sess:hash", "a", "b"]);
    // A TTL past the year 9999 is "never", not a crash.
    redis_cli(
        redis.port(),
        &[
            "SET",
            "sess:far",
            r#"{"cookie":{},"views":1}"#,
            "PXAT",
            "9000000000000000",
        ],
    );
    let (lab, mut state) = common::lab();
    watch(&lab, &mut state, &redis.url());
    assert!(lab.wait_until(
        &mut state,
        WAIT,
        |s| s.watched.as_ref().unwrap().sessions.len() == 4
    ));
    let watched = state.watched.as_ref().unwrap();
    let data = |key: &str| {
        watched
            .sessions
            .get(key_id(key))
            .unwrap()
            .data
            .as_str()
            .to_owned()
    };
    assert_eq!(data("good"), r#"{"views":2}"#);
    let bad = data("bad");
    assert!(
        bad.contains("undecodable") && bad.contains("not express-session JSON"),
        "{bad}"
    );
    let huge_row = watched.sessions.get(key_id("huge")).unwrap();
    assert!(
        huge_row.data.as_str().len() < 70_000,
        "a huge record is read in part"
    );
    assert!(
        huge_row
            .data
            .as_str()
            .contains("the lab reads the first 65536"),
        "{}",
        &huge_row.data.as_str()[..200]
    );
    assert!(
        !watched.sessions.contains(key_id("hash")),
        "a key of another type is skipped"
    );
}

#[test]
fn bad_store_addresses_and_unreachable_stores_are_named() {
    let (lab, mut state) = common::lab();
    let lines = state.logged;
    lab.send(ServerCommand::WatchStore(Some("mysql://x".into())));
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.log_since(lines)
            .any(|l| l.text().contains("is not a store address"))
    }));
    lab.send(ServerCommand::WatchStore(Some(
        "redis://127.0.0.1:1".into(),
    )));
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.watched
            .as_ref()
            .unwrap()
            .status
            .error
            .as_deref()
            .is_some_and(|e| e.contains("cannot reach") && e.contains("connection refused"))
    }));
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis_cli(redis.port(), &["SET", "unrelated", "1"]);
    lab.send(ServerCommand::WatchStore(Some(redis.url())));
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.watched.as_ref().is_some_and(|w| w
            .address
            == redis.url()
            && w.status.error.as_deref().is_some_and(|e| e
                .contains("no sessions of a format the lab knows")
                && e.contains("unrelated"))))
    );
}

#[test]
fn axum_on_tower_sessions_redis_store() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let app = AxumApp::start(AxumStore::Redis(redis.url()));
    seed_scenario(&app.url, &redis.url(), Format::TowerSessions);
}

#[test]
fn axum_on_tower_sessions_sqlx_store_on_sqlite() {
    let dir = common::temp_dir("axum-sqlite");
    let db = dir.join("sessions.db");
    let app = AxumApp::start(AxumStore::Sqlite(db.clone()));
    seed_scenario(
        &app.url,
        &format!("sqlite:{}", db.display()),
        Format::TowerSessions,
    );
}

#[test]
fn axum_on_tower_sessions_sqlx_store_on_postgresql() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let app = AxumApp::start(AxumStore::Postgres(pg.url.clone()));
    seed_scenario(&app.url, &pg.url, Format::TowerSessions);
}

/// The audit, with the login and logout routes of the test apps and few samples.
fn audit(url: &str, logout: &str, watch: Option<&str>) -> session_lab::audit::AuditReport {
    let mut options = session_lab::audit::AuditOptions::new(url);
    options.login = Some("/login?user={user}".parse().unwrap());
    options.logout = Some(logout.parse().unwrap());
    options.samples = 100;
    options.burst = 8;
    options.watch = watch.map(|w| StoreAddress::parse(w).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(session_lab::audit::run(options, |_| {}))
        .expect("the audit runs")
}

fn finding_ids(report: &session_lab::audit::AuditReport) -> Vec<&'static str> {
    report.findings.iter().map(|f| f.id).collect()
}

fn summary<'a>(report: &'a session_lab::audit::AuditReport, check: &str) -> &'a str {
    &report
        .checks
        .iter()
        .find(|c| c.id == check)
        .unwrap()
        .summary
}

/// With the store in view the audit proves what it could only infer: the logout deleted the
/// record, login removed the old one, the record's lifetime — and an Express app with
/// saveUninitialized: true leaves a record for every anonymous request, found at 1,000 per
/// 1,000 and gone once the option is false.
#[test]
fn the_audit_proves_from_the_store_and_finds_store_growth() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let growing_store = format!("{}/1", redis.url());
    let Some(growing) = App::start(
        "express-redis",
        &[
            ("REDIS_URL", growing_store.clone()),
            ("SAVE_UNINITIALIZED", "true".into()),
        ],
    ) else {
        return;
    };
    let report = audit(&growing.url, "/logout", Some(&growing_store));
    let ids = finding_ids(&report);
    assert!(ids.contains(&"store-grows-anonymous"), "{ids:?}");
    let growth = report
        .findings
        .iter()
        .find(|f| f.id == "store-grows-anonymous")
        .unwrap();
    assert!(
        growth.title.contains("1000 records per 1,000"),
        "{}",
        growth.title
    );
    assert!(
        summary(&report, "logout-invalidates").contains("the store no longer holds its record"),
        "{}",
        summary(&report, "logout-invalidates")
    );
    let store = summary(&report, "store");
    assert!(
        store.contains("login regenerated the id and the store deleted the old record"),
        "{store}"
    );
    assert!(store.contains(r#"{"user":"audit"}"#), "{store}");

    let fixed_store = format!("{}/2", redis.url());
    let Some(fixed) = App::start("express-redis", &[("REDIS_URL", fixed_store.clone())]) else {
        return;
    };
    let report = audit(&fixed.url, "/logout", Some(&fixed_store));
    assert!(!finding_ids(&report).contains(&"store-grows-anonymous"));
    assert!(summary(&report, "store").contains("left no record"));
}

/// An app whose logout only removes the user: without the store the audit says the session
/// outlives logout and that whether it is still logged in does not show; with the store it
/// says exactly what the old cookie opens — an anonymous session whose data goes on.
#[test]
fn a_logout_that_only_removes_the_user_is_told_from_a_live_login() {
    use common::axum_app::Logout;
    let dir = common::temp_dir("axum-partial-logout");
    let db = dir.join("sessions.db");
    let app = AxumApp::start_with(AxumStore::Sqlite(db.clone()), Logout::RemoveUser);
    let blind = audit(&app.url, "/logout", None);
    let alive = blind
        .findings
        .iter()
        .find(|f| f.id == "logout-session-alive")
        .expect("judged alive");
    assert!(
        alive.detail.contains("does not show on the page"),
        "{}",
        alive.detail
    );
    let store = format!("sqlite:{}", db.display());
    let seeing = audit(&app.url, "/logout", Some(&store));
    let ids = finding_ids(&seeing);
    assert!(ids.contains(&"logout-keeps-anonymous-session"), "{ids:?}");
    assert!(!ids.contains(&"logout-session-alive"), "{ids:?}");
}

/// The audit's logout POST says its length, as a browser's does (a server that requires it —
/// WEBrick answers 411 — logs out); a logout route that fails is reported as failing, never
/// judged as a session that outlives logout.
#[test]
fn the_logout_post_says_its_length_and_a_failing_logout_is_not_judged() {
    use common::axum_app::Logout;
    let dir = common::temp_dir("axum-logout-length");
    let strict = AxumApp::start_with(AxumStore::Sqlite(dir.join("a.db")), Logout::NeedsLength);
    let report = audit(&strict.url, "POST /logout", None);
    let ids = finding_ids(&report);
    assert!(!ids.contains(&"logout-route-fails"), "{ids:?}");
    assert!(!ids.contains(&"logout-session-alive"), "{ids:?}");
    assert!(summary(&report, "logout-invalidates").contains("deleted"));

    let broken = AxumApp::start_with(AxumStore::Sqlite(dir.join("b.db")), Logout::Broken);
    let report = audit(&broken.url, "POST /logout", None);
    let ids = finding_ids(&report);
    assert!(ids.contains(&"logout-route-fails"), "{ids:?}");
    assert!(!ids.contains(&"logout-session-alive"), "{ids:?}");
    assert!(summary(&report, "logout-invalidates").contains("answered 500"));
}

/// A Redis holding far more unrelated keys than sessions: the listing is bounded in time and
/// says how far it got; a wrong password is named as such.
#[test]
fn a_big_foreign_keyspace_is_listed_within_bounds_and_a_wrong_password_is_named() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis_cli(
        redis.port(),
        &[
            "EVAL",
            "for i = 1, 300000 do redis.call('SET', 'cache:' .. i, 'x') end return 1",
            "0",
        ],
    );
    for n in 0..3 {
        redis_cli(
            redis.port(),
            &["SET", &format!("sess:s{n}"), r#"{"cookie":{},"views":1}"#],
        );
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let address = StoreAddress::parse(&format!("{}?format=express", redis.url())).unwrap();
        let mut reader = Reader::open(&address).await.unwrap();
        let started = std::time::Instant::now();
        let cut = reader.list(Duration::from_millis(20)).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "bounded in time"
        );
        assert!(cut.cut, "a 20 ms listing of 300,003 keys stops early");
        assert!(
            cut.looked_at < 300_003 && cut.total == Some(300_003),
            "{cut:?}"
        );
        let whole = reader.list(Duration::from_secs(30)).await.unwrap();
        assert!(!whole.cut);
        assert_eq!(whole.sessions.len(), 3, "only the sessions are read");

        redis_cli(redis.port(), &["CONFIG", "SET", "requirepass", "right"]);
        let wrong =
            StoreAddress::parse(&format!("redis://:wrong@127.0.0.1:{}", redis.port())).unwrap();
        let err = Reader::open(&wrong)
            .await
            .err()
            .expect("a wrong password fails");
        assert!(
            matches!(err, session_lab::watch::WatchError::Denied { .. }),
            "{err}"
        );
        assert!(
            !err.to_string().contains("wrong"),
            "the password is not shown: {err}"
        );
        let right = StoreAddress::parse(&format!(
            "redis://:right@127.0.0.1:{}?format=express",
            redis.port()
        ))
        .unwrap();
        assert!(Reader::open(&right).await.is_ok());
    });
}

/// Where the store's owner turned Redis's keyspace notifications on, the watch follows them
/// (and says so); it never turns them on itself.
#[test]
fn keyspace_notifications_are_followed_when_on_and_never_turned_on() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = format!("{}?format=express", redis.url());
    let (lab, mut state) = common::lab();
    watch(&lab, &mut state, &store);
    assert!(lab.wait_until(
        &mut state,
        WAIT,
        |s| s.watched.as_ref().unwrap().status.listings >= 1
    ));
    assert_eq!(state.watched.as_ref().unwrap().status.live, None);
    assert!(
        redis_cli(redis.port(), &["CONFIG", "GET", "notify-keyspace-events"])
            .lines()
            .nth(1)
            .is_none_or(|flags| flags.trim().is_empty()),
        "the watch turned notifications on"
    );
    // A session written from outside shows without a listing (a quick pass finds it).
    redis_cli(
        redis.port(),
        &["SET", "sess:quick", r#"{"cookie":{},"views":4}"#],
    );
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.watched
            .as_ref()
            .unwrap()
            .sessions
            .contains(key_id("quick"))
    }));

    redis_cli(
        redis.port(),
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
    );
    let (lab, mut state) = common::lab();
    watch(&lab, &mut state, &store);
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.watched.as_ref().unwrap().status.live.is_some()
    }));
    redis_cli(
        redis.port(),
        &["SET", "sess:told", r#"{"cookie":{},"views":5}"#],
    );
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.watched
            .as_ref()
            .unwrap()
            .sessions
            .contains(key_id("told"))
    }));
    redis_cli(redis.port(), &["DEL", "sess:told"]);
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        !s.watched
            .as_ref()
            .unwrap()
            .sessions
            .contains(key_id("told"))
    }));
}

/// A session folder from a stranger: a FIFO and a link named like sessions, a file dated in
/// the year 11,000 — the listing ends, with the sessions it can read.
#[test]
fn a_hostile_session_folder_is_listed_without_hanging() {
    let dir = common::temp_dir("hostile-php");
    std::fs::write(dir.join("sess_good"), "views|i:2;").unwrap();
    std::fs::write(dir.join("sess_future"), "views|i:3;").unwrap();
    let fifo = std::ffi::CString::new(dir.join("sess_fifo").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path and a mode; mkfifo touches nothing else.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("/etc/passwd", dir.join("sess_link")).unwrap();
    let far = std::time::UNIX_EPOCH + Duration::from_secs(300_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(dir.join("sess_future"))
        .unwrap()
        .set_modified(far)
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listing = runtime.block_on(async {
        let address = StoreAddress::parse(&format!("dir:{}", dir.display())).unwrap();
        let mut reader = Reader::open(&address).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), reader.list(Duration::from_secs(5)))
            .await
            .expect("the listing ends")
            .unwrap()
    });
    let mut keys: Vec<&str> = listing.sessions.iter().map(|s| s.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["future", "good"]);
    let future = listing.sessions.iter().find(|s| s.key == "future").unwrap();
    // The file system may clamp the time (ext4 stops at 2446); beyond 9000 it is left out.
    assert!(
        future.updated.is_none_or(|at| at.year() < 9000),
        "{:?}",
        future.updated
    );
}
