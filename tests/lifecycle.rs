//! The session lifecycle, headless: hijack, regenerate, login, logout, tampering, secret
//! rotation, expiry, cookies off, cookie scoping, settings applied in place, bursts.

mod common;

use std::time::Duration;

use common::{WAIT, burst, id, lab, session_of, visit, visit_url};
use session_lab::{
    browser::NotSentReason,
    lab::{Command, Lab, LabState, LogLevel},
    server::ExpiryPolicy,
};

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

fn apply(
    lab: &Lab,
    state: &mut LabState,
    change: impl FnOnce(&mut session_lab::server::ServerConfig),
) {
    let mut config = state.server.as_ref().unwrap().config.clone();
    change(&mut config);
    let lines = state.log.len();
    lab.send(Command::ApplySettings(config));
    assert!(
        lab.wait_until(state, WAIT, |s| s.log.len() > lines),
        "the settings are applied"
    );
}

/// Copying A's session cookie into B makes B present A's session: they share one counter.
#[test]
fn hijacked_cookie_shares_the_counter() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "A");
    lab.send(Command::CopyCookie {
        from: id(&state, "A"),
        to: id(&state, "B"),
        cookie: session_cookie(&state, "A"),
    });
    wait_cookies(&lab, &mut state, "B", 1);
    assert_eq!(visit(&lab, &mut state, "B"), "Number of views 3");
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 4");
    let shared = session_of(&state, "A").unwrap();
    assert_eq!(session_of(&state, "B").as_deref(), Some(shared.as_str()));
    assert!(lab.wait_until(&mut state, WAIT, |s| s.holders(&shared).len() == 2));
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
        && s.sessions[0].id == new));
    assert_eq!(state.sessions[0].data["views"], 2);
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 3");
    assert!(state.log.iter().any(|l| l.text.contains("regenerated as")));
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
    assert_eq!(json["session"], after.as_str());
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
    assert!(
        state
            .log
            .iter()
            .any(|l| l.text.contains(&format!("session {}", &session[..8]))
                && l.text.contains("deleted"))
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
    let mut forged = value.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    lab.send(Command::EditCookie {
        browser: id(&state, "A"),
        cookie: key,
        value: forged,
    });
    assert!(
        lab.wait_until(&mut state, WAIT, |s| session_of(s, "A").is_none()),
        "no longer verifies"
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    let rejection = state
        .log
        .iter()
        .rev()
        .find(|l| l.text.starts_with("GET /"))
        .unwrap();
    assert_eq!(rejection.level, LogLevel::Warning);
    assert!(
        rejection
            .text
            .contains("cookie rejected: its signature does not match"),
        "{}",
        rejection.text
    );
    let fresh = session_of(&state, "A").unwrap();
    assert_ne!(fresh, original);
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.sessions
            .iter()
            .any(|r| r.id == original && r.data["views"] == 2)
    }));
}

/// Rotating the secret makes every old cookie fail verification: new sessions all round.
#[test]
fn secret_rotation_rejects_old_cookies() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "B");
    let old_fingerprint = state.server.as_ref().unwrap().config.secret.fingerprint();
    lab.send(Command::RotateSecret);
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.server.as_ref().unwrap().config.secret.fingerprint() != old_fingerprint
    }));
    assert!(
        state
            .log
            .iter()
            .any(|l| l.text.starts_with("Secret rotated"))
    );
    for name in ["A", "B"] {
        assert_eq!(visit(&lab, &mut state, name), "Number of views 1");
        let line = state
            .log
            .iter()
            .rev()
            .find(|l| l.text.starts_with("GET /"))
            .unwrap();
        assert!(line.text.contains("cookie rejected"), "{}", line.text);
    }
}

/// With a one-second inactivity timeout, the session expires, leaves the store, and the
/// next visit gets a new one.
#[test]
fn inactivity_expiry_ends_the_session() {
    let (lab, mut state) = lab();
    apply(&lab, &mut state, |c| {
        c.expiry = ExpiryPolicy::OnInactivity { secs: 1 }
    });
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    let first = session_of(&state, "A").unwrap();
    let cookie = &state.browser_named("A").unwrap().cookies[0].cookie;
    assert!(cookie.expires.is_some(), "the cookie carries Max-Age now");
    assert!(lab.wait_until(&mut state, WAIT, |s| {
        s.sessions.iter().any(|r| r.id == first)
    }));
    assert!(
        lab.wait_until(&mut state, Duration::from_secs(5), |s| s
            .sessions
            .is_empty()),
        "the expired session is swept from the store"
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 1");
    assert_ne!(session_of(&state, "A").unwrap(), first);
}

/// With cookies off, the browser never sends its cookie: every visit is a new session.
#[test]
fn cookies_off_means_a_new_session_every_time() {
    let (lab, mut state) = lab();
    lab.send(Command::SetCookiesEnabled {
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
    let line = state
        .log
        .iter()
        .rev()
        .find(|l| l.text.starts_with("GET /"))
        .unwrap();
    assert!(
        line.text.contains("not sent: id (path mismatch)"),
        "{}",
        line.text
    );
}

/// Renaming the cookie is applied in place and says that existing cookies stop counting.
#[test]
fn renaming_the_cookie_starts_new_sessions() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    apply(&lab, &mut state, |c| c.cookie_name = "sid".into());
    assert!(
        state
            .log
            .last()
            .unwrap()
            .text
            .contains("no longer recognised")
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

/// Restarting a normal browser drops its session cookie; a private one forgets everything.
#[test]
fn restart_drops_session_cookies() {
    let (lab, mut state) = lab();
    lab.send(Command::AddBrowser { private: true });
    assert!(lab.wait_until(&mut state, WAIT, |s| s.browsers.len() == 3));
    assert!(state.browser_named("C").unwrap().private);
    apply(&lab, &mut state, |c| {
        c.expiry = ExpiryPolicy::OnInactivity { secs: 600 }
    });
    visit(&lab, &mut state, "A");
    visit(&lab, &mut state, "C");
    lab.send(Command::RestartBrowser(id(&state, "A")));
    lab.send(Command::RestartBrowser(id(&state, "C")));
    wait_cookies(&lab, &mut state, "C", 0);
    assert_eq!(
        state.browser_named("A").unwrap().cookies.len(),
        1,
        "a persistent cookie survives"
    );
    assert_eq!(visit(&lab, &mut state, "A"), "Number of views 2");
    assert_eq!(visit(&lab, &mut state, "C"), "Number of views 1");
}

/// A burst on the safe server counts every visit; on the naive server the summary counts the
/// increments that were lost, and the numbers add up.
#[test]
fn burst_reports_what_happened_to_the_counter() {
    let (lab, mut state) = lab();
    visit(&lab, &mut state, "A");
    let safe = burst(&lab, &mut state, "A", 30);
    assert!(
        safe.contains("safe server") && safe.contains("views 1 → 31, all 30 counted"),
        "{safe}"
    );
    assert_eq!(state.exchanges.len(), 31);

    apply(&lab, &mut state, |c| c.lock_per_session = false);
    let naive = burst(&lab, &mut state, "A", 20);
    assert!(
        naive.contains("naive server") && naive.contains("views 31 → "),
        "{naive}"
    );
    let after: u64 = naive
        .split("→ ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let lost = 51 - after;
    if lost == 0 {
        assert!(naive.contains("all 20 counted"), "{naive}");
    } else {
        assert!(
            naive.contains(&format!("{lost} of 20 increments lost")),
            "{naive}"
        );
    }
}
