//! The lab kept between launches and shared as a file: restoring a saved lab once the server
//! runs, writing it when eframe saves, and the header's Lab menu (*Save lab as…*, *Open
//! lab…*, *Reset lab*).

use std::{collections::HashMap, path::PathBuf};

use egui::RichText;

use crate::lab::{
    BrowserId, Command, LabState,
    saved::{LabWriter, Loaded, SavedLab, WriteFor},
};

use super::{UiCommand, theme};
use crate::lab::{BrowserCommand, ServerCommand};

/// What the Lab menu's dialog is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogKind {
    /// Writing the lab to a file.
    Save,
    /// Reading a lab from a file.
    Open,
}

/// The Lab menu's dialog: a path, and for saving whether to include the history.
#[derive(Clone, Debug)]
pub struct LabDialog {
    /// Save or open.
    pub kind: DialogKind,
    /// The file.
    pub path: String,
    /// Save each browser's history (as HAR) in the file too.
    pub history: bool,
}

/// The lab kept between launches, and the one being restored.
#[derive(Debug, Default)]
pub struct LabKeeper {
    /// Where the lab is kept between launches; none when it is not (`--fresh`, scripted runs,
    /// tests).
    path: Option<PathBuf>,
    /// A lab to restore once the server runs, and whether its settings are to be applied
    /// (not for the kept lab at launch: its settings, merged with the flags typed, started the
    /// server).
    pending: Option<(SavedLab, bool)>,
    /// The restored browsers' address fields, by name, handed over once the restore is done.
    urls: HashMap<String, String>,
    /// The restore under way: done when the state has counted this many restores.
    awaiting: Option<u64>,
    /// The text last written, so an unchanged lab is not written again.
    last_written: String,
    /// When the lab was last compared with the file.
    last_kept: Option<std::time::Instant>,
    /// Something may have changed since (an event, the user's input).
    dirty: bool,
    /// The state's event count when last looked at.
    applied: u64,
    /// What to tell the user (a file set aside, a lab saved or opened, an error).
    pub notice: Option<String>,
    /// The Lab menu's dialog, while open.
    pub dialog: Option<LabDialog>,
    /// Writes lab files off the UI thread (and wakes the window when one is done).
    writer: LabWriter,
}

impl LabKeeper {
    /// Keeps the lab at `path` (if any), restoring what `loaded` found there.
    pub fn new(path: Option<PathBuf>, loaded: Loaded) -> Self {
        Self {
            path: path.filter(|_| !loaded.read_only),
            pending: loaded.lab.map(|lab| (lab, false)),
            notice: loaded.notice,
            ..Self::default()
        }
    }

    /// Wakes the window (`waker`) when a write is done, so its outcome shows without polling.
    pub fn set_waker(&mut self, waker: crate::lab::Waker) {
        self.writer.set_waker(waker);
    }

    /// Restores `lab` as soon as the server runs (browsers, jars, addresses, settings).
    pub fn open(&mut self, lab: SavedLab) {
        self.pending = Some((lab, true));
    }

    /// The commands that restore the pending lab, once the server runs.
    pub fn restore(&mut self, state: &LabState) -> Vec<Command> {
        let Some(server) = &state.server else {
            return Vec::new();
        };
        let Some((lab, apply_settings)) = self.pending.take() else {
            return Vec::new();
        };
        self.urls = lab
            .browsers
            .iter()
            .map(|b| {
                let url = match &lab.server_url {
                    Some(was) => crate::lab::saved::follow_server(&b.url, was, &server.url),
                    None => b.url.clone(),
                };
                (b.name.clone(), url)
            })
            .collect();
        self.awaiting = Some(state.restores + 1);
        let mut commands = vec![BrowserCommand::RestoreBrowsers(lab.browsers).into()];
        if apply_settings && lab.settings != server.settings {
            commands.push(ServerCommand::ApplySettings(lab.settings).into());
        }
        commands
    }

    /// Once a restore is done (the state holds exactly the restored browsers), their address
    /// fields by name.
    pub fn restored_urls(&mut self, state: &LabState) -> Option<HashMap<String, String>> {
        // The frame that sees the restore done hands them over before `keep` ends the wait.
        let done = self.awaiting.is_some_and(|n| state.restores >= n);
        (done && !self.urls.is_empty()).then(|| std::mem::take(&mut self.urls))
    }

    /// Notes whether the lab may have changed this frame (an event arrived, or the user did
    /// something), and returns how long until it should be compared with its file: at most two
    /// seconds after a change, so a crash or a `kill -9` loses at most that much. `None` when
    /// nothing is waiting (an idle window stays idle).
    pub fn note_frame(&mut self, applied: u64, input: bool) -> Option<std::time::Duration> {
        self.take_finished();
        self.path.as_ref()?;
        if applied != self.applied || input {
            self.applied = applied;
            self.dirty = true;
        }
        if !self.dirty {
            return None;
        }
        const EVERY: std::time::Duration = std::time::Duration::from_secs(2);
        Some(self.last_kept.map_or(std::time::Duration::ZERO, |at| {
            EVERY.saturating_sub(at.elapsed())
        }))
    }

    /// Writes the lab to its file when it changed since the last write.
    pub fn keep(&mut self, state: &LabState, url_of: impl Fn(BrowserId) -> Option<String>) {
        self.last_kept = Some(std::time::Instant::now());
        let Some(path) = &self.path else {
            return;
        };
        self.dirty = false;
        if self.awaiting.is_some_and(|n| state.restores >= n) {
            self.awaiting = None;
        }
        if state.server.is_none() || self.pending.is_some() || self.awaiting.is_some() {
            // Not started, or not restored yet: what is on disk is still the truth. The event
            // that changes this (the server starting, the restore done) marks the lab changed.
            return;
        }
        let lab = state.snapshot(url_of, false);
        let text = lab.to_json();
        if text == self.last_written {
            return;
        }
        self.writer.write(
            path.clone(),
            WriteFor::Keeping,
            lab.browsers.len(),
            text.clone(),
        );
        // Not written again unless it changes; a failed write clears this (see below).
        self.last_written = text;
    }

    /// Writes `lab` to `path` (*Save lab as…*); the notice says how it went once it is done.
    pub fn save_as(&mut self, lab: &SavedLab, path: PathBuf) {
        self.writer
            .write(path, WriteFor::SavingAs, lab.browsers.len(), lab.to_json());
    }

    /// Waits for every write asked for, and says how they went (for tests; the window never
    /// waits).
    pub fn flush(&mut self) {
        self.writer.flush();
        self.take_finished();
    }

    /// What the writes done since the last frame mean for the user.
    fn take_finished(&mut self) {
        for done in self.writer.finished() {
            let path = done.path.display();
            match (done.why, done.result) {
                (WriteFor::Keeping, Ok(())) => {}
                (WriteFor::Keeping, Err(err)) => {
                    // Try again at the next change.
                    self.last_written.clear();
                    self.notice = Some(format!("Could not keep the lab in {path}: {err}"));
                }
                (WriteFor::SavingAs, Ok(())) => {
                    self.notice = Some(format!(
                        "Saved the lab ({} browsers) in {path}",
                        done.browsers
                    ));
                }
                (WriteFor::SavingAs, Err(err)) => {
                    self.notice = Some(format!("Could not save the lab in {path}: {err}"));
                }
            }
        }
    }
}

/// The folder *Save lab as…* suggests.
fn suggested_path() -> String {
    crate::lab::export::default_dir()
        .join("lab.json")
        .display()
        .to_string()
}

/// The header's Lab menu.
pub fn lab_menu(ui: &mut egui::Ui, keeper: &mut LabKeeper) -> Option<UiCommand> {
    let mut command = None;
    ui.menu_button("Lab", |ui| {
        if ui
            .button("Save lab as…")
            .on_hover_text("Write the browsers, their jars and the server's settings to one file")
            .clicked()
        {
            keeper.dialog = Some(LabDialog {
                kind: DialogKind::Save,
                path: suggested_path(),
                history: false,
            });
            ui.close();
        }
        if ui
            .button("Open lab…")
            .on_hover_text("Replace the browsers and settings with a saved lab's")
            .clicked()
        {
            keeper.dialog = Some(LabDialog {
                kind: DialogKind::Open,
                path: suggested_path(),
                history: false,
            });
            ui.close();
        }
        ui.separator();
        if ui
            .button("Reset lab")
            .on_hover_text("Back to the seed: browsers A and B with empty jars, default settings")
            .clicked()
        {
            command = Some(UiCommand::ResetLab);
            ui.close();
        }
    })
    .response
    .on_hover_text("Save the lab to a file, open one, or start over");
    command
}

/// The dialog and the notice, drawn over the window.
pub fn dialog_ui(ctx: &egui::Context, keeper: &mut LabKeeper) -> Option<UiCommand> {
    let mut command = None;
    if let Some(notice) = keeper.notice.clone() {
        egui::Area::new(egui::Id::unique("lab notice"))
            .anchor(egui::Align2::CENTER_TOP, [0.0, 36.0])
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(notice);
                        if ui.small_button("OK").clicked() {
                            keeper.notice = None;
                        }
                    });
                });
            });
    }
    let Some(dialog) = &mut keeper.dialog else {
        return None;
    };
    let mut close = false;
    let title = match dialog.kind {
        DialogKind::Save => "Save lab as",
        DialogKind::Open => "Open lab",
    };
    egui::Window::new(title)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label("File");
            ui.add(egui::TextEdit::singleline(&mut dialog.path).desired_width(420.0))
                .accessible_name("Lab file");
            if dialog.kind == DialogKind::Save {
                ui.checkbox(&mut dialog.history, "With each browser's history (as HAR)");
                ui.label(
                    RichText::new(
                        "Jars of private browsers are left out; a Redis password is never written.",
                    )
                    .small()
                    .weak(),
                );
            } else {
                ui.colored_label(
                    theme::warn(ui.visuals().dark_mode),
                    RichText::new("The browsers and settings of this lab are replaced.").small(),
                );
            }
            ui.horizontal(|ui| {
                let path = PathBuf::from(dialog.path.trim());
                let go = match dialog.kind {
                    DialogKind::Save => "Save",
                    DialogKind::Open => "Open",
                };
                if ui
                    .add_enabled(!dialog.path.trim().is_empty(), egui::Button::new(go))
                    .clicked()
                {
                    command = Some(match dialog.kind {
                        DialogKind::Save => UiCommand::SaveLab {
                            path,
                            history: dialog.history,
                        },
                        DialogKind::Open => UiCommand::OpenLab(path),
                    });
                    close = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    if close {
        keeper.dialog = None;
    }
    command
}
