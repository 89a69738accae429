//! The server panel: every session the store holds, and which browsers hold its cookie. Only
//! the visible rows are laid out; sorting and filtering use the table's indexes, so a million
//! sessions scroll as smoothly as ten.

use std::time::Duration;

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use time::{OffsetDateTime, UtcOffset};

use crate::lab::{
    ClockMove, LabState, SessionSort, SortColumn,
    text::{clock_time, count, data_text, short_id, time_left, time_left_changes_in},
};

use super::{UiCommand, theme};
use crate::lab::ServerCommand;

/// The filter text being typed (kept by the app between frames).
#[derive(Clone, Debug, Default)]
pub struct SessionsDraft {
    /// What the filter box holds.
    pub filter: String,
    /// The ids and values pinned whole above the table, to read and compare.
    pub pins: Pins,
    /// What the "Watch a store" field holds.
    pub watch_address: String,
    /// The table shows the watched store (else the lab's own server), while one is watched.
    pub showing_watched: bool,
    /// The store the table last switched to, so a new watch brings its table forward once.
    shown_watch: Option<String>,
    /// The "Watch a store" row is open (it stays open while a store is watched).
    pub watch_open: bool,
}

/// At most two ids or cookie values, pinned whole (a click on one in the sessions table or a
/// jar), one above the other with the characters where they differ marked: ids that differ in
/// one digit are told apart at a glance.
#[derive(Clone, Debug, Default)]
pub struct Pins(Vec<(String, String)>);

impl Pins {
    /// The most pinned at once; a new one pushes the oldest out.
    pub const MAX: usize = 2;

    /// Pins `value`, described as `what` ("session id", "id of Victim").
    pub fn pin(&mut self, what: String, value: String) {
        self.0.retain(|(_, v)| *v != value);
        self.0.push((what, value));
        if self.0.len() > Self::MAX {
            self.0.remove(0);
        }
    }
}

/// The pinned values, whole, one above the other, each with Copy and ×; where two are pinned,
/// the characters in which they differ are drawn in the warning colour.
fn pins_ui(ui: &mut egui::Ui, pins: &mut Pins) {
    let dark = ui.visuals().dark_mode;
    let other = |i: usize| pins.0.get(1 - i.min(1)).filter(|_| pins.0.len() == 2);
    let mut unpin = None;
    for (i, (what, value)) in pins.0.iter().enumerate() {
        let mut job = egui::text::LayoutJob::default();
        let font = egui::TextStyle::Monospace.resolve(ui.style());
        let compared = other(i).map(|(_, v)| v.chars().collect::<Vec<_>>());
        for (at, c) in value.chars().enumerate() {
            let differs = compared.as_ref().is_some_and(|o| o.get(at) != Some(&c));
            let colour = if differs {
                theme::warn(dark)
            } else {
                ui.visuals().strong_text_color()
            };
            job.append(
                &c.to_string(),
                0.0,
                egui::TextFormat::simple(font.clone(), colour),
            );
        }
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("{what}:")).weak());
            ui.add(egui::Label::new(job).wrap());
            if ui
                .small_button("Copy")
                .accessible_name(format!("Copy pinned {what}"))
                .clicked()
            {
                ui.ctx().copy_text(value.clone());
            }
            if ui
                .small_button("×")
                .accessible_name(format!("Unpin {what}"))
                .on_hover_text("Unpin")
                .clicked()
            {
                unpin = Some(i);
            }
        });
    }
    if let Some(i) = unpin {
        pins.0.remove(i);
    }
}

/// Draws the sessions table, filling the height it is given (its rows scroll within it);
/// returns when the soonest visible countdown changes, so the app can repaint just then.
pub fn sessions_ui(
    ui: &mut egui::Ui,
    state: &mut LabState,
    draft: &mut SessionsDraft,
    (now, offset): (OffsetDateTime, UtcOffset),
    commands: &mut Vec<UiCommand>,
) -> Option<Duration> {
    if draft.watch_open || state.watched.is_some() {
        watch_bar_ui(ui, state, draft, commands);
    }
    let watched_view = draft.showing_watched && state.watched.is_some();
    ui.horizontal(|ui| {
        if let Some(watched) = state.watched.as_ref().filter(|_| watched_view) {
            ui.label(
                RichText::new(format!(
                    "Your app's sessions ({})",
                    count(watched.sessions.len() as u64)
                ))
                .strong(),
            )
            .on_hover_text(
                "What your application's own store holds, read-only: one record per session, \
                 decoded from the framework's format, with the simulated browsers whose cookie \
                 names it.",
            );
        } else {
            ui.label(
                RichText::new(format!(
                    "Server sessions ({})",
                    count(state.sessions.len() as u64)
                ))
                .strong(),
            )
            .on_hover_text(
                "What the server's session store really holds: one record per session, keyed \
                     by the id the cookie carries.",
            );
            if let Some(server) = &state.server {
                ui.label(RichText::new(format!("{} store", server.store_kind)).weak());
            }
        }
        if state.watched.is_none()
            && ui
                .selectable_label(draft.watch_open, "Your app…")
                .on_hover_text(
                    "Watch your own application's session store (Redis, SQLite, PostgreSQL, \
                     PHP's session files) beside the browsers: its sessions, decoded, with the \
                     browser that holds each",
                )
                .clicked()
        {
            draft.watch_open = !draft.watch_open;
        }
        ui.separator();
        ui.add(
            egui::TextEdit::singleline(&mut draft.filter)
                .desired_width(220.0)
                .hint_text("Filter: id prefix, browser, data…"),
        )
        .accessible_name("Filter sessions")
        .on_hover_text(
            "Shows the sessions whose id starts with the text, whose cookie a browser of that \
             name holds (“external”: none does), or whose data contains it. Narrow it with \
             id:, browser: (or @) and data:.",
        );
        if !draft.filter.is_empty()
            && ui
                .small_button("×")
                .on_hover_text("Clear the filter")
                .clicked()
        {
            draft.filter.clear();
        }
        if state.holders.has_made() && !watched_view {
            let mut show = state.sessions.shows_made();
            if ui
                .checkbox(&mut show, "Audit and Load sessions")
                .on_hover_text(
                    "The sessions the Audit tab's probes and the header's Load made: hidden by \
                     default so that your browsers' few stay in view; typing audit or load in \
                     the filter shows them too. Reset lab empties the store.",
                )
                .changed()
            {
                state.show_made_sessions(show);
            }
        }
        ui.separator();
        clock_ui(ui, commands);
    });
    if watched_view {
        state.set_watched_filter(&draft.filter);
    } else {
        state.set_session_filter(&draft.filter);
    }
    pins_ui(ui, &mut draft.pins);
    let (next_change, new_sort) = if watched_view {
        watched_table_ui(ui, state, &mut draft.pins, (now, offset))
    } else {
        table_ui(ui, state, &mut draft.pins, (now, offset))
    };
    if let Some(sort) = new_sort {
        if watched_view {
            state.set_watched_sort(sort);
        } else {
            state.set_session_sort(sort);
        }
    }
    next_change
}

/// "Watch a store": the address field, Watch and Stop, what the reader found, and which table
/// is shown.
fn watch_bar_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    draft: &mut SessionsDraft,
    commands: &mut Vec<UiCommand>,
) {
    let dark = ui.visuals().dark_mode;
    // A new watch brings its table forward once; the user may switch back.
    let watching = state.watched.as_ref().map(|w| &w.address);
    if watching != draft.shown_watch.as_ref() {
        draft.showing_watched = watching.is_some();
        draft.shown_watch = watching.cloned();
    }
    ui.horizontal(|ui| {
        ui.label("Watch a store").on_hover_text(
            "Show your own application's sessions beside the browsers that hold them, read \
             from the store it really uses — read-only, never written: redis://HOST:PORT \
             (express-session with connect-redis, Flask-Session, tower-sessions), \
             sqlite:PATH or postgres://USER@HOST/DB (Django, tower-sessions), dir:PATH (PHP's \
             session files). The framework is detected; add ?format=… (and &prefix=… for \
             Redis) when it is not.",
        );
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut draft.watch_address)
                    .desired_width(260.0)
                    .hint_text(
                        "redis://127.0.0.1:6379, sqlite:db.sqlite3, dir:/var/lib/php/sessions",
                    ),
            )
            .accessible_name("Store address");
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let clicked = ui
            .add_enabled(
                !draft.watch_address.trim().is_empty(),
                egui::Button::new("Watch"),
            )
            .on_hover_text("Start watching this store (the one watched before is let go)")
            .clicked();
        if (clicked || entered) && !draft.watch_address.trim().is_empty() {
            commands.push(UiCommand::Lab(
                ServerCommand::WatchStore(Some(draft.watch_address.trim().to_owned())).into(),
            ));
        }
        let Some(watched) = &state.watched else {
            return;
        };
        if ui
            .small_button("Stop watching")
            .on_hover_text(format!("Let go of {}", watched.address))
            .clicked()
        {
            commands.push(UiCommand::Lab(ServerCommand::WatchStore(None).into()));
        }
        ui.separator();
        let status = &watched.status;
        if let Some(error) = &status.error {
            ui.colored_label(theme::warn(dark), "cannot read it")
                .on_hover_text(error.as_str());
            ui.add(egui::Label::new(RichText::new(error.as_str()).weak()).truncate())
                .on_hover_text(error.as_str());
        } else if let Some(format) = status.format {
            ui.label(format!("{} · {}", format.title(), watched.address))
                .on_hover_text(format!(
                    "Detected from its records. Cookie: {} (each browser's is mapped to its \
                     record by the framework's rule). {} listings so far{}. {}",
                    format.cookie_name(),
                    status.listings,
                    status
                        .last_listing
                        .map(|d| format!(", the last took {} ms", d.as_millis()))
                        .unwrap_or_default(),
                    match &status.live {
                        Some(pattern) => format!(
                            "Follows the store's keyspace notifications ({pattern}): a change shows at once."
                        ),
                        None => "New and removed sessions show within a quick pass over the keys; \
                                 changed ones at the next listing, and your browsers' at once."
                            .to_owned(),
                    }
                ));
            if let Some(partial) = &status.partial {
                ui.colored_label(theme::warn(dark), "partial")
                    .on_hover_text(partial.as_str());
            }
            if status.undecodable > 0 {
                ui.colored_label(
                    theme::warn(dark),
                    format!("{} undecodable", status.undecodable),
                )
                .on_hover_text(
                    "Records the lab could not decode: each shows why, and its first bytes",
                );
            }
        } else if let Some(waiting) = &status.waiting {
            ui.add(egui::Label::new(RichText::new(waiting.as_str()).weak()).truncate())
                .on_hover_text(waiting.as_str());
        } else {
            ui.spinner();
            ui.label(RichText::new("opening…").weak());
        }
        ui.separator();
        ui.selectable_value(&mut draft.showing_watched, true, "Your app's store")
            .on_hover_text("Show the watched store's sessions");
        ui.selectable_value(&mut draft.showing_watched, false, "Lab server")
            .on_hover_text("Show the embedded server's sessions");
    });
}

/// The watched store's table: holders by the framework's cookie rule, the store's own ids.
fn watched_table_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    pins: &mut Pins,
    (now, offset): (OffsetDateTime, UtcOffset),
) -> (Option<Duration>, Option<SessionSort>) {
    let Some(watched) = &state.watched else {
        return (None, None);
    };
    let table = &watched.sessions;
    if !table.filter_text().is_empty() {
        ui.label(format!(
            "showing {} of {}",
            count(table.shown_len() as u64),
            count(table.len() as u64)
        ));
    }
    if table.is_empty() {
        let text = match (&watched.status.error, watched.status.format) {
            (Some(_), _) => "Nothing to show: the store cannot be read (above).",
            (None, None) => "Nothing yet: the store is being opened, or holds no sessions.",
            (None, Some(_)) => {
                "No sessions in the store — point a browser at your app (type its address in a browser's address bar) and Visit."
            }
        };
        ui.label(RichText::new(text).weak());
        return (None, None);
    }
    let sort = table.pending_sort().unwrap_or_else(|| table.sort());
    let mut new_sort = None;
    let mut next_change: Option<Duration> = None;
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 6.0;
    let body_height = (ui.available_height() - row_height - ui.spacing().item_spacing.y).max(0.0);
    TableBuilder::new(ui)
        .id_salt("watched sessions")
        .striped(true)
        .resizable(true)
        .auto_shrink([false, false])
        .min_scrolled_height(body_height)
        .max_scroll_height(body_height)
        .column(Column::initial(150.0).at_least(90.0).clip(true))
        .column(Column::initial(260.0).at_least(90.0).clip(true))
        .column(Column::initial(260.0).at_least(80.0).clip(true))
        .column(Column::initial(110.0).at_least(70.0))
        .column(Column::remainder().at_least(70.0))
        .header(row_height, |mut header| {
            for (title, help, column) in [
                ("Browsers", "Whose jar holds a cookie that names this record, by the framework's own rule; “external” when none does.", None),
                ("Session id", "The id as the framework keys the record. Click to copy.", None),
                ("Data", "The record's data, decoded to JSON.", None),
                ("Expires in", "When the store drops it: its TTL or expiry column (PHP: the file's age against session.gc_maxlifetime's default).", Some(SortColumn::Expires)),
                ("Changed", "When the lab saw it written (a file's own time for PHP).", Some(SortColumn::Updated)),
            ] {
                header.col(|ui| header_cell(ui, (title, help, column), sort, &mut new_sort));
            }
        })
        .body(|body| {
            body.rows(row_height, table.shown_len(), |mut row| {
                let Some(session) = table.shown_at(row.index()) else {
                    return;
                };
                row.col(|ui| {
                    ui.horizontal(|ui| {
                        let holders = state.watched_holders(session.id);
                        if holders.is_empty() {
                            ui.label(RichText::new("external").italics()).on_hover_text(
                                "No simulated browser holds a cookie naming this record: a real browser, curl, a bot — or a browser that logged out.",
                            );
                        }
                        for holder in holders {
                            theme::dot(ui, theme::browser_colour(holder.colour));
                            ui.label(&holder.name).on_hover_text(holder.title());
                        }
                    });
                });
                row.col(|ui| {
                    let key = watched.key(session.id).unwrap_or("?").to_owned();
                    let label = ui
                        .add(egui::Label::new(RichText::new(&key).monospace()).truncate().sense(egui::Sense::click()))
                        .on_hover_text(format!("{key}\n\nClick to copy it and pin it above the table."));
                    if label.clicked() {
                        ui.ctx().copy_text(key.clone());
                        pins.pin("session id".to_owned(), key);
                    }
                });
                row.col(|ui| {
                    let data = data_text(&session.data);
                    let label = ui.add(egui::Label::new(RichText::new(&data).monospace()).truncate());
                    if data.contains("\"undecodable\"") {
                        label.on_hover_text(data);
                    }
                });
                row.col(|ui| {
                    expires_cell(ui, now, session.expires_at(), &mut next_change);
                });
                row.col(|ui| {
                    ui.label(session.updated_at().map_or("—".to_owned(), |at| clock_time(at, offset)));
                });
            });
        });
    (next_change, new_sort)
}

/// Buttons that move the lab's clock ahead: expiry without waiting.
fn clock_ui(ui: &mut egui::Ui, commands: &mut Vec<UiCommand>) {
    ui.label(RichText::new("Time passes").weak()).on_hover_text(
        "Move the lab's clock ahead: the server's expiry, its sweep and the browsers' jars all \
         follow it, so sessions and cookies that fall due in that time expire at once",
    );
    for (label, by) in [
        ("+1 min", time::Duration::minutes(1)),
        ("+5 min", time::Duration::minutes(5)),
        ("+30 min", time::Duration::minutes(30)),
        ("+1 h", time::Duration::hours(1)),
        ("+1 day", time::Duration::days(1)),
    ] {
        if ui
            .small_button(label)
            .accessible_name(format!("Clock {label}"))
            .on_hover_text(format!("As if {} passed at once", &label[1..]))
            .clicked()
        {
            commands.push(UiCommand::Lab(
                ServerCommand::MoveClock(ClockMove::Ahead(by)).into(),
            ));
        }
    }
}

/// The table itself; returns the next countdown change and a sort the user clicked.
fn table_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    pins: &mut Pins,
    (now, offset): (OffsetDateTime, UtcOffset),
) -> (Option<Duration>, Option<SessionSort>) {
    let dark = ui.visuals().dark_mode;
    let hiding = state.sessions.hides_made();
    if !state.sessions.filter_text().is_empty() || hiding || state.sessions.is_busy() {
        ui.horizontal(|ui| {
            if !state.sessions.filter_text().is_empty() || hiding {
                ui.label(format!(
                    "showing {} of {}{}",
                    count(state.sessions.shown_len() as u64),
                    count(state.sessions.len() as u64),
                    if hiding {
                        " (the Audit's and Load's hidden)"
                    } else {
                        ""
                    }
                ));
            }
            if let Some(progress) = state.sessions.filter_progress() {
                ui.spinner();
                ui.label(RichText::new(format!("filtering… {:.0}%", progress * 100.0)).weak());
            }
            if state.sessions.pending_sort().is_some() {
                ui.spinner();
                ui.label(RichText::new("sorting…").weak());
            }
        });
    }
    let foreign = state.foreign_origins();
    if !foreign.is_empty() {
        ui.colored_label(
            theme::warn(dark),
            format!(
                "Browsers are visiting {}: that server's store is not the lab's — type its store above (Watch a store) to see its sessions beside the browsers, or compare the jars.",
                foreign.join(", ")
            ),
        );
    }
    if state.server.is_none() {
        ui.label(
            RichText::new("The embedded server is not running, so there is no store to show.")
                .weak(),
        );
        return (None, None);
    }
    let in_cookie = state
        .server
        .as_ref()
        .is_some_and(|s| s.settings.kept_in == crate::server::KeptIn::Cookie);
    if state.sessions.is_empty() && in_cookie {
        ui.label(
            RichText::new(
                "None, and none to come: each session is kept in its browser's cookie (Server \
                 settings → Session kept in), so the store holds nothing — read the data in the \
                 browsers' cookie tables",
            )
            .weak(),
        );
        return (None, None);
    }
    if state.sessions.is_empty() {
        ui.label(RichText::new("No sessions yet — click Visit in a browser, or open the server in your own browser").weak());
        return (None, None);
    }
    let show_instances =
        state.instances.len() > 1 && !state.server.as_ref().is_some_and(|s| s.shared_store);
    let sort = state
        .sessions
        .pending_sort()
        .unwrap_or_else(|| state.sessions.sort());
    let mut new_sort = None;
    let mut next_change: Option<Duration> = None;
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 6.0;
    // The rows fill what is left under the header row, and scroll within it.
    let body_height = (ui.available_height() - row_height - ui.spacing().item_spacing.y).max(0.0);
    TableBuilder::new(ui)
        .id_salt("sessions")
        .striped(true)
        .resizable(true)
        .auto_shrink([false, false])
        .min_scrolled_height(body_height)
        .max_scroll_height(body_height)
        .column(Column::initial(150.0).at_least(90.0).clip(true))
        .column(Column::initial(210.0).at_least(90.0).clip(true))
        .column(Column::initial(260.0).at_least(80.0).clip(true))
        .column(Column::initial(110.0).at_least(70.0))
        .column(Column::initial(90.0).at_least(70.0))
        .column(Column::remainder().at_least(70.0))
        .header(row_height, |mut header| {
            for (title, help, column) in [
                ("Browsers", "Whose cookie jar holds this session's cookie; “external” when none of the simulated browsers does (a real browser, curl).", None),
                ("Session id", "The id in the store; the cookie carries it signed. Click to copy.", None),
                ("Data", "What the server stores for this session, as JSON.", None),
                ("Expires in", "When the store drops the session.", Some(SortColumn::Expires)),
                ("Created", "When the session was first saved.", Some(SortColumn::Created)),
                ("Updated", "When the session was last saved.", Some(SortColumn::Updated)),
            ] {
                header.col(|ui| header_cell(ui, (title, help, column), sort, &mut new_sort));
            }
        })
        .body(|body| {
            body.rows(row_height, state.sessions.shown_len(), |mut row| {
                let Some(session) = state.sessions.shown_at(row.index()) else {
                    return;
                };
                row.col(|ui| {
                    ui.horizontal(|ui| {
                        if show_instances {
                            let on: Vec<String> =
                                session.instances().map(|n| (n + 1).to_string()).collect();
                            ui.label(RichText::new(format!("[{}]", on.join(","))).weak())
                                .on_hover_text("The server instances whose stores hold this session");
                        }
                        let holders = state.holders(session.id);
                        let made = state.made_by(session.id).filter(|_| holders.is_empty());
                        if let Some(maker) = made {
                            ui.label(RichText::new(maker.name()).italics())
                                .on_hover_text(maker.explain());
                        } else if let Some(maker) =
                            state.made_by_browser(session.id).filter(|_| holders.is_empty())
                        {
                            theme::dot(ui, theme::browser_colour(maker.colour));
                            ui.label(RichText::new(format!("{}'s, not held", maker.name)).italics())
                                .on_hover_text(format!(
                                    "{}'s request made this session, but its jar does not hold the \
                                     cookie now: the Set-Cookie was refused (see the page's \
                                     “Set-Cookie refused” line), or the cookie was replaced, \
                                     deleted or cleared since.",
                                    maker.title()
                                ));
                        } else if holders.is_empty() {
                            ui.label(RichText::new("external").italics())
                                .on_hover_text("No simulated browser holds this session's cookie: a real browser, curl, a load, or a jar that was cleared.");
                        }
                        for holder in holders {
                            theme::dot(ui, theme::browser_colour(holder.colour));
                            ui.label(&holder.name).on_hover_text(holder.title());
                        }
                    });
                });
                row.col(|ui| {
                    let id = session.id.to_string();
                    let label = ui
                        .add(egui::Label::new(RichText::new(short_id(session.id)).monospace()).sense(egui::Sense::click()))
                        .on_hover_text(format!("{id}\n\nClick to copy it and pin it whole above the table (two pinned are compared)."));
                    if label.clicked() {
                        ui.ctx().copy_text(id.clone());
                        pins.pin("session id".to_owned(), id);
                    }
                });
                row.col(|ui| {
                    let data = data_text(&session.data);
                    let label = ui.add(egui::Label::new(RichText::new(&data).monospace()).truncate());
                    if session.data.is_cut() {
                        label.on_hover_text(format!(
                            "The data is {} bytes; the inspector keeps the first {}.",
                            session.data.full_len(),
                            session.data.as_str().len()
                        ));
                    }
                });
                row.col(|ui| {
                    expires_cell(ui, now, session.expires_at(), &mut next_change);
                });
                row.col(|ui| {
                    ui.label(session.created_at().map_or("—".to_owned(), |at| clock_time(at, offset)));
                });
                row.col(|ui| {
                    ui.label(session.updated_at().map_or("—".to_owned(), |at| clock_time(at, offset)));
                });
            });
        });
    (next_change, new_sort)
}

/// A column's title; a sortable one is a button (with an arrow when sorted) that sets
/// `new_sort`.
fn header_cell(
    ui: &mut egui::Ui,
    (title, help, column): (&str, &str, Option<SortColumn>),
    sort: SessionSort,
    new_sort: &mut Option<SessionSort>,
) {
    let Some(column) = column else {
        ui.label(RichText::new(title).strong()).on_hover_text(help);
        return;
    };
    let sorted = sort.column == column;
    let (order, next) = match (sorted, sort.descending) {
        (true, false) => ("sorted oldest first", "newest first"),
        (true, true) => ("sorted newest first", "oldest first"),
        (false, _) => ("", "oldest first"),
    };
    let clicked = ui
        .horizontal(|ui| {
            let clicked = ui
                .add(egui::Button::new(RichText::new(title).strong()).frame(false))
                .on_hover_text(format!("{help} Click to sort {next}."))
                .clicked();
            if sorted {
                sort_arrow_ui(ui, sort.descending).on_hover_text(order);
            }
            clicked
        })
        .inner;
    if clicked {
        *new_sort = Some(SessionSort {
            column,
            descending: sorted && !sort.descending,
        });
    }
}

/// Time left until `expires` ("never" for a session without an expiry), in the warning colour
/// in its last minute; notes when the text next changes.
fn expires_cell(
    ui: &mut egui::Ui,
    now: OffsetDateTime,
    expires: OffsetDateTime,
    next_change: &mut Option<Duration>,
) {
    let never = crate::server::never_expires(expires);
    let left = time_left(now, expires);
    let label = if !never && expires - now < time::Duration::minutes(1) {
        ui.colored_label(theme::warn(ui.visuals().dark_mode), left)
    } else {
        ui.label(left)
    };
    label.on_hover_text(if never {
        "no expiry".to_owned()
    } else {
        expires.to_string()
    });
    if !never && let Some(change) = time_left_changes_in(now, expires) {
        *next_change = Some(next_change.map_or(change, |n| n.min(change)));
    }
}

/// A small triangle pointing up (oldest first) or down (newest first), drawn rather than typed
/// so it needs no font glyph.
fn sort_arrow_ui(ui: &mut egui::Ui, descending: bool) -> egui::Response {
    let size = egui::vec2(9.0, ui.text_style_height(&egui::TextStyle::Body));
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    let colour = ui.visuals().strong_text_color();
    let (c, w, h) = (rect.center(), 4.0, 3.5);
    let points = if descending {
        vec![
            egui::pos2(c.x - w, c.y - h),
            egui::pos2(c.x + w, c.y - h),
            egui::pos2(c.x, c.y + h),
        ]
    } else {
        vec![
            egui::pos2(c.x, c.y - h),
            egui::pos2(c.x + w, c.y + h),
            egui::pos2(c.x - w, c.y + h),
        ]
    };
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        colour,
        egui::Stroke::NONE,
    ));
    response
}
