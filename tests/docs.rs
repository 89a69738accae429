//! The documentation that can drift from the program is checked against it: the command-line
//! reference in `docs/cli.md` is the program's own `--help` for every subcommand, and the
//! book's table of contents names every chapter in `docs/`.
//!
//! When the help changes, `UPDATE_DOCS=1 cargo test --test docs` writes the new text into
//! `docs/cli.md` (between its markers), to be committed with the change.

use std::{path::Path, process::Command};

const BEGIN: &str = "<!-- BEGIN GENERATED: session-lab --help -->";
const END: &str = "<!-- END GENERATED -->";

/// Every command line whose `--help` the reference holds, in the order it shows them.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["gui"],
    &["serve"],
    &["demo"],
    &["load"],
    &["audit"],
    &["scenario"],
    &["scenario", "list"],
    &["scenario", "check"],
];

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_session-lab"))
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .output()
        .expect("the program runs");
    assert!(
        output.status.success(),
        "session-lab {} --help failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("help is UTF-8")
}

/// The generated block: one section per command, its help verbatim.
fn reference() -> String {
    let mut text = String::new();
    for args in COMMANDS {
        let name = std::iter::once("session-lab")
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        text.push_str(&format!("\n### `{name}`\n\n```text\n"));
        text.push_str(help(args).trim_end());
        text.push_str("\n```\n");
    }
    text
}

#[test]
fn the_cli_reference_is_the_programs_own_help() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
    let doc = std::fs::read_to_string(&path).expect("docs/cli.md");
    let start = doc.find(BEGIN).expect("docs/cli.md has the BEGIN marker") + BEGIN.len();
    let end = doc[start..]
        .find(END)
        .expect("docs/cli.md has the END marker")
        + start;
    let want = reference();
    if doc[start..end] == want {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{want}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, updated).expect("docs/cli.md written");
        return;
    }
    panic!(
        "docs/cli.md's reference differs from the program's --help; run \
         `UPDATE_DOCS=1 cargo test --test docs` and commit docs/cli.md"
    );
}

#[test]
fn every_chapter_is_in_the_books_table_of_contents() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let summary = std::fs::read_to_string(docs.join("SUMMARY.md")).expect("docs/SUMMARY.md");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&docs).expect("docs/") {
        let name = entry.expect("an entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".md") && name != "SUMMARY.md" && !summary.contains(&format!("({name})"))
        {
            missing.push(name.into_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "chapters not in docs/SUMMARY.md: {missing:?}"
    );
}

#[test]
fn the_readme_stays_a_front_door() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 150,
        "README.md has {lines} lines; guides go in docs/"
    );
    for command in ["cargo run --release", "cargo test"] {
        assert!(readme.contains(command), "README.md names `{command}`");
    }
}
