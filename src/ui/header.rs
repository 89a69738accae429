//! The header: the server's address and state, counts, and the window-wide buttons.

use egui::RichText;

use crate::lab::{ClockMove, LabState, MAX_BROWSERS};

use super::{UiCommand, theme};
use crate::lab::{BrowserCommand, RequestCommand, ServerCommand};

/// The load the user is setting up: how many visits, from how many new browsers.
#[derive(Clone, Copy, Debug)]
pub struct LoadDraft {
    /// Visits in all.
    pub visits: usize,
    /// New browsers sharing them.
    pub browsers: usize,
}

impl Default for LoadDraft {
    fn default() -> Self {
        Self {
            visits: 10_000,
            browsers: 100,
        }
    }
}

/// Draws the header; returns what the user asked for. `settings_open` is the settings
/// panel's toggle; `load` the Load menu's choices.
pub fn header_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    settings_open: &mut bool,
    load: &mut LoadDraft,
    keeper: &mut super::lab_file::LabKeeper,
) -> Option<UiCommand> {
    let dark = ui.visuals().dark_mode;
    // The buttons are laid out first; the status on the left gets the room that is left and is
    // cut short (whole on hover) rather than running under them on a small screen.
    let (_, command) = egui::Sides::new().shrink_left().truncate().show(
        ui,
        |ui| status_ui(ui, state, dark),
        |ui| buttons_ui(ui, state, settings_open, load, keeper),
    );
    command
}

/// The server's address and state, the store, the cookie and the counts.
fn status_ui(ui: &mut egui::Ui, state: &LabState, dark: bool) {
    ui.heading("Session Lab");
    ui.separator();
    match (&state.server, &state.server_error) {
        (Some(server), _) => {
            ui.monospace(&server.url)
                .on_hover_text("The embedded session server (axum + tower-sessions)");
            theme::dot(ui, theme::good(dark));
            ui.label("running");
            if let Some(wanted) = &server.fallback_from {
                ui.colored_label(
                    theme::warn(dark),
                    format!("(port fallback: {wanted} was taken)"),
                )
                .on_hover_text(
                    "Another program already listens on the usual port, so the server took \
                         a free one. Use --port to choose.",
                );
            }
            if state.instances.len() > 1 {
                ui.label(format!("+ {} more instance(s)", state.instances.len() - 1))
                    .on_hover_text(
                        state
                            .instances
                            .iter()
                            .map(|i| i.url.clone())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
            }
            if !room(ui) {
                return;
            }
            ui.label("·");
            if let Some(down) = &state.store_down {
                theme::dot(ui, theme::bad(dark));
                ui.colored_label(
                    theme::bad(dark),
                    format!("{} store down", server.store_kind),
                )
                .on_hover_text(down.words());
            } else if state.store_full {
                theme::dot(ui, theme::warn(dark));
                ui.colored_label(
                    theme::warn(dark),
                    format!("{} store full", server.store_kind),
                )
                .on_hover_text(format!(
                    "The store holds its limit of {} sessions (--max-sessions, or Server \
                     settings): new visitors get a 503 page until sessions expire; visitors \
                     with a session are served as usual.",
                    crate::lab::text::count(server.settings.max_sessions as u64)
                ));
            } else {
                ui.label(format!("{} store", server.store_kind));
            }
            if server.settings.store_latency_ms > 0 {
                ui.label(format!("latency {} ms", server.settings.store_latency_ms))
                    .on_hover_text(
                        "Every store call waits this long, like a database across a network: the \
                     time between a request's load and its save is real, so concurrent requests \
                     of one session can overwrite each other (turn Safe server off and Burst to \
                     see it). Server settings → Store latency.",
                    );
            }
            if !room(ui) {
                return;
            }
            ui.label("·");
            let config = &server.settings;
            ui.label(format!(
                "{} cookie “{}”{}",
                config.protection.as_str(),
                config.cookie_name,
                if config.kept_in == crate::server::KeptIn::Cookie {
                    " holding the data"
                } else {
                    ""
                }
            ))
            .on_hover_text(format!(
                "Cookies are {} with a secret (fingerprint {}), {}; the secret itself is never \
                     shown.",
                config.protection.as_str(),
                server.secret_fingerprint,
                crate::lab::text::secret_source_text(&server.secret_source)
            ));
        }
        (None, Some(error)) => {
            theme::dot(ui, theme::bad(dark));
            ui.colored_label(theme::bad(dark), "server not running")
                .on_hover_text(error.to_string());
        }
        (None, None) => {
            ui.spinner();
            ui.label("starting…");
        }
    }
    if !room(ui) {
        return;
    }
    ui.label("·");
    ui.label(plural(state.sessions.len(), "session", "sessions"));
    if !room(ui) {
        return;
    }
    ui.label("·");
    ui.label(plural(
        state.requests_served as usize,
        "request",
        "requests",
    ));
}

/// Whether the status has room for one more item: on a small screen it ends where the room
/// does, rather than squeezing an item to a "…" that runs under the buttons (the sessions'
/// count and the store stay in the sessions table's heading, the cookie in Server settings).
fn room(ui: &egui::Ui) -> bool {
    ui.available_width() >= 48.0
}

/// The window-wide buttons, right to left; returns what the user asked for.
fn buttons_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    settings_open: &mut bool,
    load: &mut LoadDraft,
    keeper: &mut super::lab_file::LabKeeper,
) -> Option<UiCommand> {
    let mut command = None;
    if state.server.is_none() && state.server_error.is_some() {
        // The store it was asked for did not answer: start it on one that needs nothing else.
        if ui
            .button("Start on SQLite")
            .on_hover_text(format!(
                "Start the session server on a SQLite file ({}): sessions survive restarts",
                crate::server::StoreChoice::default_sqlite_path().display()
            ))
            .clicked()
        {
            command = Some(UiCommand::Lab(
                ServerCommand::RestartServer(Some(crate::server::StoreChoice::Sqlite(
                    crate::server::StoreChoice::default_sqlite_path(),
                )))
                .into(),
            ));
        }
        if ui
            .button("Start on memory")
            .on_hover_text("Start the session server on the memory store: nothing else needed")
            .clicked()
        {
            command = Some(UiCommand::Lab(
                ServerCommand::RestartServer(Some(crate::server::StoreChoice::Memory)).into(),
            ));
        }
    }
    if let Some(server) = &state.server
        && ui
            .button("Open in your browser")
            .on_hover_text(
                "Open the server in your real browser: its session shows up below as \
                         “external”.",
            )
            .clicked()
    {
        command = Some(UiCommand::OpenInBrowser(server.url.clone()));
    }
    let room = state.browsers.len() < MAX_BROWSERS;
    if ui
        .add_enabled(room, egui::Button::new("+ Private browser"))
        .on_hover_text("Add a private (incognito) browser: closing it forgets its whole jar")
        .on_disabled_hover_text(format!("At most {MAX_BROWSERS} browsers"))
        .clicked()
    {
        command = Some(UiCommand::Lab(
            BrowserCommand::AddBrowser { private: true }.into(),
        ));
    }
    if ui
        .add_enabled(room, egui::Button::new("+ Browser"))
        .on_hover_text("Add a simulated browser with its own, empty cookie jar")
        .on_disabled_hover_text(format!("At most {MAX_BROWSERS} browsers"))
        .clicked()
    {
        command = Some(UiCommand::Lab(
            BrowserCommand::AddBrowser { private: false }.into(),
        ));
    }
    if let Some(started) = load_ui(ui, state, load) {
        command = Some(started);
    }
    ui.toggle_value(settings_open, "Server settings")
        .on_hover_text("Cookie name, flags, expiry, signing and the secret of the embedded server");
    if let Some(chosen) = super::lab_file::lab_menu(ui, keeper) {
        command = Some(chosen);
    }
    if state.clock_ahead.is_positive() {
        let dark = ui.visuals().dark_mode;
        let ahead = crate::lab::text::duration_text(state.clock_ahead);
        if ui
            .button(
                RichText::new(format!("Clock +{ahead} · back to real time"))
                    .color(theme::warn(dark)),
            )
            .on_hover_text(format!(
                "The lab's clock runs {ahead} ahead of real time (the server's expiry and the \
                 browsers' jars follow it). Click to return to real time."
            ))
            .clicked()
        {
            command = Some(UiCommand::Lab(
                ServerCommand::MoveClock(ClockMove::ToRealTime).into(),
            ));
        }
    }
    command
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", crate::lab::text::count(count as u64))
    }
}

/// The Load menu, and the progress of a load under way.
fn load_ui(ui: &mut egui::Ui, state: &LabState, draft: &mut LoadDraft) -> Option<UiCommand> {
    let mut command = None;
    let running = state.load.as_ref().is_some_and(|l| l.outcome.is_none());
    ui.add_enabled_ui(!running && state.server.is_some(), |ui| {
        ui.menu_button("Load", |ui| {
            ui.label("Send many visits from new browsers, 64 at a time, and time them.");
            ui.horizontal(|ui| {
                ui.add(
                    egui::DragValue::new(&mut draft.visits)
                        .range(1..=1_000_000)
                        .suffix(" visits"),
                )
                .accessible_name("Load visits");
                ui.label("from");
                ui.add(
                    egui::DragValue::new(&mut draft.browsers)
                        .range(1..=10_000)
                        .suffix(" browsers"),
                )
                .accessible_name("Load browsers");
            });
            if ui.button("Start load").clicked() {
                command = Some(UiCommand::Lab(
                    RequestCommand::Load {
                        visits: draft.visits,
                        browsers: draft.browsers,
                    }
                    .into(),
                ));
                ui.close();
            }
        })
        .response
        .on_hover_text("Feel the server's speed: requests/s and p99 from inside the window");
    });
    if let Some(load) = &state.load {
        match &load.outcome {
            None => {
                let fraction = load.done as f32 / load.total.max(1) as f32;
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .desired_width(160.0)
                        .text(format!("{} / {}", load.done, load.total)),
                );
            }
            Some(Ok(report)) => {
                ui.label(format!(
                    "last load: {:.0} req/s, p99 {:.1} ms",
                    report.requests_per_sec(),
                    report.p99.as_secs_f64() * 1000.0
                ))
                .on_hover_text(report.summary());
            }
            Some(Err(_)) => {}
        }
    }
    command
}
