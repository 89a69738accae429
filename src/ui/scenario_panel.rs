//! The Scenarios tab: the built-in scenarios by level (marked once solved), and the one under way — its goal, who
//! you are, a live status judged by the lab (never self-reported), the checklist, hints one
//! at a time, Reset, and, once solved, Fix it.

use std::sync::Arc;

use crate::{
    lab::LabState,
    scenario::{
        Scenario,
        judge::{Judge, Verdict},
        play::verdict_text,
    },
};

use super::{UiCommand, theme};

/// What the tab keeps between frames.
pub struct ScenarioDraft {
    /// The built-in scenarios.
    pub scenarios: Vec<Arc<Scenario>>,
    /// Hints shown of the scenario under way.
    pub hints_shown: usize,
    /// Why opening the last scenario failed.
    pub error: Option<String>,
    /// The path typed to open a scenario file.
    pub path: String,
    /// What the student did since the scenario opened without its fix, to replay with it.
    pub attack: crate::scenario::replay::Attack,
    /// A replay of the attack is under way.
    pub replaying: bool,
    /// How many steps the last replay played, once it finished.
    pub replayed: Option<usize>,
}

impl ScenarioDraft {
    /// Adds a scenario read from a file to the list (replacing one with the same id) and
    /// returns it.
    pub fn add(&mut self, scenario: Scenario) -> Arc<Scenario> {
        let scenario = Arc::new(scenario);
        self.scenarios.retain(|s| s.id != scenario.id);
        self.scenarios.push(scenario.clone());
        scenario
    }
}

impl Default for ScenarioDraft {
    fn default() -> Self {
        Self {
            scenarios: Scenario::built_in().into_iter().map(Arc::new).collect(),
            hints_shown: 0,
            error: None,
            path: String::new(),
            attack: crate::scenario::replay::Attack::default(),
            replaying: false,
            replayed: None,
        }
    }
}

/// The tab. `opening` says whether a scenario is being opened (its setup still playing).
pub fn scenario_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    draft: &mut ScenarioDraft,
    opening: bool,
) -> Option<UiCommand> {
    let mut command = None;
    // At 1280×720 the tab has a few hundred pixels: the list and the scenario under way
    // scroll apart, so picking one far down the list leaves its detail in view.
    let height = ui.available_height();
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(260.0);
            egui::ScrollArea::vertical()
                .id_salt("scenario list")
                .max_height(height)
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    if let Some(picked) = list_ui(ui, state, draft) {
                        command = Some(picked);
                    }
                });
        });
        ui.separator();
        ui.vertical(|ui| {
            egui::ScrollArea::vertical()
                .id_salt("scenario detail")
                .max_height(height)
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    if let Some(next) = detail_ui(ui, state, draft, opening) {
                        command = Some(next);
                    }
                });
        });
    });
    command
}

/// The scenarios to pick from, by level, and a field to open one's own.
fn list_ui(ui: &mut egui::Ui, state: &LabState, draft: &mut ScenarioDraft) -> Option<UiCommand> {
    let mut command = None;
    ui.label(egui::RichText::new("Your own (a .toml file)").weak());
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut draft.path)
                .hint_text("path/to/lesson.toml")
                .desired_width(170.0),
        )
        .accessible_name("Scenario file");
        if ui
            .add_enabled(!draft.path.trim().is_empty(), egui::Button::new("Open"))
            .accessible_name("Open scenario file")
            .on_hover_text(
                "Read the scenario file (the format is in scenarios/README.md) and open it",
            )
            .clicked()
        {
            match Scenario::open(std::path::Path::new(draft.path.trim())) {
                Ok(scenario) => {
                    let scenario = draft.add(scenario);
                    command = Some(UiCommand::OpenScenario {
                        scenario,
                        fixed: false,
                    });
                }
                Err(err) => draft.error = Some(err.to_string()),
            }
        }
    });
    ui.add_space(6.0);
    for level in 1..=3 {
        let scenarios: Vec<&Arc<Scenario>> = draft
            .scenarios
            .iter()
            .filter(|s| s.level == level)
            .collect();
        if scenarios.is_empty() {
            continue;
        }
        ui.strong(format!("Level {level}"));
        for scenario in scenarios {
            let current = crate::scenario::judge::Judge::of(state)
                .is_some_and(|j| j.scenario().id == scenario.id);
            let solved = if state.solved_scenarios.contains(&scenario.id) {
                " (solved)"
            } else {
                ""
            };
            if ui
                .selectable_label(current, format!("{}{solved}", scenario.title))
                .on_hover_text(&scenario.goal)
                .clicked()
            {
                command = Some(UiCommand::OpenScenario {
                    scenario: scenario.clone(),
                    fixed: false,
                });
            }
        }
    }
    command
}

/// The scenario under way, or what to do when none is.
fn detail_ui(
    ui: &mut egui::Ui,
    state: &LabState,
    draft: &mut ScenarioDraft,
    opening: bool,
) -> Option<UiCommand> {
    if let Some(error) = &draft.error {
        let dark = ui.visuals().dark_mode;
        ui.colored_label(
            theme::bad(dark),
            format!("Could not open the scenario: {error}"),
        );
    }
    if opening && draft.replaying {
        ui.label(format!(
            "Replaying your attack ({} steps) with the fix applied…",
            draft.attack.steps().len()
        ));
        return None;
    }
    if opening {
        ui.label("Opening the scenario: fresh browsers, settings and store…");
        return None;
    }
    let Some(judge) = crate::scenario::judge::Judge::of(state) else {
        ui.label(
            "Pick a scenario. Each sets the lab up, gives you a goal, and says when you have \
             reached it — judged from what really happens, not from a button.",
        );
        return None;
    };
    running_ui(ui, judge, draft)
}

/// The scenario under way: its status, hint, Reset and fix first (in view without scrolling
/// at 1280×720), then the goal, the conditions, the hints shown and the fix's explanation.
fn running_ui(ui: &mut egui::Ui, judge: &Judge, draft: &mut ScenarioDraft) -> Option<UiCommand> {
    let mut command = None;
    let scenario = judge.scenario();
    let dark = ui.visuals().dark_mode;
    ui.horizontal_wrapped(|ui| {
        ui.strong(&scenario.title);
        if !scenario.wstg.is_empty() {
            ui.small(format!(
                "{} · from: {}",
                scenario.wstg.join(", "),
                scenario.source
            ));
        }
    });
    let (text, colour) = match judge.verdict() {
        Verdict::Solved if judge.fixed() => (
            "Solved — even with the fix? Tell us: that is a bug in the scenario".to_owned(),
            theme::bad(dark),
        ),
        Verdict::Solved => ("Solved".to_owned(), theme::good(dark)),
        Verdict::Spoiled(why) => (
            format!("Not counted: {why}. Reset to try again."),
            theme::bad(dark),
        ),
        open if judge.fixed() => (
            match (draft.replayed, scenario.fix.as_ref()) {
                (Some(steps), Some(fix)) => format!(
                    "With the fix applied, your attack ({steps} step{}, replayed) failed: {}",
                    if steps == 1 { "" } else { "s" },
                    first_sentence(&fix.explain)
                ),
                _ => format!("With the fix applied: {}", verdict_text(open)),
            },
            theme::good(dark),
        ),
        open => (verdict_text(open), ui.visuals().text_color()),
    };
    ui.label(
        egui::RichText::new(format!("Status: {text}"))
            .color(colour)
            .strong(),
    );
    let fix_offered = scenario
        .fix
        .as_ref()
        .filter(|_| matches!(judge.verdict(), Verdict::Solved) || judge.fixed());
    ui.horizontal(|ui| {
        let total = scenario.hints.len();
        let hint_label = if draft.hints_shown < total {
            format!("Hint ({} of {total})", draft.hints_shown + 1)
        } else {
            format!("All {total} hints shown")
        };
        if ui
            .add_enabled(draft.hints_shown < total, egui::Button::new(hint_label))
            .on_hover_text("One hint at a time, from a nudge to nearly the answer")
            .clicked()
        {
            draft.hints_shown += 1;
        }
        if ui
            .button("Reset")
            .on_hover_text(
                "Back to the scenario's start, without the fix: its browsers, settings, store \
                 and clock",
            )
            .clicked()
        {
            command = Some(UiCommand::OpenScenario {
                scenario: scenario.clone(),
                fixed: false,
            });
        }
        let steps = draft.attack.steps().len();
        if judge.fixed()
            && steps > 0
            && ui
                .button(format!(
                    "Replay your attack ({steps} step{})",
                    if steps == 1 { "" } else { "s" }
                ))
                .on_hover_text(
                    "Plays again what you did before the fix — the same visits, copies, edits \
                     and pages, with this lab's ids — to watch it fail",
                )
                .clicked()
        {
            command = Some(UiCommand::ReplayAttack);
        }
        if fix_offered.is_some()
            && !judge.fixed()
            && ui
                .button("Apply the fix and try again")
                .on_hover_text(
                    "Starts the scenario over with the fix in the server's settings; the \
                     attacker's page stays as you wrote it, and your attack can be replayed",
                )
                .clicked()
        {
            command = Some(UiCommand::OpenScenario {
                scenario: scenario.clone(),
                fixed: true,
            });
        }
    });
    for (i, hint) in scenario.hints.iter().take(draft.hints_shown).enumerate() {
        hint_ui(ui, i + 1, hint);
    }
    ui.label(egui::RichText::new(format!("Goal: {}", scenario.goal)).strong());
    ui.label(format!("You: {}", scenario.you));
    for (condition, met) in judge.conditions() {
        ui.label(format!(
            "{} {condition}",
            if met { "Done:" } else { "Not yet:" }
        ));
    }
    if draft.hints_shown > 0 {
        ui.small(format!("Hints used: {}", draft.hints_shown));
    }
    if let Some(fix) = fix_offered {
        ui.separator();
        ui.strong("Fix it");
        ui.label(&fix.explain);
        ui.small(format!("express-session: {}", fix.in_express));
        ui.small(format!("tower-sessions: {}", fix.in_tower_sessions));
    }
    command
}

/// One hint: the controls it names in bold, the code it gives with a Copy button beside it.
fn hint_ui(ui: &mut egui::Ui, number: usize, hint: &str) {
    use crate::scenario::labels::{Piece, pieces};
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 2.0;
        let mut prefix = Some(format!("Hint {number}: "));
        for piece in pieces(hint) {
            let lead = prefix.take().unwrap_or_default();
            match piece {
                Piece::Text(words) => {
                    ui.label(format!("{lead}{words}"));
                }
                Piece::Control(label) => {
                    if !lead.is_empty() {
                        ui.label(lead);
                    }
                    ui.label(egui::RichText::new(label).strong())
                        .on_hover_text("A control of the window, by the words it carries");
                }
                Piece::Code(code) => {
                    if !lead.is_empty() {
                        ui.label(lead);
                    }
                    ui.code(code);
                    if ui
                        .small_button("Copy")
                        .accessible_name(format!("Copy the code of hint {number}"))
                        .on_hover_text("Copy this, to paste it where the hint says")
                        .clicked()
                    {
                        ui.ctx().copy_text(code.to_owned());
                    }
                }
            }
        }
    });
}

/// The first sentence of `text` (up to its first ". " or ": ", whichever ends one).
fn first_sentence(text: &str) -> &str {
    text.find(". ").map_or(text, |end| &text[..=end])
}
