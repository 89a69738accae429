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
        let path = self.path.clone();
        let entries =
            tokio::task::spawn_blocking(move || std::fs::read_dir(&path).map(|d| d.count()))
                .await
                .map_err(|e| WatchError::Failed {
                    store: self.shown.clone(),
                    reason: e.to_string(),
                })?
                .map_err(|e| self.failed(&e))?;
        let mut progress = Progress {
            total: Some(entries as u64),
            ..Progress::default()
        };
        let dir = std::fs::read_dir(&self.path).map_err(|e| self.failed(&e))?;
        let mut sessions = 0;
        for entry in dir {
            let Ok(entry) = entry else { continue };
            progress.looked_at += 1;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_prefix("sess_")) else {
                continue;
            };
            if let Some(record) = read_file(&entry.path(), id) {
                sessions += 1;
                found(record);
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
        Ok(progress)
    }

    /// The ids of every session file, from the folder's names alone.
    pub(crate) fn ids(&self, deadline: Instant) -> Result<Option<Vec<String>>, WatchError> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(|e| self.failed(&e))? {
            let Ok(entry) = entry else { continue };
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("sess_"))
            {
                ids.push(id.to_owned());
            }
            if ids.len() >= MAX_SESSIONS
                || (ids.len().is_multiple_of(1024) && Instant::now() >= deadline)
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
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b',');
                let record = safe
                    .then(|| read_file(&self.path.join(format!("sess_{id}")), id))
                    .flatten();
                (id.clone(), record)
            })
            .collect())
    }
}

/// One session file, read (at most [`MAX_RECORD_BYTES`]) without a lock; `None` if it is gone.
fn read_file(path: &Path, id: &str) -> Option<RawRecord> {
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_RECORD_BYTES as u64)
        .read_to_end(&mut bytes)
        .ok()?;
    let updated = meta.modified().ok().map(OffsetDateTime::from);
    Some(RawRecord {
        key: id.to_owned(),
        bytes,
        full_len: meta.len() as usize,
        expires: updated.map(|at| at + PHP_MAX_LIFETIME),
        updated,
    })
}
