//! What `session-lab scenario list` and `scenario check` print: text for people, JSON for
//! scripts.

use serde_json::json;

use super::{
    Scenario,
    play::{CheckFailure, CheckReport, check},
};

/// The list: one line per scenario (level, id, WSTG tests, title), its goal below it.
pub fn list_text(scenarios: &[Scenario]) -> String {
    let mut text = String::new();
    for s in scenarios {
        let wstg = if s.wstg.is_empty() {
            String::new()
        } else {
            format!("  [{}]", s.wstg.join(", "))
        };
        text.push_str(&format!(
            "L{}  {:<24} {}{wstg}\n      {}\n",
            s.level, s.id, s.title, s.goal
        ));
    }
    text
}

/// The list as JSON: an array of `{id, title, level, wstg, goal, fix}`.
pub fn list_json(scenarios: &[Scenario]) -> String {
    let list: Vec<serde_json::Value> = scenarios
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "title": s.title,
                "level": s.level,
                "wstg": s.wstg,
                "goal": s.goal,
                "has_fix": s.fix.is_some(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap_or_default()
}

/// Checks every scenario in turn, printing a line for each as it finishes (`print`), and
/// returns the reports.
pub fn check_all(scenarios: &[Scenario], mut print: impl FnMut(&CheckReport)) -> Vec<CheckReport> {
    scenarios
        .iter()
        .map(|s| {
            let report = check(s);
            print(&report);
            report
        })
        .collect()
}

/// One scenario's check on one line: `ok` or `FAILED`, and what each part found.
pub fn check_line(report: &CheckReport) -> String {
    let part = |r: &Result<(), CheckFailure>, ok: &str| match r {
        Ok(()) => ok.to_owned(),
        Err(why) => format!("✗ {why}"),
    };
    format!(
        "{:<6} {:<24} solution: {} · nothing: {} · fix: {}",
        if report.passed() { "ok" } else { "FAILED" },
        report.id,
        part(&report.solution_solves, "solves it"),
        part(&report.nothing_does_not, "does not"),
        report
            .fix_prevents
            .as_ref()
            .map_or_else(|| "none (a lesson)".to_owned(), |r| part(r, "stops it")),
    )
}

/// The reports as JSON: `{passed, scenarios: [{id, passed, solution, nothing, fix}]}`, each
/// part `"ok"`, the reason it failed, or `null` for a scenario without a fix.
pub fn check_json(reports: &[CheckReport]) -> String {
    let part = |r: &Result<(), CheckFailure>| match r {
        Ok(()) => json!("ok"),
        Err(why) => json!(why.to_string()),
    };
    let scenarios: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "passed": r.passed(),
                "solution": part(&r.solution_solves),
                "nothing": part(&r.nothing_does_not),
                "fix": r.fix_prevents.as_ref().map(part),
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({
        "passed": reports.iter().all(CheckReport::passed),
        "scenarios": scenarios,
    }))
    .unwrap_or_default()
}
