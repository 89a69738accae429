//! A folder of PHP session files (`sess_<id>`), read without taking PHP's lock: a reader never
//! makes the application wait. PHP keeps no expiry in the file; a session is collected once
//! it has not been written for `session.gc_maxlifetime` (1,440 s by default), so that is the
//! expiry shown, from the file's modification time.

use std::{
    io::Read as _,
    path::{Path, PathBuf},
    time::Instant,
};

use time::OffsetDateTime;

use super::{Progress, RawRecord, WatchError};
use crate::{MAX_RECORD_BYTES, MAX_SESSIONS, format::Format};

/// PHP's default `session.gc_maxlifetime`.
pub(crate) const PHP_MAX_LIFETIME: time::Duration = time::Duration::seconds(1440);

pub(crate) struct DirSource {
    path: PathBuf,
    shown: String,
}

impl DirSource {
    pub(crate) fn open(
        path: &Path,
        shown: String,
        format: Option<Format>,
    ) -> Result<(Self, Format), WatchError> {
        let meta = std::fs::metadata(path).map_err(|e| WatchError::Unreachable {
            store: shown.clone(),
            reason: e.to_string(),
        })?;
        if !meta.is_dir() {
            return Err(WatchError::Failed {
                store: shown,
                reason:
                    "not a folder (dir: names the folder of session files, PHP's session.save_path)"
                        .into(),
            });
        }
        match format {
            None | Some(Format::Php) => {}
            Some(other) => {
                return Err(WatchError::UnknownFormat {
                    store: shown,
                    found: format!(
                        "a folder of files holds PHP sessions, not {}",
                        other.title()
                    ),
                });
            }
        }
        Ok((
            Self {
                path: path.to_owned(),
                shown,
            },
            Format::Php,
        ))
    }

    fn failed(&self, e: &std::io::Error) -> WatchError {
        WatchError::Failed {
            store: self.shown.clone(),
            reason: e.to_string(),
        }
    }

    pub(crate) async fn list(
        &mut self,
        deadline: Instant,
        found: &mut (dyn FnMut(RawRecord) + Send),
    ) -> Result<Progress, WatchError> {
        let mut progress = Progress::default();
        let dir = std::fs::read_dir(&self.path).map_err(|e| self.failed(&e))?;
        let mut sessions = 0;
        let mut unreadable = 0u64;
        for entry in dir {
            let Ok(entry) = entry else { continue };
            progress.looked_at += 1;
            let name = entry.file_name();
            if let Some(id) = name.to_str().and_then(session_id) {
                match read_file(&entry.path(), id) {
                    FileRead::Record(record) => {
                        sessions += 1;
                        found(record);
                    }
                    FileRead::Unreadable => unreadable += 1,
                    FileRead::Gone => {}
                }
            }
            if sessions >= MAX_SESSIONS
                || (progress.looked_at.is_multiple_of(256) && Instant::now() >= deadline)
            {
                progress.cut = true;
                break;
            }
            if progress.looked_at.is_multiple_of(256) {
                tokio::task::yield_now().await;
            }
        }
        if unreadable > 0 && sessions == 0 {
            return Err(WatchError::Denied {
                store: self.shown.clone(),
                reason: format!(
                    "none of its {unreadable} session files can be read by the lab (PHP writes them \
                     for its own user, mode 0600): run the lab as that user, or let it read them"
                ),
            });
        }
        progress.unreadable = unreadable;
        Ok(progress)
    }

    /// The ids of every session file, from the folder's names alone.
    pub(crate) fn ids(&self, deadline: Instant) -> Result<Option<Vec<String>>, WatchError> {
        let mut ids = Vec::new();
        let mut looked_at = 0usize;
        for entry in std::fs::read_dir(&self.path).map_err(|e| self.failed(&e))? {
            let Ok(entry) = entry else { continue };
            looked_at += 1;
            if let Some(id) = entry.file_name().to_str().and_then(session_id) {
                ids.push(id.to_owned());
            }
            if ids.len() >= MAX_SESSIONS
                || (looked_at.is_multiple_of(1024) && Instant::now() >= deadline)
            {
                return Ok(None);
            }
        }
        Ok(Some(ids))
    }

    pub(crate) async fn read(
        &mut self,
        ids: &[String],
    ) -> Result<Vec<(String, Option<RawRecord>)>, WatchError> {
        Ok(ids
            .iter()
            .map(|id| {
                let safe = !id.is_empty()
                    && id.len() <= 256
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b',');
                let record =
                    match safe.then(|| read_file(&self.path.join(format!("sess_{id}")), id)) {
                        Some(FileRead::Record(record)) => Some(record),
                        _ => None,
                    };
                (id.clone(), record)
            })
            .collect())
    }
}

/// The session id of a file's name: `sess_` and at most 256 characters PHP could have made.
fn session_id(name: &str) -> Option<&str> {
    name.strip_prefix("sess_")
        .filter(|id| !id.is_empty() && id.len() <= 256)
}

/// What reading one session file gave.
enum FileRead {
    Record(RawRecord),
    /// Gone since it was listed, or not a regular file (a FIFO, a link, a folder).
    Gone,
    /// There, but the lab may not read it.
    Unreadable,
}

/// One session file, read (at most [`MAX_RECORD_BYTES`]) without a lock and without following
/// a link or waiting on a FIFO.
fn read_file(path: &Path, id: &str) -> FileRead {
    use std::os::unix::fs::OpenOptionsExt as _;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return FileRead::Gone;
    };
    if !meta.is_file() {
        return FileRead::Gone;
    }
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return FileRead::Unreadable,
        Err(_) => return FileRead::Gone,
    };
    let mut bytes = Vec::new();
    if file
        .take(MAX_RECORD_BYTES as u64)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return FileRead::Gone;
    }
    let updated = meta.modified().ok().and_then(file_time);
    FileRead::Record(RawRecord {
        key: id.to_owned(),
        bytes,
        full_len: usize::try_from(meta.len()).unwrap_or(usize::MAX),
        expires: updated.and_then(|at| at.checked_add(PHP_MAX_LIFETIME)),
        updated,
    })
}

/// A file's time, if it is one the lab can show (a file may claim any time at all).
fn file_time(at: std::time::SystemTime) -> Option<OffsetDateTime> {
    let secs = match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok()?,
        Err(before) => -i64::try_from(before.duration().as_secs()).ok()?,
    };
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .filter(|at| (1970..9000).contains(&at.year()))
}
