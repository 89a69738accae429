//! The egui views: one panel per file, no networking. The app reads [`LabState`] each frame
//! and sends [`Command`]s; results arrive as events that wake it with `request_repaint`.
//!
//! Why one file of about 850 lines: it is the app's frame — the layout of the panels, the
//! commands they return carried out in one place, and what is kept between launches; each
//! panel's drawing is in its own file.

mod audit_panel;
mod browser_panel;
mod header;
mod lab_file;
mod log_panel;
mod plot_panel;
mod scenario_panel;
mod sessions_panel;
mod settings_panel;
mod site_panel;
mod smoke;
pub mod theme;
mod timeline_panel;
mod transfer_ui;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use time::{OffsetDateTime, UtcOffset};

use crate::lab::{
    BrowserId, Command, ExchangeRecord, Lab, LabConfig, LabState,
    saved::{GivenFlags, Loaded, SavedLab},
    text::time_left_changes_in,
};

pub use browser_panel::BrowserDraft;
use settings_panel::SettingsDraft;
pub use smoke::Scene;
use smoke::{SmokeScript, SmokeStep};

use crate::scenario::judge::Judge;

/// The views of the bottom panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BottomTab {
    /// The event log.
    Log,
    /// The sequence diagram.
    Timeline,
    /// Views per browser over time.
    Plot,
    /// The session audit's scorecards.
    Audit,
    /// Guided scenarios.
    Scenarios,
    /// The attacker's page on other-site.test.
    OtherSite,
}

impl BottomTab {
    const ALL: [(Self, &'static str); 6] = [
        (Self::Log, "Event log"),
        (Self::Timeline, "Timeline"),
        (Self::Plot, "Views plot"),
        (Self::Audit, "Audit"),
        (Self::Scenarios, "Scenarios"),
        (Self::OtherSite, "Other site"),
    ];

    /// The tab's label, also its name in the window's saved state.
    pub fn label(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(tab, _)| *tab == self)
            .map_or("", |(_, label)| label)
    }

    fn from_label(label: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, l)| *l == label)
            .map(|(tab, _)| *tab)
    }
}

/// Where the chosen bottom tab is kept across launches (eframe's storage).
/// The least height the browsers keep (an address bar, the buttons and a few lines of the page).
const BROWSERS_MIN_HEIGHT: f32 = 150.0;
/// The least height the sessions table keeps (its header row and three rows).
const SESSIONS_MIN_HEIGHT: f32 = 110.0;
/// The sessions table's height until the user drags its divider.
const SESSIONS_DEFAULT_HEIGHT: f32 = 200.0;

const BOTTOM_TAB_KEY: &str = "bottom_tab";

/// The window's title.
pub const TITLE: &str = "Session Lab";

/// What a frame should cost while the lab is busy: the pump gets what the drawing leaves.
const FRAME_TARGET: Duration = Duration::from_millis(4);

/// The least a frame spends draining the lab, however costly its drawing: at 60 frames a
/// second this still applies about a hundred thousand store changes a second.
const PUMP_MIN: Duration = Duration::from_micros(500);

/// The most a frame spends draining the lab when frames come often: at 60 frames a second
/// that is still several hundred thousand store changes a second.
const PUMP_MAX: Duration = Duration::from_millis(1);

/// Frames further apart than this are slow (presentation-bound): the pump then keeps pace with
/// the clock instead.
const SLOW_FRAME: Duration = Duration::from_millis(33);

/// When frames come seldom (presentation-bound, e.g. software rendering), the pump may use
/// this share of the time since the last frame, so draining keeps pace with the clock rather
/// than with the frame rate…
const PUMP_SHARE_OF_INTERVAL: u32 = 5;

/// …up to this much in one frame.
const PUMP_SLOW_FRAME_MAX: Duration = Duration::from_millis(8);

/// How long a frame may spend building a new sort or filter of the sessions table.
const VIEW_WORK_BUDGET: Duration = Duration::from_millis(2);

/// What a view asks the app to do.
#[must_use]
#[derive(Clone, Debug)]
pub enum UiCommand {
    /// Something for the lab.
    Lab(Command),
    /// Open this address in the user's real browser.
    OpenInBrowser(String),
    /// Copy or save a browser's exports.
    Export {
        /// Whose.
        browser: BrowserId,
        /// Which.
        what: transfer_ui::ExportWhat,
    },
    /// Replay the student's attack on the scenario started over with its fix.
    ReplayAttack,
    /// Pin a value whole above the sessions table, to read it and compare it with another.
    Pin {
        /// What it is ("id of Victim").
        what: String,
        /// The value.
        value: String,
    },
    /// Back to the seed's lab: browsers A and B, fresh, default settings.
    ResetLab,
    /// Write the lab to this file.
    SaveLab {
        /// The file.
        path: PathBuf,
        /// With each browser's history.
        history: bool,
    },
    /// Replace the lab with the one in this file.
    OpenLab(PathBuf),
    /// Open a scenario: the lab reset to its start (with its fix applied, if `fixed`).
    OpenScenario {
        /// Which.
        scenario: Arc<crate::scenario::Scenario>,
        /// With the fix in the server's settings.
        fixed: bool,
    },
}

/// An "Open in your browser" that failed: the address, and why.
type BrowserFailure = (String, String);

/// The Session Lab window.
pub struct SessionLabApp {
    /// Asks for a frame (from any thread): the lab's events and finished lab-file writes.
    repaint: crate::lab::Waker,
    /// Where *Save all three* writes a browser's files.
    export_dir: PathBuf,
    lab: Lab,
    state: LabState,
    drafts: HashMap<BrowserId, BrowserDraft>,
    /// The address new browsers start with (the embedded server's).
    default_url: String,
    settings: Option<SettingsDraft>,
    sessions: sessions_panel::SessionsDraft,
    /// The timeline shows removed browsers' exchanges too.
    timeline_history: bool,
    /// "Open in your browser" attempts that failed: the address and why.
    browser_failed: (
        std::sync::mpsc::Sender<BrowserFailure>,
        std::sync::mpsc::Receiver<BrowserFailure>,
    ),
    load: header::LoadDraft,
    audit: audit_panel::AuditDraft,
    scenarios: scenario_panel::ScenarioDraft,
    site: site_panel::SiteDraft,
    /// The scenario being opened, one command at a time.
    opening: Option<crate::scenario::play::Script>,
    /// A scenario to open once the server runs (`--scenario`).
    pending_scenario: Option<Arc<crate::scenario::Scenario>>,
    bottom_tab: BottomTab,
    offset: UtcOffset,
    script: Option<SmokeScript>,
    /// What drawing a frame has cost lately (an average), so the pump gets the rest of the
    /// frame's target.
    draw_cost: Duration,
    /// What the last frame's pump took.
    pump_cost: Duration,
    /// When the last frame began.
    last_frame: Option<Instant>,
    /// The largest browser panel drawn last frame: the place a panel out of view keeps.
    panel_size: Option<egui::Vec2>,
    /// How many browsers the last frame drew: one more is scrolled into view.
    browsers_seen: usize,
    /// Where each frame's CPU time is written, when `SESSION_LAB_FRAME_LOG` names a file (for
    /// benchmarks of the real window).
    frame_log: Option<std::io::BufWriter<std::fs::File>>,
    /// The lab kept between launches, the one being restored, and the Lab menu's dialog.
    keeper: lab_file::LabKeeper,
}

impl SessionLabApp {
    /// An app over a started lab; `ctx` is woken whenever the lab has news.
    pub fn new(ctx: &egui::Context, lab: Lab, offset: UtcOffset) -> Self {
        // The arrows the interface writes (→, ↔) are not in egui's proportional font, only in
        // its Hack: Hack goes last in the proportional family, so they never wait for (or
        // depend on) the system's fonts, which arrive a few frames in or not at all.
        let mut fonts = egui::FontDefinitions::default();
        fonts
            .families
            .entry(egui::FontFamily::Proportional)
            .or_default()
            .push("Hack".to_owned());
        ctx.set_fonts(fonts);
        let waker_ctx = ctx.clone();
        let repaint: crate::lab::Waker = Arc::new(move || waker_ctx.request_repaint());
        lab.set_waker(repaint.clone());
        let mut keeper = lab_file::LabKeeper::default();
        keeper.set_waker(repaint.clone());
        Self {
            lab,
            state: LabState::default(),
            drafts: HashMap::new(),
            default_url: "http://127.0.0.1:3000/".to_owned(),
            settings: None,
            sessions: sessions_panel::SessionsDraft::default(),
            timeline_history: false,
            browser_failed: std::sync::mpsc::channel(),
            load: header::LoadDraft::default(),
            audit: audit_panel::AuditDraft::default(),
            scenarios: scenario_panel::ScenarioDraft::default(),
            site: site_panel::SiteDraft::default(),
            opening: None,
            pending_scenario: None,
            bottom_tab: BottomTab::Log,
            offset,
            script: None,
            draw_cost: Duration::from_millis(2),
            pump_cost: Duration::ZERO,
            last_frame: None,
            panel_size: None,
            browsers_seen: 0,
            frame_log: None,
            keeper,
            repaint,
            export_dir: crate::lab::export::default_dir(),
        }
    }

    /// Saves exports (*Save all three*) in `dir` from now on, instead of the usual folder.
    pub fn set_export_dir(&mut self, dir: PathBuf) {
        self.export_dir = dir;
    }

    /// Keeps the lab in `path` between launches (written when eframe saves, and on closing),
    /// restoring what `loaded` found there once the server runs.
    pub fn with_saved_lab(mut self, path: Option<PathBuf>, loaded: Loaded) -> Self {
        if let Some(lab) = &loaded.lab {
            // The learner's progress comes back with the lab.
            self.state
                .solved_scenarios
                .extend(lab.solved_scenarios.iter().cloned());
        }
        self.keeper = lab_file::LabKeeper::new(path, loaded);
        self.keeper.set_waker(self.repaint.clone());
        self
    }

    /// Writes the kept lab now, if it changed (eframe's save does this every 30 s and on
    /// closing), off the UI thread.
    pub fn keep_lab(&mut self) {
        let drafts = &self.drafts;
        self.keeper
            .keep(&self.state, |id| drafts.get(&id).map(|d| d.url.clone()));
    }

    /// Writes the kept lab now, if it changed, and waits until it is on disk (for tests).
    pub fn keep_lab_and_wait(&mut self) {
        self.keep_lab();
        self.wait_for_lab_files();
    }

    /// Waits until every lab file asked for is written, and takes in how it went (for tests;
    /// the window never waits).
    pub fn wait_for_lab_files(&mut self) {
        self.keeper.flush();
    }

    /// Writes each frame's CPU time (milliseconds, one per line) to `path`.
    pub fn with_frame_log(mut self, path: &std::path::Path) -> anyhow::Result<Self> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write the frame log {}", path.display()))?;
        self.frame_log = Some(std::io::BufWriter::new(file));
        Ok(self)
    }

    /// Restores what the user chose last time (the bottom tab) from eframe's storage.
    pub fn restore(mut self, storage: Option<&dyn eframe::Storage>) -> Self {
        if let Some(tab) = storage
            .and_then(|storage| storage.get_string(BOTTOM_TAB_KEY))
            .and_then(|label| BottomTab::from_label(&label))
        {
            self.bottom_tab = tab;
        }
        self
    }

    /// The bottom panel's tab on show.
    pub fn bottom_tab(&self) -> BottomTab {
        self.bottom_tab
    }

    /// Plays `scene`, saves a screenshot to `path`, then closes.
    pub fn with_screenshot_script(mut self, path: PathBuf, scene: Scene) -> Self {
        self.script = Some(SmokeScript::new(path, scene));
        self
    }

    /// Opens `scenario` (added to the Scenarios tab's list) as soon as the server runs.
    pub fn with_scenario(mut self, scenario: crate::scenario::Scenario) -> Self {
        self.pending_scenario = Some(self.scenarios.add(scenario));
        self.bottom_tab = BottomTab::Scenarios;
        self
    }

    /// What the window shows, as data.
    pub fn state(&self) -> &LabState {
        &self.state
    }

    /// Sends a command to the lab, as a click would.
    pub fn send(&self, command: Command) {
        self.lab.send(command);
    }

    /// Types `text` into the sessions table's filter box, as a user would.
    pub fn filter_sessions(&mut self, text: &str) {
        text.clone_into(&mut self.sessions.filter);
    }

    /// Sorts the sessions table, as a click on a column header would.
    pub fn sort_sessions(&mut self, sort: crate::lab::SessionSort) {
        self.state.set_session_sort(sort);
    }

    /// Shows one of the bottom panel's views.
    pub fn show_tab(&mut self, tab: BottomTab) {
        self.bottom_tab = tab;
    }

    /// Sends the next command of the scenario being opened, once the lab has done the last.
    fn advance_opening(&mut self) {
        use crate::scenario::play::Progress;
        let Some(script) = &mut self.opening else {
            return;
        };
        let lab = &self.lab;
        let progress = script.advance(&mut self.state, &mut |command| lab.send(command));
        if progress != Progress::Working && std::mem::take(&mut self.scenarios.replaying) {
            self.scenarios.replayed = Some(self.scenarios.attack.steps().len());
        }
        match progress {
            Progress::Working => {}
            Progress::Done => self.opening = None,
            Progress::Failed(why) => {
                self.scenarios.error = Some(crate::lab::failure_text(&why));
                self.opening = None;
            }
            Progress::Unmet(what) => {
                self.scenarios.error = Some(what);
                self.opening = None;
            }
        }
    }

    fn apply(&mut self, ctx: &egui::Context, command: UiCommand) {
        match command {
            UiCommand::Lab(command) => {
                // What the student does in a scenario without its fix is their attack, kept
                // to be replayed once the fix is applied.
                if self.opening.is_none()
                    && Judge::of(&self.state).is_some_and(|judge| !judge.fixed())
                {
                    self.scenarios.attack.record(&command, &self.state);
                }
                self.lab.send(command);
            }
            UiCommand::OpenInBrowser(url) => {
                // A desktop with no browser (or none that starts) is told so, with the address
                // copied to paste by hand; the attempt runs off the window's thread.
                let failed = self.browser_failed.0.clone();
                let ctx = ctx.clone();
                std::thread::spawn(move || {
                    if let Err(err) = webbrowser::open(&url) {
                        let _ = failed.send((url, err.to_string()));
                        ctx.request_repaint();
                    }
                });
            }
            UiCommand::OpenScenario { scenario, fixed } => {
                self.state.judge = None;
                self.scenarios.hints_shown = 0;
                self.scenarios.error = None;
                self.scenarios.replayed = None;
                // Ids pinned before name sessions the fresh store does not hold.
                self.sessions.pins = sessions_panel::Pins::default();
                let opening = crate::scenario::play::Script::opening(scenario, fixed);
                self.opening = Some(if fixed {
                    opening.keeping_site()
                } else {
                    self.scenarios.attack.clear();
                    opening
                });
                self.advance_opening();
            }
            UiCommand::ReplayAttack => {
                if let Some(judge) = Judge::of(&self.state) {
                    self.scenarios.replayed = None;
                    self.scenarios.replaying = true;
                    self.opening = Some(crate::scenario::play::Script::steps(
                        judge.scenario().clone(),
                        self.scenarios.attack.steps(),
                    ));
                    self.advance_opening();
                }
            }
            UiCommand::Pin { what, value } => self.sessions.pins.pin(what, value),
            UiCommand::ResetLab => {
                self.sessions.pins = sessions_panel::Pins::default();
                // The sessions the Audit and Load made go with the lab they filled; the
                // student's own stay, for a saved lab opened again to find them.
                let made = self.state.made_sessions();
                let gone = made.len();
                if gone > 0 {
                    self.lab
                        .send(crate::lab::ServerCommand::DeleteSessions(made));
                }
                self.keeper.open(SavedLab::seed(&self.default_url));
                self.keeper.notice = Some(format!(
                    "The lab is back to the seed: browsers A and B, default settings{}.",
                    if gone > 0 {
                        format!("; the {gone} sessions the Audit and Load made are deleted")
                    } else {
                        String::new()
                    }
                ));
            }
            UiCommand::SaveLab { path, history } => {
                let drafts = &self.drafts;
                let lab = self
                    .state
                    .snapshot(|id| drafts.get(&id).map(|d| d.url.clone()), history);
                self.keeper.save_as(&lab, path);
            }
            UiCommand::OpenLab(path) => {
                let read = SavedLab::read(&path);
                self.keeper.notice = Some(match read {
                    Ok(mut lab) => {
                        let changed = lab.sanitise(self.state.now());
                        let mut text = format!(
                            "Opened {} ({} browsers)",
                            path.display(),
                            lab.browsers.len()
                        );
                        if !changed.is_empty() {
                            text.push_str(&format!("; changed to start: {}", changed.join("; ")));
                        }
                        self.keeper.open(lab);
                        text
                    }
                    Err(why) => format!("Could not open {}: {why}", path.display()),
                });
            }
            UiCommand::Export { browser, what } => {
                let notice = transfer_ui::export(ctx, &self.state, browser, what, &self.export_dir);
                if let Some(draft) = self.drafts.get_mut(&browser) {
                    draft.notice = notice;
                }
            }
        }
    }

    /// A file dropped on the window goes to the browser whose Import area is open (the first
    /// such, in panel order).
    fn take_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        let Some(file) = dropped.first() else {
            return;
        };
        let Some(draft) = self
            .state
            .browsers
            .iter()
            .filter_map(|b| self.drafts.get(&b.id).map(|_| b.id))
            .find(|id| self.drafts.get(id).is_some_and(|d| d.import.is_some()))
            .and_then(|id| self.drafts.get_mut(&id))
        else {
            self.keeper.notice = Some(format!(
                "To import {}, click Import on a browser's cookie jar first, then drop it there",
                file.path().display()
            ));
            return;
        };
        let import = draft.import.as_mut().expect("found open");
        import.load(file.path());
    }

    /// Gives new browsers an address bar filled with the server's URL, and forgets removed ones.
    fn sync_drafts(&mut self) {
        let default_url = self
            .state
            .server
            .as_ref()
            .map_or_else(|| "http://127.0.0.1:3000/".to_owned(), |s| s.url.clone());
        if default_url != self.default_url {
            // The server started (or moved): address fields still showing the old default
            // follow it; those the user typed stay.
            for draft in self.drafts.values_mut() {
                if draft.url == self.default_url {
                    draft.url.clone_from(&default_url);
                }
            }
            self.default_url.clone_from(&default_url);
        }
        let restored = self.keeper.restored_urls(&self.state);
        for browser in &self.state.browsers {
            let draft = self
                .drafts
                .entry(browser.id)
                .or_insert_with(|| BrowserDraft::new(default_url.clone()));
            if let Some(url) = restored
                .as_ref()
                .and_then(|urls| urls.get(&browser.name))
                .filter(|url| !url.is_empty())
            {
                draft.url.clone_from(url);
            }
            draft.follow(browser.last.as_ref());
        }
        let live: Vec<BrowserId> = self.state.browsers.iter().map(|b| b.id).collect();
        self.drafts.retain(|id, _| live.contains(id));
    }

    fn run_script(&mut self, ctx: &egui::Context) {
        let Some(script) = &mut self.script else {
            return;
        };
        match script.step(&self.state) {
            SmokeStep::Continue => {}
            SmokeStep::Send(command) => self.lab.send(command),
            SmokeStep::Tab(tab) => self.bottom_tab = tab,
            SmokeStep::OpenScenario(scenario) => self.apply(
                ctx,
                UiCommand::OpenScenario {
                    scenario,
                    fixed: false,
                },
            ),
            SmokeStep::Hint => self.scenarios.hints_shown += 1,
            SmokeStep::Screenshot => {
                ctx.request_screenshot(script.screenshot_callback(ctx.clone()));
            }
            SmokeStep::Finish(result) => {
                match result {
                    Ok(()) => eprintln!("Screenshot saved; closing."),
                    Err(error) => {
                        eprintln!("Scripted run failed: {error}");
                        std::process::exit(1);
                    }
                }
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
        // The script advances frame by frame until it is done.
        ctx.request_repaint_after(std::time::Duration::from_millis(50));
    }

    /// Repaints when a visible countdown's text will change, and not before: the cookies'
    /// countdowns, and those of the session rows on screen (`sessions`).
    fn schedule_countdowns(
        &self,
        ctx: &egui::Context,
        now: OffsetDateTime,
        sessions: Option<std::time::Duration>,
    ) {
        let cookie_expiries = self
            .state
            .browsers
            .iter()
            .flat_map(|b| b.cookies.iter().filter_map(|c| c.cookie.expires));
        if let Some(next) = cookie_expiries
            .filter_map(|at| time_left_changes_in(now, at))
            .chain(sessions)
            .min()
        {
            ctx.request_repaint_after(next);
        }
    }
}

impl eframe::App for SessionLabApp {
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // A scripted run (screenshots, smoke tests) leaves the user's choices alone.
        if self.script.is_none() {
            storage.set_string(BOTTOM_TAB_KEY, self.bottom_tab.label().to_owned());
            self.keep_lab();
        }
    }

    fn persist_egui_memory(&self) -> bool {
        // Panel and column sizes; not those a scripted run happened to have.
        self.script.is_none()
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        // The last frame's whole CPU time (drawing and painting included), where the platform
        // reports it; the drawing is what the pump did not take.
        if let Some(seconds) = frame.info().cpu_usage {
            let total = Duration::from_secs_f32(seconds.max(0.0));
            self.draw_cost = (self.draw_cost * 3 + total.saturating_sub(self.pump_cost)) / 4;
            if let Some(log) = &mut self.frame_log {
                use std::io::Write as _;
                // Flushed every frame: the benchmark stops the window with a signal.
                let _ = writeln!(log, "{:.3}", seconds * 1000.0).and_then(|()| log.flush());
            }
        }
        while let Ok((url, why)) = self.browser_failed.1.try_recv() {
            ctx.copy_text(url.clone());
            self.keeper.notice = Some(format!(
                "Could not open your browser ({why}). The address {url} is copied: paste it into \
                 a browser."
            ));
        }
        let started = Instant::now();
        let interval = self
            .last_frame
            .replace(started)
            .map_or(Duration::ZERO, |last| started - last);
        let budget = if interval > SLOW_FRAME {
            (interval / PUMP_SHARE_OF_INTERVAL).min(PUMP_SLOW_FRAME_MAX)
        } else {
            FRAME_TARGET
                .saturating_sub(self.draw_cost)
                .clamp(PUMP_MIN, PUMP_MAX)
        };
        let pumping = Instant::now();
        let pumped_more = self.lab.pump_for(&mut self.state, budget);
        self.pump_cost = pumping.elapsed();
        // A sort or filter of a big table is built a slice at a time, between frames.
        let view_busy = self
            .state
            .work_on_sessions(Instant::now() + VIEW_WORK_BUDGET);
        let drawing = Instant::now();
        if pumped_more || view_busy {
            // More than one frame's budget: carry on next frame.
            ctx.request_repaint();
        }
        for command in self.keeper.restore(&self.state) {
            self.lab.send(command);
        }
        self.advance_opening();
        self.sync_drafts();
        self.take_dropped_files(&ctx);
        let now = self.state.now();
        let mut commands = Vec::new();

        let mut settings_open = self.settings.is_some();
        egui::Panel::top("header").show(ui, |ui| {
            ui.add_space(4.0);
            commands.extend(header::header_ui(
                ui,
                &self.state,
                &mut settings_open,
                &mut self.load,
                &mut self.keeper,
            ));
            ui.add_space(2.0);
        });
        match (settings_open, &self.settings, &self.state.server) {
            (true, None, Some(server)) => {
                self.settings = Some(SettingsDraft::new(&server.settings, &server.store));
            }
            (false, Some(_), _) => self.settings = None,
            _ => {}
        }
        if let (Some(draft), Some(server)) = (&mut self.settings, &self.state.server) {
            draft.follow(&server.settings, self.state.instances.len().max(1));
        }
        if let Some(draft) = &mut self.settings {
            egui::Panel::right("settings")
                .resizable(true)
                .default_size(340.0)
                .show(ui, |ui| {
                    commands.extend(settings_panel::settings_ui(ui, &self.state, draft, now));
                });
        }
        // The window's height is shared so that each part keeps a usable share at 1280×720
        // whatever the lab holds: the bottom tabs at least a third of the window, the sessions
        // table a few rows, the browsers the rest they need. Each part scrolls inside its
        // share, and the dividers between them can be dragged (egui keeps the sizes with the
        // window's memory, so they are remembered between launches).
        let window_height = ctx.content_rect().height();
        let bottom_min = window_height / 3.0;
        let room = ui.available_height();
        let browsers_max = (room - bottom_min - SESSIONS_MIN_HEIGHT).max(BROWSERS_MIN_HEIGHT);
        // A new browser (the last one) is scrolled into view.
        let newcomer = (self.state.browsers.len() > self.browsers_seen)
            .then(|| self.state.browsers.last().map(|b| b.id))
            .flatten()
            .filter(|_| self.browsers_seen > 0);
        self.browsers_seen = self.state.browsers.len();
        egui::Panel::top("browsers")
            .resizable(true)
            .min_size(BROWSERS_MIN_HEIGHT)
            .max_size(browsers_max)
            .default_size(browsers_max)
            .show(ui, |ui| {
                if self.state.browsers.is_empty() {
                    ui.label("No browsers — click “+ Browser” to add one.");
                }
                let names: Vec<(BrowserId, String)> = self
                    .state
                    .browsers
                    .iter()
                    .map(|b| (b.id, b.name.clone()))
                    .collect();
                let panel_size = &mut self.panel_size;
                let drafts = &mut self.drafts;
                let state = &self.state;
                let offset = self.offset;
                egui::ScrollArea::both()
                    .id_salt("browsers")
                    .auto_shrink([false, false])
                    .show_viewport(ui, |ui, viewport| {
                        let origin = ui.min_rect().min;
                        ui.horizontal_top(|ui| {
                            // Only the panels in view are laid out; the others keep their place
                            // (their size as last drawn), so sixteen browsers cost what two or three
                            // on screen do.
                            let gap = ui.spacing().item_spacing.x;
                            let mut x = 0.0;
                            let mut drawn = egui::Vec2::ZERO;
                            for browser in &state.browsers {
                                let Some(draft) = drafts.get_mut(&browser.id) else {
                                    continue;
                                };
                                let size = panel_size.unwrap_or(egui::vec2(600.0, 300.0));
                                if newcomer == Some(browser.id) {
                                    let place = egui::Rect::from_min_size(
                                        origin + egui::vec2(x, 0.0),
                                        egui::vec2(size.x, 1.0),
                                    );
                                    ui.scroll_to_rect(place, Some(egui::Align::Max));
                                }
                                let in_view = x <= viewport.max.x && x + size.x >= viewport.min.x;
                                x += size.x + gap;
                                if !in_view {
                                    ui.allocate_space(size);
                                    continue;
                                }
                                let peers: Vec<(BrowserId, String)> = names
                                    .iter()
                                    .filter(|(id, _)| *id != browser.id)
                                    .cloned()
                                    .collect();
                                let history: Vec<&ExchangeRecord> = state
                                    .exchanges
                                    .iter()
                                    .rev()
                                    .filter(|r| r.browser == browser.id)
                                    .take(browser_panel::HISTORY_SHOWN)
                                    .collect();
                                let panel = ui.scope(|ui| {
                                    browser_panel::browser_ui(
                                        ui,
                                        browser,
                                        draft,
                                        &browser_panel::PanelContext {
                                            server: state.server.as_ref().map(|s| &s.settings),
                                            peers: &peers,
                                            history: &history,
                                            now,
                                            offset,
                                            instances: state.instances.len().max(1),
                                            server_url: state
                                                .server
                                                .as_ref()
                                                .map(|s| s.url.as_str()),
                                            proxy_url: state.proxy_url.as_deref(),
                                            account: Judge::of(state).and_then(|judge| {
                                                judge.scenario().account_of(&browser.name)
                                            }),
                                        },
                                    )
                                });
                                commands.extend(panel.inner);
                                drawn = drawn.max(panel.response.rect.size());
                            }
                            if drawn.x > 0.0 {
                                *panel_size = Some(drawn);
                            }
                        });
                    });
            });

        let mut session_countdown = None;
        let room = ui.available_height();
        let sessions_max = (room - bottom_min).max(SESSIONS_MIN_HEIGHT);
        egui::Panel::top("sessions")
            .resizable(true)
            .min_size(SESSIONS_MIN_HEIGHT)
            .max_size(sessions_max)
            .default_size(sessions_max.min(SESSIONS_DEFAULT_HEIGHT))
            .show(ui, |ui| {
                session_countdown = sessions_panel::sessions_ui(
                    ui,
                    &mut self.state,
                    &mut self.sessions,
                    (now, self.offset),
                    &mut commands,
                );
            });
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for (tab, label) in BottomTab::ALL {
                    ui.selectable_value(&mut self.bottom_tab, tab, label);
                }
            });
            ui.separator();
            match self.bottom_tab {
                BottomTab::Log => log_panel::log_ui(ui, &self.state, self.offset),
                BottomTab::Timeline => {
                    timeline_panel::timeline_ui(
                        ui,
                        &self.state,
                        self.offset,
                        &mut self.timeline_history,
                    );
                }
                BottomTab::Plot => plot_panel::plot_ui(ui, &self.state),
                BottomTab::Audit => {
                    commands.extend(audit_panel::audit_ui(
                        ui,
                        &self.state,
                        &mut self.audit,
                        self.offset,
                    ));
                }
                BottomTab::Scenarios => {
                    commands.extend(scenario_panel::scenario_ui(
                        ui,
                        &self.state,
                        &mut self.scenarios,
                        self.opening.is_some(),
                    ));
                }
                BottomTab::OtherSite => {
                    commands.extend(site_panel::site_ui(ui, &self.state, &mut self.site));
                }
            }
        });
        commands.extend(lab_file::dialog_ui(&ctx, &mut self.keeper));
        if self.state.server.is_some()
            && let Some(scenario) = self.pending_scenario.take()
        {
            commands.push(UiCommand::OpenScenario {
                scenario,
                fixed: false,
            });
        }
        for command in commands {
            self.apply(&ctx, command);
        }
        self.run_script(&ctx);
        let input = ctx.input(|i| !i.events.is_empty());
        match self.keeper.note_frame(self.state.applied, input) {
            Some(wait) if wait.is_zero() => self.keep_lab(),
            Some(wait) => ctx.request_repaint_after(wait),
            None => {}
        }
        self.schedule_countdowns(&ctx, now, session_countdown);
        if frame.info().cpu_usage.is_none() {
            // Without the platform's figure (headless), the drawing measured here.
            self.draw_cost = (self.draw_cost * 3 + drawing.elapsed()) / 4;
        }
    }
}

/// How the window opens.
#[derive(Clone, Debug, Default)]
pub struct WindowOptions {
    /// The window's size, instead of the one it had when last closed.
    pub size: Option<[f32; 2]>,
    /// Play a scene, save a screenshot here and close (the user's saved state is neither read
    /// nor written).
    pub screenshot: Option<(PathBuf, Scene)>,
    /// Start with the seed's lab; the saved lab is neither read nor overwritten.
    pub fresh: bool,
    /// The server flags typed on the command line: they win over the kept lab's settings.
    pub given: GivenFlags,
    /// Open this scenario once the server runs (the kept lab is then neither read nor
    /// overwritten, as with `fresh`).
    pub scenario: Option<crate::scenario::Scenario>,
    /// Watch this store (another app's, read-only) from the start: its address as typed
    /// (checked to parse; a password in it is kept for the connection, never shown).
    pub watch: Option<String>,
}

/// The window's size the first time it opens.
const DEFAULT_SIZE: [f32; 2] = [1400.0, 900.0];

/// Opens the window: starts the lab, then runs the app until the window closes.
pub fn run(mut config: LabConfig, window: WindowOptions) -> anyhow::Result<()> {
    // The local offset must be read before other threads start (the `time` crate's rule).
    let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    // The lab kept from last time: its settings and store start the server; its browsers
    // replace the seed's once it runs.
    let lab_path = (window.screenshot.is_none() && !window.fresh && window.scenario.is_none())
        .then(crate::lab::saved::default_path);
    let loaded = lab_path
        .as_deref()
        .map(crate::lab::saved::load)
        .unwrap_or_default();
    if let Some(saved) = &loaded.lab {
        saved.start(&mut config, window.given);
    }
    let lab = Lab::start(config)?;
    if let Some(store) = &window.watch {
        lab.send(crate::lab::ServerCommand::WatchStore(Some(store.clone())));
    }
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png"))
        .context("the app icon is not a valid PNG")?;
    // A scripted run keeps its state in a file of its own, removed afterwards, so screenshots
    // look the same on every machine and the user's layout is left alone.
    let scripted_storage = window.screenshot.as_ref().map(|_| {
        std::env::temp_dir().join(format!("session-lab-scripted-{}.ron", std::process::id()))
    });
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(TITLE)
            .with_app_id("session-lab")
            .with_inner_size(window.size.unwrap_or(DEFAULT_SIZE))
            .with_min_inner_size([1000.0, 640.0])
            .with_icon(icon),
        // A size asked for wins over the remembered one.
        persist_window: window.size.is_none() && window.screenshot.is_none(),
        persistence_path: scripted_storage.clone(),
        ..Default::default()
    };
    let result = eframe::run_native(
        TITLE,
        options,
        Box::new(move |cc| {
            let mut app = SessionLabApp::new(&cc.egui_ctx, lab, offset);
            if let Some((path, scene)) = window.screenshot {
                app = app.with_screenshot_script(path, scene);
            } else if let Some(scenario) = window.scenario {
                app = app.restore(cc.storage).with_scenario(scenario);
            } else {
                app = app.restore(cc.storage).with_saved_lab(lab_path, loaded);
            }
            if let Some(path) = std::env::var_os("SESSION_LAB_FRAME_LOG") {
                app = app.with_frame_log(std::path::Path::new(&path))?;
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"));
    if let Some(path) = scripted_storage {
        let _ = std::fs::remove_file(path);
    }
    result
}
