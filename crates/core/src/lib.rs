//! Session Lab's headless core: the simulated browsers, the lab that drives them and the
//! embedded server, the audit, the guided scenarios and other tools' formats. The window and
//! the command line (the `session-lab` crate) drive it with commands and read its state; so do
//! the tests.
//!
//! # Layout
//!
//! - [`browser`]: one simulated browser: a reqwest client with its own jar
//!   (`session-lab-jar`), the lab's names resolved to the embedded server, a record of each
//!   exchange.
//! - [`lab`]: the core that owns the runtime, the server and the browsers; commands in, events
//!   and state out.
//! - [`audit`]: the session audit (`session-lab audit` and the Audit tab).
//! - [`scenario`]: guided scenarios (a goal, hints, success judged from the lab's events).
//! - [`transfer`]: other tools' formats (curl, `cookies.txt`, Playwright, HAR).

pub mod audit;
pub mod browser;
pub mod lab;
pub mod scenario;
pub mod transfer;

// The layers below, under the names the modules above know them by.
use session_lab_base::{clock, data_dir, files, words};
use session_lab_server as server;
/// Other applications' session stores, read-only (`session-lab-watch`).
pub use session_lab_watch as watch;
