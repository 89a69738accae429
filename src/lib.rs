//! Session Lab: see how HTTP sessions work.
//!
//! # Layout
//!
//! - [`server`]: the embedded axum + tower-sessions server and its inspectable store.
//! - [`browser`]: one simulated browser: a reqwest client with its own listable cookie jar, the
//!   rules browsers apply to it (Secure, Domain, SameSite), and the lab's host names.
//! - [`clock`]: the lab's clock, which the user can move ahead; expiry on both sides reads it.
//! - [`lab`]: the headless core that owns the runtime, the server and the browsers; the UI, the
//!   `demo` command and the tests drive it with commands and read its state.
//! - [`audit`]: the session audit (`session-lab audit` and the Audit tab).
//! - [`scenario`]: guided scenarios (a goal, hints, success judged from the lab's events).
//! - [`transfer`]: other tools' formats (curl, `cookies.txt`, Playwright, HAR).
//! - [`ui`]: the egui views (one panel per file), no networking.
//! - [`cli`]: the subcommands, one function each, which the binary's `main` calls.
//! - [`words`]: words every layer writes alike (a value shortened, a count, a duration).
//! - [`files`]: the files the lab keeps, private to the user (0700 folders, 0600 files).

/// Session Lab's folder in the platform's data directory (on Linux `$XDG_DATA_HOME`, by
/// default `~/.local/share`, then `session-lab/`): the kept secret, the default SQLite store
/// and the kept lab live here. Without a home, a folder of this user's own under the
/// temporary directory (`session-lab-<uid>`), never one shared by every user.
pub fn data_dir() -> std::path::PathBuf {
    match dirs::data_dir() {
        Some(dir) => dir.join("session-lab"),
        None => {
            #[cfg(unix)]
            // SAFETY: geteuid has no preconditions and cannot fail.
            let user = unsafe { libc::geteuid() }.to_string();
            #[cfg(not(unix))]
            let user = std::env::var("USERNAME").unwrap_or_default();
            std::env::temp_dir().join(format!("session-lab-{user}"))
        }
    }
}

pub mod audit;
pub mod browser;
pub mod cli;
pub mod clock;
pub mod files;
pub mod lab;
pub mod scenario;
pub mod server;
pub mod transfer;
pub mod ui;
pub mod words;
