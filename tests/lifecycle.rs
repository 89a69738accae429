//! The session lifecycle, headless: hijack, regenerate, login, logout, tampering, secret
//! rotation, expiry, cookies off, cookie scoping, settings applied in place, bursts.

mod common;

use std::sync::Arc;

use common::{
    WAIT, apply, burst, id, lab, session_of, stored_views, time_passes, visit, visit_url,
};
use session_lab::lab::{BrowserCommand, ServerCommand};
use session_lab::{
    browser::NotSentReason,
    lab::{Lab, LabState, LogLevel, Logged, SettingChange},
    server::{CookieVerdict, ExpiryPolicy, RejectReason, Served, StoreStory},
};

/// What the server recorded of browser `name`'s latest exchange.
fn last_served(state: &LabState, name: &str) -> Arc<Served> {
    state
        .exchanges
        .iter()
        .rev()
        .find(|r| r.name == name)
        .and_then(|r| r.served.clone())
        .expect("the server recorded the exchange")
}

fn url(lab: &Lab, path: &str) -> String {
    format!(
        "{}{}",
        lab.server_url().unwrap(),
        path.trim_start_matches('/')
    )
}

fn session_cookie(state: &LabState, name: &str) -> session_lab::browser::CookieKey {
    state
        .browser_named(name)
        .unwrap()
        .cookies
        .iter()
        .find(|c| c.cookie.name == "id")
        .expect("a session cookie")
        .cookie
        .key()
}

fn wait_cookies(lab: &Lab, state: &mut LabState, name: &str, count: usize) {
    assert!(
        lab.wait_until(state, WAIT, |s| s
            .browser_named(name)
            .unwrap()
            .cookies
            .len()
            == count),
        "{name} holds {count} cookie(s)"
    );
}

/// Copying A's session cookie into B makes B present A's session: they share one counter.
#[test]
fn hijacked_cookie_shares_the_counter() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    lab.send(BrowserCommand::CopyCookie {
        from: id(&state, "A"),
        to: id(&state, "B"),
        cookie: session_cookie(&state, "A"),
    });
    wait_cookies(&lab, &mut state, "B", 1);
    assert_eq!(visit(&lab, &mut state, "B"), "Number of views 3");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 4");
    let shared = session_of(&state, "A").unwrap();
    assert_eq!(session_of(&state, "B"), Some(shared));
    assert!(lab.wait_until(&mut state, WAIT, |s| s.holders(shared).len() == 2));
}

/// /regenerate gives the session a new id and keeps its data.
#[test]
fn regenerate_keeps_data_under_a_new_id() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    let old = session_of(&state, "A").unwrap();
    let body = visit_url(&lab, &mut state, "A", &url(&lab, "/regenerate"));
    assert!(body.contains("regenerated"), "{body}");
    let new = session_of(&state, "A").unwrap();
    assert_ne!(old, new);
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 1
        && s.sessions.contains(new)));
    assert_eq!(stored_views(&state, new), Some(2));
    assert_eq!(
        last_served(&state, "A").story,
        StoreStory::Regenerated { old, new }
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 3");
}

/// /login stores the user and regenerates the id (the fixation defence).
#[test]
fn login_regenerates_and_stores_the_user() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    let before = session_of(&state, "A").unwrap();
    let body = visit_url(&lab, &mut state, "A", &url(&lab, "/login?user=ann"));
    assert!(body.starts_with("Logged in as ann"), "{body}");
    let after = session_of(&state, "A").unwrap();
    assert_ne!(before, after, "a new id after login");
    let whoami = visit_url(&lab, &mut state, "A", &url(&lab, "/whoami"));
    let json: serde_json::Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(json["session"], after.to_string());
    assert_eq!(json["data"]["user"], "ann");
    assert_eq!(json["data"]["views"], 1);
    let missing = visit_url(&lab, &mut state, "B", &url(&lab, "/login"));
    assert!(missing.contains("/login?user=NAME"), "{missing}");
}

/// /logout deletes the session from the store and empties the jar.
#[test]
fn logout_deletes_session_and_cookie() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    let session = session_of(&state, "A").unwrap();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 1));
    let body = visit_url(&lab, &mut state, "A", &url(&lab, "/logout"));
    assert!(body.starts_with("Logged out"), "{body}");
    assert!(
        state.browser_named("A").unwrap().cookies.is_empty(),
        "jar empty"
    );
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.sessions.is_empty()),
        "store entry gone"
    );
    assert_eq!(
        last_served(&state, "A").story,
        StoreStory::Deleted { id: session }
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
}

/// Editing the cookie's value breaks its signature: the server rejects it, visibly, and
/// hands out a new session; the original session is untouched.
#[test]
fn tampered_cookie_is_rejected() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    let original = session_of(&state, "A").unwrap();
    let key = session_cookie(&state, "A");
    let value = state.browser_named("A").unwrap().cookies[0]
        .cookie
        .value
        .clone();
    // A value no Cookie header can carry is refused, and the problem says why; the cookie
    // stays as it was.
    lab.send(BrowserCommand::EditCookie {
        browser: id(&state, "A"),
        cookie: key.clone(),
        value: "a;b".to_owned(),
    });
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        common::last_line_of(s, "A").is_some_and(|l| matches!(&l.what, Logged::Problem(_)))
    }));
    let refusal = common::last_line_of(&state, "A").unwrap().text();
    assert!(refusal.contains("the value contains ';'"), "{refusal}");
    assert_eq!(
        state.browser_named("A").unwrap().cookies[0].cookie.value,
        value
    );
    let mut forged = value.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    lab.send(BrowserCommand::EditCookie {
        browser: id(&state, "A"),
        cookie: key,
        value: forged,
    });
    assert!(
        lab.wait_until(&mut state, WAIT, |s| session_of(s, "A").is_none()),
        "no longer verifies"
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    assert_eq!(
        last_served(&state, "A").cookie,
        CookieVerdict::Rejected {
            reason: RejectReason::BadSignature
        }
    );
    let line = common::last_line_of(&state, "A").unwrap();
    assert_eq!(line.level, LogLevel::Warning, "{}", line.text());
    let fresh = session_of(&state, "A").unwrap();
    assert_ne!(fresh, original);
    assert!(lab.wait_until(&mut state, WAIT, |s| stored_views(s, original) == Some(2)));
}

/// Rotating the secret makes every old cookie fail verification: new sessions all round.
#[test]
fn secret_rotation_rejects_old_cookies() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "B");
    let old_fingerprint = state.server.as_ref().unwrap().secret_fingerprint.clone();
    lab.send(ServerCommand::RotateSecret { grace_secs: None });
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.server.as_ref().unwrap().secret_fingerprint != old_fingerprint
    }));
    assert!(state.log.iter().any(|l| matches!(
        &l.what,
        Logged::SecretRotated { old, new, old_accepted_until: None }
            if *old == old_fingerprint && *new != old_fingerprint
    )));
    for name in ["A", "B"] {
        assert_eq!(visit(&lab, &mut state, name), "Number of views 1");
        assert_eq!(
            last_served(&state, name).cookie,
            CookieVerdict::Rejected {
                reason: RejectReason::BadSignature
            }
        );
    }
}

/// With a ten-minute inactivity timeout, a minute passing changes nothing and each visit
/// starts the ten minutes again; eleven idle minutes (the lab's clock moved ahead, no
/// waiting) expire the session in the store and its cookie in the jar at once, and the next
/// visit gets a new one.
#[test]
fn inactivity_expiry_ends_the_session() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |c| {
        c.expiry = ExpiryPolicy::OnInactivity { secs: 600 }
    });
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    let first = session_of(&state, "A").unwrap();
    let cookie = &state.browser_named("A").unwrap().cookies[0].cookie;
    assert!(cookie.expires.is_some(), "the cookie carries Max-Age now");
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.contains(first)));
    for views in 2..=3 {
        time_passes(&lab, &mut state, time::Duration::minutes(9));
        assert_eq!(
            visit(&lab, &mut state, "A"),
            format!("Number of views {views}")
        );
    }
    assert_eq!(
        session_of(&state, "A"),
        Some(first),
        "each visit renewed the timeout"
    );
    let expires = state.browser_named("A").unwrap().cookies[0]
        .cookie
        .expires
        .unwrap();
    let left = expires - state.now();
    assert!(
        left > time::Duration::minutes(9),
        "the jar counts from the lab's clock: {left}"
    );
    time_passes(&lab, &mut state, time::Duration::minutes(11));
    assert!(state.clock_ahead >= time::Duration::minutes(29));
    assert!(
        lab.wait_until(&mut state, WAIT, |s| s.sessions.is_empty()),
        "the expired session is swept from the store at once"
    );
    assert!(
        state.browser_named("A").unwrap().cookies.is_empty(),
        "the jar dropped the expired cookie"
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    assert_ne!(session_of(&state, "A").unwrap(), first);
}

/// A browser-session cookie has no expiry of its own; the server still keeps the session at
/// most two weeks (tower-sessions' default), on the lab's clock too.
#[test]
fn a_browser_session_lasts_two_weeks_on_the_server() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    let first = session_of(&state, "A").unwrap();
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.contains(first)));
    time_passes(&lab, &mut state, time::Duration::days(13));
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 2");
    assert!(
        state.browser_named("A").unwrap().cookies[0]
            .cookie
            .expires
            .is_none(),
        "still a browser-session cookie"
    );
    time_passes(&lab, &mut state, time::Duration::days(15));
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.is_empty()));
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
}

/// With cookies off, the browser never sends its cookie: every visit is a new session.
#[test]
fn cookies_off_means_a_new_session_every_time() {
    let (lab, mut state) = lab();
    lab.send(BrowserCommand::SetCookiesEnabled {
        browser: id(&state, "A"),
        enabled: false,
    });
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        !s.browser_named("A").unwrap().cookies_enabled
    }));
    for _ in 0..3 {
        assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    }
    assert!(state.browser_named("A").unwrap().cookies.is_empty());
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.len() == 3));
}

/// A cookie scoped to /admin stays home when visiting /, and the exchange says why.
#[test]
fn path_scoped_cookie_is_not_sent_and_explained() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |c| c.path = "/admin".into());
    visit(&lab, &mut state, "A");
    wait_cookies(&lab, &mut state, "A", 1);
    assert_eq!(
        state.browser_named("A").unwrap().cookies[0].cookie.path,
        "/admin"
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    let last = state.browser_named("A").unwrap().last.clone().unwrap();
    assert!(last.cookie_header.is_none());
    assert_eq!(last.not_sent.len(), 1);
    assert_eq!(last.not_sent[0].reason, NotSentReason::PathMismatch);
    let line = common::last_line_of(&state, "A").unwrap();
    let Logged::Exchange(exchange) = &line.what else {
        panic!("the last line is the exchange: {}", line.text());
    };
    assert_eq!(
        exchange.not_sent,
        [("id".to_owned(), NotSentReason::PathMismatch)]
    );
}

/// Renaming the cookie is applied in place and says that existing cookies stop counting.
#[test]
fn renaming_the_cookie_starts_new_sessions() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    let applied = apply(&lab, &mut state, |c| c.cookie_name = "sid".into());
    assert_eq!(
        applied,
        Logged::SettingsApplied {
            changes: vec![SettingChange::CookieName {
                old: "id".into(),
                new: "sid".into()
            }],
            old_cookies_still_valid: false
        }
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    let names: Vec<String> = state
        .browser_named("A")
        .unwrap()
        .cookies
        .iter()
        .map(|c| c.cookie.name.clone())
        .collect();
    assert_eq!(names, ["id", "sid"]);
}

/// Restarting a normal browser drops its session cookies and keeps its persistent ones; a
/// private one forgets everything. A holds both kinds: the server's cookie `id` as a
/// browser-session cookie (no expiry, the default policy), then — renamed `sid`, with an idle
/// timeout — a persistent one. After the restart only `sid` is left, and its session goes on.
#[test]
fn restart_drops_session_cookies() {
    let (lab, mut state) = lab();
    lab.send(BrowserCommand::AddBrowser { private: true });
    assert!(lab.wait_until(&mut state, WAIT, |s| s.browsers.len() == 3));
    assert!(state.browser_named("C").unwrap().private);
    // (name, whether it has an expiry) of each cookie `browser` holds.
    let cookies = |state: &LabState, browser: &str| -> Vec<(String, bool)> {
        state
            .browser_named(browser)
            .unwrap()
            .cookies
            .iter()
            .map(|c| (c.cookie.name.clone(), c.cookie.expires.is_some()))
            .collect()
    };
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    assert_eq!(
        cookies(&state, "A"),
        [("id".to_owned(), false)],
        "a session cookie"
    );
    apply(&lab, &mut state, |c| {
        c.cookie_name = "sid".into();
        c.expiry = ExpiryPolicy::OnInactivity { secs: 600 };
    });
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    assert_eq!(visit(&lab, &mut state, "C"), "Number of views 1");
    assert_eq!(
        cookies(&state, "A"),
        [("id".to_owned(), false), ("sid".to_owned(), true)],
        "a session cookie and a persistent one"
    );
    assert_eq!(cookies(&state, "C"), [("sid".to_owned(), true)]);
    lab.send(BrowserCommand::RestartBrowser(id(&state, "A")));
    lab.send(BrowserCommand::RestartBrowser(id(&state, "C")));
    wait_cookies(&lab, &mut state, "A", 1);
    wait_cookies(&lab, &mut state, "C", 0);
    assert_eq!(
        cookies(&state, "A"),
        [("sid".to_owned(), true)],
        "the session cookie goes, the persistent one stays"
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 2");
    assert_eq!(visit(&lab, &mut state, "C"), "Number of views 1");
}

/// With a store latency (a database across a network), a burst on the naive server loses
/// increments — every time — and the outcome says how many; on the safe server it loses none.
#[test]
fn burst_on_a_slow_store_loses_updates_only_without_the_lock() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |c| c.store_latency_ms = 5);
    visit(&lab, &mut state, "A");
    let safe = burst(&lab, &mut state, "A", 20);
    assert_eq!(safe.safe, Some(true));
    assert_eq!(safe.before.map(|v| v.views), Some(1));
    assert_eq!(safe.after.map(|v| v.views), Some(21));
    assert_eq!(safe.lost(), Some(0));
    assert_eq!(state.exchanges.len(), 21);

    apply(&lab, &mut state, |c| c.lock_per_session = false);
    for _ in 0..3 {
        let naive = burst(&lab, &mut state, "A", 20);
        assert_eq!(naive.safe, Some(false));
        let (before, after) = (naive.before.unwrap(), naive.after.unwrap());
        assert_eq!(before.session, after.session);
        let lost = naive.lost().unwrap();
        assert!(lost > 0, "the naive server lost nothing: {naive:?}");
        assert_eq!(after.views - before.views + lost, 20, "the numbers add up");
        let line = common::last_line_of(&state, "A").unwrap();
        assert_eq!(line.level, LogLevel::Warning, "{}", line.text());
    }
}

/// With the session kept in the cookie, a burst keeps one answer: every request leaves with
/// the cookie of the burst's start, each answer sets its own, and the jar keeps the last — so
/// all but one increment are lost, every time, the per-session lock on or off, and the store
/// stays empty. The outcome reads the counter from the cookie and says why.
#[test]
fn burst_on_a_session_kept_in_the_cookie_keeps_one_answer() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |c| {
        c.kept_in = session_lab::server::KeptIn::Cookie;
    });
    visit(&lab, &mut state, "A");
    for (round, lock) in [(1, true), (2, false), (3, true)] {
        apply(&lab, &mut state, |c| c.lock_per_session = lock);
        let outcome = burst(&lab, &mut state, "A", 20);
        let (before, after) = (outcome.before.unwrap(), outcome.after.unwrap());
        assert_eq!((before.session, after.session), (None, None), "no id");
        assert_eq!((before.views, after.views), (round, round + 1));
        assert_eq!(outcome.lost(), Some(19), "{outcome:?}");
        let line = common::last_line_of(&state, "A").unwrap();
        assert_eq!(line.level, LogLevel::Warning, "{}", line.text());
        assert!(
            line.text()
                .contains("every request carried the same cookie"),
            "{}",
            line.text()
        );
    }
    assert_eq!(state.sessions.len(), 0, "the store keeps nothing");
}

/// A graceful rotation loses no session: the old secret still opens each browser's cookie,
/// the server says which key did and seals the cookie anew with the new secret, and from then
/// on the new one opens it.
#[test]
fn graceful_rotation_keeps_every_session() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "B");
    let old = state.server.as_ref().unwrap().secret_fingerprint.clone();
    lab.send(ServerCommand::RotateSecret {
        grace_secs: Some(600),
    });
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.server.as_ref().unwrap().secret_fingerprint != old
    }));
    assert_eq!(state.server.as_ref().unwrap().retired.len(), 1);
    assert_eq!(state.server.as_ref().unwrap().retired[0].0, old);
    for name in ["A", "B"] {
        let session = session_of(&state, name).unwrap();
        assert_eq!(visit(&lab, &mut state, name), "Number of views 2");
        let served = last_served(&state, name);
        let CookieVerdict::Valid { id, retired_key } = served.cookie else {
            panic!("the old cookie still opens: {:?}", served.cookie);
        };
        assert_eq!(id, session);
        assert_eq!(
            retired_key.map(session_lab::server::fingerprint_text),
            Some(old.clone())
        );
        let last = state.browser_named(name).unwrap().last.clone().unwrap();
        assert!(last.set_cookies().next().is_some(), "sealed anew");
        assert_eq!(visit(&lab, &mut state, name), "Number of views 3");
        assert_eq!(
            last_served(&state, name).cookie,
            CookieVerdict::Valid {
                id: session,
                retired_key: None
            },
            "the new secret opens it now"
        );
    }
}

/// express-session's saveUninitialized: off (tower-sessions' way), a request that does not
/// touch the session — `/whoami` from a new browser — stores nothing and sets no cookie; on,
/// every new visitor gets a stored (empty) session and a cookie, which stays on its return.
#[test]
fn save_uninitialized_stores_untouched_sessions_only_when_on() {
    let (lab, mut state) = lab();
    let whoami = url(&lab, "/whoami");
    visit_url(&lab, &mut state, "A", &whoami);
    assert!(state.browser_named("A").unwrap().cookies.is_empty());
    assert!(state.sessions.is_empty(), "off: nothing stored");

    let applied = apply(&lab, &mut state, |c| c.save_uninitialized = true);
    assert_eq!(
        applied,
        Logged::SettingsApplied {
            changes: vec![SettingChange::SaveUninitialized(true)],
            old_cookies_still_valid: true
        }
    );
    visit_url(&lab, &mut state, "B", &whoami);
    let session = session_of(&state, "B").expect("on: a cookie for a session never changed");
    assert!(lab.wait_until(&mut state, WAIT, |s| s.sessions.contains(session)));
    assert_eq!(state.session_data(session).unwrap().as_str(), "{}");
    visit_url(&lab, &mut state, "B", &whoami);
    assert_eq!(
        session_of(&state, "B"),
        Some(session),
        "the empty session stays"
    );
    assert_eq!(visit(&lab, &mut state, "B"), "Number of views 1");
    assert_eq!(session_of(&state, "B"), Some(session));
}
