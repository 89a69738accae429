//! The window's controls a hint may name. A hint marks a control as `**Label**`, by the words
//! the control carries on screen, so a student can find it; a scenario whose hint names a
//! control the window does not have is refused when it is read (`scenario check` too). The
//! window's tests find every label here on screen, so the list cannot drift from the window.
//!
//! A hint marks code a student would copy (a Set-Cookie line, an HTML page) with backticks:
//! the window shows it with a Copy button.

/// The labels a hint may name. `{browser}` stands for any of the scenario's browsers.
pub const WINDOW_LABELS: &[&str] = &[
    // A browser panel.
    "Visit",
    "Copy",
    "Home",
    "Login",
    "Logout",
    "Account",
    "Regenerate",
    "Whoami",
    "Burst",
    "Submit",
    "Links",
    "+ Browser",
    // A cookie's row in a jar: the menu at its start, and what it holds.
    "…",
    "Copy to browser {browser}",
    "Edit value (tamper)",
    "Save",
    "Delete",
    "Clear",
    // The lab's clock, by the sessions table.
    "+1 min",
    "+5 min",
    "+30 min",
    "+1 h",
    "+1 day",
    // The bottom tabs.
    "Scenarios",
    "Timeline",
    "Other site",
    // The Other site tab.
    "Publish",
    "Send http://other-site.test/ to",
    "Send http://sandbox.lab.test/ to",
    "{browser}",
    // Server settings.
    "Server settings",
    "Rotate gracefully",
    "Rotate at once",
    "Apply",
];

/// The controls `hint` names (`**Label**`), in order.
pub fn named(hint: &str) -> impl Iterator<Item = &str> {
    hint.split("**").skip(1).step_by(2)
}

/// Whether the window has a control labelled `label`, given the scenario's `browsers`.
pub fn exists(label: &str, browsers: &[String]) -> bool {
    WINDOW_LABELS
        .iter()
        .any(|known| match known.split_once("{browser}") {
            None => *known == label,
            Some((before, after)) => label
                .strip_prefix(before)
                .and_then(|rest| rest.strip_suffix(after))
                .is_some_and(|name| browsers.iter().any(|b| b == name)),
        })
}

/// The first control `hint` names that the window does not have, with why, if any; an
/// unclosed `**` or backtick is refused too (the rest of the hint would be drawn wrongly).
pub fn check_hint(hint: &str, browsers: &[String]) -> Result<(), String> {
    if hint.matches("**").count() % 2 == 1 {
        return Err("a “**” is not closed".to_owned());
    }
    if hint.matches('`').count() % 2 == 1 {
        return Err("a backtick is not closed".to_owned());
    }
    match named(hint).find(|label| !exists(label, browsers)) {
        None => Ok(()),
        Some(label) => Err(format!(
            "it names **{label}**, which the window does not have (it has: {})",
            WINDOW_LABELS.join(", ")
        )),
    }
}

/// One piece of a hint as the window draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Plain words.
    Text(&'a str),
    /// A control's label (`**Label**`).
    Control(&'a str),
    /// Code to copy (`` `…` ``).
    Code(&'a str),
}

/// `hint` cut into words, controls and code, in order.
pub fn pieces(hint: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    for (i, part) in hint.split('`').enumerate() {
        if i % 2 == 1 {
            out.push(Piece::Code(part));
            continue;
        }
        for (j, words) in part.split("**").enumerate() {
            if words.is_empty() {
                continue;
            }
            out.push(if j % 2 == 1 {
                Piece::Control(words)
            } else {
                Piece::Text(words)
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browsers() -> Vec<String> {
        vec!["Victim".to_owned(), "Attacker".to_owned()]
    }

    #[test]
    fn a_hint_may_name_only_the_windows_controls() {
        let ok = "In the Victim's jar, **…** → **Copy to browser Attacker**, then **Whoami**.";
        assert_eq!(check_hint(ok, &browsers()), Ok(()));
        assert_eq!(
            named(ok).collect::<Vec<_>>(),
            ["…", "Copy to browser Attacker", "Whoami"]
        );
        let unknown = check_hint("click **Log in**", &browsers()).unwrap_err();
        assert!(unknown.contains("**Log in**"), "{unknown}");
        // A browser the scenario does not have is not a control either.
        assert!(check_hint("**Copy to browser Mallory**", &browsers()).is_err());
        assert!(check_hint("**Victim**", &browsers()).is_ok());
        assert!(check_hint("**Visit", &browsers()).is_err());
        assert!(check_hint("`<a href", &browsers()).is_err());
    }

    #[test]
    fn a_hint_is_cut_into_words_controls_and_code() {
        assert_eq!(
            pieces("Put `id=1; Domain=lab.test` there, then **Publish**."),
            [
                Piece::Text("Put "),
                Piece::Code("id=1; Domain=lab.test"),
                Piece::Text(" there, then "),
                Piece::Control("Publish"),
                Piece::Text("."),
            ]
        );
    }
}
