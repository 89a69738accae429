//! The Other site tab: the attacker's page the lab serves on `other-site.test`, written here,
//! and the lure that sends a browser to it (a link in a mail), for the cross-site lessons.

use egui::RichText;

use crate::{
    lab::{Command, LabState},
    server::{ACCOUNTS, DEFAULT_PAGE},
};

use super::UiCommand;

/// What the tab keeps between frames: the page being written (`None`: the one served).
#[derive(Default)]
pub struct SiteDraft {
    /// The page as edited, before it is published.
    pub html: Option<String>,
}

/// The tab.
pub fn site_ui(ui: &mut egui::Ui, state: &LabState, draft: &mut SiteDraft) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    let served = state.attacker_page.as_deref().unwrap_or(DEFAULT_PAGE);
    ui.label(
        RichText::new(
            "other-site.test is another site (a different registrable domain) served by the \
             lab. Write its page here. The lab's browsers load its <img src>, submit a form a \
             script submits (document.forms[0].submit()), and, lured, click its first link — \
             with SameSite applied as Chrome does.",
        )
        .weak(),
    );
    let accounts: Vec<String> = ACCOUNTS
        .iter()
        .map(|(user, password, _)| format!("{user} / {password}"))
        .collect();
    ui.label(
        RichText::new(format!(
            "The app's accounts (log in at /login): {}.",
            accounts.join(", ")
        ))
        .weak()
        .small(),
    );
    let mut html = draft.html.clone().unwrap_or_else(|| served.to_owned());
    ui.horizontal(|ui| {
        let changed = html != served;
        if ui
            .add_enabled(changed, egui::Button::new("Publish"))
            .on_hover_text("Serve this page on http://other-site.test/ from now on")
            .clicked()
        {
            commands.push(UiCommand::Lab(Command::SetAttackerPage(html.clone())));
            draft.html = None;
        }
        if ui
            .add_enabled(changed, egui::Button::new("Revert"))
            .on_hover_text("Back to the page being served")
            .clicked()
        {
            html = served.to_owned();
            draft.html = None;
        }
        ui.separator();
        ui.label("Send the link to");
        for browser in &state.browsers {
            if ui
                .button(&browser.name)
                .accessible_name(format!("Lure {}", browser.name))
                .on_hover_text(format!(
                    "{} opens http://other-site.test/ (as from a link in a mail), loads its \
                     images, submits the form its script submits and clicks its first link \
                     (unpublished changes are published first)",
                    browser.name
                ))
                .clicked()
            {
                if html != served {
                    commands.push(UiCommand::Lab(Command::SetAttackerPage(html.clone())));
                    draft.html = None;
                }
                commands.push(UiCommand::Lab(Command::Lure(browser.id)));
            }
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("attacker page")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let editor = ui
                .add(
                    egui::TextEdit::multiline(&mut html)
                        .code_editor()
                        .desired_width(f32::INFINITY)
                        .desired_rows(10),
                )
                .accessible_name("Attacker's page");
            if editor.changed() {
                draft.html = Some(html.clone());
            }
        });
    commands
}
