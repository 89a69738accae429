//! How much CPU one frame of the window costs when the lab is busy: 16 browsers with cookies
//! and responses, 10,000 sessions in the store. Headless (egui_kittest, no GPU): this measures
//! the UI's own work per frame (layout of every panel, our code), not the GPU's drawing.
//!
//! `cargo bench --bench ui_frame` (also run by `bench/run.sh`).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use session_lab::{
    lab::{
        Command, Lab, LabConfig, LabState,
        load::{self, LoadPlan},
    },
    server::{Secret, ServerConfig},
    ui::SessionLabApp,
};
use time::UtcOffset;

const BROWSERS: usize = 16;
const SESSIONS: usize = 10_000;
const FRAMES: usize = 300;

fn step_until(harness: &mut Harness<'static, SessionLabApp>, done: impl Fn(&LabState) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(harness.state().state()) {
        assert!(
            Instant::now() < deadline,
            "the lab did not get busy in time"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    let lab = Lab::start(LabConfig {
        bind: "127.0.0.1:0".parse().expect("an address"),
        server: ServerConfig::with_secret(Secret::from_phrase("ui bench")),
        browsers: BROWSERS,
        store: Default::default(),
        instances: 1,
    })
    .expect("the lab starts");
    let url = lab.server_url().expect("the server runs");
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| SessionLabApp::new(&cc.egui_ctx, lab, UtcOffset::UTC));
    step_until(&mut harness, |s| s.browsers.len() == BROWSERS);

    // Fill the store from outside the window: 10,000 cookie-less visits, 10,000 sessions.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime
        .block_on(load::run(
            &LoadPlan {
                url: url.clone(),
                visits: SESSIONS,
                browsers: 1,
                concurrency: 64,
                cookies: false,
            },
            |_| {},
        ))
        .expect("the store fills");
    // Every browser visits once, so each panel has a response and a cookie to draw.
    let ids: Vec<_> = harness
        .state()
        .state()
        .browsers
        .iter()
        .map(|b| b.id)
        .collect();
    for id in ids {
        harness.state_mut().send(Command::Visit {
            browser: id,
            url: url.clone(),
        });
    }
    step_until(&mut harness, |s| {
        s.sessions.len() >= SESSIONS + BROWSERS
            && s.is_idle()
            && s.browsers.iter().all(|b| !b.cookies.is_empty())
    });
    for _ in 0..20 {
        harness.step(); // warm-up
    }

    let mut frames: Vec<Duration> = (0..FRAMES)
        .map(|_| {
            let started = Instant::now();
            harness.step();
            started.elapsed()
        })
        .collect();
    frames.sort();
    let total: Duration = frames.iter().sum();
    let mean = total / FRAMES as u32;
    let p50 = frames[FRAMES / 2];
    let p99 = frames[FRAMES * 99 / 100];
    let state = harness.state().state();
    println!(
        "ui frame with {} browsers and {} sessions: mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms over {FRAMES} frames (target: under 4 ms)",
        state.browsers.len(),
        state.sessions.len(),
        mean.as_secs_f64() * 1000.0,
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
    );
}
