//! What the window costs per frame while the store is big and busy, as a user feels it:
//! 16 browsers with cookies and responses, then a client outside the window sending 100,000
//! new sessions, then 1,000,000. Headless (egui_kittest, no GPU): this measures the UI thread's
//! own work per frame (draining the lab, layout of every panel), not the GPU's drawing.
//!
//! Reported: frame CPU time (p50, p99) while the sessions arrive and after; the time from the
//! load's end until the lab's state shows every session; a sort and a filter on a million
//! sessions; this process's RSS next to a `serve` process holding the same sessions.
//!
//! `cargo bench --bench ui_frame` (also run by `bench/run.sh`). `UI_BENCH_SESSIONS` changes
//! the big store's size (default 1,000,000).

use std::{
    process::{Command as Process, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use egui_kittest::Harness;
use session_lab::lab::RequestCommand;
use session_lab::{
    lab::{Lab, LabConfig, LabState, SessionSort, SortColumn},
    server::{Secret, ServerConfig},
    ui::SessionLabApp,
};
use time::UtcOffset;

/// The allocator the app itself uses (see main.rs), so the memory measured is the app's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BROWSERS: usize = 16;
const BUSY_SESSIONS: usize = 100_000;
const SETTLED_FRAMES: usize = 300;

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Resident memory of a process, from /proc.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Frame times, summed up.
struct Frames {
    cpu: Vec<Duration>,
}

impl Frames {
    fn new() -> Self {
        Self { cpu: Vec::new() }
    }

    fn step(&mut self, harness: &mut Harness<'static, SessionLabApp>) {
        let started = thread_cpu();
        harness.step();
        self.cpu.push(thread_cpu() - started);
    }

    fn summary(&mut self) -> String {
        self.cpu.sort();
        let at = |q: f64| {
            self.cpu[((self.cpu.len() as f64 * q) as usize).min(self.cpu.len() - 1)].as_secs_f64()
                * 1000.0
        };
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} frames",
            at(0.5),
            at(0.99),
            at(1.0),
            self.cpu.len()
        )
    }
}

/// Sends `visits` cookieless visits to `url` from a client outside the window, 64 at a time,
/// on threads of its own; `done` is set when they are all answered.
fn load_from_outside(
    url: String,
    visits: usize,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            // reqwest is built without a TLS provider of its own (the crate picks ring).
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .user_agent("curl/8.0 (ui bench)")
                .build()
                .expect("a client");
            let next = Arc::new(AtomicUsize::new(0));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..64 {
                let (client, url, next) = (client.clone(), url.clone(), next.clone());
                tasks.spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < visits {
                        if let Ok(response) = client.get(&url).send().await {
                            let _ = response.bytes().await;
                        }
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
        });
        done.store(true, Ordering::Release);
    })
}

fn step_until(harness: &mut Harness<'static, SessionLabApp>, done: impl Fn(&LabState) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !done(harness.state().state()) {
        assert!(
            Instant::now() < deadline,
            "the lab did not get there in time"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Loads `visits` new sessions from outside while stepping frames; returns the frames and how
/// long after the load's end the state showed `expected` sessions.
fn busy(
    harness: &mut Harness<'static, SessionLabApp>,
    url: &str,
    visits: usize,
    expected: usize,
) -> (Frames, Duration, Duration) {
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let loader = load_from_outside(url.to_owned(), visits, done.clone());
    let mut frames = Frames::new();
    while !done.load(Ordering::Acquire) {
        frames.step(harness);
        // About 120 frames a second while busy, as a window woken by every change would be.
        std::thread::sleep(Duration::from_millis(8));
    }
    let load_took = started.elapsed();
    let ended = Instant::now();
    loader.join().expect("the load ran");
    while harness.state().state().sessions.len() < expected {
        frames.step(harness);
        assert!(ended.elapsed() < Duration::from_secs(120), "caught up");
    }
    (frames, ended.elapsed(), load_took)
}

fn settled(harness: &mut Harness<'static, SessionLabApp>) -> Frames {
    for _ in 0..20 {
        harness.step(); // warm-up
    }
    let mut frames = Frames::new();
    for _ in 0..SETTLED_FRAMES {
        frames.step(harness);
    }
    frames
}

/// Starts `session-lab serve` and loads it with `sessions` new sessions; returns its RSS.
fn serve_rss_mb(sessions: usize) -> f64 {
    let mut child = Process::new(env!("CARGO_BIN_EXE_session-lab"))
        .args(["serve", "--quiet", "--port", "0"])
        .env("SESSION_LAB_SECRET", "ui bench")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    while !line.contains("http://") {
        line.clear();
        std::io::BufRead::read_line(&mut out, &mut line).expect("serve prints its address");
    }
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL")
        .to_owned();
    let done = Arc::new(AtomicBool::new(false));
    load_from_outside(url, sessions, done)
        .join()
        .expect("the load ran");
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    rss
}

fn main() {
    let big: usize = std::env::var("UI_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
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
    // Every browser visits once, so each panel has a response and a cookie to draw.
    let ids: Vec<_> = harness
        .state()
        .state()
        .browsers
        .iter()
        .map(|b| b.id)
        .collect();
    for id in ids {
        harness.state_mut().send(
            RequestCommand::Visit {
                browser: id,
                url: url.clone(),
            }
            .into(),
        );
    }
    step_until(&mut harness, |s| {
        s.sessions.len() == BROWSERS
            && s.is_idle()
            && s.browsers.iter().all(|b| !b.cookies.is_empty())
    });
    let pid = std::process::id();
    let rss_start = rss_mb(pid);

    let (mut during, catch_up, took) =
        busy(&mut harness, &url, BUSY_SESSIONS, BROWSERS + BUSY_SESSIONS);
    println!(
        "ui frames while {BUSY_SESSIONS} new sessions arrive from outside ({:.1} s), {BROWSERS} browsers: {}",
        took.as_secs_f64(),
        during.summary()
    );
    println!(
        "catch-up: the state shows every session {:.0} ms after the load ends (target: at most 1000 ms)",
        catch_up.as_secs_f64() * 1000.0
    );
    println!(
        "ui frame settled, {BROWSERS} browsers and {} sessions: {} (targets: p50 <= 4 ms, p99 <= 16 ms)",
        harness.state().state().sessions.len(),
        settled(&mut harness).summary()
    );

    let more = big.saturating_sub(BUSY_SESSIONS);
    let (mut during_big, catch_up_big, took_big) = busy(&mut harness, &url, more, BROWSERS + big);
    println!(
        "ui frames while {more} more arrive ({:.1} s): {}; caught up {:.0} ms after",
        took_big.as_secs_f64(),
        during_big.summary(),
        catch_up_big.as_secs_f64() * 1000.0
    );
    println!(
        "ui frame settled with {} sessions: {} (target: p99 <= 33 ms)",
        harness.state().state().sessions.len(),
        settled(&mut harness).summary()
    );

    // Sorting and filtering a million sessions: the frames from the user's change until the
    // table shows the result (built a slice per frame, or sorted on a thread of its own).
    let view_changes = |harness: &mut Harness<'static, SessionLabApp>, what: &str| {
        let started = Instant::now();
        let mut frames = Frames::new();
        frames.step(harness);
        while harness.state().state().sessions.is_busy() {
            frames.step(harness);
        }
        let state = harness.state().state();
        println!(
            "{what}: done in {:.0} ms, showing {} of {}; frames {}",
            started.elapsed().as_secs_f64() * 1000.0,
            state.sessions.shown_len(),
            state.sessions.len(),
            frames.summary()
        );
    };
    for (what, sort) in [
        (
            "sort by updated, newest first",
            SessionSort {
                column: SortColumn::Updated,
                descending: true,
            },
        ),
        (
            "sort by expires",
            SessionSort {
                column: SortColumn::Expires,
                descending: false,
            },
        ),
        ("sort by created", SessionSort::default()),
    ] {
        harness.state_mut().sort_sessions(sort);
        view_changes(&mut harness, what);
    }
    // As typed, a keystroke at a time.
    for filter in [
        "e",
        "ex",
        "ext",
        "external",
        "",
        "d",
        "da",
        "data:\"views\":1",
        "",
        "A",
        "Ab",
        "",
        "@a",
        "",
    ] {
        harness.state_mut().filter_sessions(filter);
        view_changes(&mut harness, &format!("filter “{filter}”"));
    }

    let window_rss = rss_mb(pid);
    let serve_rss = serve_rss_mb(big);
    println!(
        "RSS with {big} sessions: headless window {window_rss:.0} MB (started at {rss_start:.0} MB), `serve` {serve_rss:.0} MB; window / (2 × serve + 100 MB) = {:.2} (target: at most 1)",
        window_rss / (2.0 * serve_rss + 100.0)
    );
}
