//! A browser's cookie jar: each cookie with its attributes, time left and the session it
//! stands for, and the actions on it (edit, delete, copy to another browser, export).

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use crate::lab::{
    BrowserState, JarCookie,
    text::{clock_time, short, short_to, time_left},
};

use super::{BrowserDraft, PANEL_WIDTH, PanelContext, UiCommand, lab, theme};
use crate::lab::BrowserCommand;

pub(super) fn jar_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    context: &PanelContext<'_>,
    commands: &mut Vec<UiCommand>,
) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Cookies ({})", browser.cookies.len())).strong())
            .on_hover_text("What this browser's cookie jar holds, for every site it visited");
        if !browser.cookies_enabled {
            ui.colored_label(theme::warn(dark), "cookies off");
        }
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
                commands.push(lab(BrowserCommand::ClearCookies(browser.id).into()));
            }
            if ui
                .selectable_label(draft.import.is_some(), "Import")
                .accessible_name(format!("Import cookies {}", browser.name))
                .on_hover_text(
                    "Bring cookies in: a cookies.txt (curl, Python, browser extensions), a \
                     Playwright storageState file, or a JSON list of cookies (Puppeteer, \
                     Cookie-Editor)",
                )
                .clicked()
            {
                draft.import = match draft.import {
                    Some(_) => None,
                    None => Some(Default::default()),
                };
            }
            super::super::transfer_ui::export_menu(ui, browser, commands);
        });
    });
    if let Some(notice) = &draft.notice {
        ui.label(RichText::new(notice).small().weak());
    }
    if let Some(import) = &mut draft.import
        && super::super::transfer_ui::import_ui(ui, browser, import, context.now, commands)
    {
        draft.import = None;
    }
    if let Some((key, value)) = &mut draft.edit {
        let mut done = false;
        ui.horizontal(|ui| {
            ui.label(format!("Edit “{}”:", key.name));
            let field = ui
                .add(
                    egui::TextEdit::singleline(value)
                        .font(egui::TextStyle::Monospace)
                        .desired_width(PANEL_WIDTH - 200.0),
                )
                .accessible_name(format!(
                    "New value of cookie {} of {}",
                    key.name, browser.name
                ));
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .button("Save")
                .accessible_name(format!("Save cookie {} of {}", key.name, browser.name))
                .clicked()
                || entered
            {
                commands.push(lab(BrowserCommand::EditCookie {
                    browser: browser.id,
                    cookie: key.clone(),
                    value: value.clone(),
                }
                .into()));
                done = true;
            }
            if ui
                .button("Cancel")
                .accessible_name(format!(
                    "Cancel editing cookie {} of {}",
                    key.name, browser.name
                ))
                .clicked()
            {
                done = true;
            }
        });
        if done {
            draft.edit = None;
        }
    }
    if browser.cookies.is_empty() {
        ui.label(RichText::new("No cookies yet — click Visit").weak());
        return;
    }
    egui::ScrollArea::horizontal()
        .id_salt(("jar", browser.id))
        .show(ui, |ui| {
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            cookie_table_ui(ui, browser, draft, context, commands);
        });
}

/// Column titles and what each attribute means.
const COOKIE_COLUMNS: [(&str, &str); 8] = [
    (
        "",
        "Edit (tamper), copy to another browser (hijack), or delete this cookie.",
    ),
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
        "Where the cookie is sent. Host-only: exactly this host (no Domain attribute); .domain: that domain and its subdomains.",
    ),
    ("Path", "Sent only for request paths under this prefix."),
    (
        "Expires",
        "Time left until the browser drops it (hover for the clock time). “Session”: no Max-Age/Expires, so it lives until the browser closes.",
    ),
    (
        "Attributes",
        "HttpOnly: hidden from page scripts (document.cookie). Secure: sent over https only (and to localhost / 127.0.0.1). SameSite: Strict, Lax (links from other sites) or None (every request); unset acts as Lax.",
    ),
    (
        "Size",
        "Bytes of name plus value; browsers cap a cookie at about 4096.",
    ),
];

fn cookie_table_ui(
    ui: &mut egui::Ui,
    browser: &BrowserState,
    draft: &mut BrowserDraft,
    context: &PanelContext<'_>,
    commands: &mut Vec<UiCommand>,
) {
    let PanelContext {
        peers, now, offset, ..
    } = *context;
    let dark = ui.visuals().dark_mode;
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 8.0;
    TableBuilder::new(ui)
        .id_salt(("cookies", browser.id))
        .striped(true)
        .vscroll(false)
        .columns(Column::auto().at_least(24.0), COOKIE_COLUMNS.len())
        .header(row_height, |mut header| {
            for (title, help) in COOKIE_COLUMNS {
                header.col(|ui| {
                    ui.label(RichText::new(title).strong()).on_hover_text(help);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, browser.cookies.len(), |mut row| {
                let held = &browser.cookies[row.index()];
                let JarCookie {
                    cookie, readable, ..
                } = held;
                let session_id = held.session_id();
                let who = format!("{} of {}", cookie.name, browser.name);
                row.col(|ui| {
                    ui.menu_button("…", |ui| {
                        if ui
                            .button("Edit value (tamper)")
                            .accessible_name(format!("Edit cookie {who}"))
                            .on_hover_text("Change the value and see what the server makes of it")
                            .clicked()
                        {
                            draft.edit = Some((cookie.key(), cookie.value.clone()));
                            ui.close();
                        }
                        for (peer, peer_name) in peers {
                            if ui
                                .button(format!("Copy to browser {peer_name}"))
                                .accessible_name(format!("Copy cookie {who} to {peer_name}"))
                                .on_hover_text(
                                    "That browser then presents this session: a stolen cookie (hijacking), or one planted in a victim's jar (fixation)",
                                )
                                .clicked()
                            {
                                commands.push(lab(BrowserCommand::CopyCookie {
                                    from: browser.id,
                                    to: *peer,
                                    cookie: cookie.key(),
                                }.into()));
                                ui.close();
                            }
                        }
                        if ui
                            .button("Delete")
                            .accessible_name(format!("Delete cookie {who}"))
                            .clicked()
                        {
                            commands.push(lab(BrowserCommand::DeleteCookie {
                                browser: browser.id,
                                cookie: cookie.key(),
                            }.into()));
                            ui.close();
                        }
                    })
                    .response
                    .accessible_name(format!("Actions for cookie {who}"))
                    .on_hover_text("Edit (tamper), copy to another browser (hijack), or delete");
                });
                row.col(|ui| {
                    if cookie.name.is_empty() {
                        ui.label(RichText::new("(no name)").weak().italics())
                            .on_hover_text(
                                "A nameless cookie (a Set-Cookie without '='): browsers keep it and send its value alone",
                            );
                    } else {
                        ui.monospace(&cookie.name);
                    }
                });
                row.col(|ui| {
                    let mut hover = format!(
                        "{}\n\nClick to copy it and pin it whole above the sessions table (two pinned are compared).",
                        cookie.value
                    );
                    if let Some(id) = session_id {
                        hover = format!("Session {id}\n{hover}");
                    }
                    // Data anyone holding the cookie can read: shown beside the value.
                    let mut shown = short(&cookie.value);
                    if let Some(kind) = readable {
                        // The data is the news here: the value gives way to it (a few
                        // characters, whole on hover), so the table keeps to the panel.
                        let data = kind.data.as_deref().unwrap_or_default();
                        shown = format!(
                            "{} → {}",
                            short_to(&cookie.value, 4),
                            short_to(data, 40)
                        );
                        hover = format!(
                            "Readable by anyone who holds it: {data}\n{}\n\n{hover}",
                            kind.summary()
                        );
                    }
                    let value = ui
                        .add(
                            egui::Label::new(RichText::new(shown).monospace())
                                .sense(egui::Sense::click()),
                        )
                        .on_hover_text(hover);
                    if value.clicked() {
                        ui.ctx().copy_text(cookie.value.clone());
                        commands.push(UiCommand::Pin {
                            what: who.clone(),
                            value: cookie.value.clone(),
                        });
                    }
                });
                row.col(|ui| {
                    if cookie.host_only {
                        ui.monospace(&cookie.domain).on_hover_text(
                            "Host-only (no Domain attribute): sent to exactly this host, not its subdomains",
                        );
                    } else {
                        ui.monospace(format!(".{}", cookie.domain)).on_hover_text(format!(
                            "Domain={}: sent to this domain and every subdomain",
                            cookie.domain
                        ));
                    }
                });
                row.col(|ui| {
                    ui.monospace(&cookie.path);
                });
                row.col(|ui| {
                    match cookie.expires {
                        Some(at) => {
                            let left = time_left(now, at);
                            let hover = format!("Expires {} ({at})", clock_time(at, offset));
                            if at - now < time::Duration::minutes(1) {
                                ui.colored_label(theme::warn(dark), left).on_hover_text(hover);
                            } else {
                                ui.label(left).on_hover_text(hover);
                            }
                        }
                        None => {
                            ui.label("Session")
                                .on_hover_text("No Max-Age or Expires: dropped when the browser closes");
                        }
                    };
                });
                row.col(|ui| {
                    ui.label(attributes_text(cookie))
                        .on_hover_text(attributes_help(cookie));
                });
                row.col(|ui| {
                    ui.label(format!("{} B", cookie.size()));
                });
            });
        });
}

/// A cookie's flags as a Set-Cookie header would carry them: "HttpOnly · Secure · Lax".
fn attributes_text(cookie: &crate::browser::CookieRow) -> String {
    let mut parts = Vec::new();
    if cookie.http_only {
        parts.push("HttpOnly".to_owned());
    }
    if cookie.secure {
        parts.push("Secure".to_owned());
    }
    parts.push(match cookie.same_site.as_deref() {
        Some(value) => value.to_owned(),
        None => "(Lax)".to_owned(),
    });
    if cookie.partition.is_some() {
        parts.push("Partitioned".to_owned());
    }
    parts.join(" · ")
}

fn attributes_help(cookie: &crate::browser::CookieRow) -> String {
    let scripts = if cookie.http_only {
        "HttpOnly: page scripts cannot read it (document.cookie)"
    } else {
        "Not HttpOnly: page scripts can read it"
    };
    let secure = if cookie.secure {
        "Secure: sent over https (and to localhost) only"
    } else {
        "Not Secure: sent over plain http too"
    };
    let same_site = match cookie.same_site.as_deref() {
        Some("Strict") => "SameSite=Strict: never sent with a request another site started",
        Some("Lax") => "SameSite=Lax: sent with links from other sites, not their images or forms",
        Some("None") => "SameSite=None: sent with every request, from any site",
        _ => "No SameSite: browsers treat it as Lax",
    };
    let partition = match &cookie.partition {
        Some(site) => format!(
            "\nPartitioned (CHIPS): kept for pages under {site} only; under another top-level site this browser has no such cookie"
        ),
        None => String::new(),
    };
    format!("{scripts}\n{secure}\n{same_site}{partition}")
}
