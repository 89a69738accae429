//! The scripted run behind `--screenshot`: browser A visits three times, B once, then the
//! window saves a screenshot of itself and closes. CI uses it to prove a real window works.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    browser::Exchange,
    lab::{BrowserId, Command, LabState},
};

/// How long the whole script may take before the app gives up with an error.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Frames to wait after the last change so the screenshot shows a settled window.
const SETTLE_FRAMES: u32 = 5;

/// Where the scripted run is.
pub struct SmokeScript {
    path: PathBuf,
    started: Instant,
    visits: Vec<&'static str>,
    waiting: Option<(BrowserId, Option<Exchange>)>,
    settled_frames: u32,
    shot_requested: bool,
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

/// What the app should do after a frame of the script.
pub enum SmokeStep {
    /// Keep going.
    Continue,
    /// Send this command to the lab.
    Send(Command),
    /// Take the screenshot now.
    Screenshot,
    /// Close the window; the process exits with this result.
    Finish(Result<(), String>),
}

impl SmokeScript {
    /// A script that saves its screenshot to `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            started: Instant::now(),
            visits: vec!["B", "A", "A", "A"],
            waiting: None,
            settled_frames: 0,
            shot_requested: false,
            outcome: Arc::default(),
        }
    }

    /// Advances the script by one frame.
    pub fn step(&mut self, state: &LabState) -> SmokeStep {
        if let Some(outcome) = self
            .outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            return SmokeStep::Finish(outcome);
        }
        if self.started.elapsed() > SCRIPT_TIMEOUT {
            return SmokeStep::Finish(Err(format!(
                "the scripted visits did not finish within {} s",
                SCRIPT_TIMEOUT.as_secs()
            )));
        }
        if let Some(error) = &state.server_error {
            return SmokeStep::Finish(Err(format!("the server did not start: {error}")));
        }
        if let Some((id, before)) = &self.waiting {
            let Some(browser) = state.browser(*id) else {
                return SmokeStep::Finish(Err("a scripted browser disappeared".to_owned()));
            };
            if let Some(error) = &browser.last_error {
                return SmokeStep::Finish(Err(format!("a scripted visit failed: {error}")));
            }
            if browser.in_flight > 0 || &browser.last == before {
                return SmokeStep::Continue;
            }
            self.waiting = None;
        }
        if let Some(name) = self.visits.pop() {
            let (Some(browser), Some(server)) = (state.browser_named(name), &state.server) else {
                self.visits.push(name);
                return SmokeStep::Continue;
            };
            self.waiting = Some((browser.id, browser.last.clone()));
            return SmokeStep::Send(Command::Visit {
                browser: browser.id,
                url: server.url.clone(),
            });
        }
        let settled = state.sessions.len() >= 2
            && state
                .browsers
                .iter()
                .all(|b| b.in_flight == 0 && !b.cookies.is_empty());
        if !settled {
            return SmokeStep::Continue;
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
            *outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            ctx.request_repaint();
        }
    }
}
