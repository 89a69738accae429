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
//! - [`transfer`]: other tools' formats (curl, `cookies.txt`, Playwright, HAR).
//! - [`ui`]: the egui views (one panel per file), no networking.

/// Session Lab's folder in the platform's data directory (on Linux `$XDG_DATA_HOME`, by
/// default `~/.local/share`, then `session-lab/`): the kept secret, the default SQLite store
/// and the kept lab live here.
pub fn data_dir() -> std::path::PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("session-lab")
}

pub mod audit;
pub mod browser;
pub mod clock;
pub mod lab;
pub mod server;
pub mod transfer;
pub mod ui;
