//! The lab as a file: browsers (names, colours, addresses, options, jars unless private),
//! the server's settings and store, and optionally each browser's history as HAR. The window
//! keeps one between launches (`<data dir>/session-lab/lab.json`), and *Save lab as…* /
//! *Open lab…* hand one to someone else.
//!
//! A file this version cannot read (an older format, or damage) is never a crash: it is
//! set aside under a new name and the lab starts fresh, saying so.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    browser::{CookieRow, RequestFrom},
    server::{ExpiryPolicy, ServerSettings, StoreChoice},
};

use super::{BrowserId, LabState};

/// Why a lab file cannot be used (the words finish "The saved lab could not be used: …").
#[derive(Debug, thiserror::Error)]
pub enum LabFileError {
    /// It could not be read at all.
    #[error("it cannot be read ({0})")]
    Unreadable(crate::files::ReadError),
    /// Not text.
    #[error("it is not UTF-8 text")]
    NotUtf8,
    /// Not JSON of an object (the parser's words).
    #[error("it is not a Session Lab file ({0})")]
    NotALab(String),
    /// JSON without a format number.
    #[error("it is not a Session Lab file (no \"format\")")]
    NoFormat,
    /// Another version's format.
    #[error("it was written in lab format {0}; this Session Lab reads format {FORMAT}")]
    OtherFormat(u32),
    /// This format, but something in it does not fit (the parser's words).
    #[error("it cannot be read: {0}")]
    Broken(String),
    /// More values than a lab holds: read, it would take many times its size in memory.
    #[error(
        "it holds about {values} JSON values, more than the {MAX_LAB_VALUES} a lab can hold \
         (read, it would take many times its size in memory)"
    )]
    TooManyValues {
        /// About how many it holds.
        values: usize,
    },
}

/// The most JSON values a lab file may hold. Each becomes a node in memory of 32 to 80 bytes
/// whatever its size on disk (`{}` is two bytes), so the bound is on values, not only on
/// bytes: a million keeps a read lab under about 100 MB. A lab at its limits — 16 browsers,
/// each with its whole history — holds well under a tenth of it.
pub const MAX_LAB_VALUES: usize = 1_000_000;

/// About how many JSON values `text` holds (every object, array and element: the opening
/// brackets and the commas and colons between), counted in one pass without building any.
fn json_values(text: &str) -> usize {
    let (mut count, mut in_string, mut escaped) = (1usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' | b',' | b':' => count += 1,
            _ => {}
        }
    }
    count
}

/// The format this version writes; a file of another format is set aside.
pub const FORMAT: u32 = 1;

/// The file the window keeps the lab in between launches.
pub const FILE_NAME: &str = "lab.json";

/// A saved lab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedLab {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// The Session Lab version that wrote it.
    pub written_by: String,
    /// The browsers, in panel order.
    pub browsers: Vec<SavedBrowser>,
    /// The embedded server's cookie settings.
    pub settings: ServerSettings,
    /// The store (`memory`, `sqlite:PATH`, `redis://HOST…`); none when it held a password.
    pub store: Option<String>,
    /// The embedded server's address when the lab was saved (addresses pointing there follow
    /// the server to wherever it listens next time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// The guided scenarios solved (without their fix), by id: the learner's progress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub solved_scenarios: Vec<String>,
}

/// One saved browser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedBrowser {
    /// Its name.
    pub name: String,
    /// Its colour index.
    pub colour: usize,
    /// A private browser (its jar is never saved).
    pub private: bool,
    /// Cookies on.
    pub cookies_enabled: bool,
    /// Where its requests come from, as the panel's menu says it ("Address bar", …).
    pub from: String,
    /// Its visits spread over the server instances.
    pub spread: bool,
    /// What its address field held.
    pub url: String,
    /// Its jar (empty for a private browser).
    pub cookies: Vec<CookieRow>,
    /// Its history as HAR 1.2, when the lab was saved with history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<serde_json::Value>,
}

impl SavedBrowser {
    /// Where its requests come from, read back from the menu's words (the address bar if
    /// unknown).
    pub fn request_from(&self) -> RequestFrom {
        crate::browser::FROM_CHOICES
            .into_iter()
            .find(|from| from.label() == self.from)
            .unwrap_or_default()
    }
}

impl SavedLab {
    /// The seed's lab: browsers A and B, fresh, the server's default settings.
    pub fn seed(url: &str) -> Self {
        let browser = |name: &str, colour| SavedBrowser {
            name: name.to_owned(),
            colour,
            private: false,
            cookies_enabled: true,
            from: RequestFrom::AddressBar.label(),
            spread: false,
            url: url.to_owned(),
            cookies: Vec::new(),
            history: None,
        };
        Self {
            format: FORMAT,
            written_by: env!("CARGO_PKG_VERSION").to_owned(),
            browsers: vec![browser("A", 0), browser("B", 1)],
            settings: ServerSettings::default(),
            store: None,
            server_url: Some(url.to_owned()),
            solved_scenarios: Vec::new(),
        }
    }

    /// Reads a saved lab; the error says why it cannot be used.
    pub fn from_json(text: &str) -> Result<Self, LabFileError> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<u32>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| LabFileError::NotALab(e.to_string()))?;
        match head.format {
            Some(FORMAT) => {}
            Some(other) => return Err(LabFileError::OtherFormat(other)),
            None => return Err(LabFileError::NoFormat),
        }
        let values = json_values(text);
        if values > MAX_LAB_VALUES {
            return Err(LabFileError::TooManyValues { values });
        }
        serde_json::from_str(text).map_err(|e| LabFileError::Broken(e.to_string()))
    }

    /// Reads the lab file at `path` (a regular file, at most [`MAX_LAB_FILE_BYTES`]).
    pub fn read(path: &Path) -> Result<Self, LabFileError> {
        let bytes = crate::files::read_regular_file(path, MAX_LAB_FILE_BYTES)
            .map_err(LabFileError::Unreadable)?;
        let text = String::from_utf8(bytes).map_err(|_| LabFileError::NotUtf8)?;
        Self::from_json(&text)
    }

    /// The lab as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The store to start on, when the file names one.
    pub fn store_choice(&self) -> Option<StoreChoice> {
        self.store.as_deref().and_then(|s| s.parse().ok())
    }

    /// Writes the file whole and private (it holds live session cookies): to a new 0600
    /// temporary file of this process beside it, flushed to disk, then renamed over it — a
    /// crash, or another window writing at once, never leaves half a file. The folder is made
    /// the user's alone (0700).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_text(path, &self.to_json())
    }

    /// Makes the settings safe to start with, and says what it changed: a fixed expiry that
    /// has passed becomes a browser-session cookie (or every session would end at once), the
    /// store latency stays within 0–100 ms and the session limit at least 1.
    pub fn sanitise(&mut self, now: OffsetDateTime) -> Vec<String> {
        let mut changed = Vec::new();
        let settings = &mut self.settings;
        if let ExpiryPolicy::AtDateTime(at) = settings.expiry
            && at <= now
        {
            settings.expiry = ExpiryPolicy::BrowserSession;
            changed.push(format!(
                "its fixed expiry ({at}) has passed, so sessions end with the browser instead"
            ));
        }
        if settings.store_latency_ms > 100 {
            changed.push(format!(
                "its store latency of {} ms is now 100 ms, the most there is",
                settings.store_latency_ms
            ));
            settings.store_latency_ms = 100;
        }
        if settings.max_sessions == 0 {
            settings.max_sessions = ServerSettings::default().max_sessions;
            changed.push("its session limit of 0 is back to the default".to_owned());
        }
        changed
    }
}

/// Which server flags were typed on the command line (not left at their defaults): they win
/// over a kept lab's settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct GivenFlags {
    /// `--store`.
    pub store: bool,
    /// `--naive`.
    pub naive: bool,
    /// `--max-sessions`.
    pub max_sessions: bool,
    /// `--store-latency`.
    pub store_latency: bool,
}

impl SavedLab {
    /// Starts `config` from this lab: its settings and store, except what the command line
    /// gave (`given`).
    pub fn start(&self, config: &mut super::LabConfig, given: GivenFlags) {
        let typed = &config.server.settings;
        let mut settings = self.settings.clone();
        if given.naive {
            settings.lock_per_session = typed.lock_per_session;
        }
        if given.max_sessions {
            settings.max_sessions = typed.max_sessions;
        }
        if given.store_latency {
            settings.store_latency_ms = typed.store_latency_ms;
        }
        config.server.settings = settings;
        if !given.store
            && let Some(store) = self.store_choice()
        {
            config.store = store;
        }
    }
}

/// How a saved lab was found at start.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The lab, if there was one and it could be read.
    pub lab: Option<SavedLab>,
    /// What to tell the user (a file set aside, a setting made safe).
    pub notice: Option<String>,
    /// The file is there but could be neither read nor set aside: it must not be overwritten.
    pub read_only: bool,
}

/// The file the window keeps the lab in: `<data dir>/session-lab/lab.json`.
pub fn default_path() -> PathBuf {
    crate::data_dir().join(FILE_NAME)
}

/// The largest lab file read: jars and settings are kilobytes; histories, saved as HAR, are
/// bounded by the lab's own exchange budget (8 MiB a browser).
pub const MAX_LAB_FILE_BYTES: usize = 256 * 1024 * 1024;

/// Reads the lab kept at `path`. A file that cannot be read is renamed
/// `lab.json.unreadable-<time>` (kept for the user, out of the way) and said so.
pub fn load(path: &Path) -> Loaded {
    let read = match SavedLab::read(path) {
        Err(LabFileError::Unreadable(err)) if err.is_not_found() => return Loaded::default(),
        read => read,
    };
    match read {
        Ok(mut lab) => {
            let changed = lab.sanitise(OffsetDateTime::now_utc());
            Loaded {
                notice: (!changed.is_empty())
                    .then(|| format!("The kept lab was changed to start: {}.", changed.join("; "))),
                lab: Some(lab),
                read_only: false,
            }
        }
        Err(why) => {
            let stamp = OffsetDateTime::now_utc().unix_timestamp();
            let aside = (1..)
                .map(|n| {
                    path.with_extension(match n {
                        1 => format!("json.unreadable-{stamp}"),
                        n => format!("json.unreadable-{stamp}-{n}"),
                    })
                })
                .find(|p| !p.exists())
                .expect("a free name");
            match std::fs::rename(path, &aside) {
                Ok(()) => Loaded {
                    lab: None,
                    notice: Some(format!(
                        "The saved lab could not be used: {why}. It was set aside as {}; \
                         starting with a fresh lab.",
                        aside.display()
                    )),
                    read_only: false,
                },
                // Neither readable nor movable: leave it alone, and keep nothing this time.
                Err(err) => Loaded {
                    lab: None,
                    notice: Some(format!(
                        "The saved lab {} could not be used ({why}) nor set aside ({err}); \
                         starting fresh, and this lab will not be kept.",
                        path.display()
                    )),
                    read_only: true,
                },
            }
        }
    }
}

impl LabState {
    /// The lab as it is now, with each browser's address field from `url_of`; with each
    /// browser's history as HAR when `history` is set. Private browsers' jars are left out.
    pub fn snapshot(
        &self,
        url_of: impl Fn(BrowserId) -> Option<String>,
        history: bool,
    ) -> SavedLab {
        let browsers = self
            .browsers
            .iter()
            .map(|b| SavedBrowser {
                name: b.name.clone(),
                colour: b.colour,
                private: b.private,
                cookies_enabled: b.cookies_enabled,
                from: b.from.label(),
                spread: b.spread,
                url: url_of(b.id).unwrap_or_default(),
                cookies: if b.private {
                    Vec::new()
                } else {
                    b.cookies.iter().map(|c| c.cookie.clone()).collect()
                },
                // A private browser's history holds its cookies too.
                history: (history && !b.private)
                    .then(|| self.export_browser(b.id))
                    .flatten()
                    .and_then(|export| serde_json::from_str(&export.har).ok()),
            })
            .collect();
        let (settings, store) = self.server.as_ref().map_or_else(
            || (ServerSettings::default(), None),
            |server| {
                let store = match &server.store {
                    // A password is never written to a file.
                    StoreChoice::Redis(url)
                        if url::Url::parse(url).is_ok_and(|u| u.password().is_some()) =>
                    {
                        None
                    }
                    StoreChoice::Redis(url) => Some(url.clone()),
                    StoreChoice::Memory => Some("memory".to_owned()),
                    StoreChoice::Sqlite(path) => Some(format!("sqlite:{}", path.display())),
                };
                (server.settings.clone(), store)
            },
        );
        SavedLab {
            format: FORMAT,
            written_by: env!("CARGO_PKG_VERSION").to_owned(),
            browsers,
            settings,
            store,
            server_url: self.server.as_ref().map(|s| s.url.clone()),
            solved_scenarios: self.solved_scenarios.iter().cloned().collect(),
        }
    }
}

/// `address` as it should read now that the embedded server moved from `was` to `now`: an
/// address on the old server's port (by 127.0.0.1, localhost or one of the lab's names) takes
/// the new port; any other address is left as it is.
pub fn follow_server(address: &str, was: &str, now: &str) -> String {
    let (Ok(mut url), Ok(was), Ok(now)) = (
        url::Url::parse(address),
        url::Url::parse(was),
        url::Url::parse(now),
    ) else {
        return address.to_owned();
    };
    let ours = url.host_str().is_some_and(|host| {
        host == "127.0.0.1" || host == "localhost" || crate::browser::is_lab_host(host)
    });
    if ours && url.port_or_known_default() == was.port_or_known_default() {
        let _ = url.set_port(now.port());
        return url.to_string();
    }
    address.to_owned()
}

/// [`SavedLab::write`] for a lab already written as text.
fn write_text(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_private_dir(dir)?;
    }
    crate::files::replace_private(path, text.as_bytes())
}

/// Why a write is made: the kept lab, or *Save lab as…*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFor {
    /// The lab kept between launches (only the latest matters).
    Keeping,
    /// A copy the user asked for (each is written).
    SavingAs,
}

/// A write done: where, why, and how it went.
#[derive(Debug)]
pub struct Written {
    /// The file.
    pub path: PathBuf,
    /// Why it was written.
    pub why: WriteFor,
    /// The browsers it holds.
    pub browsers: usize,
    /// Whether it worked.
    pub result: std::io::Result<()>,
}

enum Job {
    Write(Written, String),
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// Writes lab files on a thread of its own, so the window never waits for the disk (a write
/// is a new file, an fsync and a rename). Writes happen in order; of several kept-lab writes
/// waiting, only the latest is made. Dropping the writer finishes what was asked — the lab
/// kept as the window closes is on disk when the process ends.
#[derive(Default)]
pub struct LabWriter {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    done: Option<std::sync::mpsc::Receiver<Written>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Called after each write, so the window takes in how it went without polling.
    waker: Option<super::Waker>,
}

impl std::fmt::Debug for LabWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabWriter")
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

impl LabWriter {
    /// Asks for `text` (a [`SavedLab`] with `browsers` browsers, as JSON) to be written to
    /// `path`; [`Self::finished`] tells how it went.
    pub fn write(&mut self, path: PathBuf, why: WriteFor, browsers: usize, text: String) {
        let written = Written {
            path,
            why,
            browsers,
            result: Ok(()),
        };
        if let Some(jobs) = self.jobs() {
            // The thread ends only when this sender is dropped.
            let _ = jobs.send(Job::Write(written, text));
        }
    }

    /// The writes done since last asked.
    pub fn finished(&self) -> Vec<Written> {
        self.done
            .as_ref()
            .map(|done| done.try_iter().collect())
            .unwrap_or_default()
    }

    /// Waits until every write asked for so far is done (for tests and the end).
    pub fn flush(&mut self) {
        let Some(jobs) = &self.jobs else { return };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        if jobs.send(Job::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Calls `waker` after each write from now on (the window's repaint).
    pub fn set_waker(&mut self, waker: super::Waker) {
        self.waker = Some(waker);
    }

    fn jobs(&mut self) -> Option<&std::sync::mpsc::Sender<Job>> {
        if self.jobs.is_none() {
            let (jobs, queue) = std::sync::mpsc::channel::<Job>();
            let (tell, done) = std::sync::mpsc::channel();
            let waker = self.waker.clone();
            let thread = std::thread::Builder::new()
                .name("lab-file-writer".to_owned())
                .spawn(move || write_jobs(&queue, &tell, waker.as_ref()))
                .ok()?;
            self.jobs = Some(jobs);
            self.done = Some(done);
            self.thread = Some(thread);
        }
        self.jobs.as_ref()
    }
}

/// The writer thread: each job in turn; a kept-lab write that a later one replaces is skipped.
fn write_jobs(
    queue: &std::sync::mpsc::Receiver<Job>,
    tell: &std::sync::mpsc::Sender<Written>,
    waker: Option<&super::Waker>,
) {
    let mut waiting: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
    loop {
        if waiting.is_empty() {
            match queue.recv() {
                Ok(job) => waiting.push_back(job),
                Err(_) => return,
            }
        }
        waiting.extend(queue.try_iter());
        let Some(job) = waiting.pop_front() else {
            continue;
        };
        match job {
            Job::Flush(ack) => {
                let _ = ack.send(());
            }
            Job::Write(mut written, text) => {
                let superseded = written.why == WriteFor::Keeping
                    && waiting.iter().any(
                        |later| matches!(later, Job::Write(w, _) if w.why == WriteFor::Keeping),
                    );
                if superseded {
                    continue;
                }
                written.result = write_text(&written.path, &text);
                let _ = tell.send(written);
                if let Some(wake) = waker {
                    wake();
                }
            }
        }
    }
}

impl Drop for LabWriter {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has written what it was given.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of another format, or not a lab at all, is refused with a reason; a lab round
    /// trips; a missing field of the settings takes its default.
    #[test]
    fn reads_its_own_format_only() {
        let lab = SavedLab::seed("http://127.0.0.1:3000/");
        assert_eq!(SavedLab::from_json(&lab.to_json()).unwrap(), lab);
        assert!(matches!(
            SavedLab::from_json(r#"{"format": 0, "browsers": 3}"#),
            Err(LabFileError::OtherFormat(0))
        ));
        assert!(matches!(
            SavedLab::from_json("[]"),
            Err(LabFileError::NotALab(_))
        ));
        let mut json: serde_json::Value = serde_json::from_str(&lab.to_json()).unwrap();
        json["settings"].as_object_mut().unwrap().remove("secure");
        let back = SavedLab::from_json(&json.to_string()).unwrap();
        assert!(!back.settings.secure);
    }

    /// A kept lab starts the server with its settings and store, but a flag typed on the
    /// command line wins (`--naive` after a kept safe server gives a naive one).
    #[test]
    fn typed_flags_win_over_the_kept_lab() {
        let mut kept = SavedLab::seed("http://127.0.0.1:3000/");
        kept.settings.store_latency_ms = 7;
        kept.settings.secure = true;
        kept.store = Some("sqlite:/tmp/kept.db".to_owned());
        let mut config = super::super::LabConfig::default();
        config.server.settings.lock_per_session = false;
        kept.start(
            &mut config,
            GivenFlags {
                naive: true,
                ..GivenFlags::default()
            },
        );
        let settings = &config.server.settings;
        assert!(!settings.lock_per_session, "--naive was typed");
        assert_eq!(settings.store_latency_ms, 7);
        assert!(settings.secure);
        assert_eq!(
            config.store,
            StoreChoice::Sqlite(PathBuf::from("/tmp/kept.db"))
        );
        let mut config = super::super::LabConfig::default();
        kept.start(
            &mut config,
            GivenFlags {
                store: true,
                ..GivenFlags::default()
            },
        );
        assert_eq!(
            config.store,
            StoreChoice::Memory,
            "--store memory was typed"
        );
        assert!(config.server.settings.lock_per_session);
    }

    /// Addresses on the old server follow it to its new port; others stay.
    #[test]
    fn addresses_follow_the_server() {
        let (was, now) = ("http://127.0.0.1:40001/", "http://127.0.0.1:3000/");
        assert_eq!(
            follow_server("http://127.0.0.1:40001/whoami", was, now),
            "http://127.0.0.1:3000/whoami"
        );
        assert_eq!(
            follow_server("https://app.lab.test:40001/", was, now),
            "https://app.lab.test:3000/"
        );
        assert_eq!(
            follow_server("http://localhost:8000/", was, now),
            "http://localhost:8000/"
        );
    }

    /// A kept fixed expiry that has passed, or an impossible latency, is made safe and said.
    #[test]
    fn settings_are_made_safe_to_start() {
        let mut lab = SavedLab::seed("http://127.0.0.1:3000/");
        lab.settings.expiry = ExpiryPolicy::AtDateTime(OffsetDateTime::UNIX_EPOCH);
        lab.settings.store_latency_ms = 10_000_000;
        let changed = lab.sanitise(OffsetDateTime::now_utc());
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert_eq!(lab.settings.expiry, ExpiryPolicy::BrowserSession);
        assert_eq!(lab.settings.store_latency_ms, 100);
        assert!(lab.sanitise(OffsetDateTime::now_utc()).is_empty());
    }

    /// An unreadable file is set aside, not lost, and the lab starts fresh with a notice.
    #[test]
    fn an_unreadable_file_is_set_aside() {
        let dir = std::env::temp_dir().join(format!("session-lab-saved-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, r#"{"format": 99}"#).unwrap();
        let loaded = load(&path);
        assert!(loaded.lab.is_none());
        assert!(loaded.notice.unwrap().contains("set aside"));
        assert!(!path.exists());
        let aside: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(aside.len(), 1);
        assert!(
            load(&path).notice.is_none(),
            "nothing there now: a fresh start"
        );
        // Bytes that are not UTF-8 are set aside the same way (never overwritten).
        std::fs::write(&path, [0xff, 0xfe, b'{']).unwrap();
        let loaded = load(&path);
        assert!(loaded.notice.unwrap().contains("not UTF-8"));
        assert!(!loaded.read_only && !path.exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
