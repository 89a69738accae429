//! ARCHITECTURE.md's import rules, checked: only `server/` knows axum and tower-sessions, only
//! `browser/` knows reqwest and cookie_store, only `ui/` knows egui; `main.rs` wires and may
//! name the window's crate nowhere else. A `use` or a path that breaks a rule fails here, with
//! the file and line.

use std::path::{Path, PathBuf};

/// Each external crate and the only places under `src/` that may name it.
const RULES: &[(&str, &[&str])] = &[
    ("axum", &["server/"]),
    ("tower_sessions", &["server/"]),
    ("tower", &["server/"]),
    // browser/ names only hyper::Error, to say why a response could not be read.
    ("hyper", &["server/", "browser/"]),
    ("sqlx", &["server/"]),
    ("fred", &["server/"]),
    ("reqwest", &["browser/"]),
    ("psl", &["browser/"]),
    ("rustls_platform_verifier", &["browser/"]),
    ("cookie", &["browser/"]),
    ("egui", &["ui/"]),
    ("eframe", &["ui/"]),
    ("egui_extras", &["ui/"]),
    ("egui_plot", &["ui/"]),
    ("har", &["transfer/"]),
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The modules a directory declares (`mod cookie;`): their names are local paths there, not
/// crates.
fn local_modules(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            (stem != "mod").then_some(stem)
        })
        .collect()
}

/// The crate names a line of code names at the root of a path (`axum::`, `use reqwest`),
/// skipping comments, strings and paths inside other paths (`tower_sessions::cookie::`).
fn roots_named(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or("");
    let bytes = code.as_bytes();
    let mut names = Vec::new();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            in_string = !in_string;
            i += 1;
            continue;
        }
        if in_string || !(c.is_ascii_alphabetic() || c == b'_') {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        let word = &code[start..i];
        let preceded_by_path = start >= 2 && &bytes[start - 2..start] == b"::";
        let preceded_by_dot = start >= 1 && bytes[start - 1] == b'.';
        let followed_by_path = code[i..].starts_with("::");
        let used = code[..start].trim_end().ends_with("use") && !followed_by_path;
        if !preceded_by_path && !preceded_by_dot && (followed_by_path || used) {
            names.push(word);
        }
    }
    names
}

/// No file under `src/` names a crate outside the module that owns it.
#[test]
fn modules_import_only_what_they_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "the scan found the sources");
    let mut broken = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let locals = local_modules(file.parent().unwrap());
        let text = std::fs::read_to_string(file).unwrap();
        let mut in_use_block = false;
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            // Inside `use super::{…}` / `use crate::{…}` every name is local.
            if trimmed.starts_with("use super::") || trimmed.starts_with("use crate::") {
                in_use_block = !trimmed.ends_with(';');
                continue;
            }
            if in_use_block {
                in_use_block = !trimmed.ends_with(';');
                continue;
            }
            for name in roots_named(line) {
                if locals.iter().any(|m| m == name) {
                    continue;
                }
                let Some((_, allowed)) = RULES.iter().find(|(krate, _)| *krate == name) else {
                    continue;
                };
                // main.rs starts the window through `ui::run`; it may not name egui itself.
                if !allowed.iter().any(|dir| relative.starts_with(dir)) {
                    broken.push(format!(
                        "src/{relative}:{}: {name} — {}",
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports that break ARCHITECTURE.md's rules:\n{}",
        broken.join("\n")
    );
}

/// The checker catches what it should (so the test above can fail).
#[test]
fn the_checker_sees_imports_and_paths() {
    assert_eq!(roots_named("use axum::Router;"), ["axum"]);
    assert_eq!(
        roots_named("    let r = reqwest::Client::new();"),
        ["reqwest"]
    );
    assert_eq!(roots_named("use egui;"), ["egui"]);
    assert!(roots_named("use tower_sessions::cookie::Key;") == ["tower_sessions"]);
    assert!(roots_named("// axum::Router in a comment").is_empty());
    assert!(roots_named(r#"let s = "axum::Router";"#).is_empty());
    assert!(roots_named("self.cookie::x").is_empty());
}
