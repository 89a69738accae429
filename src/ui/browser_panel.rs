//! One simulated browser's panel: address bar, Visit, the response, and its cookie jar.

use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};
use time::{OffsetDateTime, UtcOffset};

use crate::lab::{
    BrowserState, Command, JarCookie,
    text::{clock_time, short, time_left},
};

use super::{UiCommand, theme};

/// The width of one browser panel: wide enough for the address bar and a readable table.
pub const PANEL_WIDTH: f32 = 520.0;

/// What the user is typing in a browser's panel (kept by the app between frames).
#[derive(Clone, Debug, Default)]
pub struct BrowserDraft {
    /// The address field.
    pub url: String,
    /// The new name while renaming.
    pub rename: Option<String>,
}

/// Draws one browser; returns what the user asked for.
pub fn browser_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    now: OffsetDateTime,
    offset: UtcOffset,
) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    let colour = theme::browser_colour(browser.colour);
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(2.0, colour))
        .corner_radius(8)
        .inner_margin(10)
        .show(ui, |ui| {
            ui.vertical(|ui| {
                ui.set_width(PANEL_WIDTH);
                title_ui(ui, browser, draft, colour, &mut commands);
                ui.add_space(4.0);
                address_ui(ui, browser, draft, &mut commands);
                ui.add_space(4.0);
                response_ui(ui, browser);
                ui.separator();
                jar_ui(ui, browser, now, offset, &mut commands);
            });
        });
    commands
}

fn title_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    colour: Color32,
    commands: &mut Vec<UiCommand>,
) {
    let name = &browser.name;
    ui.horizontal(|ui| {
        theme::dot(ui, colour);
        if let Some(new_name) = &mut draft.rename {
            let field = ui.add(
                egui::TextEdit::singleline(new_name)
                    .desired_width(120.0)
                    .char_limit(24),
            );
            let field = field.accessible_name(format!("New name for browser {name}"));
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .button("Save")
                .accessible_name(format!("Save name of browser {name}"))
                .clicked()
                || entered
            {
                commands.push(UiCommand::Lab(Command::RenameBrowser(
                    browser.id,
                    new_name.clone(),
                )));
                draft.rename = None;
            } else if ui
                .button("Cancel")
                .accessible_name(format!("Cancel renaming browser {name}"))
                .clicked()
            {
                draft.rename = None;
            }
        } else {
            ui.label(
                RichText::new(browser.title())
                    .strong()
                    .color(colour)
                    .size(16.0),
            );
            if browser.in_flight > 0 {
                ui.spinner()
                    .on_hover_text(format!("{} request(s) in flight", browser.in_flight));
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .small_button("Remove")
                .accessible_name(format!("Remove browser {name}"))
                .on_hover_text("Close this browser and drop its cookie jar")
                .clicked()
            {
                commands.push(UiCommand::Lab(Command::RemoveBrowser(browser.id)));
            }
            if draft.rename.is_none()
                && ui
                    .small_button("Rename")
                    .accessible_name(format!("Rename browser {name}"))
                    .clicked()
            {
                draft.rename = Some(name.clone());
            }
        });
    });
}

fn address_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    commands: &mut Vec<UiCommand>,
) {
    let name = &browser.name;
    ui.horizontal(|ui| {
        let visit_width = 64.0;
        let field = ui.add(
            egui::TextEdit::singleline(&mut draft.url)
                .font(egui::TextStyle::Monospace)
                .desired_width(ui.available_width() - visit_width - ui.spacing().item_spacing.x)
                .hint_text("http://127.0.0.1:3000/"),
        );
        let field = field.accessible_name(format!("Address of browser {name}"));
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let clicked = ui
            .add_sized(
                [visit_width, field.rect.height()],
                egui::Button::new("Visit"),
            )
            .accessible_name(format!("Visit {name}"))
            .on_hover_text("GET this address with this browser's cookies")
            .clicked();
        if clicked || entered {
            commands.push(UiCommand::Lab(Command::Visit {
                browser: browser.id,
                url: draft.url.clone(),
            }));
        }
    });
}

fn response_ui(ui: &mut egui::Ui, browser: &BrowserState) {
    let dark = ui.visuals().dark_mode;
    if let Some(error) = &browser.last_error {
        ui.colored_label(theme::bad(dark), error);
        ui.label(
            RichText::new("Check the address, or that a server runs there, and Visit again.")
                .weak()
                .small(),
        );
        return;
    }
    let Some(exchange) = &browser.last else {
        ui.label(RichText::new("Not visited yet — click Visit").weak());
        return;
    };
    let status_colour = match exchange.status {
        200..=399 => theme::good(dark),
        400..=499 => theme::warn(dark),
        _ => theme::bad(dark),
    };
    ui.horizontal(|ui| {
        ui.colored_label(
            status_colour,
            RichText::new(format!("{} {}", exchange.status, exchange.reason)).strong(),
        );
        ui.label(
            RichText::new(format!(
                "· {:.1} ms · {} {}",
                exchange.latency.as_secs_f64() * 1000.0,
                exchange.method,
                exchange.url
            ))
            .weak(),
        );
    });
    egui::ScrollArea::vertical()
        .id_salt(("body", browser.id))
        .max_height(72.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            let body = if exchange.body.is_empty() {
                RichText::new("(empty body)").weak()
            } else {
                RichText::new(&exchange.body)
                    .monospace()
                    .size(16.0)
                    .color(ui.visuals().strong_text_color())
            };
            ui.label(body);
        });
}

fn jar_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    now: OffsetDateTime,
    offset: UtcOffset,
    commands: &mut Vec<UiCommand>,
) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Cookies ({})", browser.cookies.len())).strong())
            .on_hover_text("What this browser's cookie jar holds, for every site it visited");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(
                    !browser.cookies.is_empty(),
                    egui::Button::new("Clear").small(),
                )
                .accessible_name(format!("Clear cookies {}", browser.name))
                .on_hover_text("Empty the jar: the next visit arrives without a session cookie")
                .clicked()
            {
                commands.push(UiCommand::Lab(Command::ClearCookies(browser.id)));
            }
        });
    });
    if browser.cookies.is_empty() {
        ui.label(RichText::new("No cookies yet — click Visit").weak());
        return;
    }
    egui::ScrollArea::horizontal()
        .id_salt(("jar", browser.id))
        .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::VisibleWhenNeeded)
        .show(ui, |ui| {
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            cookie_table_ui(ui, browser, now, offset);
        });
}

/// Column titles and what each attribute means.
const COOKIE_COLUMNS: [(&str, &str); 10] = [
    (
        "Name",
        "The cookie's name; the session cookie is the server's cookie name.",
    ),
    (
        "Value",
        "The value the server set. A signed session cookie carries the id plus a signature. Click to copy.",
    ),
    (
        "Domain",
        "Where the cookie is sent. Host-only: exactly this host (no Domain attribute); otherwise this domain and its subdomains.",
    ),
    ("Path", "Sent only for request paths under this prefix."),
    (
        "Expires",
        "When the browser drops it. “Session”: no Max-Age/Expires, so it lives until the browser closes.",
    ),
    ("Left", "Time until it expires."),
    (
        "HttpOnly",
        "Hidden from page scripts (document.cookie), which blunts XSS cookie theft.",
    ),
    (
        "Secure",
        "Sent over https only (browsers treat localhost / 127.0.0.1 as secure).",
    ),
    (
        "SameSite",
        "Whether cross-site requests carry it: Strict, Lax (top-level navigations) or None.",
    ),
    (
        "Size",
        "Bytes of name plus value; browsers cap a cookie at about 4096.",
    ),
];

fn cookie_table_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    now: OffsetDateTime,
    offset: UtcOffset,
) {
    let dark = ui.visuals().dark_mode;
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 6.0;
    TableBuilder::new(ui)
        .id_salt(("cookies", browser.id))
        .striped(true)
        .vscroll(false)
        .columns(Column::auto().at_least(28.0), COOKIE_COLUMNS.len())
        .header(row_height, |mut header| {
            for (title, help) in COOKIE_COLUMNS {
                header.col(|ui| {
                    ui.label(RichText::new(title).strong()).on_hover_text(help);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, browser.cookies.len(), |mut row| {
                let JarCookie { cookie, session_id } = &browser.cookies[row.index()];
                row.col(|ui| {
                    ui.monospace(&cookie.name);
                });
                row.col(|ui| {
                    let mut hover = format!("{}\n\nClick to copy.", cookie.value);
                    if let Some(id) = session_id {
                        hover = format!("Session {id}\n{hover}");
                    }
                    let value = ui
                        .add(
                            egui::Label::new(RichText::new(short(&cookie.value)).monospace())
                                .sense(egui::Sense::click()),
                        )
                        .on_hover_text(hover);
                    if value.clicked() {
                        ui.ctx().copy_text(cookie.value.clone());
                    }
                });
                row.col(|ui| {
                    ui.horizontal(|ui| {
                        if cookie.host_only {
                            ui.monospace(&cookie.domain).on_hover_text(
                                "Host-only: no Domain attribute, so it goes to exactly this host",
                            );
                            ui.label(RichText::new("host-only").weak().small());
                        } else {
                            ui.monospace(format!(".{}", cookie.domain)).on_hover_text(
                                "Domain cookie: sent to this domain and its subdomains",
                            );
                        }
                    });
                });
                row.col(|ui| {
                    ui.monospace(&cookie.path);
                });
                row.col(|ui| {
                    match cookie.expires {
                        Some(at) => ui
                            .label(clock_time(at, offset))
                            .on_hover_text(at.to_string()),
                        None => ui.label("Session"),
                    };
                });
                row.col(|ui| {
                    match cookie.expires {
                        Some(at) => {
                            let left = time_left(now, at);
                            let soon = at - now < time::Duration::minutes(1);
                            if soon {
                                ui.colored_label(theme::warn(dark), left);
                            } else {
                                ui.label(left);
                            }
                        }
                        None => {
                            ui.label("—").on_hover_text("Until the browser closes");
                        }
                    };
                });
                row.col(|ui| {
                    ui.label(yes_no(cookie.http_only));
                });
                row.col(|ui| {
                    ui.label(yes_no(cookie.secure));
                });
                row.col(|ui| {
                    ui.label(cookie.same_site.as_deref().unwrap_or("(unset)"));
                });
                row.col(|ui| {
                    ui.label(format!("{} B", cookie.size()));
                });
            });
        });
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}
