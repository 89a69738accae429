//! The lab's view of the server's sessions, kept up to date from the store's changes.
//!
//! Cost follows the change, not the store: a change costs one map entry and one or two
//! order-statistic index updates, whatever the number of sessions. The table keeps one index in
//! the chosen sort order (and one for the rows the filter lets through), so the window can draw
//! row `i` of a million without sorting or filtering anything per frame.
//!
//! Changing the sort column or the filter needs a pass over every session; on a big store that
//! pass never blocks a frame: a filter is built a slice at a time within each frame's budget
//! (its matches appear as they are found), a narrower filter only looks through the wider one's
//! matches, and a new sort order is sorted on a thread of its own while the table keeps the old
//! order; the changes that arrive meanwhile are replayed onto it.

mod filter;
mod holders;
mod rows;

pub use holders::{Holders, Maker};
use std::{collections::HashMap, hash::BuildHasherDefault, ops::Bound, sync::mpsc, time::Instant};

use time::OffsetDateTime;

use crate::lab::ranked::RankedKeys as RankedSet;
use filter::Matcher;
use rows::{OrderKey, Row, Rows, id_of};

use crate::server::{
    DataText, FoldHasher, SessionChange, SessionId, SessionRow, from_unix_millis, unix_millis,
};

/// Below this many rows a sort or filter is built at once (it takes less than a millisecond).
const BUILD_AT_ONCE: usize = 20_000;

/// A map keyed by session id.
pub type IdMap<V> = HashMap<SessionId, V, BuildHasherDefault<FoldHasher>>;

/// Which column the table is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortColumn {
    /// When the session was created (unknown times first).
    #[default]
    Created,
    /// When it was last saved.
    Updated,
    /// When it expires.
    Expires,
}

/// The table's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionSort {
    /// The column.
    pub column: SortColumn,
    /// Newest (or latest) first.
    pub descending: bool,
}

/// One session as the table shows it.
#[derive(Clone, Debug)]
pub struct SessionView<'a> {
    /// Its id.
    pub id: SessionId,
    /// Its data (cut if long).
    pub data: DataText,
    row: &'a Row,
}

impl SessionView<'_> {
    /// When the store drops it.
    pub fn expires_at(&self) -> OffsetDateTime {
        from_unix_millis(self.row.expires)
    }

    /// When it was created, if known.
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        (self.row.created != i64::MIN).then(|| from_unix_millis(self.row.created))
    }

    /// When it was last saved, if known.
    pub fn updated_at(&self) -> Option<OffsetDateTime> {
        (self.row.updated != i64::MIN).then(|| from_unix_millis(self.row.updated))
    }

    /// The instances (numbered from 0) whose stores reported it.
    pub fn instances(&self) -> impl Iterator<Item = usize> + '_ {
        (0..8).filter(|n| self.row.on & (1 << n) != 0)
    }
}

/// Where a filter's pass has got to.
#[derive(Clone, Debug)]
struct Scan {
    /// The last key looked at; the pass goes on after it.
    after: Option<OrderKey>,
    /// A wider filter's matches to look through, instead of every session.
    within: Option<RankedSet<OrderKey>>,
    /// Keys looked at so far, and how many there are in all (for progress).
    done: usize,
    total: usize,
}

/// The filter in force and the rows it lets through, in the table's order.
#[derive(Clone, Debug)]
struct ActiveFilter {
    text: String,
    /// What the text asks for; `None`: no text, and the sessions the window's Audit and Load
    /// made are hidden (the default view).
    matcher: Option<Matcher>,
    shown: RankedSet<OrderKey>,
    /// While the pass over the sessions is under way.
    scan: Option<Scan>,
}

/// A new sort order being built on a thread of its own.
#[derive(Debug)]
struct SortJob {
    sort: SessionSort,
    built: mpsc::Receiver<RankedSet<OrderKey>>,
    /// Keys to take out of and put into the new index once it arrives: the changes that
    /// happened while it was being sorted.
    replay: Vec<(Option<OrderKey>, Option<OrderKey>)>,
}

/// The sessions the server's stores hold, as the lab last heard.
#[derive(Debug, Default)]
pub struct SessionTable {
    rows: Rows,
    sort: SessionSort,
    /// Every row, in the sort column's order.
    order: RankedSet<OrderKey>,
    filter: Option<ActiveFilter>,
    sorting: Option<SortJob>,
    /// Show the sessions the window's Audit and Load made when no filter text is given
    /// (hidden by default: a thousand probes would bury the student's own few).
    show_made: bool,
}

impl Clone for SessionTable {
    /// A copy of the rows and indexes (a sort under way is finished first in the copy's
    /// absence: the copy keeps the order in force).
    fn clone(&self) -> Self {
        Self {
            rows: self.rows.clone(),
            sort: self.sort,
            order: self.order.clone(),
            filter: self.filter.clone(),
            sorting: None,
            show_made: self.show_made,
        }
    }
}

impl SessionTable {
    /// How many sessions the stores hold.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No sessions.
    pub fn is_empty(&self) -> bool {
        self.rows.len() == 0
    }

    /// How many sessions the filter lets through (all of them without a filter; while a
    /// filter's pass is under way, those found so far).
    pub fn shown_len(&self) -> usize {
        self.filter.as_ref().map_or(self.len(), |f| f.shown.len())
    }

    /// The `index`-th session the filter lets through, in the table's order. Cost: a lookup
    /// in the index, not a pass over the sessions.
    pub fn shown_at(&self, index: usize) -> Option<SessionView<'_>> {
        let set = self.filter.as_ref().map_or(&self.order, |f| &f.shown);
        let len = set.len();
        if index >= len {
            return None;
        }
        let position = if self.sort.descending {
            len - 1 - index
        } else {
            index
        };
        self.get(id_of(*set.get_index(position)?))
    }

    /// One session, if the stores hold it.
    pub fn get(&self, id: SessionId) -> Option<SessionView<'_>> {
        self.rows.get(id).map(|row| SessionView {
            id,
            data: row.data(),
            row,
        })
    }

    /// Whether the stores hold `id`.
    pub fn contains(&self, id: SessionId) -> bool {
        self.rows.contains(id)
    }

    /// Every session, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = SessionView<'_>> {
        self.rows.iter().map(|(id, row)| SessionView {
            id,
            data: row.data(),
            row,
        })
    }

    /// Every session in the table's order, oldest first by default (for listings and tests;
    /// the window draws rows by index instead).
    pub fn ordered(&self) -> impl Iterator<Item = SessionView<'_>> {
        self.order.iter().filter_map(|key| self.get(id_of(*key)))
    }

    /// The order in force.
    pub fn sort(&self) -> SessionSort {
        self.sort
    }

    /// The order asked for that is still being built, if any.
    pub fn pending_sort(&self) -> Option<SessionSort> {
        self.sorting.as_ref().map(|job| job.sort)
    }

    /// The filter text in force ("" for none).
    pub fn filter_text(&self) -> &str {
        self.filter.as_ref().map_or("", |f| f.text.as_str())
    }

    /// Whether the sessions the window's Audit and Load made are hidden now (no filter text,
    /// and some were made).
    pub fn hides_made(&self) -> bool {
        self.filter.as_ref().is_some_and(|f| f.matcher.is_none())
    }

    /// Whether the sessions the window's Audit and Load made are shown without a filter.
    pub fn shows_made(&self) -> bool {
        self.show_made
    }

    /// Shows or hides, when no filter text is given, the sessions the window's Audit and
    /// Load made.
    pub fn set_show_made(&mut self, show: bool, holders: &Holders) {
        if self.show_made != show {
            self.show_made = show;
            let text = self.filter_text().to_owned();
            self.filter = None;
            self.set_filter(&text, holders);
        }
    }

    /// How far the filter's pass over the sessions has got (0 to 1), while it is under way.
    pub fn filter_progress(&self) -> Option<f32> {
        let scan = self.filter.as_ref()?.scan.as_ref()?;
        Some(scan.done as f32 / scan.total.max(1) as f32)
    }

    /// Whether a sort or a filter is still being built (call [`Self::work`] again).
    pub fn is_busy(&self) -> bool {
        self.sorting.is_some() || self.filter_progress().is_some()
    }

    /// Sorts by another column or direction. The direction turns at once; a new column is
    /// sorted on a thread of its own (the table keeps the order in force until it is ready,
    /// see [`Self::work`]), or at once for a small table.
    pub fn set_sort(&mut self, sort: SessionSort, holders: &Holders) {
        let column = sort.column;
        let target = self.pending_sort().unwrap_or(self.sort);
        if column == target.column {
            match &mut self.sorting {
                Some(job) => job.sort.descending = sort.descending,
                None => self.sort.descending = sort.descending,
            }
            return;
        }
        if column == self.sort.column {
            // Back to the order in force: drop the one being built.
            self.sorting = None;
            self.sort = sort;
            return;
        }
        let keys: Vec<OrderKey> = self
            .rows
            .iter()
            .map(|(id, row)| row.key(column, id))
            .collect();
        if keys.len() <= BUILD_AT_ONCE {
            self.order = sorted(keys);
            self.sort = sort;
            self.sorting = None;
            self.restart_filter(holders);
            return;
        }
        let (send, built) = mpsc::channel();
        std::thread::spawn(move || {
            // The receiver is gone only if the table was dropped or the sort replaced.
            let _ = send.send(sorted(keys));
        });
        self.sorting = Some(SortJob {
            sort,
            built,
            replay: Vec::new(),
        });
    }

    /// Shows only the sessions `text` matches: an id prefix, the start of a browser's name (or
    /// "external"), or text in the data; `id:`, `data:` and `browser:` (or `@`) say which.
    /// On a big store the matches are found a slice at a time by [`Self::work`].
    pub fn set_filter(&mut self, text: &str, holders: &Holders) {
        // Without text, the Audit's and Load's sessions are hidden (unless shown).
        let hiding = text.trim().is_empty() && !self.show_made && holders.has_made();
        if self.filter_text() == text && self.hides_made() == hiding {
            return;
        }
        let matcher = Matcher::parse(text);
        if matcher.is_none() && !hiding {
            self.filter = None;
            return;
        }
        // A narrower filter looks only through the wider one's matches (once they are all
        // found).
        let within = match (self.filter.take(), &matcher) {
            (Some(old), Some(matcher))
                if old.scan.is_none()
                    && old
                        .matcher
                        .as_ref()
                        .is_some_and(|wider| matcher.narrows(wider)) =>
            {
                Some(old.shown)
            }
            _ => None,
        };
        if let Some(name) = matcher.as_ref().and_then(Matcher::only_held) {
            let column = self.sort.column;
            let shown = holders
                .held_by(name)
                .filter_map(|id| self.rows.get(id).map(|r| r.key(column, id)))
                .collect();
            self.filter = Some(ActiveFilter {
                text: text.to_owned(),
                matcher,
                shown,
                scan: None,
            });
            return;
        }
        let total = within.as_ref().map_or(self.len(), RankedSet::len);
        self.filter = Some(ActiveFilter {
            text: text.to_owned(),
            matcher,
            shown: RankedSet::default(),
            scan: Some(Scan {
                after: None,
                within,
                done: 0,
                total,
            }),
        });
        if total <= BUILD_AT_ONCE {
            self.scan_filter(holders, None);
        }
    }

    /// Starts the filter's pass over again (the order changed under it).
    fn restart_filter(&mut self, holders: &Holders) {
        if let Some(filter) = self.filter.take() {
            self.set_filter(&filter.text, holders);
        }
    }

    /// Goes on building the sort and the filter until `deadline`; returns whether work is
    /// left (then call again, e.g. next frame).
    pub fn work(&mut self, holders: &Holders, deadline: Instant) -> bool {
        self.finish_sort(holders, false);
        self.scan_filter(holders, Some(deadline));
        self.is_busy()
    }

    /// Builds the sort and the filter to the end, waiting for them (for tests and scripts).
    pub fn finish(&mut self, holders: &Holders) {
        self.finish_sort(holders, true);
        self.scan_filter(holders, None);
    }

    /// Puts a sorted index in place once its thread has built it, replaying the changes that
    /// came meanwhile.
    fn finish_sort(&mut self, holders: &Holders, wait: bool) {
        let Some(job) = &self.sorting else {
            return;
        };
        let built = if wait {
            job.built.recv().ok()
        } else {
            match job.built.try_recv() {
                Ok(built) => Some(built),
                Err(mpsc::TryRecvError::Empty) => return,
                Err(mpsc::TryRecvError::Disconnected) => None,
            }
        };
        let Some(job) = self.sorting.take() else {
            return;
        };
        let Some(mut order) = built else {
            return;
        };
        for (old, new) in job.replay {
            if let Some(old) = old {
                order.remove(&old);
            }
            if let Some(new) = new {
                order.insert(new);
            }
        }
        self.order = order;
        self.sort = job.sort;
        self.restart_filter(holders);
    }

    /// Looks through more sessions for the filter's matches, until `deadline` (or the end).
    fn scan_filter(&mut self, holders: &Holders, deadline: Option<Instant>) {
        let Some(filter) = &mut self.filter else {
            return;
        };
        let Some(scan) = &mut filter.scan else {
            return;
        };
        let column = self.sort.column;
        let source = scan.within.as_ref().unwrap_or(&self.order);
        let from = scan.after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut looked = 0usize;
        let mut last = None;
        let mut finished = true;
        for key in source.iter_from(from) {
            looked += 1;
            last = Some(*key);
            let id = id_of(*key);
            if let Some(row) = self.rows.get(id)
                && row.key(column, id) == *key
                && lets_through(filter.matcher.as_ref(), id, &row.text, holders)
            {
                filter.shown.insert(*key);
            }
            if looked.is_multiple_of(1024) && deadline.is_some_and(|d| Instant::now() >= d) {
                finished = false;
                break;
            }
        }
        scan.done += looked;
        scan.after = last.or(scan.after);
        if finished {
            filter.scan = None;
        }
    }

    /// Checks the filter again for sessions whose holders changed.
    pub fn refilter(&mut self, ids: &[SessionId], holders: &Holders) {
        // The first sessions the Audit or Load made start the default view's hiding.
        if self.filter.is_none() && !self.show_made && holders.has_made() {
            self.set_filter("", holders);
            return;
        }
        let Some(filter) = &mut self.filter else {
            return;
        };
        for id in ids {
            let Some(row) = self.rows.get(*id) else {
                continue;
            };
            let key = row.key(self.sort.column, *id);
            if lets_through(filter.matcher.as_ref(), *id, &row.text, holders) {
                filter.shown.insert(key);
            } else {
                filter.shown.remove(&key);
            }
        }
    }

    /// Forgets what `instance` reported (its store was switched, or it stopped).
    pub fn forget_instance(&mut self, instance: usize) {
        let bit = 1u8 << instance.min(7);
        let mut gone: Vec<SessionId> = Vec::new();
        for (id, row) in self.rows.iter_mut() {
            if row.on & !bit == 0 {
                gone.push(id);
            } else {
                row.on &= !bit;
            }
        }
        for id in gone {
            self.remove(id);
        }
    }

    /// Applies one change reported by `instance`'s store.
    pub fn apply(&mut self, instance: usize, change: SessionChange, holders: &Holders) {
        let bit = 1u8 << instance.min(7);
        match change {
            SessionChange::Written(row) => self.write(bit, row, holders),
            SessionChange::Removed { id, .. } => {
                let Some(row) = self.rows.get_mut(id) else {
                    return;
                };
                if row.on & !bit == 0 {
                    self.remove(id);
                } else {
                    row.on &= !bit;
                }
            }
        }
    }

    fn write(&mut self, bit: u8, new: SessionRow, holders: &Holders) {
        let SessionRow {
            id,
            data,
            expires_at,
            created_at,
            updated_at,
            key: _,
        } = new;
        let column = self.sort.column;
        let expires = unix_millis(expires_at);
        let updated = updated_at.map_or(i64::MIN, unix_millis);
        let (old, row) = match self.rows.get_mut(id) {
            Some(row) => {
                let old = row.clone();
                row.set_data(data);
                row.on |= bit;
                row.expires = expires;
                row.updated = updated;
                if let Some(created) = created_at {
                    row.created = unix_millis(created);
                }
                (Some(old), row.clone())
            }
            None => {
                let (text, full_len) = data.into_parts();
                let row = Row {
                    text,
                    full_len,
                    on: bit,
                    expires,
                    created: created_at.map_or(i64::MIN, unix_millis),
                    updated,
                };
                self.rows.insert(id, row.clone());
                (None, row)
            }
        };
        let new_key = row.key(column, id);
        let old_key = old.as_ref().map(|o| o.key(column, id));
        if old_key != Some(new_key) {
            if let Some(old_key) = old_key {
                self.order.remove(&old_key);
            }
            self.order.insert(new_key);
        }
        if let Some(job) = &mut self.sorting {
            let target = job.sort.column;
            job.replay.push((
                old.as_ref().map(|o| o.key(target, id)),
                Some(row.key(target, id)),
            ));
        }
        if let Some(filter) = &mut self.filter {
            if let Some(old_key) = old_key {
                filter.shown.remove(&old_key);
            }
            if lets_through(filter.matcher.as_ref(), id, &row.text, holders) {
                filter.shown.insert(new_key);
            }
        }
    }

    fn remove(&mut self, id: SessionId) {
        let Some(row) = self.rows.remove(id) else {
            return;
        };
        let key = row.key(self.sort.column, id);
        self.order.remove(&key);
        if let Some(job) = &mut self.sorting {
            job.replay.push((Some(row.key(job.sort.column, id)), None));
        }
        if let Some(filter) = &mut self.filter {
            filter.shown.remove(&key);
        }
    }
}

/// Whether a filter lets session `id` through: what its text asks for, or, without text, any
/// session the window's Audit and Load did not make.
fn lets_through(matcher: Option<&Matcher>, id: SessionId, data: &str, holders: &Holders) -> bool {
    match matcher {
        Some(matcher) => matcher.matches(id, data, holders),
        None => holders.made_by(id).is_none(),
    }
}

/// An index built from keys in any order (distinct: each names another session).
fn sorted(mut keys: Vec<OrderKey>) -> RankedSet<OrderKey> {
    keys.sort_unstable();
    RankedSet::from_sorted(keys)
}

#[cfg(test)]
mod tests;
