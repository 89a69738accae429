//! The walls the crate graph cannot draw by itself, checked: what each crate may depend on
//! (ARCHITECTURE.md's invariants, read from the manifests), the layers inside the core crate,
//! and no circle between the files of one folder. What the compiler already enforces — a
//! crate cannot use one above it, the headless build names no window crate — is not
//! repeated here.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The names of a manifest's `[dependencies]` (normal ones: what a user of the crate builds).
fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

/// Each crate's normal dependencies keep to its layer: the jar needs only time, url and psl
/// (serde, and reqwest with tokio for its provider, optional); the base knows no other crate of
/// the lab; only the server knows axum and tower-sessions; only the server and the watch
/// (which reads other applications' stores) know the store clients; the watch knows no
/// browser, no core, no window and no web framework; only the core and the jar's optional
/// provider know reqwest; only the app knows egui.
#[test]
fn each_crate_depends_only_on_what_its_layer_owns() {
    let crate_deps =
        |name: &str| dependencies(&root().join("crates").join(name).join("Cargo.toml"));
    let jar = crate_deps("jar");
    let allowed: BTreeSet<String> = ["time", "url", "psl", "serde", "reqwest", "tokio"]
        .map(String::from)
        .into();
    assert!(
        jar.is_subset(&allowed),
        "the jar depends on {:?} beyond time, url, psl, serde, reqwest and tokio",
        jar.difference(&allowed).collect::<Vec<_>>()
    );
    let jar_manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("crates/jar/Cargo.toml")).unwrap())
            .unwrap();
    for feature_only in ["serde", "reqwest", "tokio"] {
        let optional = jar_manifest["dependencies"]
            .get(feature_only)
            .is_none_or(|d| d.get("optional").and_then(toml::Value::as_bool) == Some(true));
        assert!(
            optional,
            "the jar needs {feature_only} only behind a feature"
        );
    }

    let window = [
        "eframe",
        "egui",
        "egui_extras",
        "egui_plot",
        "winit",
        "egui_kittest",
    ];
    let server_side = [
        "axum",
        "tower-sessions",
        "sqlx",
        "fred",
        "tokio-rustls",
        "rcgen",
    ];
    let lab = |n: &str| n.starts_with("session-lab");
    let base = crate_deps("base");
    assert!(
        !base.iter().any(|d| lab(d)),
        "the base is the bottom: {base:?}"
    );
    let server = crate_deps("server");
    let server_breaks: Vec<_> = server
        .iter()
        .filter(|d| {
            (lab(d) && *d != "session-lab-base") || *d == "reqwest" || window.contains(&d.as_str())
        })
        .collect();
    assert!(
        server_breaks.is_empty(),
        "the server knows no browser, no core and no window: {server_breaks:?}"
    );
    let watch = crate_deps("watch");
    let watch_breaks: Vec<_> = watch
        .iter()
        .filter(|d| {
            (lab(d) && *d != "session-lab-server")
                || ["reqwest", "axum", "tower-sessions", "rcgen", "tokio-rustls"]
                    .contains(&d.as_str())
                || window.contains(&d.as_str())
        })
        .collect();
    assert!(
        watch_breaks.is_empty(),
        "the watch reads stores and knows only the server's types below it: {watch_breaks:?}"
    );
    let core = crate_deps("core");
    let core_breaks: Vec<_> = core
        .iter()
        .filter(|d| server_side.contains(&d.as_str()) || window.contains(&d.as_str()))
        .collect();
    assert!(
        core_breaks.is_empty(),
        "the core reaches the server's and the window's crates only through them: {core_breaks:?}"
    );
    let app = dependencies(&root().join("Cargo.toml"));
    let app_breaks: Vec<_> = app
        .iter()
        .filter(|d| server_side.contains(&d.as_str()) || *d == "reqwest")
        .collect();
    assert!(
        app_breaks.is_empty(),
        "the app reaches the server and the browsers through the core: {app_breaks:?}"
    );
}

/// The window's crates are optional in the app (the default `window` feature), so a headless
/// build leaves them out.
#[test]
fn the_window_is_a_feature() {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let deps = table["dependencies"].as_table().unwrap();
    for name in [
        "eframe",
        "egui",
        "egui_extras",
        "egui_plot",
        "winit",
        "image",
    ] {
        let optional = deps[name]
            .as_table()
            .and_then(|t| t.get("optional"))
            .and_then(|o| o.as_bool());
        assert_eq!(optional, Some(true), "{name} must be optional");
    }
    let default = table["features"]["default"].as_array().unwrap();
    assert!(default.iter().any(|f| f.as_str() == Some("window")));
}

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

/// A file's code without its test modules (tests may reach anywhere: every `#[cfg(...test...)]`
/// item from that line on is cut) and without comment lines.
fn code_of(text: &str) -> String {
    let mut code = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(") && trimmed.contains("test") {
            break;
        }
        if !trimmed.starts_with("//") {
            code.push(line);
        }
    }
    code.join("\n")
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

/// Every module of a crate's `src/` (a file or a folder) with the code of each of its files.
fn modules(src: &Path) -> Vec<(String, Vec<(String, String)>)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut modules: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(src)
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

/// The core's modules from the bottom up (one crate, so the compiler cannot keep these): a
/// module may use its own layer and the ones below, never one above.
const CORE_LAYERS: &[&[&str]] = &[
    &["browser"],
    &["transfer", "audit"],
    &["lab"],
    &["scenario"],
];

/// The app's modules from the bottom up.
const APP_LAYERS: &[&[&str]] = &[&["scene"], &["ui"], &["cli"]];

fn layer_of(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|layer| layer.contains(&module))
}

/// Uses of a module in a layer above the user's own, as `file: module uses name` lines.
fn upward_uses(src: &Path, layers: &[&[&str]]) -> Vec<String> {
    let mut broken = Vec::new();
    for (module, files) in modules(src) {
        let own = layer_of(layers, &module).unwrap_or_else(|| panic!("{module} is in no layer"));
        for (file, code) in &files {
            for name in names_after(code, "crate::") {
                if layer_of(layers, name).is_some_and(|theirs| theirs > own) {
                    broken.push(format!("{file}: {module} uses {name}, a layer above it"));
                }
            }
        }
    }
    broken.sort();
    broken.dedup();
    broken
}

/// In the core and the app, no module uses one in a layer above its own, and every module has
/// a layer.
#[test]
fn layers_are_used_from_above_only() {
    let mut broken = upward_uses(&root().join("crates/core/src"), CORE_LAYERS);
    broken.extend(upward_uses(&root().join("src"), APP_LAYERS));
    assert!(
        broken.is_empty(),
        "imports against the layers:\n{}",
        broken.join("\n")
    );
}

/// Only the core's `browser/` names the HTTP client's crates; the rest of the core asks a
/// browser.
#[test]
fn only_the_browser_names_the_http_client() {
    let mut broken = Vec::new();
    for (module, files) in modules(&root().join("crates/core/src")) {
        if module == "browser" {
            continue;
        }
        for (file, code) in &files {
            for client in ["reqwest", "hyper", "rustls", "rustls_platform_verifier"] {
                if !names_after(code, &format!("{client}::")).is_empty()
                    || code.contains(&format!("use {client}"))
                {
                    broken.push(format!("{file}: {client}"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the HTTP client named outside browser/: {broken:?}"
    );
}

/// Within a folder, the files (mod.rs aside, which gathers them) use each other without a
/// circle: each could be read after the ones it uses.
#[test]
fn files_in_a_folder_use_each_other_without_circles() {
    let mut circles = Vec::new();
    let srcs = [
        "src",
        "crates/base/src",
        "crates/jar/src",
        "crates/server/src",
        "crates/watch/src",
        "crates/core/src",
    ];
    for src in srcs {
        let src = root().join(src);
        let mut folders = modules(&src);
        // A crate's own files form a folder too (the crate root's siblings).
        let top: Vec<(String, String)> = folders
            .iter()
            .filter(|(_, files)| files.len() == 1 && !files[0].0.contains('/'))
            .map(|(m, files)| (format!("{m}/{m}.rs"), files[0].1.clone()))
            .collect();
        folders.push((String::new(), top));
        for (module, files) in folders {
            circles.extend(circles_in(&module, &files));
        }
    }
    assert!(
        circles.is_empty(),
        "files that use each other in a circle:\n{}",
        circles.join("\n")
    );
}

/// The circles among one folder's files (`module` empty for a crate's top-level files).
fn circles_in(module: &str, files: &[(String, String)]) -> Vec<String> {
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
        let within = if module.is_empty() {
            "crate::".to_owned()
        } else {
            format!("crate::{module}::")
        };
        names.extend(names_after(code, &within));
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
    let mut circles = Vec::new();
    for (stem, _) in &graph {
        let mut path = vec![stem.as_str()];
        if back_to(&graph, stem, stem, &mut path) {
            circles.push(format!("{module}/: {} → {stem}", path.join(" → ")));
        }
    }
    circles
}

/// The checkers read what they should, so the tests above can fail.
#[test]
fn the_checkers_read_paths_groups_and_circles() {
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
    assert_eq!(layer_of(CORE_LAYERS, "lab"), Some(2));
    assert!(code_of("a\n// crate::ui\nb").lines().count() == 2);
    // Test modules are cut, whatever their cfg says.
    assert_eq!(
        code_of("a\n#[cfg(all(test, unix))]\nmod t { crate::ui }"),
        "a"
    );
    let files = [
        ("x/a.rs".to_owned(), "use super::b::X;".to_owned()),
        ("x/b.rs".to_owned(), "use crate::x::a::Y;".to_owned()),
    ];
    assert_eq!(circles_in("x", &files), ["x/: a → b → a", "x/: b → a → b"]);
}
