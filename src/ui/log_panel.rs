//! The event log: one line per exchange, telling what was sent, what came back and what
//! changed in the store.

use egui::RichText;
use time::UtcOffset;

use crate::lab::{LabState, LogLevel, LogSource, text::clock_time};

use super::theme;

/// Draws the log, newest at the bottom, following new lines unless the user scrolled up.
pub fn log_ui(ui: &mut egui::Ui, state: &LabState, offset: UtcOffset) {
    let dark = ui.visuals().dark_mode;
    ui.label(RichText::new(format!("Event log ({})", state.log.len())).strong());
    if state.log.is_empty() {
        ui.label(RichText::new("Nothing yet — every request will be told here.").weak());
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    egui::ScrollArea::vertical()
        .id_salt("log")
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show_rows(ui, row_height, state.log.len(), |ui, rows| {
            for entry in state.log.range(rows) {
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(clock_time(entry.at, offset))
                            .monospace()
                            .weak(),
                    );
                    match &entry.source {
                        LogSource::Browser { name, colour, .. } => {
                            let colour = theme::browser_colour(*colour);
                            theme::dot(ui, colour);
                            ui.label(
                                RichText::new(format!("{name:<3}"))
                                    .monospace()
                                    .color(colour)
                                    .strong(),
                            );
                        }
                        LogSource::External => {
                            ui.label(RichText::new("ext").monospace().italics())
                                .on_hover_text(
                                    "A client that is not one of the simulated browsers",
                                );
                        }
                        LogSource::Lab => {
                            ui.label(RichText::new("lab").monospace().weak());
                        }
                    }
                    let text = RichText::new(entry.text()).monospace();
                    let text = match entry.level {
                        LogLevel::Info => text,
                        LogLevel::Warning => text.color(theme::warn(dark)),
                        LogLevel::Error => text.color(theme::bad(dark)),
                    };
                    ui.add(egui::Label::new(text).truncate());
                });
            }
        });
}
