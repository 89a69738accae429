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

/// The crate's modules from the bottom up: a module may use its own layer's files and the
/// layers below it, never one above (ARCHITECTURE.md, "Layers").
const LAYERS: &[&[&str]] = &[
    &["words", "clock", "files"],
    &["browser"],
    &["server", "transfer"],
    &["audit"],
    &["lab"],
    &["scenario"],
    &["ui"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// A file's code without its `#[cfg(test)] mod tests` (tests may reach anywhere) and without
/// comment lines.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first names of the paths after each `prefix` (`crate::lab::x` → `lab`; `crate::{lab::x,
/// server}` → `lab`, `server`).
fn names_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut names = Vec::new();
    let ident = |s: &'a str| -> &'a str {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    };
    for (at, _) in code.match_indices(prefix) {
        if code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The group's top-level items.
            let (mut depth, mut start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.push(ident(group[start..i].trim_start()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(ident(group[start..i].trim_start()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.push(ident(rest));
        }
    }
    names.retain(|n| !n.is_empty() && *n != "self");
    names
}

/// Every module of `src/` (a file or a folder) with the source of each of its files.
fn modules() -> Vec<(String, Vec<(String, String)>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = relative
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = code_of(&std::fs::read_to_string(&file).unwrap());
        match modules.iter_mut().find(|(m, _)| *m == module) {
            Some((_, files)) => files.push((relative, text)),
            None => modules.push((module, vec![(relative, text)])),
        }
    }
    modules
}

/// No module uses one in a layer above its own, and every module has a layer.
#[test]
fn layers_are_used_from_above_only() {
    let modules = modules();
    let mut broken = Vec::new();
    for (module, files) in &modules {
        let own = layer_of(module).unwrap_or_else(|| panic!("{module} is in no layer"));
        for (file, code) in files {
            for name in names_after(code, "crate::") {
                let Some(theirs) = layer_of(name) else {
                    continue;
                };
                if theirs > own {
                    broken.push(format!(
                        "src/{file}: {module} uses {name}, a layer above it"
                    ));
                }
            }
        }
    }
    broken.sort();
    broken.dedup();
    assert!(
        broken.is_empty(),
        "imports against the layers:\n{}",
        broken.join("\n")
    );
}

/// Within a folder, the files (mod.rs aside, which gathers them) use each other without a
/// circle: each could be read after the ones it uses.
#[test]
fn files_in_a_folder_use_each_other_without_circles() {
    let mut circles = Vec::new();
    for (module, files) in modules() {
        let siblings: Vec<(String, &String)> = files
            .iter()
            .filter(|(path, _)| path.matches('/').count() == 1 && !path.ends_with("/mod.rs"))
            .map(|(path, code)| {
                let stem = path.rsplit('/').next().unwrap().trim_end_matches(".rs");
                (stem.to_owned(), code)
            })
            .collect();
        let uses = |code: &str| -> Vec<String> {
            let mut names = names_after(code, "super::");
            names.extend(names_after(code, &format!("crate::{module}::")));
            names
                .into_iter()
                .filter(|n| siblings.iter().any(|(s, _)| s == n))
                .map(str::to_owned)
                .collect()
        };
        let graph: Vec<(String, Vec<String>)> = siblings
            .iter()
            .map(|(stem, code)| (stem.clone(), uses(code)))
            .collect();
        // Depth-first search for a path back to where it started.
        fn back_to<'a>(
            graph: &'a [(String, Vec<String>)],
            start: &str,
            at: &'a str,
            path: &mut Vec<&'a str>,
        ) -> bool {
            let Some((_, next)) = graph.iter().find(|(n, _)| n == at) else {
                return false;
            };
            for n in next {
                if n == start {
                    return true;
                }
                if !path.contains(&n.as_str()) {
                    path.push(n);
                    if back_to(graph, start, n, path) {
                        return true;
                    }
                    path.pop();
                }
            }
            false
        }
        for (stem, _) in &graph {
            let mut path = vec![stem.as_str()];
            if back_to(&graph, stem, stem, &mut path) {
                circles.push(format!("{module}/: {} → {stem}", path.join(" → ")));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that use each other in a circle:\n{}",
        circles.join("\n")
    );
}

/// The layer and circle checkers read what they should.
#[test]
fn the_layer_checker_reads_paths_and_groups() {
    assert_eq!(names_after("use crate::lab::text;", "crate::"), ["lab"]);
    assert_eq!(
        names_after("use crate::{\n    lab::{a, b},\n    server,\n};", "crate::"),
        ["lab", "server"]
    );
    assert_eq!(names_after("x = crate::ui::run();", "crate::"), ["ui"]);
    assert!(names_after("my_crate::lab", "crate::").is_empty());
    assert_eq!(
        names_after("use super::{feed::X, store};", "super::"),
        ["feed", "store"]
    );
    assert_eq!(layer_of("browser"), Some(1));
    assert!(code_of("a\n// crate::ui\nb").lines().count() == 2);
}
