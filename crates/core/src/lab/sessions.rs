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

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    ops::Bound,
    sync::mpsc,
    time::Instant,
};

use time::OffsetDateTime;

use super::ranked::RankedKeys as RankedSet;

use crate::server::{
    DataText, FoldHasher, SessionChange, SessionId, SessionRow, from_unix_millis, unix_millis,
};

/// Rows live in chunks of this many, allocated once each: the rows' memory grows a chunk at a
/// time (never doubling, never moving), so a million sessions neither waste half a table nor
/// stall a frame to rehash it.
const CHUNK: usize = 16384;

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

/// What of the window's, other than its browsers, made a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maker {
    /// The header's Load.
    Load,
    /// The Audit tab's probes.
    Audit,
}

impl Maker {
    /// The word the sessions table shows, and the filter takes (lowercase).
    pub fn name(self) -> &'static str {
        match self {
            Self::Load => "Load",
            Self::Audit => "Audit",
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Audit => "audit",
        }
    }

    /// What the tag means, for its hover.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Load => {
                "Made by the window's Load: one of its browsers holds this session's cookie."
            }
            Self::Audit => "Made by the Audit tab's probes, which held this session's cookie.",
        }
    }
}

/// Who holds a session's cookie: the lowercase names of the simulated browsers whose jars
/// carry it. Sessions nobody holds are "external" — unless the window's Load or Audit made them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Holders {
    by_session: IdMap<Vec<String>>,
    /// Sessions the window's loads and audits made, in the order they came.
    made: IdMap<Maker>,
    made_order: std::collections::VecDeque<SessionId>,
}

impl Holders {
    /// From each browser's name and the sessions its jar carries.
    pub fn new<'a>(jars: impl IntoIterator<Item = (&'a str, Vec<SessionId>)>) -> Self {
        let mut by_session: IdMap<Vec<String>> = IdMap::default();
        for (name, sessions) in jars {
            for session in sessions {
                let names = by_session.entry(session).or_default();
                let name = name.to_lowercase();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Self {
            by_session,
            ..Self::default()
        }
    }

    /// Takes the browsers' jars from `jars` (the loads' sessions stay as they are); returns the
    /// sessions whose holders changed. Cost: the jars' cookies, not the loads' sessions.
    pub fn replace_jars(&mut self, jars: Holders) -> Vec<SessionId> {
        let changed = jars.changed_from(self);
        self.by_session = jars.by_session;
        changed
    }

    /// Remembers sessions a load or an audit made, keeping the latest `most`. Cost: the
    /// sessions added.
    pub fn add_made(&mut self, by: Maker, sessions: &[SessionId], most: usize) {
        for id in sessions {
            if self.made.insert(*id, by).is_none() {
                self.made_order.push_back(*id);
            }
        }
        while self.made_order.len() > most {
            if let Some(old) = self.made_order.pop_front() {
                self.made.remove(&old);
            }
        }
    }

    /// Which of the window's loads or audits made `session`, if one did.
    pub fn made_by(&self, session: SessionId) -> Option<Maker> {
        self.made.get(&session).copied()
    }

    /// The lowercase names of the browsers holding `session`.
    pub fn of(&self, session: SessionId) -> &[String] {
        self.by_session.get(&session).map_or(&[], Vec::as_slice)
    }

    /// The sessions browser `name` (lowercase) holds.
    fn held_by<'a>(&'a self, name: &'a str) -> impl Iterator<Item = SessionId> + 'a {
        self.by_session
            .iter()
            .filter(move |(_, names)| names.iter().any(|n| n == name))
            .map(|(id, _)| *id)
    }

    /// The sessions whose holders differ between `self` and `other`.
    pub fn changed_from(&self, other: &Self) -> Vec<SessionId> {
        let mut changed: Vec<SessionId> = self
            .by_session
            .iter()
            .filter(|(id, names)| other.by_session.get(id) != Some(names))
            .map(|(id, _)| *id)
            .collect();
        changed.extend(
            other
                .by_session
                .keys()
                .filter(|id| !self.by_session.contains_key(id)),
        );
        changed
    }
}

/// What the filter box asks for.
#[derive(Clone, Debug, PartialEq)]
enum Matcher {
    /// Plain text: an id prefix, the start of a holder's name (or of "external"), or text in
    /// the data. Typing more only narrows it.
    Any {
        text: String,
        lower: String,
        prefix: Option<(u128, u128)>,
    },
    /// `id:PREFIX`.
    IdPrefix {
        text: String,
        prefix: Option<(u128, u128)>,
    },
    /// `data:TEXT`.
    Data(String),
    /// `browser:NAME` or `@NAME`; `external` for sessions no simulated browser holds.
    Browser(String),
}

impl Matcher {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let lower = text.to_lowercase();
        Some(if let Some(prefix) = text.strip_prefix("id:") {
            let prefix = prefix.trim();
            Self::IdPrefix {
                text: prefix.to_owned(),
                prefix: SessionId::prefix_bits(prefix),
            }
        } else if let Some(data) = text.strip_prefix("data:") {
            Self::Data(data.trim().to_owned())
        } else if let Some(name) = lower
            .strip_prefix("browser:")
            .or_else(|| lower.strip_prefix('@'))
        {
            Self::Browser(name.trim().to_owned())
        } else {
            Self::Any {
                prefix: SessionId::prefix_bits(text),
                text: text.to_owned(),
                lower,
            }
        })
    }

    fn matches(&self, id: SessionId, data: &str, holders: &Holders) -> bool {
        let by_prefix = |prefix: &Option<(u128, u128)>| {
            prefix.is_some_and(|(mask, value)| id.text_bits() & mask == value)
        };
        match self {
            Self::Any {
                text,
                lower,
                prefix,
            } => {
                let held = holders.of(id);
                let made = holders.made_by(id);
                by_prefix(prefix)
                    || held.iter().any(|n| n.starts_with(lower.as_str()))
                    || made.is_some_and(|m| m.keyword().starts_with(lower.as_str()))
                    || (held.is_empty() && made.is_none() && "external".starts_with(lower.as_str()))
                    || data.contains(text.as_str())
            }
            Self::IdPrefix { prefix, .. } => by_prefix(prefix),
            Self::Data(text) => data.contains(text.as_str()),
            Self::Browser(name) => {
                let held = holders.of(id);
                match name.as_str() {
                    "external" => held.is_empty() && holders.made_by(id).is_none(),
                    "load" => holders.made_by(id) == Some(Maker::Load),
                    "audit" => holders.made_by(id) == Some(Maker::Audit),
                    _ => held.iter().any(|n| n == name),
                }
            }
        }
    }

    /// Whether everything `self` matches, `wider` matched too (so `self` need only look
    /// through `wider`'s matches).
    fn narrows(&self, wider: &Self) -> bool {
        match (self, wider) {
            (Self::Any { text, .. }, Self::Any { text: old, .. })
            | (Self::IdPrefix { text, .. }, Self::IdPrefix { text: old, .. }) => {
                text.starts_with(old.as_str())
            }
            (Self::Data(text), Self::Data(old)) => text.contains(old.as_str()),
            _ => false,
        }
    }

    /// The few sessions a browser's filter can match, found without a pass over the store.
    fn only_held(&self) -> Option<&str> {
        match self {
            Self::Browser(name) if !matches!(name.as_str(), "external" | "load" | "audit") => {
                Some(name)
            }
            _ => None,
        }
    }
}

/// One row as the table keeps it: compact (times as Unix milliseconds, the data's text inline
/// when short), 56 bytes.
#[derive(Clone, Debug)]
struct Row {
    text: compact_str::CompactString,
    /// The whole data's length (longer than `text` when it was cut).
    full_len: u32,
    /// Which instances' stores reported it (bit n for instance n).
    on: u8,
    expires: i64,
    /// `i64::MIN` when unknown.
    created: i64,
    updated: i64,
}

/// A session id as the table keys it: two halves, 8-byte aligned (an `i128` would align every
/// entry to 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key(u64, u64);

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The id is random already: its bits are its hash.
        state.write_u64(self.0 ^ self.1);
    }
}

impl From<SessionId> for Key {
    fn from(id: SessionId) -> Self {
        let bits = id.0 as u128;
        Self((bits >> 64) as u64, bits as u64)
    }
}

impl From<Key> for SessionId {
    fn from(key: Key) -> Self {
        SessionId(((u128::from(key.0) << 64) | u128::from(key.1)) as i128)
    }
}

/// One place in the chunks: a row and its id (a free place has `row.on == 0`).
#[derive(Clone, Debug)]
struct Slot {
    key: Key,
    row: Row,
}

/// How many parts the index from id to slot is split into: growing one part rehashes a
/// sixty-fourth of the ids, so no change stalls a frame while a million sessions arrive.
const KEY_SHARDS: usize = 64;

/// Slot numbers by the id's two halves folded into one (16-byte entries instead of 24).
type SlotIndex = HashMap<u64, u32, BuildHasherDefault<FoldHasher>>;

/// The rows: densely in chunks, found by id through a small index of slot numbers.
#[derive(Clone, Debug)]
struct Rows {
    chunks: Vec<Vec<Slot>>,
    by_key: Vec<SlotIndex>,
    /// Ids whose fold another id already has (about one in 2^64 pairs: practically never,
    /// but then correctly).
    overflow: HashMap<Key, u32, BuildHasherDefault<FoldHasher>>,
    len: usize,
    free: Vec<u32>,
}

impl Default for Rows {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            by_key: (0..KEY_SHARDS).map(|_| SlotIndex::default()).collect(),
            overflow: HashMap::default(),
            len: 0,
            free: Vec::new(),
        }
    }
}

impl Rows {
    fn len(&self) -> usize {
        self.len
    }

    fn fold(key: Key) -> u64 {
        key.0 ^ key.1
    }

    fn index(&self, key: Key) -> &SlotIndex {
        &self.by_key[(key.0 >> 58) as usize % KEY_SHARDS]
    }

    fn index_mut(&mut self, key: Key) -> &mut SlotIndex {
        &mut self.by_key[(key.0 >> 58) as usize % KEY_SHARDS]
    }

    fn slot(&self, index: u32) -> &Slot {
        &self.chunks[index as usize / CHUNK][index as usize % CHUNK]
    }

    fn slot_mut(&mut self, index: u32) -> &mut Slot {
        &mut self.chunks[index as usize / CHUNK][index as usize % CHUNK]
    }

    /// The slot holding `id`, if any.
    fn find(&self, id: SessionId) -> Option<u32> {
        let key = Key::from(id);
        match self.index(key).get(&Self::fold(key)) {
            Some(&index) if self.slot(index).key == key => Some(index),
            _ if self.overflow.is_empty() => None,
            _ => self.overflow.get(&key).copied(),
        }
    }

    fn get(&self, id: SessionId) -> Option<&Row> {
        let index = self.find(id)?;
        Some(&self.slot(index).row)
    }

    fn get_mut(&mut self, id: SessionId) -> Option<&mut Row> {
        let index = self.find(id)?;
        Some(&mut self.slot_mut(index).row)
    }

    fn contains(&self, id: SessionId) -> bool {
        self.find(id).is_some()
    }

    /// Adds a row the table does not have yet.
    fn insert(&mut self, id: SessionId, row: Row) {
        let key = Key::from(id);
        let slot = Slot { key, row };
        let index = match self.free.pop() {
            Some(index) => {
                *self.slot_mut(index) = slot;
                index
            }
            None => {
                if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
                    self.chunks.push(Vec::with_capacity(CHUNK));
                }
                let index = (self.chunks.len() - 1) * CHUNK;
                let chunk = self.chunks.last_mut().expect("a chunk was just made");
                chunk.push(slot);
                (index + chunk.len() - 1) as u32
            }
        };
        match self.index_mut(key).entry(Self::fold(key)) {
            std::collections::hash_map::Entry::Vacant(place) => {
                place.insert(index);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.overflow.insert(key, index);
            }
        }
        self.len += 1;
    }

    fn remove(&mut self, id: SessionId) -> Option<Row> {
        let index = self.find(id)?;
        let key = Key::from(id);
        if self.overflow.remove(&key).is_none() {
            self.index_mut(key).remove(&Self::fold(key));
        }
        self.len -= 1;
        let vacant = Row {
            text: compact_str::CompactString::default(),
            full_len: 0,
            expires: 0,
            created: 0,
            updated: 0,
            on: 0,
        };
        let row = std::mem::replace(&mut self.slot_mut(index).row, vacant);
        self.free.push(index);
        Some(row)
    }

    fn iter(&self) -> impl Iterator<Item = (SessionId, &Row)> {
        self.chunks
            .iter()
            .flatten()
            .filter(|slot| slot.row.on != 0)
            .map(|slot| (SessionId::from(slot.key), &slot.row))
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (SessionId, &mut Row)> {
        self.chunks
            .iter_mut()
            .flatten()
            .filter(|slot| slot.row.on != 0)
            .map(|slot| (SessionId::from(slot.key), &mut slot.row))
    }
}

/// A row's place in an index: the sort column's value, then the id's two halves (24 bytes,
/// where an `i128` would align the key to 32), so keys are unique.
type OrderKey = (i64, u64, u64);

impl Row {
    fn data(&self) -> DataText {
        DataText::from_parts(self.text.clone(), self.full_len)
    }

    fn set_data(&mut self, data: DataText) {
        (self.text, self.full_len) = data.into_parts();
    }

    fn key(&self, column: SortColumn, id: SessionId) -> OrderKey {
        let at = match column {
            SortColumn::Created => self.created,
            SortColumn::Updated => self.updated,
            SortColumn::Expires => self.expires,
        };
        let bits = id.0 as u128;
        (at, (bits >> 64) as u64, bits as u64)
    }
}

/// The session an index key names.
fn id_of((_, high, low): OrderKey) -> SessionId {
    SessionId(((u128::from(high) << 64) | u128::from(low)) as i128)
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
    matcher: Matcher,
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
        if self.filter_text() == text {
            return;
        }
        let Some(matcher) = Matcher::parse(text) else {
            self.filter = None;
            return;
        };
        // A narrower filter looks only through the wider one's matches (once they are all
        // found).
        let within = match self.filter.take() {
            Some(old) if old.scan.is_none() && matcher.narrows(&old.matcher) => Some(old.shown),
            _ => None,
        };
        if let Some(name) = matcher.only_held() {
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
                && filter.matcher.matches(id, &row.text, holders)
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
        let Some(filter) = &mut self.filter else {
            return;
        };
        for id in ids {
            let Some(row) = self.rows.get(*id) else {
                continue;
            };
            let key = row.key(self.sort.column, *id);
            if filter.matcher.matches(*id, &row.text, holders) {
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
            if filter.matcher.matches(id, &row.text, holders) {
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

/// An index built from keys in any order (distinct: each names another session).
fn sorted(mut keys: Vec<OrderKey>) -> RankedSet<OrderKey> {
    keys.sort_unstable();
    RankedSet::from_sorted(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::DeleteReason;

    fn id(n: i128) -> SessionId {
        SessionId(n * 0x0123_4567_89ab_cdef_0123_4567)
    }

    fn written(n: i128, views: u64, created_ms: i64) -> SessionChange {
        SessionChange::Written(SessionRow {
            id: id(n),
            data: DataText::from_json(format!(r#"{{"views":{views}}}"#).as_bytes()),
            expires_at: from_unix_millis(10_000_000 - created_ms),
            created_at: Some(from_unix_millis(created_ms)),
            updated_at: Some(from_unix_millis(created_ms + views as i64)),
        })
    }

    fn shown(table: &mut SessionTable) -> Vec<SessionId> {
        table.finish(&Holders::default());
        (0..table.shown_len())
            .map(|i| table.shown_at(i).unwrap().id)
            .collect()
    }

    /// Rows come out in the chosen order either way round, and follow updates and removals.
    #[test]
    fn sorts_by_each_column_and_follows_changes() {
        let holders = Holders::default();
        let mut table = SessionTable::default();
        for n in 0..5 {
            table.apply(0, written(n, 1, n as i64 * 10), &holders);
        }
        assert_eq!(shown(&mut table), (0..5).map(id).collect::<Vec<_>>());
        table.apply(0, written(1, 99, 10), &holders);
        table.set_sort(
            SessionSort {
                column: SortColumn::Updated,
                descending: true,
            },
            &holders,
        );
        assert_eq!(
            shown(&mut table)[0],
            id(1),
            "the session just saved is newest"
        );
        table.set_sort(
            SessionSort {
                column: SortColumn::Expires,
                descending: false,
            },
            &holders,
        );
        assert_eq!(
            shown(&mut table)[0],
            id(4),
            "the latest created expires first here"
        );
        table.apply(
            0,
            SessionChange::Removed {
                id: id(4),
                reason: DeleteReason::Expired,
            },
            &holders,
        );
        assert_eq!(table.len(), 4);
        assert_eq!(shown(&mut table)[0], id(3));
    }

    /// The filter matches id prefixes, data, holders and "external", and follows changes.
    #[test]
    fn filters_by_id_data_and_holder() {
        let mut table = SessionTable::default();
        let held = Holders::new([("A", vec![id(2)])]);
        for n in 0..4 {
            table.apply(0, written(n, n as u64 + 1, n as i64), &held);
        }
        let prefix = &id(3).to_string()[..6];
        table.set_filter(prefix, &held);
        assert_eq!(shown(&mut table), [id(3)]);
        table.set_filter("data:\"views\":2", &held);
        assert_eq!(shown(&mut table), [id(1)]);
        table.set_filter("@a", &held);
        assert_eq!(shown(&mut table), [id(2)]);
        table.set_filter("external", &held);
        assert_eq!(shown(&mut table), [id(0), id(1), id(3)]);
        // B copies the cookie of session 3: it is no longer external.
        let now_held = Holders::new([("A", vec![id(2)]), ("B", vec![id(3)])]);
        table.refilter(&now_held.changed_from(&held), &now_held);
        assert_eq!(shown(&mut table), [id(0), id(1)]);
        // A new session from outside shows up at once; an update that stops matching leaves.
        table.apply(0, written(9, 1, 50), &now_held);
        table.set_filter("views\":1", &now_held);
        assert_eq!(shown(&mut table), [id(0), id(9)]);
        table.apply(0, written(9, 2, 50), &now_held);
        assert_eq!(shown(&mut table), [id(0)]);
        table.set_filter("", &now_held);
        assert_eq!(table.shown_len(), 5);
    }

    /// Sessions a load or an audit made answer to "load" / "audit" (and `@load`, `@audit`),
    /// not to "external"; the oldest tags give way past the limit.
    #[test]
    fn filters_the_sessions_a_load_or_an_audit_made() {
        let mut table = SessionTable::default();
        let mut holders = Holders::new([("A", vec![id(0)])]);
        holders.add_made(Maker::Load, &[id(1)], 10);
        holders.add_made(Maker::Audit, &[id(2), id(3)], 10);
        for n in 0..5 {
            table.apply(0, written(n, 1, n as i64), &holders);
        }
        for (filter, want) in [
            ("load", vec![id(1)]),
            ("@load", vec![id(1)]),
            ("aud", vec![id(2), id(3)]),
            ("browser:audit", vec![id(2), id(3)]),
            ("external", vec![id(4)]),
        ] {
            table.set_filter(filter, &holders);
            assert_eq!(shown(&mut table), want, "{filter}");
        }
        assert_eq!(holders.made_by(id(2)), Some(Maker::Audit));
        holders.add_made(Maker::Audit, &(10..20).map(id).collect::<Vec<_>>(), 10);
        assert_eq!(holders.made_by(id(1)), None, "the oldest tag gave way");
        assert_eq!(holders.made_by(id(19)), Some(Maker::Audit));
    }

    /// The brute-force answer: every row the filter text matches, in the sort's order.
    fn expected(table: &SessionTable, text: &str, holders: &Holders) -> Vec<SessionId> {
        let matcher = Matcher::parse(text);
        let column = table.sort().column;
        let mut keys: Vec<OrderKey> = table
            .iter()
            .filter(|s| {
                matcher
                    .as_ref()
                    .is_none_or(|m| m.matches(s.id, s.data.as_str(), holders))
            })
            .map(|s| s.row.key(column, s.id))
            .collect();
        keys.sort_unstable();
        if table.sort().descending {
            keys.reverse();
        }
        keys.into_iter().map(id_of).collect()
    }

    /// On a big table, a filter is found a slice at a time and a new order is sorted on its
    /// own thread; changes that arrive meanwhile (new rows, saves that move a row, removals)
    /// end up exactly where a filter and sort built from scratch would put them.
    #[test]
    fn slow_paths_end_exactly_where_a_fresh_build_would() {
        let holders = Holders::new([("A", vec![id(7)])]);
        let mut table = SessionTable::default();
        let n = BUILD_AT_ONCE as i128 + 10_000;
        for i in 0..n {
            table.apply(0, written(i, (i % 7) as u64, i as i64), &holders);
        }
        table.set_filter("views\":3", &holders);
        assert!(
            table.is_busy(),
            "a big table's filter takes more than one slice"
        );
        let mut step = 0;
        while table.work(&holders, Instant::now()) {
            // Changes between the slices: a new row, a save, a removal.
            table.apply(0, written(n + step, 3, (n + step) as i64), &holders);
            table.apply(0, written(step * 11, 3, (step * 11) as i64), &holders);
            table.apply(
                0,
                SessionChange::Removed {
                    id: id(step * 13 + 1),
                    reason: DeleteReason::Deleted,
                },
                &holders,
            );
            step += 1;
        }
        assert!(step > 3, "the pass took several slices");
        assert_eq!(shown(&mut table), expected(&table, "views\":3", &holders));

        table.set_sort(
            SessionSort {
                column: SortColumn::Updated,
                descending: true,
            },
            &holders,
        );
        assert_eq!(
            table.sort().column,
            SortColumn::Created,
            "the old order stays meanwhile"
        );
        for i in 0..500 {
            table.apply(0, written(i * 3, 50, (i * 3) as i64), &holders);
            table.apply(0, written(n * 2 + i, 3, 1), &holders);
        }
        table.finish(&holders);
        assert_eq!(table.sort().column, SortColumn::Updated);
        assert_eq!(shown(&mut table), expected(&table, "views\":3", &holders));
        table.set_filter("", &holders);
        assert_eq!(shown(&mut table), expected(&table, "", &holders));
        // A narrower filter looks through the wider one's matches.
        table.set_filter("views", &holders);
        table.finish(&holders);
        table.set_filter("views\":5", &holders);
        assert_eq!(shown(&mut table), expected(&table, "views\":5", &holders));
    }

    /// Two ids whose halves fold to the same 64 bits (practically never, but possible) are
    /// still told apart: each is found, changed and removed as itself.
    #[test]
    fn ids_with_the_same_fold_stay_apart() {
        let holders = Holders::default();
        let mut table = SessionTable::default();
        let (a, b) = (0x0123_4567_89ab_cdef_u64, 0x0fed_cba9_8765_4321_u64);
        let twin = |x: u64| SessionId::from(Key(a ^ x, b ^ x));
        let (one, two) = (twin(0), twin(0x55));
        assert_eq!(Rows::fold(Key::from(one)), Rows::fold(Key::from(two)));
        for (id, views) in [(one, 1), (two, 2)] {
            table.apply(
                0,
                SessionChange::Written(SessionRow {
                    id,
                    data: DataText::from_json(format!(r#"{{"views":{views}}}"#).as_bytes()),
                    expires_at: from_unix_millis(1),
                    created_at: None,
                    updated_at: None,
                }),
                &holders,
            );
        }
        assert_eq!(table.len(), 2);
        assert_eq!(table.get(one).unwrap().data.views(), Some(1));
        assert_eq!(table.get(two).unwrap().data.views(), Some(2));
        table.apply(
            0,
            SessionChange::Removed {
                id: one,
                reason: DeleteReason::Deleted,
            },
            &holders,
        );
        assert!(table.get(one).is_none());
        assert_eq!(table.get(two).unwrap().data.views(), Some(2));
        assert_eq!(table.len(), 1);
    }

    /// A session reported by two instances stays until both have dropped it.
    #[test]
    fn instances_are_counted_separately() {
        let holders = Holders::default();
        let mut table = SessionTable::default();
        table.apply(0, written(1, 1, 0), &holders);
        table.apply(1, written(1, 1, 0), &holders);
        assert_eq!(
            table.get(id(1)).unwrap().instances().collect::<Vec<_>>(),
            [0, 1]
        );
        table.forget_instance(1);
        assert_eq!(
            table.get(id(1)).unwrap().instances().collect::<Vec<_>>(),
            [0]
        );
        table.apply(
            0,
            SessionChange::Removed {
                id: id(1),
                reason: DeleteReason::Deleted,
            },
            &holders,
        );
        assert!(table.is_empty());
    }
}
