//! The Audit tab: run the session audit against the embedded server or any URL, read the
//! scorecard (checks, findings with evidence, why and fix), and compare two runs — say before
//! and after ticking Secure — to see which findings changed.

use egui::{Color32, RichText};
use time::UtcOffset;

use crate::{
    audit::{CheckStatus, Finding, Severity},
    lab::{AuditRequest, AuditRun, LabState, text::clock_time},
};

use super::{UiCommand, theme};
use crate::lab::RequestCommand;

/// What the user has typed in the Audit tab.
#[derive(Clone, Debug)]
pub struct AuditDraft {
    /// The target.
    pub url: String,
    /// The login route (`{user}` for the user).
    pub login: String,
    /// The logout route.
    pub logout: String,
    /// The counting route (empty: the target).
    pub counter: String,
    /// Ids to collect.
    pub samples: usize,
    /// The run on show (its number); the newest when `None`.
    pub shown: Option<usize>,
    /// The run to compare it with.
    pub compare: Compare,
    /// The target the fields were filled for (the embedded server's URL at the time).
    filled_for: String,
}

impl Default for AuditDraft {
    fn default() -> Self {
        Self {
            url: String::new(),
            login: String::new(),
            logout: String::new(),
            counter: String::new(),
            samples: 1000,
            shown: None,
            compare: Compare::Previous,
            filled_for: String::new(),
        }
    }
}

/// Which run the shown one is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// The run before it, if any (the default: run, change a setting, run again, read what
    /// changed).
    Previous,
    /// None: the scorecard alone.
    Nothing,
    /// This run.
    Run(usize),
}

impl AuditDraft {
    /// Fills the fields for the embedded server (its routes) while the user has not typed
    /// another target.
    fn follow(&mut self, server_url: Option<&str>) {
        let Some(url) = server_url else {
            return;
        };
        if self.url.is_empty() || self.url == self.filled_for {
            if self.url.is_empty() {
                self.login = "/login?user={user}".to_owned();
                self.logout = "/logout".to_owned();
            }
            self.url = url.to_owned();
            self.filled_for = url.to_owned();
        }
    }
}

fn severity_colour(severity: Severity, dark: bool, weak: Color32) -> Color32 {
    match severity {
        Severity::High => theme::bad(dark),
        Severity::Medium => theme::warn(dark),
        Severity::Low | Severity::Info => weak,
    }
}

/// Draws the tab; returns the audit the user started, if any.
pub fn audit_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    draft: &mut AuditDraft,
    offset: UtcOffset,
) -> Option<UiCommand> {
    draft.follow(state.server.as_ref().map(|s| s.url.as_str()));
    let mut command = None;
    let running = state.audit.running.is_some();
    ui.horizontal_wrapped(|ui| {
        ui.label("Target");
        ui.add(egui::TextEdit::singleline(&mut draft.url).desired_width(220.0))
            .accessible_name("Audit target")
            .on_hover_text("The server to audit: the embedded one, or any http(s):// URL (your own app)");
        for (label, field, hint, help) in [
            (
                "Login",
                &mut draft.login,
                "none",
                "A route that logs in, {user} for the user: /login?user={user} or POST /login user={user}&password=x",
            ),
            ("Logout", &mut draft.logout, "none", "A route that logs out: /logout or POST /logout"),
            (
                "Counter",
                &mut draft.counter,
                "the target",
                "A route that changes the session and shows a count (for the lost-update burst)",
            ),
        ] {
            ui.label(label);
            ui.add(egui::TextEdit::singleline(field).desired_width(130.0).hint_text(hint))
                .accessible_name(format!("Audit {}", label.to_lowercase()))
                .on_hover_text(help);
        }
        ui.label("Ids");
        ui.add(egui::DragValue::new(&mut draft.samples).range(100..=20_000).speed(50.0))
            .accessible_name("Audit ids")
            .on_hover_text("How many fresh session ids to collect for the randomness tests");
        if ui
            .add_enabled(!running, egui::Button::new("Run audit"))
            .on_hover_text(
                "Fresh probes check the session cookie's attributes, expiry, fixation, logout, \
                 exposure, lost updates and the ids' strength",
            )
            .clicked()
        {
            command = Some(UiCommand::Lab(RequestCommand::RunAudit(AuditRequest {
                url: draft.url.clone(),
                login: draft.login.clone(),
                logout: draft.logout.clone(),
                counter: draft.counter.clone(),
                samples: draft.samples,
            }).into()));
            draft.shown = None;
        }
        if let Some(progress) = &state.audit.running {
            let fraction = if progress.total > 1 {
                progress.done as f32 / progress.total as f32
            } else {
                0.0
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(160.0)
                    .text(format!("{} {}/{}", progress.stage, progress.done, progress.total)),
            );
        }
    });
    if let Some(error) = &state.audit.error {
        ui.colored_label(
            theme::bad(ui.visuals().dark_mode),
            format!(
                "The audit could not run: {}",
                crate::lab::failure_text(error)
            ),
        );
    }
    ui.separator();
    let runs = &state.audit.runs;
    let Some(newest) = runs.back() else {
        ui.label(
            RichText::new(
                "No audit yet. Run one against the embedded server, change a setting (tick \
                 Secure, say), run it again, and compare the two.",
            )
            .weak(),
        );
        return command;
    };
    let shown = draft
        .shown
        .and_then(|n| runs.iter().find(|r| r.number == n))
        .unwrap_or(newest);
    ui.horizontal_wrapped(|ui| {
        ui.label("Showing");
        run_picker(
            ui,
            "Audit run shown",
            runs,
            &mut draft.shown,
            Some(shown.number),
            offset,
        );
        ui.label("compared with");
        if draft.compare == Compare::Run(shown.number) {
            draft.compare = Compare::Previous;
        }
        compare_picker(ui, runs, &mut draft.compare, shown.number, offset);
    });
    let earlier = match draft.compare {
        Compare::Previous => runs.iter().rev().find(|r| r.number < shown.number),
        Compare::Nothing => None,
        Compare::Run(n) => runs.iter().find(|r| r.number == n),
    };
    egui::ScrollArea::vertical()
        .id_salt("audit")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            report_ui(ui, shown, earlier);
        });
    command
}

fn run_label(run: &AuditRun, offset: UtcOffset) -> String {
    format!(
        "Run {} · {} · {}",
        run.number,
        clock_time(run.at, offset),
        crate::audit::counts(&run.report)
    )
}

fn run_picker(
    ui: &mut egui::Ui,
    name: &str,
    runs: &std::collections::VecDeque<AuditRun>,
    choice: &mut Option<usize>,
    fallback: Option<usize>,
    offset: UtcOffset,
) {
    let selected = choice
        .or(fallback)
        .and_then(|n| runs.iter().find(|r| r.number == n))
        .map_or_else(|| "nothing".to_owned(), |r| run_label(r, offset));
    egui::ComboBox::from_id_salt(name)
        .selected_text(selected)
        .width(300.0)
        .show_ui(ui, |ui| {
            for run in runs.iter().rev() {
                ui.selectable_value(choice, Some(run.number), run_label(run, offset))
                    .on_hover_text(run_hover(run));
            }
        })
        .response
        .accessible_name(name);
}

fn run_hover(run: &AuditRun) -> String {
    run.settings
        .clone()
        .unwrap_or_else(|| run.request.url.clone())
}

/// The "compared with" choice: the run before the shown one (the default), nothing, or any
/// other run.
fn compare_picker(
    ui: &mut egui::Ui,
    runs: &std::collections::VecDeque<AuditRun>,
    choice: &mut Compare,
    shown: usize,
    offset: UtcOffset,
) {
    let selected = match *choice {
        Compare::Previous => runs.iter().rev().find(|r| r.number < shown).map_or_else(
            || "the run before (none yet)".to_owned(),
            |r| format!("the run before: {}", run_label(r, offset)),
        ),
        Compare::Nothing => "nothing".to_owned(),
        Compare::Run(n) => runs
            .iter()
            .find(|r| r.number == n)
            .map_or_else(|| "nothing".to_owned(), |r| run_label(r, offset)),
    };
    egui::ComboBox::from_id_salt("Audit run compared")
        .selected_text(selected)
        .width(340.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(choice, Compare::Previous, "the run before");
            ui.selectable_value(choice, Compare::Nothing, "nothing");
            for run in runs.iter().rev().filter(|r| r.number != shown) {
                ui.selectable_value(choice, Compare::Run(run.number), run_label(run, offset))
                    .on_hover_text(run_hover(run));
            }
        })
        .response
        .accessible_name("Audit run compared");
}

/// A fixed-width cell of a row.
fn cell(ui: &mut egui::Ui, width: f32, text: RichText) {
    ui.allocate_ui(egui::vec2(width, 0.0), |ui| {
        ui.set_width(width);
        ui.label(text);
    });
}

fn text_width(ui: &egui::Ui, text: &str) -> f32 {
    ui.fonts_mut(|fonts| {
        fonts
            .layout_no_wrap(
                text.to_owned(),
                egui::TextStyle::Body.resolve(ui.style()),
                Color32::WHITE,
            )
            .size()
            .x
    })
}

/// The scorecard of `run`, and what changed since `earlier`.
fn report_ui(ui: &mut egui::Ui, run: &AuditRun, earlier: Option<&AuditRun>) {
    let dark = ui.visuals().dark_mode;
    let weak = ui.visuals().weak_text_color();
    let report = &run.report;
    ui.label(
        RichText::new(format!(
            "{} — session cookie “{}” — {}",
            report.target,
            report.cookie_name,
            crate::audit::counts(report)
        ))
        .strong(),
    );
    ui.label(format!("Session kept in: {}", report.kind.summary()))
        .on_hover_text(report.kind.evidence.as_str());
    if let Some(settings) = &run.settings {
        ui.label(RichText::new(format!("The embedded server ran: {settings}")).weak());
    }
    if let Some(earlier) = earlier {
        let before: Vec<&str> = earlier.report.findings.iter().map(|f| f.id).collect();
        let now: Vec<&str> = report.findings.iter().map(|f| f.id).collect();
        let fixed: Vec<&Finding> = earlier
            .report
            .findings
            .iter()
            .filter(|f| !now.contains(&f.id))
            .collect();
        let new: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| !before.contains(&f.id))
            .collect();
        ui.group(|ui| {
            let heading = if earlier.number < run.number {
                format!("Since run {}", earlier.number)
            } else {
                format!("Run {} is later; this run, against it", earlier.number)
            };
            ui.label(RichText::new(heading).strong());
            if fixed.is_empty() && new.is_empty() {
                ui.label("The same findings.");
            }
            for finding in fixed {
                ui.colored_label(theme::good(dark), format!("Fixed: {}", finding.title));
            }
            for finding in new {
                ui.colored_label(
                    severity_colour(finding.severity, dark, weak),
                    format!("New: {}", finding.title),
                );
            }
        });
    }
    ui.add_space(4.0);
    // One row a check: the verdict and the name in columns, the summary wrapped in the rest.
    let name_width = report
        .checks
        .iter()
        .map(|c| text_width(ui, c.name))
        .fold(0.0, f32::max)
        + 12.0;
    for check in &report.checks {
        let (word, colour) = match check.status {
            CheckStatus::Passed => ("pass", theme::good(dark)),
            CheckStatus::Failed => ("FAIL", theme::bad(dark)),
            CheckStatus::Skipped => ("skip", weak),
        };
        ui.horizontal_top(|ui| {
            cell(ui, 40.0, RichText::new(word).color(colour));
            cell(ui, name_width, check.name.into());
            ui.vertical(|ui| ui.add(egui::Label::new(&check.summary).wrap()));
        });
    }
    ui.add_space(6.0);
    for finding in &report.findings {
        let title = RichText::new(format!(
            "{}  {}",
            finding.severity.as_str().to_uppercase(),
            finding.title
        ))
        .color(severity_colour(finding.severity, dark, weak));
        egui::CollapsingHeader::new(title)
            .id_salt(("finding", run.number, finding.id))
            .show(ui, |ui| {
                ui.label(&finding.detail);
                for evidence in &finding.evidence {
                    ui.label(RichText::new(format!("Evidence: {}", evidence.what)).strong());
                    let mut lines = vec![evidence.request.clone()];
                    if let Some(cookie) = &evidence.cookie {
                        lines.push(format!("Cookie: {cookie}"));
                    }
                    lines.push(format!("HTTP {}", evidence.status));
                    lines.extend(
                        evidence
                            .set_cookie
                            .iter()
                            .map(|c| format!("Set-Cookie: {c}")),
                    );
                    lines.extend(evidence.headers.iter().map(|(n, v)| format!("{n}: {v}")));
                    if !evidence.body.is_empty() {
                        lines.push(format!("“{}”", evidence.body));
                    }
                    ui.label(RichText::new(lines.join("\n")).monospace().small());
                }
                ui.label(format!("Why: {}", finding.why));
                ui.label(format!("Fix: {}", finding.fix));
                ui.label(
                    RichText::new(format!(
                        "{} · {}",
                        finding.id,
                        finding.references.join(" · ")
                    ))
                    .weak(),
                );
            });
    }
}
