//! Scripted runs behind `--screenshot`: the window plays a scene (clicks the lab would get
//! from a user), saves a screenshot of itself and closes. CI uses the seed scene to prove a
//! real window works; the pictures in the README and docs/ come from these scenes too.

use parking_lot::Mutex;
use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    lab::{AuditRequest, BrowserId, Command, LabState},
    server::ServerSettings,
};

use super::BottomTab;
use crate::lab::{BrowserCommand, RequestCommand, ServerCommand};
pub use crate::scene::Scene;

/// How long a whole scene may take before the app gives up with an error.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Frames to wait after the last step so the screenshot shows a settled window.
const SETTLE_FRAMES: u32 = 5;

/// The attacker's page the CSRF scene publishes.
const CSRF_PAGE: &str = "<h1>You won a prize!</h1>
<form action=\"https://app.lab.test/account/email\" method=\"post\">
  <input type=\"hidden\" name=\"email\" value=\"mallory@other-site.test\">
</form>
<script>document.forms[0].submit()</script>
";

/// One step of a scene.
#[derive(Clone, Debug)]
enum Step {
    AddBrowser,
    Visit(&'static str, &'static str),
    Hijack(&'static str, &'static str),
    Tamper(&'static str),
    Tab(BottomTab),
    Instances(usize),
    Spread(&'static str),
    /// Audit the embedded server (with its login and logout routes).
    Audit,
    /// Tick Secure in the server's settings.
    Secure,
    /// Open the built-in scenario with this id.
    OpenScenario(&'static str),
    /// Show the scenario's next hint.
    Hint,
    /// A burst of parallel visits from a browser.
    Burst(&'static str),
    /// Wait until the scenario under way is solved.
    Solved,
    /// Publish the attacker's page.
    WritePage(&'static str),
    /// Lure a browser to other-site.test.
    Lure(&'static str),
}

impl Scene {
    fn steps(self) -> Vec<Step> {
        use Step::{
            AddBrowser, Audit, Burst, Hijack, Hint, Instances, Lure, OpenScenario, Secure, Solved,
            Spread, Tab, Tamper, Visit, WritePage,
        };
        match self {
            Self::Seed => vec![
                Visit("A", "/"),
                Visit("A", "/"),
                Visit("A", "/"),
                Visit("B", "/"),
            ],
            Self::Tour => vec![
                AddBrowser,
                Visit("A", "/"),
                Visit("A", "/login?user=ann"),
                Visit("A", "/"),
                Hijack("A", "B"),
                Visit("B", "/"),
                Visit("C", "/"),
                Tamper("C"),
                Visit("C", "/"),
                Visit("A", "/whoami"),
                Tab(BottomTab::Timeline),
            ],
            Self::Instances => vec![
                Instances(2),
                Spread("A"),
                Visit("A", "/"),
                Visit("A", "/"),
                Visit("A", "/"),
                Visit("B", "/"),
                Tab(BottomTab::Timeline),
            ],
            Self::Audit => vec![Visit("A", "/"), Tab(BottomTab::Audit), Audit, Secure, Audit],
            Self::Scenario => vec![
                Tab(BottomTab::Scenarios),
                OpenScenario("lost-updates"),
                Hint,
                Visit("A", "/"),
                Burst("A"),
                Solved,
            ],
            Self::Csrf => vec![
                Tab(BottomTab::Scenarios),
                OpenScenario("csrf-form"),
                WritePage(CSRF_PAGE),
                Lure("Victim"),
                Solved,
                Tab(BottomTab::OtherSite),
            ],
        }
    }
}

/// Where a scripted run is.
pub struct SmokeScript {
    path: PathBuf,
    started: Instant,
    steps: VecDeque<Step>,
    waiting: Option<Waiting>,
    settled_frames: u32,
    shot_requested: bool,
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

/// What the script waits for before its next step.
enum Waiting {
    /// The browser has written this many exchanges and log lines.
    Visit {
        browser: BrowserId,
        exchanges: usize,
    },
    /// The log has more lines than this (a jar edit was reported).
    Log(u64),
    /// The lab has this many browsers.
    Browsers(usize),
    /// The lab knows this many server instances.
    Instances(usize),
    /// This many audits have finished.
    Audits(usize),
    /// A scenario is set up and judged.
    Judged,
    /// The scenario under way is solved.
    Solved,
    /// The browser's burst finished.
    Burst(BrowserId),
}

impl Waiting {
    /// Until the browser has finished a request begun from now.
    fn after_exchanges_of(state: &LabState, browser: BrowserId) -> Self {
        Self::Visit {
            browser,
            exchanges: state
                .exchanges
                .iter()
                .filter(|r| r.browser == browser)
                .count(),
        }
    }
}

/// What the app should do after a frame of the script.
pub enum SmokeStep {
    /// Keep going.
    Continue,
    /// Send this command to the lab.
    Send(Command),
    /// Show this bottom tab.
    Tab(BottomTab),
    /// Open this scenario.
    OpenScenario(Arc<crate::scenario::Scenario>),
    /// Show the scenario's next hint.
    Hint,
    /// Take the screenshot now.
    Screenshot,
    /// Close the window; the process exits with this result.
    Finish(Result<(), String>),
}

impl SmokeScript {
    /// A script that plays `scene` and saves its screenshot to `path`.
    pub fn new(path: PathBuf, scene: Scene) -> Self {
        Self {
            path,
            started: Instant::now(),
            steps: scene.steps().into(),
            waiting: None,
            settled_frames: 0,
            shot_requested: false,
            outcome: Arc::default(),
        }
    }

    /// Advances the script by one frame.
    pub fn step(&mut self, state: &LabState) -> SmokeStep {
        if let Some(outcome) = self.outcome.lock().take() {
            return SmokeStep::Finish(outcome);
        }
        if self.started.elapsed() > SCRIPT_TIMEOUT {
            return SmokeStep::Finish(Err(format!(
                "the scripted scene did not finish within {} s",
                SCRIPT_TIMEOUT.as_secs()
            )));
        }
        if let Some(error) = &state.server_error {
            return SmokeStep::Finish(Err(format!("the server did not start: {error}")));
        }
        let Some(server) = &state.server else {
            return SmokeStep::Continue;
        };
        if let Some(waiting) = &self.waiting {
            let done = match waiting {
                Waiting::Visit { browser, exchanges } => {
                    if let Some(error) = state.browser(*browser).and_then(|b| b.last_error.clone())
                    {
                        return SmokeStep::Finish(Err(format!("a scripted visit failed: {error}")));
                    }
                    state.is_idle()
                        && state
                            .exchanges
                            .iter()
                            .filter(|r| r.browser == *browser)
                            .count()
                            > *exchanges
                }
                Waiting::Log(lines) => state.logged > *lines,
                Waiting::Browsers(count) => state.browsers.len() >= *count,
                Waiting::Instances(count) => state.instances.len() >= *count,
                Waiting::Audits(count) => {
                    if let Some(error) = &state.audit.error {
                        return SmokeStep::Finish(Err(format!("the audit failed: {error}")));
                    }
                    state.audit.running.is_none() && state.audit.runs.len() >= *count
                }
                Waiting::Judged => state.judge.is_some(),
                Waiting::Solved => crate::scenario::judge::Judge::of(state)
                    .is_some_and(|j| *j.verdict() == crate::scenario::judge::Verdict::Solved),
                Waiting::Burst(browser) => state
                    .browser(*browser)
                    .is_some_and(|b| b.in_flight == 0 && b.last_burst.is_some()),
            };
            if !done {
                return SmokeStep::Continue;
            }
            self.waiting = None;
        }
        if let Some(step) = self.steps.pop_front() {
            let named = |name: &str| state.browser_named(name);
            let (command, waiting): (Command, Waiting) = match &step {
                Step::AddBrowser => (
                    BrowserCommand::AddBrowser { private: false }.into(),
                    Waiting::Browsers(state.browsers.len() + 1),
                ),
                Step::Visit(name, path) => {
                    let Some(browser) = named(name) else {
                        self.steps.push_front(step);
                        return SmokeStep::Continue;
                    };
                    (
                        RequestCommand::Visit {
                            browser: browser.id,
                            url: format!("{}{}", server.url, path.trim_start_matches('/')),
                        }
                        .into(),
                        Waiting::after_exchanges_of(state, browser.id),
                    )
                }
                Step::Hijack(from, to) => {
                    let (Some(from), Some(to)) = (named(from), named(to)) else {
                        return SmokeStep::Finish(Err("a scripted browser is missing".into()));
                    };
                    let Some(cookie) = from.cookies.first() else {
                        return SmokeStep::Finish(Err("nothing to hijack".into()));
                    };
                    (
                        BrowserCommand::CopyCookie {
                            from: from.id,
                            to: to.id,
                            cookie: cookie.cookie.key(),
                        }
                        .into(),
                        Waiting::Log(state.logged),
                    )
                }
                Step::Tamper(name) => {
                    let Some(cookie) =
                        named(name).and_then(|b| b.cookies.first().map(|c| (b.id, c)))
                    else {
                        return SmokeStep::Finish(Err("nothing to tamper with".into()));
                    };
                    let (browser, cookie) = cookie;
                    let mut value = cookie.cookie.value.clone();
                    value.insert(0, 'X');
                    (
                        BrowserCommand::EditCookie {
                            browser,
                            cookie: cookie.cookie.key(),
                            value,
                        }
                        .into(),
                        Waiting::Log(state.logged),
                    )
                }
                Step::Tab(tab) => return SmokeStep::Tab(*tab),
                Step::OpenScenario(id) => {
                    let Ok(scenario) = crate::scenario::Scenario::find(id) else {
                        return SmokeStep::Finish(Err(format!("no scenario {id}")));
                    };
                    self.waiting = Some(Waiting::Judged);
                    return SmokeStep::OpenScenario(Arc::new(scenario));
                }
                Step::Hint => return SmokeStep::Hint,
                Step::WritePage(html) => (
                    ServerCommand::SetAttackerPage(crate::server::AttackerPage {
                        html: (*html).to_owned(),
                        set_cookie: String::new(),
                    })
                    .into(),
                    Waiting::Log(state.logged),
                ),
                Step::Lure(name) => {
                    let Some(browser) = named(name) else {
                        return SmokeStep::Finish(Err("a scripted browser is missing".into()));
                    };
                    (
                        RequestCommand::Lure {
                            browser: browser.id,
                            host: crate::server::ATTACKER_HOST.to_owned(),
                        }
                        .into(),
                        Waiting::after_exchanges_of(state, browser.id),
                    )
                }
                Step::Solved => {
                    self.waiting = Some(Waiting::Solved);
                    return SmokeStep::Continue;
                }
                Step::Burst(name) => {
                    let Some(browser) = named(name) else {
                        return SmokeStep::Finish(Err("a scripted browser is missing".into()));
                    };
                    (
                        RequestCommand::Burst {
                            browser: browser.id,
                            url: server.url.clone(),
                            count: 20,
                        }
                        .into(),
                        Waiting::Burst(browser.id),
                    )
                }
                Step::Audit => (
                    RequestCommand::RunAudit(AuditRequest {
                        url: server.url.clone(),
                        login: "/login?user={user}".to_owned(),
                        logout: "/logout".to_owned(),
                        counter: String::new(),
                        samples: 1000,
                    })
                    .into(),
                    Waiting::Audits(state.audit.runs.len() + 1),
                ),
                Step::Secure => (
                    ServerCommand::ApplySettings(ServerSettings {
                        secure: true,
                        ..server.settings.clone()
                    })
                    .into(),
                    Waiting::Log(state.logged),
                ),
                Step::Instances(count) => (
                    ServerCommand::SetInstances(*count).into(),
                    Waiting::Instances(*count),
                ),
                Step::Spread(name) => {
                    let Some(browser) = named(name) else {
                        return SmokeStep::Finish(Err("a scripted browser is missing".into()));
                    };
                    (
                        BrowserCommand::SetSpread {
                            browser: browser.id,
                            spread: true,
                        }
                        .into(),
                        Waiting::Log(state.logged),
                    )
                }
            };
            self.waiting = Some(waiting);
            return SmokeStep::Send(command);
        }
        self.settled_frames += 1;
        if self.settled_frames < SETTLE_FRAMES || self.shot_requested {
            return SmokeStep::Continue;
        }
        self.shot_requested = true;
        SmokeStep::Screenshot
    }

    /// Saves the screenshot when it arrives (on whichever thread delivers it).
    pub fn screenshot_callback(
        &self,
        ctx: egui::Context,
    ) -> impl FnOnce(Arc<egui::ColorImage>) + Send + 'static {
        let path = self.path.clone();
        let outcome = self.outcome.clone();
        move |image: Arc<egui::ColorImage>| {
            let [width, height] = image.size;
            let result = image::save_buffer(
                &path,
                image.as_raw(),
                u32::try_from(width).unwrap_or(0),
                u32::try_from(height).unwrap_or(0),
                image::ColorType::Rgba8,
            )
            .map_err(|e| format!("could not save the screenshot to {}: {e}", path.display()));
            *outcome.lock() = Some(result);
            ctx.request_repaint();
        }
    }
}
