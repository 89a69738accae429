//! The server panel: every session the store holds, and which browsers hold its cookie.

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use time::{OffsetDateTime, UtcOffset};

use crate::lab::{
    LabState,
    text::{clock_time, data_text, short, time_left},
};

use super::theme;

/// Draws the sessions table.
pub fn sessions_ui(ui: &mut egui::Ui, state: &LabState, now: OffsetDateTime, offset: UtcOffset) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Server sessions ({})", state.sessions.len())).strong())
            .on_hover_text(
                "What the server's session store really holds: one record per session, keyed \
                 by the id the cookie carries.",
            );
        if let Some(server) = &state.server {
            ui.label(RichText::new(format!("{} store", server.store_kind)).weak());
        }
    });
    let foreign = state.foreign_origins();
    if !foreign.is_empty() {
        ui.colored_label(
            theme::warn(dark),
            format!(
                "Browsers are visiting {}: that server's store is not inspectable from here — compare the jars instead.",
                foreign.join(", ")
            ),
        );
    }
    if state.server.is_none() {
        ui.label(
            RichText::new("The embedded server is not running, so there is no store to show.")
                .weak(),
        );
        return;
    }
    if state.sessions.is_empty() {
        ui.label(RichText::new("No sessions yet — click Visit in a browser, or open the server in your own browser").weak());
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 6.0;
    TableBuilder::new(ui)
        .id_salt("sessions")
        .striped(true)
        .resizable(true)
        .auto_shrink([false, false])
        .column(Column::initial(150.0).at_least(90.0).clip(true))
        .column(Column::initial(210.0).at_least(90.0).clip(true))
        .column(Column::initial(260.0).at_least(80.0).clip(true))
        .column(Column::initial(110.0).at_least(70.0))
        .column(Column::initial(90.0).at_least(70.0))
        .column(Column::remainder().at_least(70.0))
        .header(row_height, |mut header| {
            for (title, help) in [
                ("Browsers", "Whose cookie jar holds this session's cookie; “external” when none of the simulated browsers does (a real browser, curl)."),
                ("Session id", "The id in the store; the cookie carries it signed. Click to copy."),
                ("Data", "What the server stores for this session, as JSON."),
                ("Expires in", "When the store drops the session."),
                ("Created", "When the session was first saved."),
                ("Updated", "When the session was last saved."),
            ] {
                header.col(|ui| {
                    ui.label(RichText::new(title).strong()).on_hover_text(help);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, state.sessions.len(), |mut row| {
                let session = &state.sessions[row.index()];
                row.col(|ui| {
                    ui.horizontal(|ui| {
                        if state.instances.len() > 1 {
                            let on: Vec<String> = state
                                .instances_holding(&session.id)
                                .iter()
                                .map(|n| (n + 1).to_string())
                                .collect();
                            ui.label(RichText::new(format!("[{}]", on.join(","))).weak())
                                .on_hover_text("The server instances whose stores hold this session");
                        }
                        let holders = state.holders(&session.id);
                        if holders.is_empty() {
                            ui.label(RichText::new("external").italics())
                                .on_hover_text("No simulated browser holds this session's cookie: a real browser, curl, or a jar that was cleared.");
                        }
                        for holder in holders {
                            theme::dot(ui, theme::browser_colour(holder.colour));
                            ui.label(&holder.name).on_hover_text(holder.title());
                        }
                    });
                });
                row.col(|ui| {
                    let id = ui
                        .add(egui::Label::new(RichText::new(short(&session.id)).monospace()).sense(egui::Sense::click()))
                        .on_hover_text(format!("{}\n\nClick to copy.", session.id));
                    if id.clicked() {
                        ui.ctx().copy_text(session.id.clone());
                    }
                });
                row.col(|ui| {
                    ui.add(egui::Label::new(RichText::new(data_text(&session.data)).monospace()).truncate());
                });
                row.col(|ui| {
                    let left = time_left(now, session.expires_at);
                    let label = if session.expires_at - now < time::Duration::minutes(1) {
                        ui.colored_label(theme::warn(dark), left)
                    } else {
                        ui.label(left)
                    };
                    label.on_hover_text(session.expires_at.to_string());
                });
                row.col(|ui| {
                    ui.label(session.created_at.map_or("—".to_owned(), |at| clock_time(at, offset)));
                });
                row.col(|ui| {
                    ui.label(session.updated_at.map_or("—".to_owned(), |at| clock_time(at, offset)));
                });
            });
        });
}
