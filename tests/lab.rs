//! The headless lab, as the window uses it: browsers, jars, sessions, the inspector, the log.

mod common;

use common::{
    WAIT, id, lab, raw_get, session_of, stored_views, visit, visit_url, wait_for_sessions,
};
use session_lab::lab::{BrowserCommand, RequestCommand};
use session_lab::{
    audit::{AuditError, BadRoute},
    browser::BrowserError,
    lab::{AuditFailed, AuditRequest, LogLevel, LogSource, Logged, Maker},
    server::SessionId,
};

/// Two browsers get two different sessions.
#[test]
fn two_browsers_get_different_sessions() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "B");
    let a = session_of(&state, "A").expect("A holds a session cookie");
    let b = session_of(&state, "B").expect("B holds a session cookie");
    assert_ne!(a, b);
}

/// The seed's scenario: A visits three times and reads 3; B visits once and reads 1.
#[test]
fn counters_diverge() {
    let (lab, mut state) = lab();
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 2");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 3");
    assert_eq!(visit(&lab, &mut state, "B"), "Number of views 1");
    let a = session_of(&state, "A").unwrap();
    let b = session_of(&state, "B").unwrap();
    assert!(wait_for_sessions(&lab, &mut state, &[a, b]));
    assert_eq!(stored_views(&state, a), Some(3));
    assert_eq!(stored_views(&state, b), Some(1));
}

/// Clearing a jar gives the browser a brand-new session; the old one stays in the store,
/// now held by nobody ("external").
#[test]
fn clearing_cookies_starts_a_new_session() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "B");
    visit(&lab, &mut state, "B");
    let old = session_of(&state, "B").unwrap();
    lab.send(BrowserCommand::ClearCookies(id(&state, "B")));
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.browser_named("B").unwrap().cookies.is_empty()
    }));
    assert_eq!(visit(&lab, &mut state, "B"), "Number of views 1");
    let new = session_of(&state, "B").unwrap();
    assert_ne!(old, new);
    assert!(wait_for_sessions(&lab, &mut state, &[old, new]));
    assert!(
        state.holders(old).is_empty(),
        "the old session is held by no browser now"
    );
    assert_eq!(state.holders(new)[0].name, "B");
    // Held by nobody, yet B's own: the lab saw B's request make it.
    assert_eq!(
        state.made_by_browser(old).map(|b| b.name.as_str()),
        Some("B")
    );
}

/// Where the lab's clock is in charge, the views and times follow it: a jump is remembered
/// (the plot leaves it out), a session made after it is stamped on the lab's clock, and only
/// a counter page counts as views — not the digits of an id on /whoami.
#[test]
fn views_and_times_follow_the_lab_clock() {
    use session_lab::lab::{ClockMove, ServerCommand};
    let (lab, mut state) = lab();
    let url = lab.server_url().unwrap();
    visit(&lab, &mut state, "A");
    visit_url(&lab, &mut state, "A", &format!("{url}whoami"));
    lab.send(ServerCommand::MoveClock(ClockMove::Ahead(
        time::Duration::hours(1),
    )));
    assert!(lab.wait_until(&mut state, WAIT, |s| !s.clock_moves.is_empty()));
    let (at, by) = state.clock_moves[0];
    assert_eq!(by, time::Duration::hours(1));
    assert!((at - state.now()).abs() < time::Duration::seconds(5));
    // B makes its first session now, an hour ahead of real time.
    visit(&lab, &mut state, "B");
    let b = session_of(&state, "B").unwrap();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.contains(b)));
    let created = state
        .sessions
        .iter()
        .find(|row| row.id == b)
        .and_then(|row| row.created_at())
        .expect("a creation time");
    assert!(
        (created - state.now()).abs() < time::Duration::minutes(1),
        "created {created}, the lab's clock says {}",
        state.now()
    );
    let views: Vec<Option<u64>> = state.exchanges.iter().map(|r| r.views()).collect();
    assert_eq!(views, [Some(1), None, Some(1)]);
}

/// The inspector lists exactly the live sessions, each tagged with the browsers holding it;
/// a session from outside the lab (curl, a real browser) is held by none.
#[test]
fn inspector_lists_sessions_and_holders() {
    let (lab, mut state) = lab();
    lab.send(BrowserCommand::AddBrowser { private: false });
    assert!(lab.wait_until(&mut state, WAIT, |s| s.browsers.len() == 3));
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "C");
    let addr: std::net::SocketAddr = lab
        .server_url()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let external = runtime.block_on(raw_get(addr, "/", b"User-Agent: curl/8.0\r\n"));
    assert_eq!(external.body, "Number of views 1");

    let a = session_of(&state, "A").unwrap();
    let c = session_of(&state, "C").unwrap();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 3));
    let ext = state
        .sessions
        .iter()
        .find(|s| s.id != a && s.id != c)
        .unwrap()
        .id;
    let names = |id: SessionId| {
        state
            .holders(id)
            .iter()
            .map(|b| b.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(a), ["A"]);
    assert_eq!(names(c), ["C"]);
    assert!(names(ext).is_empty(), "external");
    assert!(session_of(&state, "B").is_none(), "B never visited");
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.log.iter().any(|l| {
            matches!(&l.what, Logged::External(served)
                if served.user_agent.as_deref() == Some("curl/8.0"))
                && l.source == LogSource::External
        })
    }));
    assert!(lab.wait_until(&mut state, WAIT, |s| s.requests_served == 3));
}

/// The log's words tell the story of each exchange: the cookie sent and what changed in the
/// store (a test of `text.rs`'s wording; other tests read the data).
#[test]
fn log_tells_the_story() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    let lines: Vec<String> = state
        .log
        .iter()
        .filter(|l| matches!(l.source, LogSource::Browser { .. }))
        .map(|l| l.text())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("GET /  no cookie  ← 200 “Number of views 1”"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("created {\"views\":1}"), "{}", lines[0]);
    assert!(lines[1].contains("Cookie: id="), "{}", lines[1]);
    assert!(lines[1].contains("views 1→2"), "{}", lines[1]);
}

/// With the session kept in the cookie the log tells that story instead of "no session": a
/// first visit seals a new session into the cookie, a second brings the data and takes it
/// back changed, logout clears the cookie — and the store keeps nothing each time.
#[test]
fn log_tells_the_story_of_a_session_kept_in_the_cookie() {
    let (lab, mut state) = lab();
    common::apply(&lab, &mut state, |s| {
        s.kept_in = session_lab::server::KeptIn::Cookie;
    });
    let lines_before = state.logged;
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    let server_url = lab.server_url().unwrap();
    visit_url(&lab, &mut state, "A", &format!("{server_url}logout"));
    let lines: Vec<String> = state
        .log_since(lines_before)
        .filter(|l| matches!(l.source, LogSource::Browser { .. }))
        .map(|l| l.text())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0]
            .ends_with("a new session, its data sealed into the cookie; the store keeps nothing"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(
            "the session's data came in the cookie (1 value) and went back in it, changed; \
             the store keeps nothing"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with(
            "the session's data came in the cookie (1 value); the cookie cleared (the session \
             emptied); the store keeps nothing"
        ),
        "{}",
        lines[2]
    );
}

/// Browsers can be added, renamed and removed; names and colours stay distinct, 16 fit.
#[test]
fn browsers_are_managed() {
    let (lab, mut state) = lab();
    for _ in 0..14 {
        lab.send(BrowserCommand::AddBrowser { private: false });
    }
    assert!(lab.wait_until(&mut state, WAIT, |s| s.browsers.len() == 16));
    let colours: std::collections::BTreeSet<usize> =
        state.browsers.iter().map(|b| b.colour).collect();
    assert_eq!(colours.len(), 16, "distinct colours: {colours:?}");
    let names: std::collections::BTreeSet<&str> =
        state.browsers.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names.len(), 16, "distinct names: {names:?}");
    lab.send(BrowserCommand::RenameBrowser(
        id(&state, "C"),
        "Chrome".into(),
    ));
    lab.send(BrowserCommand::RemoveBrowser(id(&state, "B")));
    assert!(lab.wait_until(&mut state, WAIT, |s| s.browsers.len() == 15
        && s.browser_named("Chrome").is_some()));
    assert_eq!(visit(&lab, &mut state, "Chrome"), "Number of views 1");
}

/// A visit that fails (nothing listens there, or not an http address) shows why, as the
/// browser's own error, in the panel and the log; the lab keeps working.
#[test]
fn failed_visit_is_reported_and_the_lab_goes_on() {
    let (lab, mut state) = lab();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let last_error = |state: &session_lab::lab::LabState| {
        state
            .browser(id(state, "A"))
            .and_then(|b| b.last_error.clone())
    };
    visit_url(&lab, &mut state, "A", &url);
    let error = last_error(&state).expect("the visit failed");
    assert!(matches!(&*error, BrowserError::Connect { .. }), "{error}");
    assert!(state.log.iter().any(|l| l.level == LogLevel::Error
        && matches!(&l.what, Logged::VisitFailed { error: logged, .. } if *logged == error)));
    visit_url(&lab, &mut state, "A", "ftp://example.com");
    let error = last_error(&state).expect("the visit failed");
    assert!(matches!(&*error, BrowserError::BadUrl(_)), "{error}");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
}

/// A visit that fails partway (a redirect to where nothing listens) keeps its trace: the
/// request that was made, with the cookie it set, is in the log and the history, the jar holds
/// the cookie, and the error says which request of the visit failed.
#[test]
fn a_visit_that_fails_partway_keeps_the_requests_it_made() {
    let (lab, mut state) = lab();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let start = format!("http://{}/start", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = [0; 4096];
            let _ = stream.read(&mut head);
            let answer = format!(
                "HTTP/1.1 302 Found\r\nSet-Cookie: trail=1\r\nLocation: {dead}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    visit_url(&lab, &mut state, "A", &start);
    let a = state.browser(id(&state, "A")).unwrap();
    let error = a.last_error.clone().expect("the visit failed");
    assert!(
        matches!(error.cause(), BrowserError::Connect { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("at request 2"), "{error}");
    assert!(
        a.cookies.iter().any(|c| c.cookie.name == "trail"),
        "the first hop's cookie is in the jar"
    );
    let made = state
        .exchanges
        .iter()
        .find(|r| r.exchange.url == start)
        .expect("the first request is in the history");
    assert_eq!(made.exchange.status, 302);
    assert!(made.exchange.set_cookies().any(|c| c == "trail=1"));
    assert!(state.log.iter().any(
        |l| matches!(&l.what, Logged::Exchange(line) if line.path == "/start" && line.status == 302)
    ));
    assert!(state.log.iter().any(|l| l.level == LogLevel::Error
        && matches!(&l.what, Logged::VisitFailed { error: logged, .. } if *logged == error)));
}

/// A busy port is not fatal: the lab's server takes a free one and the log says so.
#[test]
fn busy_port_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let lab = session_lab::lab::Lab::start(session_lab::lab::LabConfig {
        bind: taken.local_addr().unwrap(),
        ..Default::default()
    })
    .unwrap();
    let mut state = Default::default();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.server.is_some()));
    let server = state.server.as_ref().unwrap();
    assert_eq!(
        server.fallback_from,
        Some(taken.local_addr().unwrap().to_string())
    );
    assert!(state.log.iter().any(|l| l.level == LogLevel::Warning
        && matches!(&l.what, Logged::ServerStarted(info) if info.fallback_from.is_some())));
}

/// An audit from the window that cannot run says why, as a variant the tab and the log read:
/// a login route that puts a form body on a GET stops before any request; a target nothing listens on stops at
/// the first request, as the browser's error. Neither leaves a run behind.
#[test]
fn an_audit_that_cannot_run_says_why() {
    let (lab, mut state) = lab();
    let request = |url: &str, login: &str| AuditRequest {
        url: url.to_owned(),
        login: login.to_owned(),
        logout: String::new(),
        counter: String::new(),
        samples: 100,
    };
    let url = lab.server_url().expect("the server runs");
    lab.send(RequestCommand::RunAudit(request(
        &url,
        "GET /login user=ann",
    )));
    assert!(lab.wait_until(&mut state, WAIT, |s| s.audit.error.is_some()));
    assert_eq!(
        state.audit.error,
        Some(AuditFailed::Route(BadRoute::BodyOnGet(
            "GET /login user=ann".to_owned()
        )))
    );
    // A port that was free a moment ago: nothing answers there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    lab.send(RequestCommand::RunAudit(request(
        &format!("http://{closed}/"),
        "",
    )));
    assert!(lab.wait_until(&mut state, WAIT, |s| matches!(
        &s.audit.error,
        Some(AuditFailed::Audit(error)) if matches!(**error, AuditError::Browser(BrowserError::Connect { .. }))
    )), "{:?}", state.audit.error);
    assert!(state.audit.runs.is_empty());
    assert!(state.log.iter().any(|l| l.level == LogLevel::Error
        && matches!(
            &l.what,
            Logged::Audit {
                outcome: Err(AuditFailed::Route(_)),
                ..
            }
        )));
}

/// A load sends the visits from new browsers and ends with a timed report; every load browser
/// gets a session (more when its first requests race each other without a cookie yet).
#[test]
fn load_reports_speed_and_creates_sessions() {
    let (lab, mut state) = lab();
    lab.send(RequestCommand::Load {
        visits: 300,
        browsers: 10,
    });
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.load.as_ref().is_some_and(|l| l.outcome.is_some())
    }));
    let load = state.load.clone().unwrap();
    let report = load.outcome.unwrap().expect("the load ran");
    assert_eq!((report.visits, report.errors), (300, 0));
    assert_eq!(load.done, 300);
    assert!(report.requests_per_sec() > 0.0 && report.p99 >= report.p50);
    assert!(state.log.iter().any(|l| matches!(
        &l.what,
        Logged::LoadFinished(Ok(done)) if done.visits == 300
    )));
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() >= 10
        && s.requests_served >= 300));
    // The load's sessions are tagged as the load's, not as a stranger's.
    let by_load = state
        .sessions
        .iter()
        .filter(|s| state.made_by(s.id) == Some(Maker::Load))
        .count();
    assert!(
        by_load >= 10,
        "each of the 10 load browsers holds one: {by_load}"
    );
    state.set_session_filter("external");
    state.finish_sessions();
    assert_eq!(
        state.sessions.shown_len(),
        state.sessions.len() - by_load,
        "external means held by no browser and made by no load"
    );
}

/// When the memory store holds its limit, the lab says so (the header marks it and the log
/// tells what it means), a new browser's visit gets the 503 page, and the others go on.
#[test]
fn a_full_store_is_shown_and_the_others_go_on() {
    let mut config = session_lab::server::ServerConfig::with_secret(
        session_lab::server::Secret::from_phrase("full store"),
    );
    config.settings.max_sessions = 2;
    let (lab, mut state) = common::lab_on(session_lab::server::StoreChoice::Memory, config);
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "B");
    assert!(lab.wait_until(&mut state, WAIT, |s| s.store_full));
    assert!(state.log.iter().any(|l| l.what == Logged::StoreFull(true)));
    lab.send(BrowserCommand::AddBrowser { private: false });
    assert!(lab.wait_until(&mut state, WAIT, |s| s.browsers.len() == 3));
    let refused = visit(&lab, &mut state, "C");
    assert!(refused.starts_with("No new session"), "{refused}");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 2");
}
