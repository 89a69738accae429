//! Load from the lab: many visits from many new browsers at once, timed, so users can feel the
//! server's speed (and count lost updates) without leaving the window. The `load` command and
//! the benchmark use the same code.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crate::browser::{Browser, BrowserError, VisitOptions};

use super::USER_AGENT_PREFIX;

/// The most visits one load may send.
pub const MAX_VISITS: usize = 1_000_000;

/// What to send.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// Where.
    pub url: String,
    /// How many visits in all.
    pub visits: usize,
    /// How many browsers share them (round-robin); each has its own jar.
    pub browsers: usize,
    /// How many visits are in flight at once.
    pub concurrency: usize,
    /// Whether the browsers keep cookies (off: every visit is a new session).
    pub cookies: bool,
    /// The lab the browsers belong to (its tag, see [`super::Lab::tag`]), so it can tell its
    /// own requests from everyone else's; `None` for a load from outside any lab.
    pub lab: Option<String>,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadReport {
    /// Visits answered.
    pub visits: usize,
    /// Visits that failed (no answer, or a 5xx).
    pub errors: usize,
    /// Wall time of the whole load.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
    /// Slowest visit.
    pub max: Duration,
}

impl LoadReport {
    /// Answered visits per second.
    pub fn requests_per_sec(&self) -> f64 {
        self.visits as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// One line for the log and the terminal.
    pub fn summary(&self) -> String {
        let errors = if self.errors == 0 {
            String::new()
        } else {
            format!(", {} failed", self.errors)
        };
        format!(
            "{} visits in {:.2} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms{errors}",
            self.visits,
            self.elapsed.as_secs_f64(),
            self.requests_per_sec(),
            millis(self.p50),
            millis(self.p99),
            millis(self.max),
        )
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Sends the plan's visits and reports; `progress(done)` is called about ten times a second.
pub async fn run(
    plan: &LoadPlan,
    progress: impl Fn(usize) + Send + Sync + 'static,
) -> Result<LoadReport, BrowserError> {
    let browsers = browsers(plan)?;
    run_with(plan, &browsers, progress).await
}

/// The plan's browsers, fresh.
pub fn browsers(plan: &LoadPlan) -> Result<Vec<Browser>, BrowserError> {
    (0..plan.browsers.clamp(1, plan.visits.max(1)))
        .map(|n| {
            let lab = plan
                .lab
                .as_deref()
                .map(|tag| format!("; lab {tag}"))
                .unwrap_or_default();
            let browser = Browser::new(&format!(
                "{USER_AGENT_PREFIX}{} (load browser #{n}{lab})",
                env!("CARGO_PKG_VERSION")
            ))?;
            browser.set_cookies_enabled(plan.cookies);
            Ok(browser)
        })
        .collect()
}

/// Sends the plan's visits with the given browsers.
pub async fn run_with(
    plan: &LoadPlan,
    browsers: &[Browser],
    progress: impl Fn(usize) + Send + Sync + 'static,
) -> Result<LoadReport, BrowserError> {
    crate::browser::parse_http_url(&plan.url)?;
    let total = plan.visits.min(MAX_VISITS);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(progress);
    let started = Instant::now();
    let reporter = {
        let (done, progress) = (done.clone(), progress.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                progress(done.load(Ordering::Relaxed));
            }
        })
    };
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..plan.concurrency.clamp(1, total.max(1)) {
        let (next, done) = (next.clone(), done.clone());
        let browsers = browsers.to_vec();
        let url = plan.url.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    break;
                }
                let browser = &browsers[index % browsers.len()];
                let sent = Instant::now();
                match browser.visit(&url, VisitOptions::default()).await {
                    Ok(hops) if hops.last().is_some_and(|e| e.status < 500) => {
                        latencies.push(sent.elapsed());
                    }
                    _ => errors += 1,
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    while let Some(joined) = workers.join_next().await {
        if let Ok((mut worker_latencies, worker_errors)) = joined {
            latencies.append(&mut worker_latencies);
            errors += worker_errors;
        }
    }
    let elapsed = started.elapsed();
    reporter.abort();
    progress(done.load(Ordering::Relaxed));
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(LoadReport {
        visits: latencies.len(),
        errors,
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
    })
}
