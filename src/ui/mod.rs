//! The egui views: one panel per file, no networking.

use std::path::PathBuf;

use crate::lab::LabConfig;

/// Opens the window.
pub fn run(_config: LabConfig, _screenshot: Option<PathBuf>) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
