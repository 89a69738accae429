//! Playing a scenario on a headless lab, as a learner would click it: `session-lab scenario
//! check` plays each reference solution three ways (as written: solved; without the attack:
//! not solved; with the fix applied: not solved), and the tests do the same.
//!
//! Why one file of about 900 lines: a step's command, what it waits for and how it is told
//! (`step_command`, `expectation`, `step_text`) are three matches over the same `Step`, kept
//! side by side so a new step is added in one place.

use std::{sync::Arc, time::Duration};

use super::{
    Scenario, Step,
    judge::{Judge, Verdict},
    placeholders,
};
use crate::lab::{BrowserCommand, RequestCommand, ServerCommand};
use crate::{
    lab::{
        BrowserId, ClockMove, Command, Lab, LabConfig, LabState, LogSource, saved::SavedBrowser,
    },
    server::{Secret, ServerConfig, ServerSettings, StoreChoice},
};

/// How long one step may take before the play gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long an expectation may wait for the lab to show it (a store change follows its page
/// by a few milliseconds) before it is unmet.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a play waits, after its last step, for the lab to see everything that followed
/// (store changes arrive after the page).
const SETTLE: Duration = Duration::from_secs(2);

/// How long a settled lab must stay quiet (nothing in flight, no event) before a play's
/// verdict is read: store changes and follow-up requests arrive within a few milliseconds of
/// the last page.
const QUIET: Duration = Duration::from_millis(300);

/// Why a play could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    /// The lab did not start.
    #[error("the lab did not start: {0}")]
    Lab(crate::lab::Shared<crate::lab::LabError>),
    /// Its server did not start.
    #[error("the lab's server did not start: {0}")]
    Server(Arc<crate::server::ServerError>),
    /// Its server did not come up within a step's time, and did not say why.
    #[error("the lab's server did not come up")]
    ServerSilent,
    /// A step (or opening the scenario) did not finish, or could not be played.
    #[error(transparent)]
    Step(StepError),
    /// An expectation of the solution did not hold.
    #[error("{0}")]
    Unmet(String),
}

/// Why a step of a scenario (or of opening it) could not be played.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StepError {
    /// The lab's server is not running.
    #[error("the server is not running")]
    ServerNotRunning,
    /// The step names a browser the lab does not have.
    #[error("there is no browser {0}")]
    NoBrowser(String),
    /// The step goes through the TLS proxy, which is not running.
    #[error("the lab's TLS proxy is not running")]
    NoTlsProxy,
    /// The step needs a browser's session cookie, and it has none.
    #[error("{0} holds no session cookie")]
    NoSessionCookie(String),
    /// The step needs a browser's session, and it has none.
    #[error("{0} holds no session")]
    NoSession(String),
    /// A visit from a place the browser panel does not offer.
    #[error("no request comes from “{0}”")]
    UnknownRequestFrom(String),
    /// An expectation played as a step.
    #[error("an expectation sends no command")]
    ExpectationSendsNoCommand,
    /// The step shares a page, and the browser has none open.
    #[error("{0} has no page open")]
    NoPageOpen(String),
    /// The step's settings cannot be applied.
    #[error(transparent)]
    Settings(#[from] super::SettingsChangeError),
    /// A step of the scenario, numbered from 1, could not be played.
    #[error("step {number} ({step}): {why}")]
    Step {
        /// Its number.
        number: usize,
        /// What it does, in words.
        step: String,
        /// Why not.
        why: Box<StepError>,
    },
    /// The lab did not show the step done in time.
    #[error("{what} did not finish within {secs} s")]
    TimedOut {
        /// What was under way.
        what: String,
        /// How long it was given.
        secs: u64,
    },
}

/// One thing a script does: a step of the scenario, or part of opening it.
#[derive(Clone, Debug)]
enum Action {
    /// The scenario's browsers, with empty jars, in place of the lab's.
    Browsers(Vec<String>),
    /// The server's settings.
    Settings(Box<ServerSettings>),
    /// An empty memory store.
    FreshStore,
    /// The lab's clock back to real time.
    RealTime,
    /// The accounts and the attacker's page as a new lab has them.
    FreshSite,
    /// A step, numbered from 1.
    Step(usize, Step),
    /// Start judging (after the setup).
    Judge,
}

/// A done-check: whether the lab shows the last command's work done.
type Done = Box<dyn Fn(&LabState) -> bool + Send>;

/// What the lab shows instead of an expectation, in words.
type Instead = Box<dyn Fn(&LabState) -> String + Send>;

/// Where a script stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A command is under way.
    Working,
    /// Everything was played.
    Done,
    /// It could not go on.
    Failed(StepError),
    /// An expectation did not hold: what was expected and what the lab shows.
    Unmet(String),
}

/// What opening a scenario, or playing steps of it, still has to do: one command at a time,
/// each sent once the lab shows the previous one done. The window advances it every frame
/// (never blocking); the headless [`Player`] advances it while it waits.
pub struct Script {
    scenario: Arc<Scenario>,
    fixed: bool,
    actions: std::collections::VecDeque<Action>,
    waiting: Option<Waiting>,
}

/// What a script waits for: a command's work done, or an expectation to show.
struct Waiting {
    done: Done,
    what: String,
    since: std::time::Instant,
    /// `Some`: an expectation, with what the lab shows instead when it does not hold.
    expectation: Option<Instead>,
}

impl Script {
    /// Opening `scenario` (with its fix, if `fixed`): its browsers with empty jars, the
    /// settings, an empty memory store, the clock at real time, its setup steps; then judging
    /// starts.
    pub fn opening(scenario: Arc<Scenario>, fixed: bool) -> Self {
        let settings = if fixed {
            scenario.fixed_settings()
        } else {
            None
        }
        .unwrap_or_else(|| scenario.start_settings());
        let mut actions: std::collections::VecDeque<Action> = [
            Action::Browsers(scenario.browsers.clone()),
            Action::Settings(Box::new(settings)),
            Action::FreshStore,
            Action::RealTime,
            Action::FreshSite,
        ]
        .into();
        actions.extend(
            scenario
                .setup
                .iter()
                .enumerate()
                .map(|(i, step)| Action::Step(i + 1, step.clone())),
        );
        actions.push_back(Action::Judge);
        Self {
            scenario,
            fixed,
            actions,
            waiting: None,
        }
    }

    /// The same opening, but the attacker's page (and the accounts) stay as the student left
    /// them: applying the fix keeps the attack written, to be tried again.
    #[must_use]
    pub fn keeping_site(mut self) -> Self {
        self.actions
            .retain(|action| !matches!(action, Action::FreshSite));
        self
    }

    /// Playing `steps` of `scenario` in the lab as it is.
    pub fn steps(scenario: Arc<Scenario>, steps: &[Step]) -> Self {
        Self {
            scenario,
            fixed: false,
            actions: steps
                .iter()
                .enumerate()
                .map(|(i, step)| Action::Step(i + 1, step.clone()))
                .collect(),
            waiting: None,
        }
    }

    /// Whether the command under way is done (or none is), so [`Self::advance`] would send
    /// the next.
    pub fn ready(&self, state: &LabState) -> bool {
        self.waiting.as_ref().is_none_or(|w| (w.done)(state))
    }

    /// Sends the next command once the lab shows the previous one done (`send` takes it).
    pub fn advance(&mut self, state: &mut LabState, send: &mut dyn FnMut(Command)) -> Progress {
        loop {
            if let Some(waiting) = &self.waiting {
                if !(waiting.done)(state) {
                    if let Some(instead) = &waiting.expectation {
                        if waiting.since.elapsed() > EXPECT_TIMEOUT {
                            return Progress::Unmet(format!(
                                "{}: {}",
                                waiting.what,
                                instead(state)
                            ));
                        }
                    } else if waiting.since.elapsed() > STEP_TIMEOUT {
                        return Progress::Failed(StepError::TimedOut {
                            what: waiting.what.clone(),
                            secs: STEP_TIMEOUT.as_secs(),
                        });
                    }
                    return Progress::Working;
                }
                self.waiting = None;
            }
            let Some(action) = self.actions.pop_front() else {
                return Progress::Done;
            };
            match self.start(action, state) {
                Ok(Some(Started::Command(command, done, what))) => {
                    send(command);
                    self.waiting = Some(Waiting {
                        done,
                        what,
                        since: std::time::Instant::now(),
                        expectation: None,
                    });
                }
                Ok(Some(Started::Expect(done, instead, what))) => {
                    self.waiting = Some(Waiting {
                        done,
                        what,
                        since: std::time::Instant::now(),
                        expectation: Some(instead),
                    });
                }
                Ok(None) => {}
                Err(why) => return Progress::Failed(why),
            }
        }
    }

    /// The command an action sends and how to tell it done; `None` when there is nothing to
    /// send (already so, or done here).
    fn start(&self, action: Action, state: &mut LabState) -> Result<Option<Started>, StepError> {
        let url = state
            .server
            .as_ref()
            .map(|s| s.url.clone())
            .ok_or(StepError::ServerNotRunning)?;
        Ok(match action {
            Action::Browsers(names) => {
                let browsers = names
                    .iter()
                    .enumerate()
                    .map(|(colour, name)| SavedBrowser {
                        name: name.clone(),
                        colour,
                        private: false,
                        cookies_enabled: true,
                        from: String::new(),
                        spread: false,
                        url: url.clone(),
                        cookies: Vec::new(),
                        history: None,
                    })
                    .collect();
                let restores = state.restores;
                Some(Started::Command(
                    BrowserCommand::RestoreBrowsers(browsers).into(),
                    Box::new(move |s: &LabState| {
                        s.restores > restores
                            && s.browsers.len() == names.len()
                            && s.browsers.iter().zip(&names).all(|(b, n)| b.name == *n)
                    }),
                    "opening the scenario's browsers".to_owned(),
                ))
            }
            Action::Settings(settings) => {
                if state
                    .server
                    .as_ref()
                    .is_some_and(|s| s.settings == *settings)
                {
                    return Ok(None);
                }
                let wanted = settings.clone();
                Some(Started::Command(
                    ServerCommand::ApplySettings(*settings).into(),
                    Box::new(move |s: &LabState| {
                        s.server.as_ref().is_some_and(|s| s.settings == *wanted)
                    }),
                    "applying the scenario's settings".to_owned(),
                ))
            }
            Action::FreshStore => {
                let restarts = state.server_restarts;
                state.restart_asked_by_scenario = true;
                Some(Started::Command(
                    ServerCommand::RestartServer(Some(StoreChoice::default())).into(),
                    Box::new(move |s: &LabState| {
                        s.server_restarts > restarts && s.sessions.is_empty()
                    }),
                    "emptying the store".to_owned(),
                ))
            }
            Action::RealTime => {
                if state.clock_ahead.is_zero() {
                    return Ok(None);
                }
                Some(Started::Command(
                    ServerCommand::MoveClock(ClockMove::ToRealTime).into(),
                    Box::new(|s: &LabState| s.clock_ahead.is_zero()),
                    "setting the clock to real time".to_owned(),
                ))
            }
            Action::FreshSite => {
                let changes = state.site_changes;
                Some(Started::Command(
                    ServerCommand::ResetSite.into(),
                    Box::new(move |s: &LabState| s.site_changes > changes),
                    "resetting the accounts and the attacker's page".to_owned(),
                ))
            }
            Action::Judge => {
                state.judge = Some(Box::new(Judge::new(
                    self.scenario.clone(),
                    self.fixed,
                    state,
                )));
                None
            }
            Action::Step(number, step) => {
                let what = format!("step {number} ({})", step_text(&step));
                if let Some((done, instead)) = expectation(&step, state) {
                    return Ok(Some(Started::Expect(done, instead, what)));
                }
                let (command, done) =
                    step_command(&step, state, &url).map_err(|why| StepError::Step {
                        number,
                        step: step_text(&step),
                        why: Box::new(why),
                    })?;
                Some(Started::Command(command, done, what))
            }
        })
    }
}

/// What an action starts.
enum Started {
    /// A command, how to tell it done, and what it is.
    Command(Command, Done, String),
    /// An expectation: when it holds, what the lab shows when it does not, and what it is.
    Expect(Done, Instead, String),
}

/// An expectation step: when it holds, and what the lab shows instead; `None` for a step that
/// is not an expectation.
fn expectation(step: &Step, state: &LabState) -> Option<(Done, Instead)> {
    let last_page = |name: &str, s: &LabState| -> Option<crate::browser::Exchange> {
        s.browser_named(name)?.last.clone()
    };
    Some(match step {
        Step::ExpectPage { browser, says } => {
            let (name, says) = (browser.clone(), says.clone());
            let name2 = name.clone();
            (
                Box::new(move |s: &LabState| {
                    last_page(&name, s).is_some_and(|p| p.body.contains(says.as_str()))
                }),
                Box::new(move |s: &LabState| match last_page(&name2, s) {
                    Some(page) => format!(
                        "{name2}'s page says “{}”",
                        crate::server::cut_text(&page.body, 120)
                    ),
                    None => format!("{name2} has no page"),
                }),
            )
        }
        Step::ExpectCookie {
            browser,
            name,
            sent,
        } => {
            let cookie = name.clone().or_else(|| {
                state
                    .server
                    .as_ref()
                    .map(|s| s.settings.cookie_name.clone())
            })?;
            let (browser, sent) = (browser.clone(), *sent);
            let carried = move |s: &LabState, browser: &str| {
                last_page(browser, s).map(|page| {
                    page.cookie_header.as_deref().is_some_and(|header| {
                        header
                            .split(';')
                            .any(|pair| pair.trim().split('=').next() == Some(cookie.as_str()))
                    })
                })
            };
            let (carried2, browser2) = (carried.clone(), browser.clone());
            (
                Box::new(move |s: &LabState| carried(s, &browser) == Some(sent)),
                Box::new(move |s: &LabState| match carried2(s, &browser2) {
                    Some(true) => format!("{browser2}'s latest request carried the cookie"),
                    Some(false) => format!("{browser2}'s latest request did not carry the cookie"),
                    None => format!("{browser2} has made no request"),
                }),
            )
        }
        Step::ExpectStore { browser, has } => {
            let (browser, has) = (browser.clone(), has.clone());
            let browser2 = browser.clone();
            let data = |s: &LabState, browser: &str| {
                let id = s.browser_named(browser)?.session()?;
                Some(s.session_data(id)?.as_str().to_owned())
            };
            (
                Box::new(move |s: &LabState| {
                    data(s, &browser).is_some_and(|d| d.contains(has.as_str()))
                }),
                Box::new(move |s: &LabState| match data(s, &browser2) {
                    Some(d) => format!("the store holds {browser2}'s session with {d}"),
                    None => format!("the store holds no session of {browser2}'s"),
                }),
            )
        }
        _ => return None,
    })
}

/// The command that plays `step` in the lab `state` shows, and how to tell it done.
fn step_command(step: &Step, state: &LabState, url: &str) -> Result<(Command, Done), StepError> {
    let id = |name: &str| {
        state
            .browser_named(name)
            .map(|b| b.id)
            .ok_or_else(|| StepError::NoBrowser(name.to_owned()))
    };
    let proxy = state.proxy_url.clone();
    let absolute = |path: &str| -> Result<String, StepError> {
        if let Some(rest) = path.strip_prefix("{proxy}") {
            let proxy = proxy.as_deref().ok_or(StepError::NoTlsProxy)?;
            return Ok(format!("{}{rest}", proxy.trim_end_matches('/')));
        }
        Ok(if path.contains("://") {
            path.to_owned()
        } else {
            format!("{}{}", url.trim_end_matches('/'), path)
        })
    };
    // The cookie that is the browser's session: it names one, or holds its data.
    let session_cookie = |name: &str| {
        state
            .browser_named(name)
            .and_then(|b| b.cookies.iter().find(|c| c.session.is_some()))
            .map(|c| c.cookie.clone())
            .ok_or_else(|| StepError::NoSessionCookie(name.to_owned()))
    };
    // A browser's requests are done: none in flight, and one told of in the log since.
    let browsed = |id: BrowserId| -> Done {
        let lines = state.logged;
        Box::new(move |s: &LabState| {
            s.browser(id).is_some_and(|b| b.in_flight == 0)
                && s.log_since(lines)
                    .any(|l| matches!(&l.source, LogSource::Browser { id: b, .. } if *b == id))
        })
    };
    Ok(match step {
        Step::Visit { browser, url, from } => {
            let id = id(browser)?;
            let url = absolute(url)?;
            let command = match from {
                Some(label) => RequestCommand::VisitFrom {
                    browser: id,
                    url,
                    from: super::request_from(label)
                        .ok_or_else(|| StepError::UnknownRequestFrom(label.clone()))?,
                },
                None => RequestCommand::Visit { browser: id, url },
            };
            (command.into(), browsed(id))
        }
        Step::ChangeSettings { settings } => {
            let current = state
                .server
                .as_ref()
                .map(|s| s.settings.clone())
                .ok_or(StepError::ServerNotRunning)?;
            let wanted = settings.apply(&current);
            let target = wanted.clone();
            (
                ServerCommand::ApplySettings(wanted).into(),
                Box::new(move |s: &LabState| {
                    s.server.as_ref().is_some_and(|s| s.settings == target)
                }),
            )
        }
        Step::ExpectPage { .. } | Step::ExpectCookie { .. } | Step::ExpectStore { .. } => {
            return Err(StepError::ExpectationSendsNoCommand);
        }
        Step::Submit { browser, url, form } => {
            let id = id(browser)?;
            (
                RequestCommand::Submit {
                    browser: id,
                    url: absolute(url)?,
                    form: form.clone(),
                }
                .into(),
                browsed(id),
            )
        }
        Step::Lure { browser, host } => {
            let id = id(browser)?;
            let host = host.as_deref().unwrap_or(crate::server::ATTACKER_HOST);
            (
                RequestCommand::Lure {
                    browser: id,
                    host: host.to_owned(),
                }
                .into(),
                browsed(id),
            )
        }
        Step::WritePage { html, set_cookie } => {
            let mut header = set_cookie.clone().unwrap_or_default();
            for (kind, name) in placeholders(&header.clone()) {
                let cookie = session_cookie(name)?;
                header = header.replace(
                    &format!("{{{kind}:{name}}}"),
                    &format!("{}={}", cookie.name, cookie.value),
                );
            }
            let page = crate::server::AttackerPage {
                html: html.clone(),
                set_cookie: header,
            };
            let wanted = page.clone();
            (
                ServerCommand::SetAttackerPage(page).into(),
                Box::new(move |s: &LabState| s.attacker_page.as_ref() == Some(&wanted)),
            )
        }
        Step::RotateSecret { grace_minutes } => {
            let before = state.server.as_ref().map(|s| s.secret_fingerprint.clone());
            (
                ServerCommand::RotateSecret {
                    grace_secs: (*grace_minutes > 0).then(|| grace_minutes.saturating_mul(60)),
                }
                .into(),
                Box::new(move |s: &LabState| {
                    s.server.as_ref().map(|s| s.secret_fingerprint.clone()) != before
                }),
            )
        }
        Step::Burst {
            browser,
            url,
            count,
        } => {
            let id = id(browser)?;
            let before = state.browser(id).and_then(|b| b.last_burst.clone());
            (
                RequestCommand::Burst {
                    browser: id,
                    url: absolute(url)?,
                    count: *count,
                }
                .into(),
                Box::new(move |s: &LabState| {
                    s.browser(id).is_some_and(|b| {
                        b.in_flight == 0 && b.last_burst.is_some() && b.last_burst != before
                    })
                }),
            )
        }
        Step::CopyCookie { from, to } => {
            let cookie = session_cookie(from)?;
            let (from, to) = (id(from)?, id(to)?);
            (
                BrowserCommand::CopyCookie {
                    from,
                    to,
                    cookie: cookie.key(),
                }
                .into(),
                Box::new(move |s: &LabState| {
                    s.browser(to)
                        .is_some_and(|b| b.cookies.iter().any(|c| c.cookie.value == cookie.value))
                }),
            )
        }
        Step::EditCookie { browser, value } => {
            let mut new = value.clone();
            for (kind, name) in placeholders(value) {
                let session = state
                    .browser_named(name)
                    .and_then(|b| b.session())
                    .ok_or_else(|| StepError::NoSession(name.to_owned()))?;
                let text = match kind {
                    "next" => crate::server::next_guess(session).to_string(),
                    "cookie" => session_cookie(name)?.value,
                    _ => session.to_string(),
                };
                new = new.replace(&format!("{{{kind}:{name}}}"), &text);
            }
            let cookie = session_cookie(browser)?.key();
            let id = id(browser)?;
            let value = new.clone();
            (
                BrowserCommand::EditCookie {
                    browser: id,
                    cookie,
                    value: new,
                }
                .into(),
                Box::new(move |s: &LabState| {
                    s.browser(id)
                        .is_some_and(|b| b.cookies.iter().any(|c| c.cookie.value == value))
                }),
            )
        }
        Step::SharePage { from, to } => {
            let address = state
                .browser_named(from)
                .and_then(|b| b.last.as_ref())
                .map(|page| page.url.clone())
                .ok_or_else(|| StepError::NoPageOpen(from.clone()))?;
            let to = id(to)?;
            (
                RequestCommand::Visit {
                    browser: to,
                    url: address,
                }
                .into(),
                browsed(to),
            )
        }
        Step::ClearCookies { browser } => {
            let id = id(browser)?;
            (
                BrowserCommand::ClearCookies(id).into(),
                Box::new(move |s: &LabState| s.browser(id).is_some_and(|b| b.cookies.is_empty())),
            )
        }
        Step::MoveClock { minutes } => {
            let by = time::Duration::minutes((*minutes).clamp(0, super::MAX_CLOCK_MINUTES));
            let target = state.clock_ahead + by;
            (
                ServerCommand::MoveClock(ClockMove::Ahead(by)).into(),
                Box::new(move |s: &LabState| {
                    s.clock_ahead >= target
                        // The sweep has run: no session the lab's clock calls expired is left.
                        && s.sessions.iter().all(|row| row.expires_at() > s.now())
                }),
            )
        }
    })
}

/// A scenario's lab, headless: the scenario opened as the window opens it, then steps played
/// and the judge's verdict read.
pub struct Player {
    lab: Lab,
    state: LabState,
    scenario: Arc<Scenario>,
}

impl Player {
    /// Starts a fresh lab, opens `scenario` (with its fix, if `fixed`) and starts judging.
    pub fn open(scenario: &Scenario, fixed: bool) -> Result<Self, PlayError> {
        let lab = Lab::start(LabConfig {
            bind: "127.0.0.1:0".parse().expect("an address"),
            server: ServerConfig::with_secret(Secret::random()),
            browsers: 0,
            store: StoreChoice::default(),
            instances: 1,
        })
        .map_err(|e| PlayError::Lab(crate::lab::Shared::new(e)))?;
        let mut state = LabState::default();
        if !lab.wait_until(&mut state, STEP_TIMEOUT, |s| s.server.is_some()) {
            return Err(state
                .server_error
                .clone()
                .map_or(PlayError::ServerSilent, PlayError::Server));
        }
        let scenario = Arc::new(scenario.clone());
        let mut player = Self {
            lab,
            state,
            scenario: scenario.clone(),
        };
        player.run(Script::opening(scenario, fixed))?;
        Ok(player)
    }

    /// What the lab shows now.
    pub fn state(&self) -> &LabState {
        &self.state
    }

    /// Where the run stands now.
    pub fn verdict(&self) -> Verdict {
        Judge::of(&self.state).map_or(Verdict::Open { met: 0, of: 0 }, |j| j.verdict().clone())
    }

    /// Lets the lab take in what followed the last step: until the verdict is decided, or
    /// nothing is in flight and no event has arrived for [`QUIET`], or at most [`SETTLE`].
    pub fn settle(&mut self) -> Verdict {
        let decided = |s: &LabState| {
            Judge::of(s).is_some_and(|j| !matches!(j.verdict(), Verdict::Open { .. }))
        };
        let deadline = std::time::Instant::now() + SETTLE;
        let mut seen = self.state.applied;
        let mut quiet_since = std::time::Instant::now();
        while std::time::Instant::now() < deadline && !decided(&self.state) {
            self.lab
                .wait_until(&mut self.state, Duration::from_millis(50), decided);
            if self.state.applied != seen || !self.state.is_idle() {
                seen = self.state.applied;
                quiet_since = std::time::Instant::now();
            } else if quiet_since.elapsed() >= QUIET {
                break;
            }
        }
        self.verdict()
    }

    /// Plays `steps` in order, each once the previous is done.
    pub fn play_all(&mut self, steps: &[Step]) -> Result<(), PlayError> {
        self.run(Script::steps(self.scenario.clone(), steps))
    }

    /// Plays `steps` as [`Self::play_all`] does, keeping each command sent in `attack`, as the
    /// window keeps a student's clicks.
    pub fn play_recorded(
        &mut self,
        steps: &[Step],
        attack: &mut super::replay::Attack,
    ) -> Result<(), PlayError> {
        self.run_recording(Script::steps(self.scenario.clone(), steps), Some(attack))
    }

    fn run(&mut self, script: Script) -> Result<(), PlayError> {
        self.run_recording(script, None)
    }

    fn run_recording(
        &mut self,
        mut script: Script,
        mut attack: Option<&mut super::replay::Attack>,
    ) -> Result<(), PlayError> {
        loop {
            let lab = &self.lab;
            let mut sent = Vec::new();
            let progress = script.advance(&mut self.state, &mut |command| {
                sent.push(command.clone());
                lab.send(command);
            });
            // The lab's events are taken in only below, so the state is still the one the
            // commands were sent in.
            if let Some(attack) = attack.as_deref_mut() {
                for command in &sent {
                    attack.record(command, &self.state);
                }
            }
            match progress {
                Progress::Done => return Ok(()),
                Progress::Failed(why) => return Err(PlayError::Step(why)),
                Progress::Unmet(why) => return Err(PlayError::Unmet(why)),
                Progress::Working => {}
            }
            self.lab
                .wait_until(&mut self.state, Duration::from_millis(200), |s| {
                    script.ready(s)
                });
        }
    }
}

/// A step in words.
pub fn step_text(step: &Step) -> String {
    match step {
        Step::Visit {
            browser,
            url,
            from: None,
        } => format!("{browser} visits {url}"),
        Step::Visit {
            browser,
            url,
            from: Some(from),
        } => format!("{browser} visits {url} from “{from}”"),
        Step::ChangeSettings { settings } => {
            let changes: Vec<String> = settings
                .iter()
                .map(|(k, v)| format!("{k} = {}", serde_json::to_string(v).unwrap_or_default()))
                .collect();
            format!("change the server's settings: {}", changes.join(", "))
        }
        Step::ExpectPage { browser, says } => format!("expect {browser}'s page to say “{says}”"),
        Step::ExpectCookie {
            browser,
            name,
            sent,
        } => format!(
            "expect {browser}'s latest request {} the cookie{}",
            if *sent { "to carry" } else { "not to carry" },
            name.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
        ),
        Step::ExpectStore { browser, has } => {
            format!("expect the store's session of {browser}'s to hold {has}")
        }
        Step::Burst {
            browser,
            url,
            count,
        } => format!("{browser} sends {count} visits to {url} at once"),
        Step::CopyCookie { from, to } => format!("copy {from}'s session cookie to {to}"),
        Step::EditCookie { browser, value } => {
            format!("set {browser}'s session cookie to {value}")
        }
        Step::ClearCookies { browser } => format!("clear {browser}'s cookies"),
        Step::SharePage { from, to } => {
            format!("{from} shares the address of their page with {to}")
        }
        Step::Submit { browser, url, form } => format!("{browser} submits {form} to {url}"),
        Step::WritePage { .. } => "write the page on other-site.test".to_owned(),
        Step::Lure { browser, host } => format!(
            "lure {browser} to {}",
            host.as_deref().unwrap_or(crate::server::ATTACKER_HOST)
        ),
        Step::RotateSecret { grace_minutes: 0 } => "give the server a new secret".to_owned(),
        Step::RotateSecret { grace_minutes } => {
            format!("give the server a new secret, the old one accepted {grace_minutes} min more")
        }
        Step::MoveClock { minutes } => format!("move the clock {minutes} min ahead"),
    }
}

/// Why one part of `scenario check` failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CheckFailure {
    /// The reference solution did not solve it.
    #[error("the solution left it {}", verdict_text(.0))]
    NotSolved(Verdict),
    /// Doing nothing (the setup alone) solved it.
    #[error("solved without doing anything")]
    SolvedByNothing,
    /// With the fix applied, the solution still solved it.
    #[error("the fix does not stop the solution")]
    FixDoesNotStop,
    /// The play could not go on (the lab, a step, an expectation of the solution).
    #[error("{0}")]
    Play(Arc<PlayError>),
}

/// What `scenario check` found for one scenario.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The scenario's id.
    pub id: String,
    /// The reference solution solves it.
    pub solution_solves: Result<(), CheckFailure>,
    /// Without the solution (setup only), it is not solved.
    pub nothing_does_not: Result<(), CheckFailure>,
    /// With the fix applied, the solution no longer solves it (`None`: no fix, a lesson).
    pub fix_prevents: Option<Result<(), CheckFailure>>,
}

impl CheckReport {
    /// Whether every part passed.
    pub fn passed(&self) -> bool {
        self.solution_solves.is_ok()
            && self.nothing_does_not.is_ok()
            && self.fix_prevents.as_ref().is_none_or(Result::is_ok)
    }
}

/// Plays `scenario` three ways: its solution (must solve), nothing (must not), its solution
/// with the fix applied (must not).
pub fn check(scenario: &Scenario) -> CheckReport {
    // An expectation the attack does not meet (with the fix applied) ends that play: the
    // verdict is whatever the lab judged by then.
    let play = |fixed: bool, steps: &[Step]| -> Result<Verdict, CheckFailure> {
        let failed = |e| CheckFailure::Play(Arc::new(e));
        let mut player = Player::open(scenario, fixed).map_err(failed)?;
        match player.play_all(steps) {
            Ok(()) => {}
            Err(PlayError::Unmet(why)) if fixed => {
                tracing::debug!(%why, "an expectation is not met with the fix applied");
            }
            Err(e) => return Err(failed(e)),
        }
        Ok(player.settle())
    };
    let solution_solves = play(false, &scenario.solution).and_then(|verdict| match verdict {
        Verdict::Solved => Ok(()),
        other => Err(CheckFailure::NotSolved(other)),
    });
    let nothing_does_not = play(false, &[]).and_then(|verdict| match verdict {
        Verdict::Solved => Err(CheckFailure::SolvedByNothing),
        _ => Ok(()),
    });
    let fix_prevents = scenario.fix.as_ref().map(|_| {
        play(true, &scenario.solution).and_then(|verdict| match verdict {
            Verdict::Solved => Err(CheckFailure::FixDoesNotStop),
            _ => Ok(()),
        })
    });
    CheckReport {
        id: scenario.id.clone(),
        solution_solves,
        nothing_does_not,
        fix_prevents,
    }
}

/// A verdict in words.
pub fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Open { met, of } => format!("not solved ({met} of {of} conditions hold)"),
        Verdict::Solved => "solved".to_owned(),
        Verdict::Spoiled(why) => format!("not counted: {why}"),
    }
}
