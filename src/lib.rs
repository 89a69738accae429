//! Session Lab: see how HTTP sessions work.
//!
//! # Layout
//!
//! - [`server`]: the embedded axum + tower-sessions server and its inspectable store.
//! - [`browser`]: one simulated browser: a reqwest client with its own listable cookie jar.
//! - [`lab`]: the headless core that owns the runtime, the server and the browsers; the UI, the
//!   `demo` command and the tests drive it with commands and read its state.
//! - [`ui`]: the egui views (one panel per file), no networking.

pub mod browser;
pub mod lab;
pub mod server;
pub mod ui;
