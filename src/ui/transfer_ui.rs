//! A browser panel's Export menu and Import area: the jar as `cookies.txt` or `storageState`,
//! the history as HAR, all three saved to a folder; and a `cookies.txt` or `storageState`
//! pasted, loaded from a path or dropped on the window, previewed, then imported whole.

use std::path::PathBuf;

use egui::RichText;

use crate::{
    lab::{BrowserId, BrowserState, LabState, export::BrowserExport},
    transfer::{ImportError, Imported, parse_cookies},
};

use super::{UiCommand, theme};
use crate::lab::BrowserCommand;

/// Which export the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportWhat {
    /// The jar as `cookies.txt`, to the clipboard.
    CookiesTxt,
    /// The jar as Playwright `storageState`, to the clipboard.
    StorageState,
    /// The history as HAR, to the clipboard.
    Har,
    /// All three, as files in the export folder.
    SaveAll,
}

/// An import being prepared in a browser's panel.
#[derive(Clone, Debug, Default)]
pub struct ImportDraft {
    /// The pasted (or loaded) text.
    text: String,
    /// A file to load.
    path: String,
    /// What `text` read as: read again only when the text is edited or loaded, or when a
    /// cookie it offers expires (so an expired one is never offered).
    preview: Option<Preview>,
    /// Why the last file could not be loaded.
    load_error: Option<String>,
}

/// What an import's text read as, and until when that holds.
#[derive(Clone, Debug)]
struct Preview {
    read: Result<Imported, ImportError>,
    /// The earliest expiry among the cookies read.
    stale_at: Option<time::OffsetDateTime>,
}

impl ImportDraft {
    /// Loads `path` into the text (a dropped file, or the path typed in).
    pub fn load(&mut self, path: &std::path::Path) {
        self.preview = None;
        self.load_error = None;
        match crate::files::read_regular_file(path, MAX_IMPORT_BYTES) {
            Ok(bytes) => {
                self.text = String::from_utf8_lossy(&bytes).into_owned();
                self.path = path.display().to_string();
            }
            Err(err) => {
                self.text.clear();
                self.load_error = Some(err.to_string());
            }
        }
    }

    fn preview(&mut self, now: time::OffsetDateTime) -> &Result<Imported, ImportError> {
        if self
            .preview
            .as_ref()
            .is_none_or(|p| p.stale_at.is_some_and(|at| at <= now))
        {
            let read = parse_cookies(&self.text, now);
            let stale_at = read
                .as_ref()
                .ok()
                .and_then(|r| r.cookies.iter().filter_map(|c| c.expires).min());
            self.preview = Some(Preview { read, stale_at });
        }
        &self.preview.as_ref().expect("just set").read
    }
}

/// The largest file an import reads (a browser's whole cookie jar is far smaller).
const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;

/// The Export menu of a browser's jar header.
pub fn export_menu(ui: &mut egui::Ui, browser: &BrowserState, commands: &mut Vec<UiCommand>) {
    let id = browser.id;
    ui.menu_button("Export", |ui| {
        for (what, label, help) in [
            (
                ExportWhat::CookiesTxt,
                "Copy cookies.txt",
                "The jar in curl's Netscape format: curl -b cookies.txt URL",
            ),
            (
                ExportWhat::StorageState,
                "Copy storageState",
                "The jar as Playwright's storageState JSON: browser.newContext({ storageState })",
            ),
            (
                ExportWhat::Har,
                "Copy HAR",
                "The history as HAR 1.2, for DevTools' Network panel (Import HAR file)",
            ),
            (
                ExportWhat::SaveAll,
                "Save all three",
                "cookies.txt, storageState.json and history.har in a folder named after the browser",
            ),
        ] {
            if ui.button(label).on_hover_text(help).clicked() {
                commands.push(UiCommand::Export { browser: id, what });
                ui.close();
            }
        }
    })
    .response
    .accessible_name(format!("Export {}", browser.name))
    .on_hover_text("Take this browser's cookies or history to curl, Playwright or DevTools");
}

/// The import area under a browser's jar header, while open; `close` is set when it is done.
pub fn import_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut ImportDraft,
    now: time::OffsetDateTime,
    commands: &mut Vec<UiCommand>,
) -> bool {
    let dark = ui.visuals().dark_mode;
    let mut close = false;
    ui.group(|ui| {
        ui.label(
            RichText::new(
                "Paste a cookies.txt or a Playwright storageState JSON, type a file's path, or \
                 drop the file on the window.",
            )
            .small(),
        );
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut draft.path)
                    .hint_text("/path/to/cookies.txt")
                    .desired_width(300.0),
            )
            .accessible_name(format!("Import file of {}", browser.name));
            if ui
                .add_enabled(!draft.path.trim().is_empty(), egui::Button::new("Load"))
                .clicked()
            {
                let path = PathBuf::from(draft.path.trim());
                draft.load(&path);
            }
        });
        egui::ScrollArea::vertical()
            .id_salt(("import text", browser.id))
            .max_height(90.0)
            .show(ui, |ui| {
                let edited = ui
                    .add(
                        egui::TextEdit::multiline(&mut draft.text)
                            .font(egui::TextStyle::Monospace)
                            .desired_rows(3)
                            .desired_width(f32::INFINITY),
                    )
                    .accessible_name(format!("Import text of {}", browser.name))
                    .changed();
                if edited {
                    draft.preview = None;
                    draft.load_error = None;
                }
            });
        let ready = if draft.text.trim().is_empty() {
            match &draft.load_error {
                Some(error) => {
                    ui.colored_label(theme::bad(dark), error);
                }
                None => {
                    ui.label(RichText::new("Nothing to import yet.").weak());
                }
            }
            None
        } else {
            match draft.preview(now) {
                Err(error) => {
                    ui.colored_label(theme::bad(dark), error.to_string());
                    None
                }
                Ok(read) => {
                    let names: Vec<String> = read
                        .cookies
                        .iter()
                        .map(|c| format!("{} ({}{})", c.name, c.domain, c.path))
                        .collect();
                    ui.label(format!(
                        "{} cookie(s) in this {}: {}",
                        read.cookies.len(),
                        read.format,
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ));
                    for problem in read.problems.iter().take(6) {
                        ui.colored_label(
                            theme::warn(dark),
                            RichText::new(format!("Left out — {problem}")).small(),
                        );
                    }
                    if read.problems.len() > 6 {
                        ui.label(
                            RichText::new(format!("… and {} more", read.problems.len() - 6))
                                .small(),
                        );
                    }
                    (!read.cookies.is_empty()).then(|| read.clone())
                }
            }
        };
        ui.horizontal(|ui| {
            let label = match &ready {
                Some(read) if read.problems.is_empty() => {
                    format!("Import {} cookie(s)", read.cookies.len())
                }
                Some(read) => format!(
                    "Import {} cookie(s), leave out {}",
                    read.cookies.len(),
                    read.problems.len()
                ),
                None => "Import".to_owned(),
            };
            if ui
                .add_enabled(ready.is_some(), egui::Button::new(label))
                .accessible_name(format!("Import into {}", browser.name))
                .on_hover_text(
                    "Put these cookies in the jar, all together (a cookie with the same name, \
                     domain and path is replaced)",
                )
                .clicked()
                && let Some(read) = ready
            {
                commands.push(UiCommand::Lab(
                    BrowserCommand::ImportCookies {
                        browser: browser.id,
                        cookies: read.cookies,
                        format: read.format.to_owned(),
                    }
                    .into(),
                ));
                close = true;
            }
            if ui
                .button("Cancel")
                .accessible_name(format!("Cancel import {}", browser.name))
                .clicked()
            {
                close = true;
            }
        });
    });
    close
}

/// Carries out an export: text to the clipboard, or files in the export folder. Returns what
/// to tell the user.
pub fn export(
    ctx: &egui::Context,
    state: &LabState,
    browser: BrowserId,
    what: ExportWhat,
    dir: &std::path::Path,
) -> Option<String> {
    let export: BrowserExport = state.export_browser(browser)?;
    let copied = |text: &str, name: &str| {
        ctx.copy_text(text.to_owned());
        Some(format!("Copied {name} ({} bytes)", text.len()))
    };
    match what {
        ExportWhat::CookiesTxt => copied(&export.cookies_txt, "cookies.txt"),
        ExportWhat::StorageState => copied(&export.storage_state, "storageState"),
        ExportWhat::Har => copied(&export.har, "the HAR"),
        ExportWhat::SaveAll => Some(match export.write_to(dir) {
            Ok(folder) => format!(
                "Saved cookies.txt, storageState.json and history.har in {}",
                folder.display()
            ),
            Err(err) => format!("Could not save in {}: {err}", dir.display()),
        }),
    }
}
