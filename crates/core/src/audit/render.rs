//! The scorecard in words: plain text for a terminal, Markdown for a report. (JSON is the
//! report itself, serialised.)

use std::fmt::Write as _;

use super::{AuditReport, CheckStatus, Finding};

fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Passed => "pass",
        CheckStatus::Failed => "FAIL",
        CheckStatus::Skipped => "skip",
    }
}

/// The findings counted by severity: "0 high, 1 medium, 2 low, 1 info".
pub fn counts(report: &AuditReport) -> String {
    use super::Severity::{High, Info, Low, Medium};
    let count = |s| report.findings.iter().filter(|f| f.severity == s).count();
    format!(
        "{} high, {} medium, {} low, {} info",
        count(High),
        count(Medium),
        count(Low),
        count(Info)
    )
}

fn took(millis: u64) -> String {
    if millis < 1000 {
        format!("{millis} ms")
    } else {
        format!("{:.1} s", millis as f64 / 1000.0)
    }
}

/// The report for a terminal.
pub fn text(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Session audit of {} (cookie “{}”, {})",
        report.target,
        report.cookie_name,
        took(report.duration_ms)
    );
    let _ = writeln!(out, "Session kept in: {}", report.kind.summary());
    let _ = writeln!(out, "Findings: {}\n", counts(report));
    for check in &report.checks {
        let _ = writeln!(
            out,
            "  [{}] {}: {}",
            status_word(check.status),
            check.name,
            check.summary
        );
    }
    for finding in &report.findings {
        let _ = writeln!(out);
        write_finding_text(&mut out, finding);
    }
    out
}

fn write_finding_text(out: &mut String, finding: &Finding) {
    let _ = writeln!(
        out,
        "{} — {} [{}]",
        finding.severity.as_str().to_uppercase(),
        finding.title,
        finding.id
    );
    let _ = writeln!(out, "  Seen: {}", finding.detail);
    for evidence in &finding.evidence {
        let _ = writeln!(out, "  Evidence ({}): {}", evidence.what, evidence.request);
        if let Some(cookie) = &evidence.cookie {
            let _ = writeln!(out, "    Cookie: {cookie}");
        }
        let _ = writeln!(out, "    ← {}", evidence.status);
        for set_cookie in &evidence.set_cookie {
            let _ = writeln!(out, "    Set-Cookie: {set_cookie}");
        }
        for (name, value) in &evidence.headers {
            let _ = writeln!(out, "    {name}: {value}");
        }
        if !evidence.body.is_empty() {
            let _ = writeln!(out, "    “{}”", evidence.body);
        }
    }
    let _ = writeln!(out, "  Why: {}", finding.why);
    let _ = writeln!(out, "  Fix: {}", finding.fix);
    let _ = writeln!(out, "  See: {}", finding.references.join(", "));
}

/// The report as Markdown.
pub fn markdown(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Session audit of {}\n", report.target);
    let _ = writeln!(
        out,
        "Session cookie `{}` · {} · {}\n",
        report.cookie_name,
        counts(report),
        took(report.duration_ms)
    );
    let _ = writeln!(out, "**Session kept in:** {}\n", report.kind.summary());
    let _ = writeln!(out, "| Check | Result | Seen |\n|---|---|---|");
    for check in &report.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            check.name,
            status_word(check.status),
            check.summary.replace('|', "\\|")
        );
    }
    for finding in &report.findings {
        let _ = writeln!(
            out,
            "\n## {} — {}\n\n`{}` · {}\n\n{}\n",
            finding.severity.as_str().to_uppercase(),
            finding.title,
            finding.id,
            finding.references.join(" · "),
            finding.detail
        );
        for evidence in &finding.evidence {
            let _ = writeln!(
                out,
                "Evidence — {}:\n\n```http\n{}",
                evidence.what, evidence.request
            );
            if let Some(cookie) = &evidence.cookie {
                let _ = writeln!(out, "Cookie: {cookie}");
            }
            let _ = writeln!(out, "\n{}", evidence.status);
            for set_cookie in &evidence.set_cookie {
                let _ = writeln!(out, "Set-Cookie: {set_cookie}");
            }
            for (name, value) in &evidence.headers {
                let _ = writeln!(out, "{name}: {value}");
            }
            if !evidence.body.is_empty() {
                let _ = writeln!(out, "\n{}", evidence.body);
            }
            let _ = writeln!(out, "```\n");
        }
        let _ = writeln!(
            out,
            "**Why it matters.** {}\n\n**Fix.** {}",
            finding.why, finding.fix
        );
    }
    out
}
