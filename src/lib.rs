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
//! - [`ui`]: the egui views (one panel per file), no networking.

pub mod audit;
pub mod browser;
pub mod clock;
pub mod lab;
pub mod server;
pub mod transfer;
pub mod ui;
