//! The Other site tab: the attacker's page the lab serves on `other-site.test` (another site)
//! and `sandbox.lab.test` (a sibling subdomain of the app), written here with the `Set-Cookie`
//! it answers with, and the lure that sends a browser to it (a link in a mail), for the
//! cross-site and cookie-tossing lessons.

use egui::RichText;

use crate::{
    lab::LabState,
    server::{ACCOUNTS, ATTACKER_HOSTS, AttackerPage},
};

use super::UiCommand;
use crate::lab::{RequestCommand, ServerCommand};

/// What the tab keeps between frames: the page being written (`None`: the one served).
#[derive(Default)]
pub struct SiteDraft {
    /// The page as edited, before it is published.
    pub page: Option<AttackerPage>,
}

/// The tab.
pub fn site_ui(ui: &mut egui::Ui, state: &LabState, draft: &mut SiteDraft) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    static NEW_LAB: std::sync::LazyLock<AttackerPage> =
        std::sync::LazyLock::new(AttackerPage::new_lab);
    let served = state.attacker_page.as_ref().unwrap_or(&NEW_LAB);
    ui.label(
        RichText::new(
            "The attacker's page, served on other-site.test (another site) and \
             sandbox.lab.test (a sibling subdomain of the app that anyone may write to). The \
             lab's browsers load its <img src>, submit a form a script submits \
             (document.forms[0].submit()), and, lured, click its first link — with SameSite \
             and Domain applied as Chrome does.",
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
    let mut page = draft.page.clone().unwrap_or_else(|| served.clone());
    let mut edited = false;
    ui.horizontal(|ui| {
        ui.label("Set-Cookie").on_hover_text(
            "A Set-Cookie header the page answers with (empty: none), e.g. \
             id=…; Domain=lab.test; Path=/ — from sandbox.lab.test it reaches the app",
        );
        edited |= ui
            .add(egui::TextEdit::singleline(&mut page.set_cookie).desired_width(420.0))
            .accessible_name("Attacker's Set-Cookie")
            .changed();
    });
    ui.horizontal_wrapped(|ui| {
        let changed = page != *served;
        if ui
            .add_enabled(changed, egui::Button::new("Publish"))
            .on_hover_text("Serve this page from now on")
            .clicked()
        {
            commands.push(UiCommand::Lab(
                ServerCommand::SetAttackerPage(page.clone()).into(),
            ));
            draft.page = None;
        }
        if ui
            .add_enabled(changed, egui::Button::new("Revert"))
            .on_hover_text("Back to the page being served")
            .clicked()
        {
            page = served.clone();
            draft.page = None;
        }
        for host in ATTACKER_HOSTS {
            ui.separator();
            ui.label(format!("Send http://{host}/ to"));
            for browser in &state.browsers {
                let label = if host == crate::server::ATTACKER_HOST {
                    format!("Lure {}", browser.name)
                } else {
                    format!("Lure {} to {host}", browser.name)
                };
                if ui
                    .button(&browser.name)
                    .accessible_name(label)
                    .on_hover_text(format!(
                        "{} opens http://{host}/ (as from a link in a mail), loads its images, \
                         submits the form its script submits and clicks its first link \
                         (unpublished changes are published first)",
                        browser.name
                    ))
                    .clicked()
                {
                    if page != *served {
                        commands.push(UiCommand::Lab(
                            ServerCommand::SetAttackerPage(page.clone()).into(),
                        ));
                        draft.page = None;
                    }
                    commands.push(UiCommand::Lab(
                        RequestCommand::Lure {
                            browser: browser.id,
                            host: host.to_owned(),
                        }
                        .into(),
                    ));
                }
            }
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("attacker page")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            edited |= ui
                .add(
                    egui::TextEdit::multiline(&mut page.html)
                        .code_editor()
                        .desired_width(f32::INFINITY)
                        .desired_rows(10),
                )
                .accessible_name("Attacker's page")
                .changed();
        });
    if edited {
        draft.page = Some(page);
    }
    commands
}
