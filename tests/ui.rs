//! The window, driven like a user: find buttons by their accessible labels, click, read.

mod common;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use egui_kittest::{Harness, kittest::Queryable};
use session_lab::lab::{BrowserCommand, RequestCommand, ServerCommand};
use session_lab::{
    lab::{
        Lab, LabConfig, LabState, LogSource, Logged, Maker,
        saved::{self, Loaded},
        text::{short, time_left_changes_in},
    },
    scenario::judge::Judge,
    server::{Secret, ServerConfig, ServerSettings, StoreKind},
    ui::{BottomTab, SessionLabApp},
};
use time::UtcOffset;

fn harness() -> Harness<'static, SessionLabApp> {
    harness_keeping(None, Loaded::default())
}

/// The seed's lab with `browsers` browsers, for a window of the tests.
fn ui_lab(browsers: usize) -> Lab {
    Lab::start(LabConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        server: ServerConfig::with_secret(Secret::from_phrase("ui tests")),
        browsers,
        store: Default::default(),
        instances: 1,
    })
    .expect("lab starts")
}

/// A window of `size`, with the seed's lab.
fn harness_sized(size: [f32; 2]) -> Harness<'static, SessionLabApp> {
    let lab = ui_lab(2);
    let mut harness = Harness::builder()
        .with_size(size)
        .build_eframe(move |cc| SessionLabApp::new(&cc.egui_ctx, lab, UtcOffset::UTC));
    step_until(&mut harness, "the browsers appear", |s| {
        s.browsers.len() >= 2 && s.server.is_some()
    });
    harness
}

/// The rectangle of the widget labelled `label`, checked to lie inside the window.
fn on_screen(
    harness: &Harness<'static, SessionLabApp>,
    label: &str,
    window: egui::Rect,
) -> egui::Rect {
    let rect = harness.get_by_label(label).rect();
    assert!(
        rect.height() > 4.0 && window.contains_rect(rect),
        "{label} is at {rect:?}, not inside the window {window:?}"
    );
    rect
}

/// At 1280×720, after a burst before any session (20 sessions) and a full audit (about a
/// thousand more), every part keeps its share: the browsers' buttons, the sessions table's
/// header and the bottom tabs are inside the window and apart, and the tabs have at least a
/// third of the height; the divider above the sessions can be dragged, and a new browser is
/// scrolled into view.
#[test]
fn the_layout_holds_at_1280_by_720_whatever_the_lab_holds() {
    let mut harness = harness_sized([1280.0, 720.0]);
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 720.0));
    harness.get_by_label("Burst A").click();
    step_until(&mut harness, "the burst ends", |s| {
        s.browser_named("A").unwrap().last_burst.is_some()
    });
    harness.get_by_label("Audit").click();
    harness.run_steps(2);
    harness.get_by_label("Run audit").click();
    step_until(&mut harness, "the audit finishes", |s| {
        s.audit.runs.len() == 1 && s.audit.running.is_none() && s.sessions.len() > 500
    });
    harness.run_steps(3);

    let visit = on_screen(&harness, "Visit A", window);
    let sessions = harness
        .query_by_label_contains("Server sessions (")
        .expect("the sessions table's header")
        .rect();
    assert!(window.contains_rect(sessions), "{sessions:?}");
    assert!(visit.max.y < sessions.min.y, "browsers above the sessions");
    for tab in ["Event log", "Timeline", "Scenarios", "Audit", "Other site"] {
        let rect = harness
            .query_all_by_label(tab)
            .map(|node| node.rect())
            .find(|rect| rect.min.y > sessions.max.y)
            .unwrap_or_else(|| panic!("the {tab} tab below the sessions"));
        assert!(window.contains_rect(rect), "{tab} at {rect:?}");
        // The tabs' panel begins at two thirds of the window at most (its margin inside).
        assert!(
            rect.min.y <= 720.0 * 2.0 / 3.0 + 10.0,
            "the bottom tabs keep a third of the window: {tab} at {rect:?}"
        );
    }

    // Drag the divider above the sessions table 80 px up: the table follows.
    let divider = sessions.min.y - 6.0;
    let start = egui::pos2(900.0, divider);
    let end = egui::pos2(900.0, divider - 80.0);
    harness.hover_at(start);
    harness.run_steps(2);
    harness.drag_at(start);
    harness.run_steps(2);
    harness.hover_at(end);
    harness.run_steps(2);
    harness.drop_at(end);
    harness.run_steps(3);
    let moved = harness
        .query_by_label_contains("Server sessions (")
        .unwrap()
        .rect();
    assert!(
        moved.min.y < sessions.min.y - 40.0,
        "the divider moved the table up: {sessions:?} → {moved:?}"
    );
    on_screen(&harness, "Visit A", window);

    // A new browser lands in view.
    for _ in 0..3 {
        harness.get_by_label("+ Browser").click();
        harness.run_steps(3);
    }
    step_until(&mut harness, "five browsers", |s| s.browsers.len() == 5);
    harness.run_steps(5);
    on_screen(&harness, "Visit E", window);
}

/// A window that keeps its lab in `path` (as the real one does between launches), restoring
/// what `loaded` found there.
fn harness_keeping(path: Option<PathBuf>, loaded: Loaded) -> Harness<'static, SessionLabApp> {
    let mut config = LabConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        server: ServerConfig::with_secret(Secret::from_phrase("ui tests")),
        browsers: 2,
        store: Default::default(),
        instances: 1,
    };
    // As `ui::run` does: the kept lab's settings and store start the server.
    if let Some(kept) = &loaded.lab {
        kept.start(&mut config, Default::default());
    }
    let lab = Lab::start(config).expect("lab starts");
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| {
            SessionLabApp::new(&cc.egui_ctx, lab, UtcOffset::UTC).with_saved_lab(path, loaded)
        });
    step_until(&mut harness, "the browsers appear", |s| {
        s.browsers.len() >= 2 && s.server.is_some()
    });
    harness
}

/// What the window knows of the embedded server (it runs).
fn server<'a>(harness: &'a Harness<'static, SessionLabApp>) -> &'a session_lab::lab::ServerInfo {
    harness
        .state()
        .state()
        .server
        .as_ref()
        .expect("the server runs")
}

/// The embedded server's settings as the window knows them.
fn server_settings<'a>(harness: &'a Harness<'static, SessionLabApp>) -> &'a ServerSettings {
    &server(harness).settings
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

/// Clicks `label` (a Visit button of browser `browser`), waits for that visit's answer and
/// checks it reads "Number of views {views}".
fn click_and_wait(
    harness: &mut Harness<'static, SessionLabApp>,
    label: &str,
    browser: &str,
    views: u64,
) {
    let body = click_visit(harness, label, browser);
    assert_eq!(
        body,
        format!("Number of views {views}"),
        "after clicking {label}"
    );
    step_until(harness, "the lab is idle", LabState::is_idle);
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
    bring_into_view(&mut harness, "Clear cookies B");
    harness.get_by_label("Clear cookies B").click();
    step_until(&mut harness, "B's jar is empty", |s| {
        s.browser_named("B").unwrap().cookies.is_empty()
    });
    click_and_wait(&mut harness, "Visit B", "B", 1);
    step_until(&mut harness, "both sessions are listed", |s| {
        s.sessions.len() == 2
    });
    // The old session is held by nobody, yet it is B's own, not someone else's.
    harness.get_by_label("B's, not held");
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

/// An idle window asks for no repaint but at a visible countdown's next change: once the
/// visits are answered, `run()` (which steps until nothing asks to repaint now) settles within
/// its few steps, and the repaint the idle window then asks for is the one at which the
/// session row's countdown ("13d 23h") next changes — not sooner, as a window that re-armed a
/// short `request_repaint_after` every frame would, and not never.
#[test]
fn idle_window_does_not_repaint() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    step_until(&mut harness, "the session is listed", |s| {
        s.sessions.len() == 1
    });
    let steps = harness.run();
    assert!(steps <= 4, "settled in {steps} steps");
    // When the text of the countdowns the window shows next changes, seen at `now`.
    let next_change = |state: &LabState, now: time::OffsetDateTime| {
        let cookies = state
            .browsers
            .iter()
            .flat_map(|b| b.cookies.iter().filter_map(|c| c.cookie.expires));
        let sessions = state.sessions.iter().map(|row| row.expires_at());
        cookies
            .chain(sessions)
            .filter_map(|at| time_left_changes_in(now, at))
            .min()
    };
    // One more idle frame, timed, away from a countdown's tick (up to a minute apart), so
    // the frame and the test agree on when the next one is.
    let deadline = Instant::now() + common::WAIT;
    let (delay, next, frame_took) = loop {
        let before = harness.state().state().now();
        let started = Instant::now();
        harness.step();
        let frame_took = started.elapsed();
        let delay = harness
            .output()
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .expect("the root viewport")
            .repaint_delay;
        let next =
            next_change(harness.state().state(), before).expect("the session row counts down");
        if next > Duration::from_secs(2) {
            break (delay, next, frame_took);
        }
        assert!(
            Instant::now() < deadline,
            "no frame away from a countdown tick"
        );
        std::thread::sleep(next + Duration::from_millis(10));
    };
    let slack = frame_took + Duration::from_millis(50);
    assert!(
        delay.saturating_add(slack) >= next && delay <= next + slack,
        "the idle window asks to repaint in {delay:?}; its countdown next changes in {next:?} \
         (the frame before asked from: {:?})",
        harness.ctx.repaint_causes()
    );
}

/// A and B visit once each; the lab once both sessions are listed.
fn a_and_b_visited_once(harness: &mut Harness<'static, SessionLabApp>) -> LabState {
    click_and_wait(harness, "Visit A", "A", 1);
    click_and_wait(harness, "Visit B", "B", 1);
    step_until(harness, "both sessions are listed", |s| {
        s.sessions.len() == 2
    });
    harness.state().state().clone()
}

/// The sessions table filters as the user types and sorts by a clicked header: typing a
/// browser's name shows only its session and says "showing 1 of 2"; clicking the "Created"
/// header (the order in force, oldest first) turns it round, newest first.
#[test]
fn sessions_filter_and_sort_like_a_user_expects() {
    let mut harness = harness();
    let state = a_and_b_visited_once(&mut harness);
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

/// On the small screen the layout is made for (1280×720), with the longest status there is
/// (the session kept in the cookie: "signed cookie “id” holding the data"), the header's
/// status ends before its buttons begin: no item is squeezed to a "…" under the Lab button.
#[test]
fn the_header_status_stays_clear_of_its_buttons_at_1280() {
    let mut harness = harness();
    harness.set_size(egui::vec2(1280.0, 720.0));
    let mut settings = server_settings(&harness).clone();
    settings.kept_in = session_lab::server::KeptIn::Cookie;
    harness
        .state()
        .send(ServerCommand::ApplySettings(settings).into());
    step_until(&mut harness, "the cookie holds the data", |s| {
        s.server
            .as_ref()
            .is_some_and(|s| s.settings.kept_in == session_lab::server::KeptIn::Cookie)
    });
    harness.run_steps(3);
    let buttons_start = harness.get_by_label("Lab").rect().min.x;
    let status = harness.get_by_label("signed cookie “id” holding the data");
    assert!(
        status.rect().max.x <= buttons_start,
        "the status ({:?}) runs under the Lab button (from x = {buttons_start})",
        status.rect()
    );
    // The counts come last: shown whole or cut within the room, or left out — never under.
    let requests = harness.state().state().requests_served;
    for count in ["0 sessions".to_owned(), format!("{requests} requests")] {
        for item in harness.query_all_by_label(&count) {
            assert!(
                item.rect().max.x <= buttons_start,
                "“{count}” ({:?}) runs under the Lab button (from x = {buttons_start})",
                item.rect()
            );
        }
    }
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
    harness.run_steps(3);
    // The newest browser was scrolled into view; the first is out of it, so not laid out.
    harness.get_by_label("Visit E");
    assert!(
        harness.query_by_label("Visit A").is_none(),
        "browser A is out of view, so it is not laid out"
    );
    // Scroll the browsers' area back to the left with the wheel, the pointer over a panel.
    harness.get_by_label("Visit E").hover();
    for _ in 0..20 {
        if harness
            .query_by_label("Visit A")
            .is_some_and(|node| node.rect().min.x >= 0.0)
        {
            break;
        }
        harness.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(200.0, 0.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::default(),
        });
        harness.run_steps(2);
    }
    assert!(
        harness.query_by_label("Visit E").is_none(),
        "browser E, scrolled out of view, is no longer laid out"
    );
    harness.get_by_label("Visit A").click();
    step_until(&mut harness, "A's visit answered", |s| {
        s.browser_named("A")
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
    assert_eq!(server(&harness).store_kind, StoreKind::Memory);
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
        !server_settings(&harness).lock_per_session,
        "Apply kept the browser's Safe server switch"
    );
}

/// Asserts that some widget's text contains `text` (it may show in the panel and the log).
fn shows(harness: &Harness<'static, SessionLabApp>, text: &str) {
    assert!(
        harness.query_all_by_label_contains(text).next().is_some(),
        "nothing on screen says “{text}”"
    );
}

/// How many times the log has said "settings applied".
fn applied_count(state: &LabState) -> usize {
    state
        .log
        .iter()
        .filter(|l| matches!(l.what, session_lab::lab::Logged::SettingsApplied { .. }))
        .count()
}

/// Opens the settings panel (if it is closed).
fn open_settings(harness: &mut Harness<'static, SessionLabApp>) {
    if harness.query_by_label("Apply settings").is_none() {
        harness.get_by_label("Server settings").click();
        harness.run_steps(3);
    }
}

/// Clicks Apply and waits until the server runs the new settings.
fn click_apply(harness: &mut Harness<'static, SessionLabApp>) {
    let before = applied_count(harness.state().state());
    harness.get_by_label("Apply settings").click();
    step_until(harness, "the settings are applied", |s| {
        applied_count(s) > before
    });
}

/// Clicks `label` and waits until browser `name` has finished a visit that began after it.
/// Scrolls the widget labelled `label` into view when it is not (as a user scrolls to a
/// browser panel), and waits until it stands still (a scroll animates over a few frames).
fn bring_into_view(harness: &mut Harness<'static, SessionLabApp>, label: &str) {
    settle(
        harness,
        |h| h.get_by_label(label).rect(),
        |h| h.get_by_label(label).scroll_to_me(),
    );
}

/// [`bring_into_view`] for the widget whose label contains `text`.
fn bring_into_view_containing(harness: &mut Harness<'static, SessionLabApp>, text: &str) {
    settle(
        harness,
        |h| h.get_by_label_contains(text).rect(),
        |h| h.get_by_label_contains(text).scroll_to_me(),
    );
}

fn settle(
    harness: &mut Harness<'static, SessionLabApp>,
    rect: impl Fn(&Harness<'static, SessionLabApp>) -> egui::Rect,
    scroll: impl Fn(&Harness<'static, SessionLabApp>),
) {
    let window = harness.ctx.content_rect();
    let mut scrolled = false;
    let mut last = None;
    for _ in 0..100 {
        let now = rect(harness);
        if last == Some(now) && window.contains_rect(now) {
            return;
        }
        if !scrolled && !window.contains_rect(now) {
            scroll(harness);
            scrolled = true;
        }
        last = Some(now);
        harness.step();
    }
}

fn click_visit(harness: &mut Harness<'static, SessionLabApp>, label: &str, name: &str) -> String {
    let lines = harness.state().state().logged;
    let id = harness.state().state().browser_named(name).unwrap().id;
    bring_into_view(harness, label);
    harness.get_by_label(label).click();
    step_until(harness, &format!("{label} is answered"), |s| {
        s.browser(id).is_some_and(|b| b.in_flight == 0)
            && s.log_since(lines).any(|l| {
                matches!(&l.source, LogSource::Browser { id: b, .. } if *b == id)
                    && matches!(l.what, Logged::Exchange(_))
            })
    });
    let state = harness.state().state();
    let browser = state.browser_named(name).unwrap();
    browser
        .last
        .as_ref()
        .map(|e| e.body.clone())
        .unwrap_or_default()
}

/// Settings by clicking: a ticked box goes back with Reset, Apply puts it on the server (the
/// header says so), and Rotate at once gives a new secret, so the next visit is a stranger.
#[test]
fn settings_reset_apply_and_rotate() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    open_settings(&mut harness);
    harness.get_by_label("Secure").click();
    harness.run_steps(2);
    harness.get_by_label("Reset settings").click();
    harness.run_steps(2);
    click_apply(&mut harness);
    assert!(
        !server_settings(&harness).secure,
        "Reset took the tick back before Apply"
    );

    harness.get_by_label("HttpOnly").click();
    harness.run_steps(2);
    click_apply(&mut harness);
    assert!(!server_settings(&harness).http_only);
    click_and_wait(&mut harness, "Visit A", "A", 2);
    assert!(
        !harness.state().state().browser_named("A").unwrap().cookies[0]
            .cookie
            .http_only,
        "the new cookie came without HttpOnly"
    );

    let old = server(&harness).secret_fingerprint.clone();
    // The settings scroll: below the fold at this size, as a user would, scroll to it.
    harness.get_by_label("Rotate at once").scroll_to_me();
    harness.run_steps(3);
    harness.get_by_label("Rotate at once").click();
    step_until(&mut harness, "the secret is new", |s| {
        s.server.as_ref().unwrap().secret_fingerprint != old
    });
    shows(&harness, "Secret rotated at once");
    click_and_wait(&mut harness, "Visit A", "A", 1);
}

/// Switching the store by clicking: SQLite file, then Restart server; the header says
/// "sqlite store", the server starts empty on it, and back on memory likewise.
#[test]
fn switching_the_store_from_the_settings() {
    let dir = std::env::temp_dir().join(format!("session-lab-ui-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sessions.db");
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    open_settings(&mut harness);
    harness
        .get_by_role_and_label(egui::accesskit::Role::RadioButton, "SQLite file")
        .click();
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "SQLite file")
        .set_text_value_accesskit(path.to_str().unwrap());
    harness.run_steps(2);
    harness.get_by_label("Restart server").click();
    step_until(&mut harness, "the server runs on SQLite", |s| {
        s.server
            .as_ref()
            .is_some_and(|s| s.store_kind == StoreKind::Sqlite)
    });
    shows(&harness, "sqlite store");
    click_and_wait(&mut harness, "Visit A", "A", 1);
    assert!(path.exists(), "the sessions are in the file asked for");
    harness
        .get_by_role_and_label(egui::accesskit::Role::RadioButton, "Memory")
        .click();
    harness.run_steps(2);
    harness.get_by_label("Restart server").click();
    let deadline = Instant::now() + common::WAIT;
    loop {
        harness.step();
        let s = harness.state().state();
        if s.server
            .as_ref()
            .is_some_and(|s| s.store_kind == StoreKind::Memory)
            && s.sessions.is_empty()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server runs on memory, empty: {:?} {} sessions, log {:?}",
            s.server.as_ref().map(|s| &s.store_kind),
            s.sessions.len(),
            s.log
                .iter()
                .rev()
                .take(4)
                .map(|l| l.text())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The race in clicks: store latency 5 ms (the header shows it), Safe server off, Burst: the
/// panel says how many increments were lost — some, every time.
#[test]
fn a_naive_burst_on_a_slow_store_shows_lost_increments() {
    let mut harness = harness();
    open_settings(&mut harness);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Slider, "Store latency")
        .set_value_accesskit(5.0);
    harness.run_steps(2);
    click_apply(&mut harness);
    assert_eq!(server_settings(&harness).store_latency_ms, 5);
    harness.get_by_label("latency 5 ms");
    harness.get_by_label("Safe server A").click();
    step_until(&mut harness, "the server runs naive", |s| {
        !s.server.as_ref().unwrap().settings.lock_per_session
    });
    click_and_wait(&mut harness, "Visit A", "A", 1);
    harness.get_by_label("Burst A").click();
    step_until(&mut harness, "the burst ends", |s| {
        s.browser_named("A").unwrap().last_burst.is_some()
    });
    let outcome = harness
        .state()
        .state()
        .browser_named("A")
        .unwrap()
        .last_burst
        .clone()
        .unwrap();
    let lost = outcome.lost().unwrap();
    assert!(
        lost > 0,
        "a naive burst on a slow store loses increments: {outcome:?}"
    );
    shows(&harness, &format!("{lost} increments lost"));

    harness.get_by_label("Safe server A").click();
    step_until(&mut harness, "the server is safe again", |s| {
        s.server.as_ref().unwrap().settings.lock_per_session
    });
    let sent_before = harness.state().state().logged;
    harness.get_by_label("Burst A").click();
    step_until(&mut harness, "the safe burst ends", |s| {
        s.logged > sent_before
            && s.browser_named("A")
                .unwrap()
                .last_burst
                .as_ref()
                .is_some_and(|b| b.safe == Some(true))
    });
    shows(&harness, "all counted");
}

/// Tampering by clicking: the cookie's value edited in place; the server rejects the forged
/// signature, starts a new session and says why.
#[test]
fn tampering_with_the_cookie_value() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    click_and_wait(&mut harness, "Visit A", "A", 2);
    harness.get_by_label("Actions for cookie id of A").click();
    harness.run_steps(3);
    harness.get_by_label("Edit cookie id of A").click();
    harness.run_steps(2);
    let field = harness.get_by_label("New value of cookie id of A");
    let forged = format!("{}x", field.value().unwrap());
    field.set_text_value_accesskit(&forged);
    harness.run_steps(2);
    harness.get_by_label("Save cookie id of A").click();
    step_until(&mut harness, "the jar holds the forged value", |s| {
        s.browser_named("A").unwrap().cookies[0].cookie.value == forged
    });
    click_and_wait(&mut harness, "Visit A", "A", 1);
    shows(&harness, "its signature does not match");
}

/// Rename, Private browser, Restart and Remove by clicking.
#[test]
fn rename_private_restart_and_remove() {
    let mut harness = harness();
    harness.get_by_label("Rename browser A").click();
    harness.run_steps(2);
    harness
        .get_by_label("New name for browser A")
        .set_text_value_accesskit("Alice");
    harness.run_steps(2);
    harness.get_by_label("Save name of browser A").click();
    step_until(&mut harness, "A is Alice", |s| {
        s.browser_named("Alice").is_some()
    });
    harness.get_by_label("Visit Alice");

    // Room for a third panel in view.
    harness.get_by_label("Remove browser B").click();
    step_until(&mut harness, "B is gone", |s| {
        s.browser_named("B").is_none()
    });
    assert!(harness.query_by_label("Visit B").is_none());

    harness.get_by_label("+ Private browser").click();
    step_until(&mut harness, "a private browser", |s| {
        s.browsers.iter().any(|b| b.private)
    });
    let private = harness
        .state()
        .state()
        .browsers
        .iter()
        .find(|b| b.private)
        .unwrap()
        .name
        .clone();
    harness.get_by_label(&format!("Browser {private} (private)"));
    harness.get_by_label("PRIVATE");
    click_visit(&mut harness, &format!("Visit {private}"), &private);
    harness
        .get_by_label(&format!("Restart browser {private}"))
        .click();
    step_until(&mut harness, "the private jar is empty", |s| {
        s.browser_named(&private).unwrap().cookies.is_empty()
    });
}

/// Cookies off by clicking: every visit is a stranger, and the panel says the Set-Cookie was
/// refused because cookies are off.
#[test]
fn cookies_off_makes_every_visit_a_stranger() {
    let mut harness = harness();
    harness.get_by_label("Cookies on A").click();
    step_until(&mut harness, "cookies are off", |s| {
        !s.browser_named("A").unwrap().cookies_enabled
    });
    for _ in 0..2 {
        assert_eq!(
            click_visit(&mut harness, "Visit A", "A"),
            "Number of views 1"
        );
    }
    shows(&harness, "Set-Cookie refused: id — cookies are off");
    assert!(
        harness
            .state()
            .state()
            .browser_named("A")
            .unwrap()
            .cookies
            .is_empty()
    );
}

/// Chooses where browser `name`'s requests come from in its "From" menu.
fn choose_from(harness: &mut Harness<'static, SessionLabApp>, name: &str, choice: &str) {
    harness
        .get_by_label(&format!("Request from {name}"))
        .click();
    harness.run_steps(3);
    harness.get_by_label(choice).click();
    step_until(harness, choice, |s| {
        s.browser_named(name).unwrap().from.label() == choice
    });
}

/// Secure on a real origin by clicking: with Secure ticked, app.lab.test (plain http) refuses
/// the cookie — each visit is a stranger and the panel says why — while 127.0.0.1 keeps it.
#[test]
fn secure_on_a_real_origin_in_one_click() {
    let mut harness = harness();
    open_settings(&mut harness);
    harness.get_by_label("Secure").click();
    harness.run_steps(2);
    click_apply(&mut harness);
    for _ in 0..2 {
        let body = click_visit(&mut harness, "Host app.lab.test A", "A");
        assert_eq!(body, "Number of views 1");
    }
    shows(
        &harness,
        "Set-Cookie refused: id — Secure, but set over plain http",
    );
    // The same host over https: a secure context, the cookie is kept and sent…
    assert_eq!(
        click_visit(&mut harness, "https A", "A"),
        "Number of views 1"
    );
    assert_eq!(
        click_visit(&mut harness, "Visit A", "A"),
        "Number of views 2"
    );
    // …and withheld from plain http, which cannot replace it either.
    assert_eq!(
        click_visit(&mut harness, "https A", "A"),
        "Number of views 1"
    );
    shows(&harness, "Not sent: id — Secure: sent over https only");
    assert_eq!(
        click_visit(&mut harness, "https A", "A"),
        "Number of views 3"
    );
    let server_host = "127.0.0.1";
    click_visit(&mut harness, &format!("Host {server_host} A"), "A");
    assert_eq!(
        click_visit(&mut harness, "Visit A", "A"),
        "Number of views 2",
        "loopback is a secure context: the cookie is kept and sent"
    );
}

/// Domain by clicking: host-only, api.lab.test gets no cookie (and the panel says whose it
/// is); with Domain lab.test, app.lab.test's session continues on api.lab.test.
#[test]
fn domain_cookies_across_subdomains_in_clicks() {
    let mut harness = harness();
    click_visit(&mut harness, "Host app.lab.test A", "A");
    assert_eq!(
        click_visit(&mut harness, "Host api.lab.test A", "A"),
        "Number of views 1"
    );
    shows(&harness, "host-only cookie of app.lab.test");

    open_settings(&mut harness);
    harness
        .get_by_label("Cookie domain")
        .set_text_value_accesskit("lab.test");
    harness.run_steps(2);
    click_apply(&mut harness);
    click_visit(&mut harness, "Host app.lab.test B", "B");
    assert_eq!(
        click_visit(&mut harness, "Host api.lab.test B", "B"),
        "Number of views 2",
        "the Domain cookie reaches the sibling subdomain"
    );
    harness.get_by_label(".lab.test");
}

/// SameSite by clicking: a link on other-site.test carries the (default Lax) cookie; an image
/// there does not, and the panel says why.
#[test]
fn same_site_link_and_image_in_clicks() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    choose_from(&mut harness, "A", "Link on other-site.test");
    assert_eq!(
        click_visit(&mut harness, "Visit A", "A"),
        "Number of views 2"
    );
    choose_from(&mut harness, "A", "Image on other-site.test");
    assert_eq!(
        click_visit(&mut harness, "Visit A", "A"),
        "Number of views 1"
    );
    shows(
        &harness,
        "Not sent: id — SameSite=Lax, and this is a cross-site subresource",
    );
    choose_from(&mut harness, "A", "Address bar");
    assert_eq!(
        click_visit(&mut harness, "Visit A", "A"),
        "Number of views 3",
        "the image's response could not replace the Lax cookie"
    );
}

/// Time passing by clicking: with a ten-minute timeout, "+1 h" expires the session and its
/// cookie at once; the header says the clock is ahead and takes it back with a click.
#[test]
fn fast_forward_expires_the_session() {
    let mut harness = harness();
    open_settings(&mut harness);
    harness.get_by_label("After inactivity of").click();
    harness.run_steps(2);
    harness
        .get_by_label("Inactivity seconds")
        .set_value_accesskit(600.0);
    harness.run_steps(2);
    click_apply(&mut harness);
    click_and_wait(&mut harness, "Visit A", "A", 1);
    click_and_wait(&mut harness, "Visit A", "A", 2);
    step_until(&mut harness, "the session is listed", |s| {
        s.sessions.len() == 1
    });
    harness.get_by_label("Clock +1 min").click();
    step_until(&mut harness, "a minute passed", |s| {
        s.clock_ahead == time::Duration::minutes(1)
    });
    assert_eq!(
        harness.state().state().sessions.len(),
        1,
        "a minute expires nothing"
    );
    harness.get_by_label("Clock +1 h").click();
    step_until(&mut harness, "the session and the cookie expired", |s| {
        s.sessions.is_empty() && s.browser_named("A").unwrap().cookies.is_empty()
    });
    click_and_wait(&mut harness, "Visit A", "A", 1);
    harness
        .get_by_label("Clock +1 h 1 min · back to real time")
        .click();
    step_until(&mut harness, "real time again", |s| s.clock_ahead.is_zero());
    assert!(
        harness
            .query_all_by_label_contains("· back to real time")
            .next()
            .is_none()
    );
}

/// What eframe keeps between launches, in memory.
#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

/// The chosen bottom tab is saved when the window closes and chosen again at the next launch.
#[test]
fn the_chosen_tab_is_remembered_across_launches() {
    let mut storage = MemoryStorage::default();
    {
        let mut harness = harness();
        harness.get_by_label("Timeline").click();
        harness.run_steps(2);
        eframe::App::save(harness.state_mut(), &mut storage);
    }
    let lab = ui_lab(1);
    let harness = Harness::builder()
        .with_size([1280.0, 720.0])
        .build_eframe(move |cc| {
            SessionLabApp::new(&cc.egui_ctx, lab, UtcOffset::UTC).restore(Some(&storage))
        });
    assert_eq!(harness.state().bottom_tab(), BottomTab::Timeline);
}

/// The Audit tab: run the audit against the embedded server, read a finding, tick Secure,
/// run again and compare: the panel says the Secure finding is fixed.
#[test]
fn an_audit_before_and_after_ticking_secure() {
    let mut harness = harness();
    harness.get_by_label("Audit").click();
    harness.run_steps(2);
    harness.get_by_label("Audit ids").set_value_accesskit(100.0);
    harness.run_steps(2);
    harness.get_by_label("Run audit").click();
    step_until(&mut harness, "the first audit finishes", |s| {
        s.audit.runs.len() == 1 && s.audit.running.is_none()
    });
    assert!(harness.state().state().audit.error.is_none());
    shows(&harness, "Session cookie “id” without Secure");
    shows(&harness, "Session id strength");
    // The probes' sessions are tagged as the audit's, not as strangers'.
    step_until(&mut harness, "the audit's sessions are tagged", |s| {
        s.sessions
            .iter()
            .filter(|row| s.made_by(row.id) == Some(Maker::Audit))
            .count()
            >= 100
    });
    // They are hidden from the table until asked for, so the student's own stay in view.
    assert!(harness.state().state().sessions.hides_made());
    assert_eq!(
        harness.query_all_by_label("Audit").count(),
        1,
        "only the tab's own label while the Audit's sessions are hidden"
    );
    harness.get_by_label("Audit and Load sessions").click();
    step_until(&mut harness, "the Audit's sessions are shown", |s| {
        !s.sessions.hides_made() && !s.sessions.is_busy()
    });
    assert!(
        harness.query_all_by_label("Audit").count() >= 2,
        "the sessions table tags rows “Audit” (besides the tab's own label)"
    );

    open_settings(&mut harness);
    harness.get_by_label("Secure").click();
    harness.run_steps(2);
    click_apply(&mut harness);
    harness.get_by_label("Run audit").click();
    step_until(&mut harness, "the second audit finishes", |s| {
        s.audit.runs.len() == 2 && s.audit.running.is_none()
    });
    harness.run_steps(3);
    // The new run is compared with the one before it without asking.
    shows(&harness, "Since run 1");
    shows(&harness, "Fixed: Session cookie “id” without Secure");

    // "nothing" shows the scorecard alone; run 1 can be chosen again by name.
    harness.get_by_label("Audit run compared").click();
    harness.run_steps(3);
    harness.get_by_label("nothing").click();
    harness.run_steps(3);
    assert!(harness.query_by_label_contains("Since run 1").is_none());
    harness.get_by_label("Audit run compared").click();
    harness.run_steps(3);
    harness
        .query_all_by_label_contains("Run 1 ·")
        .last()
        .expect("run 1 is offered")
        .click();
    harness.run_steps(3);
    shows(&harness, "Fixed: Session cookie “id” without Secure");
}

/// Reset lab takes the Audit's sessions away with the lab they filled; a session of the
/// student's own stays in the store.
#[test]
fn reset_lab_deletes_the_audits_sessions() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    harness.get_by_label("Audit").click();
    harness.run_steps(2);
    harness.get_by_label("Audit ids").set_value_accesskit(100.0);
    harness.run_steps(2);
    harness.get_by_label("Run audit").click();
    step_until(&mut harness, "the audit's sessions are tagged", |s| {
        s.audit.running.is_none() && s.made_sessions().len() >= 100
    });
    let own = harness.state().state().browser_named("A").unwrap().cookies[0]
        .session_id()
        .expect("A holds a session");
    harness.get_by_label("Lab").click();
    harness.run_steps(2);
    harness.get_by_label("Reset lab").click();
    step_until(&mut harness, "the Audit's sessions are gone", |s| {
        s.made_sessions().is_empty() && s.browsers.len() == 2
    });
    let state = harness.state().state();
    assert_eq!(state.sessions.len(), 1, "the student's own session stays");
    assert!(state.sessions.contains(own));
}

/// The Audit tab audits any server: typed in, the deliberately weak test server's worst
/// findings show with their evidence, and its sessions are not tagged as the audit's (they
/// are not the embedded server's).
#[test]
fn the_audit_tab_audits_another_server() {
    let weak = common::weak::start_in_background();
    let mut harness = harness();
    harness.get_by_label("Audit").click();
    harness.run_steps(2);
    // Replace the embedded server's URL.
    replace_text(&mut harness, "Audit target", &format!("http://{weak}/"));
    harness.get_by_label("Audit ids").set_value_accesskit(100.0);
    harness.run_steps(2);
    harness.get_by_label("Run audit").click();
    step_until(&mut harness, "the audit finishes", |s| {
        s.audit.runs.len() == 1 && s.audit.running.is_none()
    });
    assert!(harness.state().state().audit.error.is_none());
    harness.run_steps(2);
    shows(&harness, &format!("http://{weak}/ — session cookie “sid”"));
    shows(
        &harness,
        "The server adopts a session id the client invented",
    );
    shows(&harness, "The session outlives logout");
    let state = harness.state().state();
    assert!(
        state
            .sessions
            .iter()
            .all(|row| state.made_by(row.id).is_none())
    );
}

/// Export and import by clicking: A's jar, pasted into B's Import area as Playwright's
/// storageState, is previewed (with a line it cannot use named) and imported whole, and B
/// continues A's session; *Save all three* writes the files; *curl* copies the command.
#[test]
fn a_jar_goes_from_one_browser_to_another_through_the_panels() {
    let dir = std::env::temp_dir().join(format!("session-lab-ui-export-{}", std::process::id()));
    let mut harness = harness();
    harness.state_mut().set_export_dir(dir.clone());
    click_visit(&mut harness, "Visit A", "A");
    assert_eq!(
        click_visit(&mut harness, "Visit A", "A"),
        "Number of views 2"
    );
    let a = harness.state().state().browser_named("A").unwrap().id;
    let export = harness.state().state().export_browser(a).unwrap();

    harness.get_by_label("Export A").click();
    harness.run_steps(2);
    harness.get_by_label("Save all three").click();
    harness.run_steps(2);
    shows(
        &harness,
        "Saved cookies.txt, storageState.json and history.har in",
    );
    let saved = std::fs::read_to_string(dir.join("A").join("cookies.txt")).unwrap();
    assert_eq!(saved, export.cookies_txt);

    harness.get_by_label("History (2)").click();
    harness.run_steps(2);
    harness
        .query_all_by_label("Copy as curl GET /")
        .next()
        .unwrap()
        .click();
    harness.run_steps(2);
    shows(&harness, "Copied the curl command for GET /");

    harness.get_by_label("Import cookies B").click();
    harness.run_steps(2);
    // A storageState with one entry the import cannot use.
    let mut state: serde_json::Value = serde_json::from_str(&export.storage_state).unwrap();
    state["cookies"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "broken"}));
    harness.get_by_label("Import text of B").click();
    harness.run_steps(1);
    harness
        .get_by_label("Import text of B")
        .type_text(&serde_json::to_string(&state).unwrap());
    harness.run_steps(2);
    shows(
        &harness,
        "1 cookie(s) in this storageState: id (127.0.0.1/)",
    );
    shows(
        &harness,
        "Left out — cookies[1]: not a cookie (name, value and domain at least)",
    );
    let logged = harness.state().state().logged;
    harness.get_by_label("Import into B").click();
    step_until(&mut harness, "the import is logged", |s| {
        s.log_since(logged).any(|l| {
            l.text()
                .contains("Imported 1 cookie(s) from a storageState file")
        })
    });
    assert_eq!(
        click_visit(&mut harness, "Visit B", "B"),
        "Number of views 3"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Replaces the text of the field `label` with `text`, as a user would: scroll to it, click,
/// select all, type.
fn replace_text(harness: &mut Harness<'static, SessionLabApp>, label: &str, text: &str) {
    harness.get_by_label(label).scroll_to_me();
    harness.run_steps(3);
    harness.get_by_label(label).click();
    harness.run_steps(2);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness.get_by_label(label).type_text(text);
    harness.run_steps(2);
}

/// The lab between launches: a window keeps its browsers (a renamed one, a private one, cookies
/// off), jars (not the private one's), address fields and settings in its file; a new window
/// (a new lab and server) restores them all from that file.
#[test]
fn the_lab_is_kept_between_launches() {
    let dir = common::temp_dir("ui-keep");
    let path = dir.join(saved::FILE_NAME);
    {
        let mut harness = harness_keeping(Some(path.clone()), Loaded::default());
        click_visit(&mut harness, "Visit A", "A");
        let whoami = format!("{}whoami", server(&harness).url);
        replace_text(&mut harness, "Address of browser A", &whoami);
        harness.get_by_label("+ Private browser").click();
        step_until(&mut harness, "C appears", |s| {
            s.browser_named("C").is_some()
        });
        // C's panel is out of view at this width: its visit is sent as the click would.
        let c = harness.state().state().browser_named("C").unwrap().id;
        let url = server(&harness).url.clone();
        harness
            .state()
            .send(RequestCommand::Visit { browser: c, url }.into());
        step_until(&mut harness, "C holds a cookie", |s| {
            s.browser_named("C").is_some_and(|c| c.cookies.len() == 1)
        });
        let state = harness.state().state();
        let (a, b) = (
            state.browser_named("A").unwrap().id,
            state.browser_named("B").unwrap().id,
        );
        harness
            .state()
            .send(BrowserCommand::RenameBrowser(a, "Alice".into()).into());
        harness.state().send(
            BrowserCommand::SetCookiesEnabled {
                browser: b,
                enabled: false,
            }
            .into(),
        );
        step_until(&mut harness, "the rename and the switch", |s| {
            s.browser_named("Alice").is_some()
                && s.browser_named("B").is_some_and(|b| !b.cookies_enabled)
        });
        open_settings(&mut harness);
        harness.get_by_label("Secure").click();
        harness.run_steps(2);
        click_apply(&mut harness);
        step_until(&mut harness, "Secure is on", |s| {
            s.server.as_ref().is_some_and(|s| s.settings.secure)
        });
        harness.state_mut().keep_lab_and_wait();
    }
    let kept = saved::load(&path);
    assert!(kept.notice.is_none());
    let lab = kept.lab.as_ref().expect("the lab was kept");
    assert_eq!(lab.browsers.len(), 3);
    assert!(lab.browsers[2].private && lab.browsers[2].cookies.is_empty());
    assert!(
        lab.browsers[0].url.ends_with("/whoami"),
        "the address field: {}",
        lab.browsers[0].url
    );
    assert!(lab.settings.secure);

    let mut harness = harness_keeping(Some(path.clone()), kept);
    // While the kept lab is being restored, the file is not overwritten with the seed's.
    harness.state_mut().keep_lab_and_wait();
    assert_eq!(saved::load(&path).lab.unwrap().browsers.len(), 3);
    step_until(&mut harness, "the kept lab is back", |s| {
        s.browser_named("Alice")
            .is_some_and(|a| a.cookies.len() == 1)
            && s.browser_named("C").is_some_and(|c| c.private)
            && s.server.as_ref().is_some_and(|s| s.settings.secure)
    });
    let state = harness.state().state();
    assert_eq!(
        state
            .browsers
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>(),
        ["Alice", "B", "C"]
    );
    assert!(!state.browser_named("B").unwrap().cookies_enabled);
    assert!(state.browser_named("C").unwrap().cookies.is_empty());
    harness.run_steps(2);
    shows(&harness, "Alice");
    // The address field came back too, and the file still says all of it.
    assert!(
        harness
            .get_by_label("Address of browser Alice")
            .value()
            .is_some_and(|v| v.ends_with("/whoami"))
    );
    harness.state_mut().keep_lab_and_wait();
    let kept = saved::load(&path).lab.unwrap();
    assert_eq!(kept.browsers[0].name, "Alice");
    assert_eq!(kept.browsers[0].cookies.len(), 1);
    assert!(kept.browsers[0].url.ends_with("/whoami"));
    let _ = std::fs::remove_dir_all(dir);
}

/// A kept lab that cannot be read (a newer format here) is set aside with a message, and the
/// window starts with the seed's lab.
#[test]
fn an_unreadable_kept_lab_is_set_aside() {
    let dir = common::temp_dir("ui-unreadable");
    let path = dir.join(saved::FILE_NAME);
    std::fs::write(&path, r#"{"format": 7, "browsers": "?"}"#).unwrap();
    let mut harness = harness_keeping(Some(path.clone()), saved::load(&path));
    harness.run_steps(4);
    shows(&harness, "The saved lab could not be used");
    shows(&harness, "set aside");
    let aside: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("lab.json.unreadable-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old file is kept, out of the way");
    let set_aside = std::fs::read_to_string(dir.join(&aside[0])).unwrap();
    assert!(set_aside.contains("\"format\": 7"));
    assert_eq!(harness.state().state().browsers.len(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

/// The Lab menu: Save lab as… writes a file, Reset lab goes back to A and B with empty jars,
/// Open lab… brings the saved browsers and jars back.
#[test]
fn save_reset_and_open_a_lab_from_the_menu() {
    let dir = common::temp_dir("ui-menu");
    let file = dir.join("class.json");
    let mut harness = harness();
    click_visit(&mut harness, "Visit A", "A");
    harness.get_by_label("+ Browser").click();
    step_until(&mut harness, "C appears", |s| {
        s.browser_named("C").is_some()
    });

    let choose = |harness: &mut Harness<'static, SessionLabApp>, item: &str| {
        harness.get_by_label("Lab").click();
        harness.run_steps(2);
        harness.get_by_label(item).click();
        harness.run_steps(2);
    };
    let use_file = |harness: &mut Harness<'static, SessionLabApp>, button: &str| {
        replace_text(harness, "Lab file", &file.display().to_string());
        if button == "Save" {
            harness
                .get_by_label("With each browser's history (as HAR)")
                .click();
            harness.run_steps(1);
        }
        harness.get_by_label(button).click();
        // The notice's area is laid out unseen in its first frame.
        harness.run_steps(3);
    };
    choose(&mut harness, "Save lab as…");
    use_file(&mut harness, "Save");
    // The file is written off the UI thread; once it is, the notice says so.
    harness.state_mut().wait_for_lab_files();
    harness.run_steps(3);
    shows(&harness, "Saved the lab (3 browsers)");
    assert!(file.is_file());

    choose(&mut harness, "Reset lab");
    step_until(&mut harness, "the seed's lab", |s| {
        s.browsers.len() == 2
            && s.browser_named("A").is_some_and(|a| a.cookies.is_empty())
            && s.browser_named("C").is_none()
    });

    choose(&mut harness, "Open lab…");
    use_file(&mut harness, "Open");
    step_until(&mut harness, "the saved lab is back", |s| {
        s.browsers.len() == 3 && s.browser_named("A").is_some_and(|a| a.cookies.len() == 1)
    });
    // With its history: A's page and its exchange in the timeline.
    step_until(&mut harness, "A's history is back", |s| {
        let a = s.browser_named("A").unwrap();
        a.last
            .as_ref()
            .is_some_and(|e| e.body == "Number of views 1")
            && s.exchanges.iter().any(|r| r.browser == a.id)
    });
    // The restored jar carries A's session on: the count goes on.
    assert_eq!(
        click_visit(&mut harness, "Visit A", "A"),
        "Number of views 2"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A file dropped on the window, as the platform hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// A `cookies.txt` dropped on the window lands in the open Import area and is previewed;
/// dropped with no Import area open, the window says where to drop it.
#[test]
fn a_dropped_cookies_txt_is_previewed() {
    let dir = common::temp_dir("ui-drop");
    let file = dir.join("cookies.txt");
    std::fs::write(
        &file,
        "# Netscape HTTP Cookie File\n#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tid\tabc\nbroken line\n",
    )
    .unwrap();
    let mut harness = harness();
    let drop = |harness: &mut Harness<'static, SessionLabApp>| {
        harness
            .input_mut()
            .dropped_files
            .push(std::sync::Arc::new(Dropped(file.clone())));
        harness.run_steps(4);
    };
    drop(&mut harness);
    shows(&harness, "click Import on a browser's cookie jar first");
    harness.get_by_label("Import cookies A").click();
    harness.run_steps(2);
    drop(&mut harness);
    shows(&harness, "1 cookie(s) in this cookies.txt: id (127.0.0.1/)");
    shows(&harness, "Left out — line 3: 1 tab-separated fields");
    let _ = std::fs::remove_dir_all(dir);
}

/// Opens the Scenarios tab and the scenario whose title contains `title`, and waits until it
/// is set up and judged.
fn open_scenario(harness: &mut Harness<'static, SessionLabApp>, title: &str) {
    harness.get_by_label("Scenarios").click();
    harness.run_steps(2);
    bring_into_view_containing(harness, title);
    harness.get_by_label_contains(title).click();
    step_until(harness, "the scenario is set up", |s| s.judge.is_some());
    shows(harness, "Goal:");
}

/// Steps until the scenario under way is solved.
fn until_solved(harness: &mut Harness<'static, SessionLabApp>) {
    step_until(harness, "solved", |s| {
        Judge::of(s).is_some_and(|j| *j.verdict() == session_lab::scenario::judge::Verdict::Solved)
    });
}

/// The scenario's status as the lab judges it.
fn verdict(harness: &Harness<'static, SessionLabApp>) -> session_lab::scenario::judge::Verdict {
    Judge::of(harness.state().state())
        .expect("a scenario is under way")
        .verdict()
        .clone()
}

/// The race as a scenario, by clicking: a hint, Visit and Burst on the naive slow server flip
/// the status to Solved; Fix it starts over with the per-session lock, and the same clicks
/// now leave it unsolved.
#[test]
fn scenario_lost_updates_by_clicking() {
    use session_lab::scenario::judge::Verdict;
    let mut harness = harness();
    open_scenario(&mut harness, "Lost updates");
    assert!(!server_settings(&harness).lock_per_session);
    assert_eq!(server_settings(&harness).store_latency_ms, 20);
    harness.get_by_label("Hint (1 of 3)").click();
    harness.run_steps(2);
    shows(&harness, "Hint 1: Each request loads the session");
    assert!(matches!(verdict(&harness), Verdict::Open { met: 0, .. }));

    click_and_wait(&mut harness, "Visit A", "A", 1);
    harness.get_by_label("Burst A").click();
    step_until(&mut harness, "the burst solves it", |s| {
        Judge::of(s).is_some_and(|j| *j.verdict() == Verdict::Solved)
    });
    shows(&harness, "Status: Solved");
    shows(&harness, "Fix it");

    harness.get_by_label("Apply the fix and try again").click();
    step_until(&mut harness, "the scenario starts over with the fix", |s| {
        s.judge.is_some() && s.server.as_ref().unwrap().settings.lock_per_session
    });
    click_and_wait(&mut harness, "Visit A", "A", 1);
    harness.get_by_label("Burst A").click();
    step_until(&mut harness, "the burst ends, all counted", |s| {
        s.browser_named("A")
            .unwrap()
            .last_burst
            .as_ref()
            .is_some_and(|b| b.safe == Some(true))
    });
    assert!(matches!(verdict(&harness), Verdict::Open { .. }));
    shows(&harness, "With the fix applied: not solved");
}

/// Hijacking as a scenario, by clicking: the victim's three visits are played when it opens;
/// copying the victim's cookie, an hour on the clock and a visit solve it; with the fix (a
/// ten-minute idle timeout) the same clicks give the attacker a fresh session instead.
#[test]
fn scenario_hijack_by_clicking() {
    use session_lab::scenario::judge::Verdict;
    let mut harness = harness();
    open_scenario(&mut harness, "Hijacking a session");
    for fixed in [false, true] {
        harness.run_steps(2);
        harness.get_by_label("Number of views 3"); // the victim's setup
        harness
            .get_by_label("Actions for cookie id of Victim")
            .click();
        harness.run_steps(3);
        harness
            .get_by_label("Copy cookie id of Victim to Attacker")
            .click();
        step_until(&mut harness, "the attacker holds the cookie", |s| {
            s.browser_named("Attacker").unwrap().cookies.len() == 1
        });
        harness.get_by_label("Clock +1 h").click();
        step_until(&mut harness, "an hour passed", |s| {
            s.clock_ahead >= time::Duration::hours(1)
        });
        let body = click_visit(&mut harness, "Visit Attacker", "Attacker");
        if fixed {
            assert_eq!(body, "Number of views 1", "the stolen cookie was worthless");
            step_until(&mut harness, "the lab settles", LabState::is_idle);
            assert!(matches!(verdict(&harness), Verdict::Open { .. }));
            shows(&harness, "With the fix applied: not solved");
        } else {
            assert_eq!(body, "Number of views 4");
            until_solved(&mut harness);
            shows(&harness, "Status: Solved");
            harness.get_by_label("Apply the fix and try again").click();
            step_until(&mut harness, "it starts over with the fix", |s| {
                s.judge.is_some()
                    && s.clock_ahead.is_zero()
                    && s.browser_named("Victim")
                        .is_some_and(|v| v.last.as_ref().is_some_and(|e| e.body.ends_with('3')))
            });
        }
    }
}

/// The seed as a scenario, by clicking: Visit A three times and B once; the checklist ticks
/// and the status says Solved; a lesson without an attack offers no fix.
#[test]
fn scenario_two_sessions_by_clicking() {
    use session_lab::scenario::judge::Verdict;
    let mut harness = harness();
    open_scenario(&mut harness, "Two browsers, two sessions");
    shows(&harness, "Not yet: A's page says “Number of views 3”");
    for views in 1..=3 {
        click_and_wait(&mut harness, "Visit A", "A", views);
    }
    assert!(matches!(verdict(&harness), Verdict::Open { .. }));
    click_and_wait(&mut harness, "Visit B", "B", 1);
    until_solved(&mut harness);
    shows(&harness, "Status: Solved");
    shows(&harness, "Done: A and B each have a session of their own");
    shows(&harness, "Two browsers, two sessions (solved)");
    assert!(
        harness
            .query_by_label("Apply the fix and try again")
            .is_none()
    );

    // The progress is kept with the lab, and a window that opens it shows it again.
    let saved = harness.state().state().snapshot(|_| None, false);
    assert_eq!(saved.solved_scenarios, ["two-sessions"]);
    let mut reopened = harness_keeping(
        None,
        Loaded {
            lab: Some(saved),
            ..Loaded::default()
        },
    );
    reopened.get_by_label("Scenarios").click();
    reopened.run_steps(2);
    shows(&reopened, "Two browsers, two sessions (solved)");
    assert!(
        reopened
            .query_by_label_contains("Lost updates: parallel requests of one session (solved)")
            .is_none()
    );
}

/// CSRF as a scenario, by clicking: the attacker's page is written in the Other site tab and
/// the Victim lured to it; its self-submitting form changes alice's e-mail under SameSite=None
/// and the status says Solved. Applying the fix keeps the page; Replay plays the same clicks
/// again, finds nobody logged in, and the status says why in a sentence; Reset goes back to
/// the server without the fix.
#[test]
fn scenario_csrf_form_by_clicking() {
    use session_lab::scenario::judge::Verdict;
    let mut harness = harness();
    open_scenario(&mut harness, "forgery by a form");
    harness.get_by_label("Other site").click();
    harness.run_steps(2);
    replace_text(
        &mut harness,
        "Attacker's page",
        "<form action=\"https://app.lab.test/account/email\" method=\"post\">\
         <input name=\"email\" value=\"mallory@other-site.test\"></form>\
         <script>document.forms[0].submit()</script>",
    );
    harness.get_by_label("Publish").click();
    let published = |s: &LabState| {
        s.attacker_page
            .as_ref()
            .is_some_and(|p| p.html.contains("forms[0].submit()"))
    };
    step_until(&mut harness, "the page is served", published);
    harness.get_by_label("Lure Victim").click();
    let victim_done = |s: &LabState| {
        s.browser_named("Victim").is_some_and(|v| {
            v.in_flight == 0
                && v.last
                    .as_ref()
                    .is_some_and(|e| e.url.ends_with("/account/email"))
        })
    };
    step_until(&mut harness, "the victim's browser is done", victim_done);
    let body = |harness: &Harness<'static, SessionLabApp>| {
        let state = harness.state().state();
        state
            .browser_named("Victim")
            .unwrap()
            .last
            .clone()
            .unwrap()
            .body
    };
    assert_eq!(
        body(&harness),
        "The e-mail address of alice is now mallory@other-site.test."
    );
    // The Victim's address bar says where it is now: the form's target, not where it was
    // before the lure.
    harness.run_steps(2);
    let address = harness
        .get_by_label("Address of browser Victim")
        .value()
        .unwrap_or_default();
    assert!(
        address.starts_with("https://app.lab.test") && address.ends_with("/account/email"),
        "{address}"
    );
    harness.get_by_label("Scenarios").click();
    harness.run_steps(2);
    until_solved(&mut harness);
    shows(&harness, "Status: Solved");

    harness.get_by_label("Apply the fix and try again").click();
    step_until(&mut harness, "it starts over with the fix", |s| {
        s.judge.is_some()
            && s.server.as_ref().unwrap().settings.same_site
                == session_lab::server::SameSitePolicy::Lax
            && s.browser_named("Victim").is_some_and(|v| {
                v.last
                    .as_ref()
                    .is_some_and(|e| e.body.starts_with("Logged in"))
            })
    });
    // The attacker's page is still the one written, and no restart warning was logged.
    assert!(published(harness.state().state()));
    assert!(
        harness
            .state()
            .state()
            .log
            .iter()
            .all(|line| !line.text().contains("Server restarted")),
        "a restart the student asked for is not a warning"
    );
    harness.run_steps(2);
    harness.get_by_label("Replay your attack (2 steps)").click();
    step_until(&mut harness, "the replay is done", |s| {
        victim_done(s)
            && s.browser_named("Victim")
                .unwrap()
                .last
                .as_ref()
                .unwrap()
                .body
                .starts_with("Not logged in")
    });
    step_until(&mut harness, "the lab settles", LabState::is_idle);
    harness.run_steps(3);
    assert!(matches!(verdict(&harness), Verdict::Open { .. }));
    shows(
        &harness,
        "With the fix applied, your attack (2 steps, replayed) failed: SameSite=Lax",
    );

    // Reset: the scenario without its fix.
    harness.get_by_label("Reset").click();
    step_until(&mut harness, "it starts over without the fix", |s| {
        s.judge.is_some()
            && s.server.as_ref().unwrap().settings.same_site
                == session_lab::server::SameSitePolicy::None
    });
    assert!(Judge::of(harness.state().state()).is_some_and(|j| !j.fixed()));
}

/// A teacher's own scenario, opened from the tab by its path: it joins the list and opens with
/// its goal; a file that is not a scenario says why and opens nothing.
#[test]
fn a_scenario_file_opens_from_the_tab() {
    let dir = common::temp_dir("scenario-file");
    let path = dir.join("lesson.toml");
    let text = include_str!("../scenarios/two-sessions.toml")
        .replace("id = \"two-sessions\"", "id = \"my-lesson\"")
        .replace("title = \"", "title = \"My lesson: ");
    std::fs::write(&path, text).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "id = 3").unwrap();

    let mut harness = harness();
    harness.get_by_label("Scenarios").click();
    harness.run_steps(2);
    replace_text(&mut harness, "Scenario file", &bad.display().to_string());
    harness.get_by_label("Open scenario file").click();
    harness.run_steps(2);
    harness
        .get_by_label_contains("Could not open the scenario")
        .scroll_to_me();
    harness.run_steps(2);
    shows(&harness, "Could not open the scenario");
    assert!(harness.state().state().judge.is_none());

    replace_text(&mut harness, "Scenario file", &path.display().to_string());
    harness.get_by_label("Open scenario file").click();
    step_until(&mut harness, "the scenario is set up", |s| {
        Judge::of(s).is_some_and(|j| j.scenario().id == "my-lesson")
    });
    shows(&harness, "Goal:");
    shows(&harness, "My lesson:");
    let _ = std::fs::remove_dir_all(dir);
}

/// The session kept in the cookie, by clicking: *Session kept in → The cookie itself*, Apply.
/// A visits twice and B once: the counters diverge, yet the store lists no session, and A's
/// cookie table shows the data anyone can read ({"views":2}). A copy of A's cookie goes to B;
/// A logs out (its jar empties), and B's copy still counts on: logout cannot revoke it.
#[test]
fn sessions_kept_in_the_cookie_by_clicking() {
    let mut harness = harness();
    open_settings(&mut harness);
    harness.get_by_label("The cookie itself").scroll_to_me();
    harness.run_steps(3);
    harness.get_by_label("The cookie itself").click();
    harness.run_steps(2);
    click_apply(&mut harness);
    assert_eq!(
        server_settings(&harness).kept_in,
        session_lab::server::KeptIn::Cookie
    );
    // The settings panel closed again, so both browsers are in view.
    // (The header's toggle comes first; the panel's heading has the same words.)
    harness
        .query_all_by_label("Server settings")
        .next()
        .unwrap()
        .click();
    harness.run_steps(3);
    click_and_wait(&mut harness, "Visit A", "A", 1);
    click_and_wait(&mut harness, "Visit A", "A", 2);
    click_and_wait(&mut harness, "Visit B", "B", 1);
    harness.get_by_label("Server sessions (0)");
    shows(&harness, "each session is kept in its browser's cookie");
    shows(&harness, r#"→ {"views":2}"#);
    // The value gives way to the data, so A's cookie table keeps within its panel.
    let panel_edge = harness.get_by_label("Visit A").rect().max.x;
    let size_column = harness.query_all_by_label("Size").next().unwrap().rect();
    assert!(
        size_column.max.x <= panel_edge,
        "A's cookie table runs past its panel: Size at {size_column:?}, the panel's edge at x = \
         {panel_edge}"
    );
    harness.get_by_label("Actions for cookie id of A").click();
    harness.run_steps(3);
    harness.get_by_label("Copy cookie id of A to B").click();
    step_until(&mut harness, "B holds A's cookie", |s| {
        s.browser_named("B").unwrap().cookies[0].cookie.value
            == s.browser_named("A").unwrap().cookies[0].cookie.value
    });
    harness.get_by_label("Logout A").click();
    step_until(&mut harness, "A is logged out", |s| {
        let a = s.browser_named("A").unwrap();
        a.last
            .as_ref()
            .is_some_and(|e| e.body.starts_with("Logged out"))
            && a.cookies.is_empty()
    });
    click_and_wait(&mut harness, "Visit B", "B", 3);
    harness.get_by_label("Server sessions (0)");
}

/// Every control a hint may name (`scenario::labels::WINDOW_LABELS`) is in the window, found
/// where a student would look for it; a label without a place here fails the test, so the
/// list cannot name a control the window lost.
#[test]
fn every_control_a_hint_may_name_is_in_the_window() {
    use session_lab::scenario::labels::WINDOW_LABELS;
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    let cookie = harness.state().state().browser_named("A").unwrap().cookies[0]
        .cookie
        .name
        .clone();
    let who = format!("{cookie} of A");
    for label in WINDOW_LABELS {
        // Where the control is, and the name it answers to there.
        let name = match *label {
            "Visit" | "Copy" | "Home" | "Login" | "Logout" | "Account" | "Regenerate"
            | "Whoami" | "Burst" => match *label {
                "Copy" => "Copy address of browser A".to_owned(),
                _ => format!("{label} A"),
            },
            "Submit" | "Links" => {
                harness.get_by_label("Login A").click();
                step_until(&mut harness, "logged in", |s| {
                    s.browser_named("A").is_some_and(|a| a.in_flight == 0)
                });
                harness.get_by_label("Account A").click();
                step_until(&mut harness, "the account page", |s| {
                    s.browser_named("A")
                        .is_some_and(|a| a.in_flight == 0 && !a.forms.is_empty())
                });
                match *label {
                    "Links" => "Links".to_owned(),
                    _ => "Submit A".to_owned(),
                }
            }
            "+ Browser" | "Server settings" | "Scenarios" | "Timeline" | "Other site" => {
                (*label).to_owned()
            }
            "…" => format!("Actions for cookie {who}"),
            "Copy to browser {browser}" | "Edit value (tamper)" | "Delete" => {
                bring_into_view(&mut harness, &format!("Actions for cookie {who}"));
                harness
                    .get_by_label(&format!("Actions for cookie {who}"))
                    .click();
                harness.run_steps(2);
                let name = match *label {
                    "Delete" => format!("Delete cookie {who}"),
                    "Edit value (tamper)" => format!("Edit cookie {who}"),
                    _ => format!("Copy cookie {who} to B"),
                };
                let text = label.replace("{browser}", "B");
                assert!(
                    harness.query_by_label(&name).is_some(),
                    "“{text}” is not in the cookie's menu"
                );
                harness.key_press(egui::Key::Escape);
                harness.run_steps(2);
                continue;
            }
            "Save" => {
                harness
                    .get_by_label(&format!("Actions for cookie {who}"))
                    .click();
                harness.run_steps(2);
                harness.get_by_label(&format!("Edit cookie {who}")).click();
                harness.run_steps(2);
                format!("Save cookie {who}")
            }
            "Clear" => "Clear cookies A".to_owned(),
            "+1 min" | "+5 min" | "+30 min" | "+1 h" | "+1 day" => format!("Clock {label}"),
            "Publish" | "Send http://other-site.test/ to" | "Send http://sandbox.lab.test/ to" => {
                harness.get_by_label("Other site").click();
                harness.run_steps(2);
                (*label).to_owned()
            }
            "{browser}" => {
                harness.get_by_label("Other site").click();
                harness.run_steps(2);
                "Lure A".to_owned()
            }
            "Rotate gracefully" | "Rotate at once" | "Apply" => {
                if harness.query_by_label("Apply settings").is_none() {
                    harness.get_by_label("Server settings").click();
                    harness.run_steps(2);
                }
                match *label {
                    "Apply" => "Apply settings".to_owned(),
                    _ => (*label).to_owned(),
                }
            }
            other => panic!("no place is known for the label “{other}”: add one to this test"),
        };
        assert!(
            harness.query_by_label(&name).is_some(),
            "the window has no “{label}” (looked for {name})"
        );
    }
}

/// Ids are one click away, whole, and two of them side by side: a click on a cookie's value
/// or a session id pins it above the sessions table.
#[test]
fn ids_are_pinned_whole_and_compared() {
    let mut harness = harness();
    let state = a_and_b_visited_once(&mut harness);
    let a = state.browser_named("A").unwrap();
    let cookie = &a.cookies[0].cookie;
    harness
        .get_by_label(&format!("{}…", &cookie.value[..8]))
        .click();
    harness.run_steps(2);
    let b_session = state.browser_named("B").unwrap().session().unwrap();
    harness.get_by_label(&short(&b_session.to_string())).click();
    harness.run_steps(2);
    // Whole, each under what it is.
    harness.get_by_label(&cookie.value);
    harness.get_by_label(&format!("{} of A:", cookie.name));
    harness.get_by_label(&b_session.to_string());
    harness.get_by_label("session id:");
    // A third pushes the oldest out; × unpins.
    let a_session = a.session().unwrap();
    harness.get_by_label(&short(&a_session.to_string())).click();
    harness.run_steps(2);
    assert!(harness.query_by_label(&cookie.value).is_none());
    harness.get_by_label(&a_session.to_string());
    harness
        .get_all_by_label("Unpin session id")
        .next()
        .unwrap()
        .click();
    harness.run_steps(2);
    assert_eq!(harness.query_all_by_label("Unpin session id").count(), 1);
}

/// In a scenario, Login logs a browser in to the account the scenario gives it (the Victim is
/// alice in session fixation), not under the browser's name; outside one, under its name.
#[test]
fn login_in_a_scenario_uses_the_scenarios_account() {
    let mut harness = harness();
    open_scenario(&mut harness, "Session fixation");
    step_until(&mut harness, "the setup is played", LabState::is_idle);
    // Outside a scenario's accounts, the browser's name is the user (as a URL word).
    for (browser, user) in [("Victim", "alice"), ("Attacker", "attacker")] {
        bring_into_view(&mut harness, &format!("Login {browser}"));
        harness.get_by_label(&format!("Login {browser}")).click();
        step_until(&mut harness, "logged in", |s| {
            s.browser_named(browser).is_some_and(|b| {
                b.in_flight == 0
                    && b.last
                        .as_ref()
                        .is_some_and(|e| e.url.ends_with(&format!("/login?user={user}")))
            })
        });
    }
}

/// A page's links are one click: ending the other sessions from the account page's link, as
/// a student would; the checklist does not count the setup's pages as the student's.
#[test]
fn a_pages_links_are_followed_by_a_click() {
    let mut harness = harness();
    open_scenario(&mut harness, "Ending a user's other sessions");
    step_until(&mut harness, "the setup is played", LabState::is_idle);
    harness.run_steps(2);
    shows(&harness, "Not yet: Attacker's page comes after Victim's");
    bring_into_view(&mut harness, "Account Victim");
    harness.get_by_label("Account Victim").click();
    step_until(&mut harness, "the account page", |s| {
        s.browser_named("Victim")
            .is_some_and(|v| !v.links.is_empty() && v.in_flight == 0)
    });
    harness.run_steps(2);
    bring_into_view(&mut harness, "Link /logout-others Victim");
    harness.get_by_label("Link /logout-others Victim").click();
    step_until(&mut harness, "the others are logged out", |s| {
        s.browser_named("Victim").is_some_and(|v| {
            v.last
                .as_ref()
                .is_some_and(|e| e.body.contains("this one stays"))
        })
    });
    bring_into_view(&mut harness, "Whoami Attacker");
    harness.get_by_label("Whoami Attacker").click();
    until_solved(&mut harness);
}

/// The burst's size is a menu (a number field looked like a button): 5 chosen, Burst sends 5.
#[test]
fn the_burst_size_is_chosen_from_a_menu() {
    let mut harness = harness();
    click_and_wait(&mut harness, "Visit A", "A", 1);
    bring_into_view(&mut harness, "Burst size A");
    harness.get_by_label("Burst size A").click();
    harness.run_steps(2);
    harness.get_by_label("5 at once").click();
    harness.run_steps(2);
    harness.get_by_label("Burst A").click();
    step_until(&mut harness, "the burst is done", |s| {
        s.browser_named("A")
            .and_then(|a| a.last_burst.as_ref())
            .is_some_and(|b| b.sent == 5)
    });
}

/// Watch a store, as a user: type the Redis address of an axum app on tower-sessions' Redis
/// store into "Store address", click Watch; point browser A at the app and Visit twice, B
/// once: the table switches to "Your app's sessions (2)", names the framework, and shows each
/// session's own id with the browser that holds it and what it holds.
#[test]
fn watching_your_apps_store_shows_its_sessions_and_their_holders() {
    use common::axum_app::{AxumApp, AxumStore};
    let Some(redis) = common::RedisServer::start() else {
        return;
    };
    let app = AxumApp::start(AxumStore::Redis(redis.url()));
    let mut harness = harness();
    harness.get_by_label("Your app…").click();
    harness.run_steps(2);
    replace_text(&mut harness, "Store address", &redis.url());
    harness.get_by_label("Watch").click();
    step_until(&mut harness, "the lab watches the store", |s| {
        s.watched
            .as_ref()
            .is_some_and(|w| w.status.waiting.is_some() || w.status.format.is_some())
    });
    for (name, visits) in [("A", 2), ("B", 1)] {
        replace_text(
            &mut harness,
            &format!("Address of browser {name}"),
            &app.url,
        );
        for _ in 0..visits {
            let body = click_visit(&mut harness, &format!("Visit {name}"), name);
            assert!(body.starts_with("Number of views"), "{body}");
        }
    }
    step_until(
        &mut harness,
        "both sessions are listed with their holders",
        |s| {
            s.watched.as_ref().is_some_and(|w| {
                w.sessions.len() == 2 && w.sessions.iter().all(|r| w.holders.of(r.id).len() == 1)
            })
        },
    );
    harness.get_by_label("Your app's sessions (2)");
    harness.get_by_label_contains("tower-sessions ·");
    let state = harness.state().state().clone();
    let watched = state.watched.as_ref().unwrap();
    for view in watched.sessions.iter() {
        harness.get_by_label(watched.key(view.id).unwrap());
    }
    harness.get_by_label(r#"{"views":2}"#);
    harness.get_by_label(r#"{"views":1}"#);
    // The lab's own server is one click away, and back.
    harness.get_by_label("Lab server").click();
    harness.run_steps(2);
    harness.get_by_label_contains("Server sessions (");
    harness.get_by_label("Your app's store").click();
    harness.run_steps(2);
    harness.get_by_label("Your app's sessions (2)");
}
