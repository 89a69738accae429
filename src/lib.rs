//! Session Lab: see how HTTP sessions work.
//!
//! This crate is the app: the window ([`ui`], behind the default `window` feature) and the
//! command line ([`cli`]). The layers it stands on are crates of their own, re-exported here
//! under the paths programs have always used:
//!
//! - [`jar`] (`session-lab-jar`): the cookie jar, as Chrome keeps one.
//! - [`server`] (`session-lab-server`): the embedded axum + tower-sessions server and its
//!   inspectable stores.
//! - [`browser`], [`lab`], [`audit`], [`scenario`], [`transfer`] (`session-lab-core`): the
//!   headless core.
//! - [`clock`], [`words`], [`files`], [`data_dir`] (`session-lab-base`): the bottom every layer
//!   reads.
//!
//! ARCHITECTURE.md draws the map.

pub use session_lab_base::{bounded, clock, data_dir, files, words};
pub use session_lab_core::{audit, browser, lab, scenario, transfer, watch};
pub use session_lab_jar as jar;
pub use session_lab_server as server;

pub mod cli;
pub mod scene;
#[cfg(feature = "window")]
pub mod ui;
