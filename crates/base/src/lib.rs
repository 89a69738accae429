//! The bottom of Session Lab: what every layer above reads alike and nothing below it needs.
//!
//! # Layout
//!
//! - [`bounded`]: a queue kept within a count and a byte budget (the log, the timeline).
//! - [`hosts`]: the lab's host names (the app, its sibling, another site, the sandbox).
//! - [`clock`]: the lab's clock, which the user can move ahead; expiry on both sides reads it.
//! - [`words`]: words every layer writes alike (a value shortened, a count, a duration).
//! - [`files`]: the files the lab keeps, private to the user (0700 folders, 0600 files).
//! - [`data_dir`]: where those files live.

pub mod bounded;
pub mod clock;
pub mod files;
pub mod hosts;
pub mod words;

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
