//! The store of the user's own application, watched beside the lab's browsers: its sessions
//! (in the same kind of table as the embedded server's), its reader's status, and which of
//! the lab's browsers hold each session — by the framework's own cookie rule.

use compact_str::CompactString;

use super::{
    BrowserState,
    sessions::{Holders, IdMap, SessionTable},
};
use crate::{
    server::{SessionChange, SessionId},
    watch::{Format, WatchStatus, key_id},
};

/// What the lab knows of the store it watches.
#[derive(Clone, Debug, Default)]
pub struct WatchedState {
    /// The store, as the user may see it (password masked).
    pub address: String,
    /// What its reader found out: format, count, error, how far a listing got.
    pub status: WatchStatus,
    /// Its sessions, as the reader last found them.
    pub sessions: SessionTable,
    /// Which browsers hold each one.
    pub holders: Holders,
    /// Each session's own key (the table's ids are hashes of them).
    keys: IdMap<CompactString>,
}

impl WatchedState {
    /// Watching `address`, nothing found yet.
    pub fn new(address: String) -> Self {
        Self {
            address,
            ..Self::default()
        }
    }

    /// The format, once the reader found it.
    pub fn format(&self) -> Option<Format> {
        self.status.format
    }

    /// A session's id as its framework writes it.
    pub fn key(&self, id: SessionId) -> Option<&str> {
        self.keys.get(&id).map(CompactString::as_str)
    }

    /// Applies the reader's changes.
    pub(super) fn apply(&mut self, reset: bool, changes: Vec<SessionChange>) {
        if reset {
            self.sessions.forget_instance(0);
            self.keys.clear();
        }
        for change in changes {
            match &change {
                SessionChange::Written(row) => {
                    if let Some(key) = &row.key {
                        self.keys.insert(row.id, key.clone());
                    }
                }
                SessionChange::Removed { id, .. } => {
                    self.keys.remove(id);
                }
            }
            self.sessions.apply(0, change, &self.holders);
        }
    }

    /// The session keys each browser's cookies name, by the format's rule.
    pub fn held_keys<'a>(
        &self,
        browsers: impl IntoIterator<Item = &'a BrowserState>,
    ) -> Vec<(String, Vec<String>)> {
        let Some(format) = self.format() else {
            return Vec::new();
        };
        browsers
            .into_iter()
            .map(|b| {
                let mut keys: Vec<String> = b
                    .cookies
                    .iter()
                    .filter_map(|c| format.id_from_cookie(&c.cookie.value))
                    .collect();
                keys.dedup();
                (b.name.clone(), keys)
            })
            .collect()
    }

    /// Keeps the holders in step with the browsers' jars.
    pub(super) fn update_holders(&mut self, browsers: &[BrowserState]) {
        let held = self.held_keys(browsers);
        let jars = Holders::new(
            held.iter()
                .map(|(name, keys)| (name.as_str(), keys.iter().map(|k| key_id(k)).collect())),
        );
        let changed = self.holders.replace_jars(jars);
        if !changed.is_empty() {
            self.sessions.refilter(&changed, &self.holders);
        }
    }
}
