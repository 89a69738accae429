//! A browser's state out of the lab: its jar as `cookies.txt` and `storageState`, its history
//! as HAR, an exchange as a curl command — from what the lab's state holds.

use std::path::{Path, PathBuf};

use crate::transfer::{
    COOKIES_TXT, HISTORY_HAR, STORAGE_STATE_JSON, curl_command, har_text, netscape, storage_state,
};

use super::{BrowserId, ExchangeRecord, LabState};

/// One browser's exports, as text.
#[derive(Clone, Debug)]
pub struct BrowserExport {
    /// The browser's name.
    pub name: String,
    /// Its jar as a Netscape `cookies.txt`.
    pub cookies_txt: String,
    /// Its jar as a Playwright `storageState` JSON.
    pub storage_state: String,
    /// Its history (what the lab keeps of it) as HAR 1.2.
    pub har: String,
}

impl LabState {
    /// Browser `id`'s jar and history in the formats other tools read.
    pub fn export_browser(&self, id: BrowserId) -> Option<BrowserExport> {
        let browser = self.browser(id)?;
        let cookies: Vec<_> = browser.cookies.iter().map(|c| c.cookie.clone()).collect();
        let history = self
            .exchanges
            .iter()
            .filter(|r| r.browser == id)
            .map(|r| &r.exchange);
        Some(BrowserExport {
            name: browser.name.clone(),
            cookies_txt: netscape(&cookies),
            storage_state: storage_state(&cookies),
            har: har_text(&browser.name, history),
        })
    }

    /// The curl command that sends `record`'s request again (the lab's names resolved to the
    /// embedded server).
    pub fn curl_for(&self, record: &ExchangeRecord) -> String {
        curl_command(
            &record.exchange,
            self.server.as_ref().map(|s| s.url.as_str()),
        )
    }
}

/// Where the window saves exports: `$SESSION_LAB_EXPORT_DIR`, else the user's Downloads
/// folder (or home), in `session-lab/`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SESSION_LAB_EXPORT_DIR") {
        return PathBuf::from(dir);
    }
    dirs::download_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("session-lab")
}

impl BrowserExport {
    /// Writes the three files into `dir/<name>/`; returns the folder.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let folder = dir.join(file_name(&self.name));
        // Live session cookies: the folder and the files are the user's alone.
        crate::files::create_private_dir(&folder)?;
        for (name, text) in [
            (COOKIES_TXT, &self.cookies_txt),
            (STORAGE_STATE_JSON, &self.storage_state),
            (HISTORY_HAR, &self.har),
        ] {
            crate::files::replace_private(&folder.join(name), text.as_bytes())?;
        }
        Ok(folder)
    }
}

/// A browser's name as a folder name: letters, digits, `-` and `_` kept, the rest `_`.
fn file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "browser".to_owned()
    } else {
        cleaned
    }
}

/// Writes every browser's exports into `dir` (a folder each, named after the browser; two
/// names that make the same folder name get `-2`, `-3`, …); returns the folders.
pub fn write_all(state: &LabState, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut used: Vec<String> = Vec::new();
    let mut folders = Vec::new();
    for browser in &state.browsers {
        let Some(mut export) = state.export_browser(browser.id) else {
            continue;
        };
        let base = file_name(&export.name);
        let mut folder = base.clone();
        let mut n = 1;
        while used.contains(&folder) {
            n += 1;
            folder = format!("{base}-{n}");
        }
        used.push(folder.clone());
        export.name = folder;
        folders.push(export.write_to(dir)?);
    }
    Ok(folders)
}
