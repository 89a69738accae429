//! The event pipeline under load from outside: changes reach the lab's state as changes, the
//! lab ends equal to the store, nothing queues without bound, and records stay small whatever
//! a client sends.

mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use common::{WAIT, lab, lab_on, raw_get, visit_url};
use session_lab::bounded::Weigh;
use session_lab::{
    lab::{
        LabState, Logged,
        load::{self, LoadPlan},
    },
    server::{
        DATA_TEXT_MAX, PATH_MAX, RunningServer, Secret, ServerConfig, StoreChoice, USER_AGENT_MAX,
    },
};

/// The embedded server's address.
fn addr_of(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// Sends `visits` cookieless visits, 64 at a time, from a runtime of the test's own, as
/// `session-lab load --no-cookies` in another terminal does (its browsers belong to no lab).
fn load_from_outside(url: &str, visits: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime
        .block_on(load::run(
            &LoadPlan {
                url: url.to_owned(),
                visits,
                browsers: 1,
                concurrency: 64,
                cookies: false,
                lab: None,
            },
            |_| {},
        ))
        .unwrap();
    assert_eq!((report.visits, report.errors), (visits, 0));
}

/// The lab's view as id → data text, for comparing with the store.
fn view(state: &LabState) -> BTreeMap<String, String> {
    state
        .sessions
        .iter()
        .map(|s| (s.id.to_string(), s.data.as_str().to_owned()))
        .collect()
}

/// 20,000 new sessions from outside (as `session-lab load` sends them) while nobody reads the
/// lab: the event backlog stays bounded (store changes wait coalesced in the feed, requests
/// from outside are summed up), and once read, the lab's state equals the store, id for id
/// and data for data, and every request was either told or counted.
#[test]
fn a_store_filled_from_outside_ends_equal_to_the_lab() {
    const VISITS: usize = 20_000;
    let (lab, mut state) = lab();
    let url = lab.server_url().unwrap();
    let started = Instant::now();
    let loader = {
        let url = url.clone();
        std::thread::spawn(move || load_from_outside(&url, VISITS))
    };
    // Nobody pumps the lab while the load runs: whatever queues for the reader shows here.
    let mut most = 0;
    while !loader.is_finished() {
        most = most.max(lab.backlog());
        std::thread::sleep(Duration::from_millis(2));
    }
    loader.join().unwrap();
    // What may queue is what the lab tells one by one: twenty requests from outside, then ten
    // a second, and a summary and a count a second — a few dozen, never one per request.
    let secs = started.elapsed().as_secs() + 1;
    let bound = 20 + 12 * secs as usize + 10;
    assert!(
        most <= bound && most < VISITS / 50,
        "the events waiting for the reader stayed few while 20,000 sessions arrived: {most} \
         (at most {bound} in {secs} s)"
    );
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == VISITS),
        "every session reaches the lab: {} of {VISITS}",
        state.sessions.len()
    );
    let store: BTreeMap<String, String> = lab
        .store_listing()
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|row| (row.id.to_string(), row.data.as_str().to_owned()))
        .collect();
    assert_eq!(store.len(), VISITS);
    assert!(view(&state) == store, "the lab's view equals the store");
    // The requests from outside are told one by one at first, then summed up: the log holds
    // a few dozen lines for 20,000 requests, and the count is exact.
    assert!(lab.wait_until(&mut state, WAIT, |s| s.requests_served == VISITS as u64));
    let told_and_summed = |s: &LabState| {
        let told = s
            .log
            .iter()
            .filter(|l| matches!(l.what, Logged::External(_)))
            .count() as u64;
        let summed: u64 = s
            .log
            .iter()
            .filter_map(|l| match l.what {
                Logged::Skipped { count } => Some(count),
                _ => None,
            })
            .sum();
        (told, summed)
    };
    assert!(
        lab.wait_until(&mut state, WAIT, |s| {
            let (told, summed) = told_and_summed(s);
            told + summed == VISITS as u64
        }),
        "every request is either told or counted: {:?}",
        told_and_summed(&state)
    );
    let (told, _) = told_and_summed(&state);
    assert!(
        told <= 20 + 10 * secs + 10,
        "{told} lines told one by one in {secs} s"
    );
}

/// Rows follow the store as it changes: a later visit updates a row in place, a logout
/// removes it, and sessions that expire leave the lab's view when the sweep removes them.
#[test]
fn the_view_follows_updates_removals_and_expiry() {
    let mut config = ServerConfig::with_secret(Secret::from_phrase("pipeline"));
    config.settings.expiry = session_lab::server::ExpiryPolicy::OnInactivity { secs: 600 };
    let (lab, mut state) = lab_on(StoreChoice::Memory, config);
    let url = lab.server_url().unwrap();
    visit_url(&lab, &mut state, "A", &url);
    visit_url(&lab, &mut state, "A", &url);
    visit_url(&lab, &mut state, "B", &url);
    let a = common::session_of(&state, "A").unwrap();
    assert!(lab.wait_until(&mut state, WAIT, |s| common::stored_views(s, a) == Some(2)));
    visit_url(&lab, &mut state, "B", &format!("{url}logout"));
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 1));
    common::time_passes(&lab, &mut state, time::Duration::minutes(11));
    let started = Instant::now();
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.sessions.is_empty()),
        "the idle session expires and leaves the view"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it went when it fell due, not at some later listing"
    );
}

/// A store other processes write (SQLite shared with a second server) is listed again now and
/// then, by difference: a session written and then deleted elsewhere appears and disappears.
#[test]
fn a_shared_store_shows_what_other_servers_do() {
    let dir = std::env::temp_dir().join(format!("session-lab-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("shared.db");
    let config = ServerConfig::with_secret(Secret::from_phrase("pipeline"));
    let (lab, mut state) = lab_on(StoreChoice::Sqlite(db.clone()), config.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let other = runtime
        .block_on(RunningServer::start_with(
            "127.0.0.1:0".parse().unwrap(),
            config,
            StoreChoice::Sqlite(db),
        ))
        .unwrap();
    let first = runtime.block_on(raw_get(other.addr(), "/", b""));
    let cookie = first.set_cookie_pair().unwrap();
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 1),
        "the other server's session appears"
    );
    runtime.block_on(raw_get(
        other.addr(),
        "/logout",
        format!("Cookie: {cookie}\r\n").as_bytes(),
    ));
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.sessions.is_empty()),
        "and disappears when the other server deletes it"
    );
    drop(other);
    drop(runtime);
    let _ = std::fs::remove_dir_all(dir);
}

/// A 40 KiB URL and a 20 KiB User-Agent (a head just under the server's 64 KiB limit; a larger
/// one is answered 431 before any handler runs, tested in `server/tls.rs`) cost the records a few hundred bytes each,
/// marked "…"; a user name of 60 KB is refused; the log's bytes stay bounded however many such
/// requests arrive.
#[test]
fn records_are_bounded_in_bytes() {
    let (lab, mut state) = lab();
    let url = lab.server_url().unwrap();
    let addr = addr_of(&url);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let path = format!("/{}", "p".repeat(40 * 1024));
    let agent = format!("User-Agent: {}\r\n", "u".repeat(20 * 1024));
    for _ in 0..40 {
        let answer = runtime.block_on(raw_get(addr, &path, agent.as_bytes()));
        assert_eq!(answer.status, 404);
    }

    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.log.iter().any(|l| matches!(l.what, Logged::External(_)))
    }));
    let served = state
        .log
        .iter()
        .find_map(|l| match &l.what {
            Logged::External(served) => Some(served.clone()),
            _ => None,
        })
        .unwrap();
    assert!(served.path.len() <= PATH_MAX && served.path.ends_with('…'));
    let ua = served.user_agent.as_deref().unwrap();
    assert!(ua.len() <= USER_AGENT_MAX && ua.ends_with('…'));
    assert!(
        served.weight() < 2048,
        "one record: {} bytes",
        served.weight()
    );

    // A 60 KB user name is refused outright (nothing stored); the longest allowed one keeps
    // the row within the inspector's budget.
    let login = format!("{url}login?user={}", "n".repeat(60_000));
    let refused = visit_url(&lab, &mut state, "A", &login);
    assert!(refused.contains("at most 64 characters"), "{refused}");
    assert!(common::session_of(&state, "A").is_none());
    let name = "n".repeat(session_lab::server::MAX_USER_CHARS);
    visit_url(&lab, &mut state, "A", &format!("{url}login?user={name}"));
    let session = common::session_of(&state, "A").unwrap();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.contains(session)));
    let data = state.session_data(session).unwrap();
    assert!(!data.is_cut() && data.as_str().len() <= DATA_TEXT_MAX);

    let (log_bytes, timeline_bytes) = state.retained_bytes();
    assert!(log_bytes < 64 * 1024, "the log holds {log_bytes} bytes");
    assert!(
        timeline_bytes < 256 * 1024,
        "the timeline holds {timeline_bytes} bytes"
    );
}
