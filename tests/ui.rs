//! The window, driven like a user: find buttons by their accessible labels, click, read.

mod common;

use std::time::{Duration, Instant};

use egui_kittest::{Harness, kittest::Queryable};
use session_lab::{
    lab::{Lab, LabConfig, LabState, text::short},
    server::{Secret, ServerConfig},
    ui::SessionLabApp,
};
use time::UtcOffset;

fn harness() -> Harness<'static, SessionLabApp> {
    let lab = Lab::start(LabConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        server: ServerConfig::with_secret(Secret::from_phrase("ui tests")),
        browsers: 2,
        store: Default::default(),
        instances: 1,
    })
    .expect("lab starts");
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| SessionLabApp::new(&cc.egui_ctx, lab, UtcOffset::UTC));
    step_until(&mut harness, "browsers A and B appear", |s| {
        s.browsers.len() == 2 && s.server.is_some()
    });
    harness
}

/// Steps frames (background work arrives between them) until `done` holds.
fn step_until(
    harness: &mut Harness<'static, SessionLabApp>,
    what: &str,
    done: impl Fn(&LabState) -> bool,
) {
    let deadline = Instant::now() + common::WAIT;
    loop {
        harness.step();
        if done(harness.state().state()) {
            // One more frame so the view shows what the state now holds.
            harness.step();
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn click_and_wait(
    harness: &mut Harness<'static, SessionLabApp>,
    label: &str,
    browser: &str,
    views: u64,
) {
    harness.get_by_label(label).click();
    let expected = format!("Number of views {views}");
    step_until(harness, &expected, |s| {
        s.browser_named(browser)
            .and_then(|b| b.last.as_ref())
            .is_some_and(|e| e.body == expected)
            && s.is_idle()
    });
}

/// The seed's lesson in the window: Visit A three times and B once; the panels read 3 and 1
/// and the server panel shows two sessions, one per browser.
#[test]
fn visiting_shows_diverging_counters() {
    let mut harness = harness();
    assert_eq!(
        harness
            .query_all_by_label("No cookies yet — click Visit")
            .count(),
        2
    );
    for views in 1..=3 {
        click_and_wait(&mut harness, "Visit A", "A", views);
    }
    click_and_wait(&mut harness, "Visit B", "B", 1);
    step_until(&mut harness, "two sessions are listed", |s| {
        s.sessions.len() == 2 && s.sessions.iter().all(|r| s.holders(r.id).len() == 1)
    });

    harness.get_by_label("Number of views 3");
    harness.get_by_label("Number of views 1");
    harness.get_by_label("Server sessions (2)");
    let state = harness.state().state().clone();
    for session in state.sessions.iter() {
        harness.get_by_label(&short(&session.id.to_string()));
    }
    assert_eq!(harness.query_all_by_label("Cookies (1)").count(), 2);

    // Each browser keeps its exchanges.
    harness.get_by_label("History (3)").click();
    harness.run_steps(2);
    assert_eq!(
        harness.query_all_by_label_contains("GET /  → 200").count(),
        3
    );
    harness.get_by_label("History (1)");
}

/// "+ Browser" adds browser C with an empty jar; Clear empties B's jar so its next visit gets
/// a brand-new session.
#[test]
fn add_browser_and_clear_cookies() {
    let mut harness = harness();
    harness.get_by_label("+ Browser").click();
    step_until(&mut harness, "browser C appears", |s| s.browsers.len() == 3);
    harness.get_by_label("Browser C");
    harness.get_by_label("Visit C");

    click_and_wait(&mut harness, "Visit B", "B", 1);
    click_and_wait(&mut harness, "Visit B", "B", 2);
    harness.get_by_label("Clear cookies B").click();
    step_until(&mut harness, "B's jar is empty", |s| {
        s.browser_named("B").unwrap().cookies.is_empty()
    });
    click_and_wait(&mut harness, "Visit B", "B", 1);
    step_until(&mut harness, "both sessions are listed", |s| {
        s.sessions.len() == 2
    });
    harness.get_by_label("external");
}

/// Hijack by clicking: copy A's session cookie to B through the cookie's Actions menu; B's
/// next visit continues A's counter.
#[test]
fn hijack_from_the_cookie_menu() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    click_and_wait(&mut harness, "Visit A", "A", 2);
    harness.get_by_label("Actions for cookie id of A").click();
    harness.run_steps(3);
    harness.get_by_label("Copy cookie id of A to B").click();
    step_until(&mut harness, "B holds A's cookie", |s| {
        s.browser_named("B").unwrap().cookies.len() == 1
    });
    click_and_wait(&mut harness, "Visit B", "B", 3);
    step_until(&mut harness, "one session held by both", |s| {
        s.sessions.len() == 1 && s.sessions.iter().all(|r| s.holders(r.id).len() == 2)
    });
    harness.get_by_label("Server sessions (1)");
}

/// Logout by clicking: the Logout route deletes the session and empties the jar.
#[test]
fn logout_from_the_route_buttons() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    step_until(&mut harness, "the session is listed", |s| {
        s.sessions.len() == 1
    });
    harness.get_by_label("Logout A").click();
    step_until(&mut harness, "A is logged out", |s| {
        s.browser_named("A")
            .and_then(|b| b.last.as_ref())
            .is_some_and(|e| e.body.starts_with("Logged out"))
            && s.sessions.is_empty()
    });
    harness
        .get_by_label("Logged out: the session was deleted from the store and its cookie cleared.");
    harness.get_by_label("Server sessions (0)");
    assert_eq!(
        harness
            .query_all_by_label("No cookies yet — click Visit")
            .count(),
        2
    );
}

/// An idle window asks for no immediate repaint: once the visits are answered, `run()` (which
/// steps until nothing asks to repaint now) settles within its few steps.
#[test]
fn idle_window_does_not_repaint() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    step_until(&mut harness, "the session is listed", |s| {
        s.sessions.len() == 1
    });
    let steps = harness.run();
    assert!(steps <= 4, "settled in {steps} steps");
}

/// The sessions table filters as the user types and sorts by a clicked header: typing a
/// browser's name shows only its session and says "showing 1 of 2"; clicking the "Created"
/// header (the order in force, oldest first) turns it round, newest first.
#[test]
fn sessions_filter_and_sort_like_a_user_expects() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    click_and_wait(&mut harness, "Visit B", "B", 1);
    step_until(&mut harness, "both sessions are listed", |s| {
        s.sessions.len() == 2
    });
    let state = harness.state().state().clone();
    let b = state.browser_named("B").unwrap().session().unwrap();
    let a = state.browser_named("A").unwrap().session().unwrap();

    harness.get_by_label("Filter sessions").focus();
    harness.get_by_label("Filter sessions").type_text("@B");
    step_until(&mut harness, "the filter applies", |s| {
        s.sessions.shown_len() == 1
    });
    harness.get_by_label("showing 1 of 2");
    harness.get_by_label(&short(&b.to_string()));
    assert!(
        harness.query_by_label(&short(&a.to_string())).is_none(),
        "A's session is filtered out"
    );
    harness.get_by_label("×").click();
    step_until(&mut harness, "the filter is cleared", |s| {
        s.sessions.shown_len() == 2
    });

    harness.get_by_label("Created").click();
    step_until(&mut harness, "newest first", |s| {
        s.sessions.sort().descending
    });
    let first = harness.state().state().sessions.shown_at(0).unwrap().id;
    assert_eq!(first, b, "B visited last, so its session is newest");
}

/// Browser panels out of view are not laid out (sixteen browsers cost what the visible few
/// do), and come back as the user scrolls to them: the fifth browser's Visit button appears
/// after scrolling right and works.
#[test]
fn panels_out_of_view_come_back_when_scrolled_to() {
    let mut harness = harness();
    for _ in 0..3 {
        harness.get_by_label("+ Browser").click();
        harness.run_steps(2);
    }
    step_until(&mut harness, "five browsers", |s| s.browsers.len() == 5);
    assert!(
        harness.query_by_label("Visit E").is_none(),
        "browser E is out of view, so it is not laid out"
    );
    // Scroll the browsers' area to the right with the wheel, the pointer over a panel.
    harness.get_by_label("Visit B").hover();
    for _ in 0..20 {
        if harness
            .query_by_label("Visit E")
            .is_some_and(|node| node.rect().max.x < 1400.0)
        {
            break;
        }
        harness.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(-200.0, 0.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::default(),
        });
        harness.run_steps(2);
    }
    assert!(
        harness.query_by_label("Visit A").is_none(),
        "browser A, scrolled out of view, is no longer laid out"
    );
    harness.get_by_label("Visit E").click();
    step_until(&mut harness, "E's visit answered", |s| {
        s.browser_named("E")
            .and_then(|b| b.last.as_ref())
            .is_some_and(|e| e.body == "Number of views 1")
    });
}

/// A store that does not answer at start (Redis down) leaves the window running with a clear
/// mark; "Start on memory" starts the server, and browsers visit it.
#[test]
fn a_failed_start_is_recovered_with_a_click() {
    let unreachable = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unreachable.local_addr().unwrap().port();
    drop(unreachable);
    let lab = Lab::start(LabConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        server: ServerConfig::with_secret(Secret::from_phrase("ui tests")),
        browsers: 2,
        store: format!("redis://127.0.0.1:{port}").parse().unwrap(),
        instances: 1,
    })
    .expect("lab starts");
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| SessionLabApp::new(&cc.egui_ctx, lab, UtcOffset::UTC));
    step_until(&mut harness, "the start fails", |s| {
        s.server_error.is_some() && s.browsers.len() == 2
    });
    harness.get_by_label("server not running");
    harness.get_by_label("Start on memory").click();
    step_until(&mut harness, "the server runs", |s| s.server.is_some());
    assert_eq!(
        harness.state().state().server.as_ref().unwrap().store_kind,
        "memory"
    );
    click_and_wait(&mut harness, "Visit A", "A", 1);
}

/// With the settings panel open, turning Safe server off in a browser shows in the panel, and
/// Apply keeps it off (the panel's draft follows the server; it does not silently revert).
#[test]
fn an_open_settings_panel_follows_the_server() {
    let mut harness = harness();
    harness.get_by_label("Server settings").click();
    harness.run_steps(3);
    harness.get_by_label("Safe server A").click();
    step_until(&mut harness, "the server runs naive", |s| {
        !s.server.as_ref().unwrap().settings.lock_per_session
    });
    harness.run_steps(2);
    harness.get_by_label("Apply settings").click();
    step_until(&mut harness, "the settings are applied", |s| {
        s.log
            .iter()
            .filter(|l| matches!(l.what, session_lab::lab::Logged::SettingsApplied { .. }))
            .count()
            >= 2
    });
    assert!(
        !harness
            .state()
            .state()
            .server
            .as_ref()
            .unwrap()
            .settings
            .lock_per_session,
        "Apply kept the browser's Safe server switch"
    );
}
