//! The lab's view of the server's sessions, kept up to date from the store's changes.
//!
//! Cost follows the change, not the store: a change costs one map entry and one or two
//! order-statistic index updates, whatever the number of sessions. The table keeps one index in
//! the chosen sort order (and one for the rows the filter lets through), so the window can draw
//! row `i` of a million without sorting or filtering anything per frame. Changing the sort or
//! the filter rebuilds an index once.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use indexset::BTreeSet as RankedSet;
use time::OffsetDateTime;

use crate::server::{
    DataText, SessionChange, SessionId, SessionRow, from_unix_millis, unix_millis,
};

/// Hashes session ids (already random) by folding their bits.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_i128(&mut self, n: i128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
}

/// A map keyed by session id.
pub type IdMap<V> = HashMap<SessionId, V, BuildHasherDefault<IdHasher>>;

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

/// Who holds a session's cookie: the lowercase names of the simulated browsers whose jars
/// carry it. Sessions nobody holds are "external".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Holders {
    by_session: IdMap<Vec<String>>,
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
        Self { by_session }
    }

    /// The lowercase names of the browsers holding `session`.
    pub fn of(&self, session: SessionId) -> &[String] {
        self.by_session.get(&session).map_or(&[], Vec::as_slice)
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
    /// Plain text: an id prefix, a holder's name, "external", or text in the data.
    Any {
        lower: String,
        prefix: Option<(u128, u128)>,
        exact: String,
    },
    /// `id:PREFIX`.
    IdPrefix(Option<(u128, u128)>),
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
            Self::IdPrefix(SessionId::prefix_bits(prefix.trim()))
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
                exact: text.to_owned(),
                lower,
            }
        })
    }

    fn matches(&self, id: SessionId, data: &DataText, holders: &Holders) -> bool {
        let by_prefix = |prefix: &Option<(u128, u128)>| {
            prefix.is_some_and(|(mask, value)| id.text_bits() & mask == value)
        };
        let by_browser = |name: &str| {
            let held = holders.of(id);
            if name == "external" {
                held.is_empty()
            } else {
                held.iter().any(|n| n == name)
            }
        };
        match self {
            Self::Any {
                lower,
                prefix,
                exact,
            } => by_prefix(prefix) || by_browser(lower) || data.as_str().contains(exact.as_str()),
            Self::IdPrefix(prefix) => by_prefix(prefix),
            Self::Data(text) => data.as_str().contains(text.as_str()),
            Self::Browser(name) => by_browser(name),
        }
    }
}

/// One row as the table keeps it: compact (times as Unix milliseconds).
#[derive(Clone, Debug)]
struct Row {
    data: DataText,
    /// Which instances' stores reported it (bit n for instance n).
    on: u8,
    expires: i64,
    /// `i64::MIN` when unknown.
    created: i64,
    updated: i64,
}

/// A row's place in an index: the sort column's value, then the id's two halves (24 bytes,
/// where an `i128` would align the key to 32), so keys are unique.
type OrderKey = (i64, u64, u64);

impl Row {
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
    SessionId((u128::from(high) << 64 | u128::from(low)) as i128)
}

/// One session as the table shows it.
#[derive(Clone, Copy, Debug)]
pub struct SessionView<'a> {
    /// Its id.
    pub id: SessionId,
    /// Its data (cut if long).
    pub data: &'a DataText,
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

/// The filter in force and the rows it lets through, in the table's order.
#[derive(Clone, Debug)]
struct ActiveFilter {
    text: String,
    matcher: Matcher,
    shown: RankedSet<OrderKey>,
}

/// The sessions the server's stores hold, as the lab last heard.
#[derive(Clone, Debug, Default)]
pub struct SessionTable {
    rows: IdMap<Row>,
    sort: SessionSort,
    /// Every row, in the sort column's order.
    order: RankedSet<OrderKey>,
    filter: Option<ActiveFilter>,
}

impl PartialEq for SessionTable {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|s| other.get(s.id).is_some())
    }
}

impl SessionTable {
    /// How many sessions the stores hold.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No sessions.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How many sessions the filter lets through (all of them without a filter).
    pub fn shown_len(&self) -> usize {
        self.filter
            .as_ref()
            .map_or(self.rows.len(), |f| f.shown.len())
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
        self.rows.get(&id).map(|row| SessionView {
            id,
            data: &row.data,
            row,
        })
    }

    /// Whether the stores hold `id`.
    pub fn contains(&self, id: SessionId) -> bool {
        self.rows.contains_key(&id)
    }

    /// Every session, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = SessionView<'_>> {
        self.rows.iter().map(|(id, row)| SessionView {
            id: *id,
            data: &row.data,
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

    /// The filter text in force ("" for none).
    pub fn filter_text(&self) -> &str {
        self.filter.as_ref().map_or("", |f| f.text.as_str())
    }

    /// Sorts by another column or direction: a new index is built when the column changes.
    pub fn set_sort(&mut self, sort: SessionSort, holders: &Holders) {
        let column_changed = sort.column != self.sort.column;
        self.sort = sort;
        if column_changed {
            let column = sort.column;
            self.order = sorted(self.rows.iter().map(|(id, row)| row.key(column, *id)));
            self.refilter_all(holders);
        }
    }

    /// Shows only the sessions `text` matches: an id prefix, a browser's name (or
    /// "external"), or text in the data; `id:`, `data:` and `browser:` (or `@`) say which.
    pub fn set_filter(&mut self, text: &str, holders: &Holders) {
        if self.filter_text() == text {
            return;
        }
        match Matcher::parse(text) {
            None => self.filter = None,
            Some(matcher) => {
                self.filter = Some(ActiveFilter {
                    text: text.to_owned(),
                    matcher,
                    shown: RankedSet::new(),
                });
                self.refilter_all(holders);
            }
        }
    }

    fn refilter_all(&mut self, holders: &Holders) {
        let Some(filter) = &mut self.filter else {
            return;
        };
        let column = self.sort.column;
        let mut keys: Vec<OrderKey> = self
            .rows
            .iter()
            .filter(|(id, row)| filter.matcher.matches(**id, &row.data, holders))
            .map(|(id, row)| row.key(column, *id))
            .collect();
        keys.sort_unstable();
        filter.shown = keys.into_iter().collect();
    }

    /// Checks the filter again for sessions whose holders changed.
    pub fn refilter(&mut self, ids: &[SessionId], holders: &Holders) {
        let Some(filter) = &mut self.filter else {
            return;
        };
        for id in ids {
            let Some(row) = self.rows.get(id) else {
                continue;
            };
            let key = row.key(self.sort.column, *id);
            if filter.matcher.matches(*id, &row.data, holders) {
                filter.shown.insert(key);
            } else {
                filter.shown.remove(&key);
            }
        }
    }

    /// Forgets what `instance` reported (its store was switched, or it stopped).
    pub fn forget_instance(&mut self, instance: usize) {
        let bit = 1u8 << instance.min(7);
        let gone: Vec<SessionId> = self
            .rows
            .iter_mut()
            .filter_map(|(id, row)| {
                row.on &= !bit;
                (row.on == 0).then_some(*id)
            })
            .collect();
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
                let Some(row) = self.rows.get_mut(&id) else {
                    return;
                };
                row.on &= !bit;
                if row.on == 0 {
                    self.remove(id);
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
        match self.rows.get_mut(&id) {
            Some(row) => {
                let old_key = row.key(column, id);
                let was_shown = self
                    .filter
                    .as_ref()
                    .is_some_and(|f| f.matcher.matches(id, &row.data, holders));
                row.data = data;
                row.on |= bit;
                row.expires = expires;
                row.updated = updated;
                if let Some(created) = created_at {
                    row.created = unix_millis(created);
                }
                let new_key = row.key(column, id);
                let shown = self
                    .filter
                    .as_ref()
                    .is_some_and(|f| f.matcher.matches(id, &row.data, holders));
                if new_key != old_key {
                    self.order.remove(&old_key);
                    self.order.insert(new_key);
                }
                if let Some(filter) = &mut self.filter
                    && (new_key != old_key || was_shown != shown)
                {
                    if was_shown {
                        filter.shown.remove(&old_key);
                    }
                    if shown {
                        filter.shown.insert(new_key);
                    }
                }
            }
            None => {
                let row = Row {
                    data,
                    on: bit,
                    expires,
                    created: created_at.map_or(i64::MIN, unix_millis),
                    updated,
                };
                let key = row.key(column, id);
                self.order.insert(key);
                if let Some(filter) = &mut self.filter
                    && filter.matcher.matches(id, &row.data, holders)
                {
                    filter.shown.insert(key);
                }
                self.rows.insert(id, row);
            }
        }
    }

    fn remove(&mut self, id: SessionId) {
        let Some(row) = self.rows.remove(&id) else {
            return;
        };
        let key = row.key(self.sort.column, id);
        self.order.remove(&key);
        if let Some(filter) = &mut self.filter {
            filter.shown.remove(&key);
        }
    }
}

/// An index built from keys in any order.
fn sorted(keys: impl Iterator<Item = OrderKey>) -> RankedSet<OrderKey> {
    let mut keys: Vec<OrderKey> = keys.collect();
    keys.sort_unstable();
    keys.into_iter().collect()
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

    fn shown(table: &SessionTable) -> Vec<SessionId> {
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
        assert_eq!(shown(&table), (0..5).map(id).collect::<Vec<_>>());
        table.apply(0, written(1, 99, 10), &holders);
        table.set_sort(
            SessionSort {
                column: SortColumn::Updated,
                descending: true,
            },
            &holders,
        );
        assert_eq!(shown(&table)[0], id(1), "the session just saved is newest");
        table.set_sort(
            SessionSort {
                column: SortColumn::Expires,
                descending: false,
            },
            &holders,
        );
        assert_eq!(
            shown(&table)[0],
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
        assert_eq!(shown(&table)[0], id(3));
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
        assert_eq!(shown(&table), [id(3)]);
        table.set_filter("data:\"views\":2", &held);
        assert_eq!(shown(&table), [id(1)]);
        table.set_filter("@a", &held);
        assert_eq!(shown(&table), [id(2)]);
        table.set_filter("external", &held);
        assert_eq!(shown(&table), [id(0), id(1), id(3)]);
        // B copies the cookie of session 3: it is no longer external.
        let now_held = Holders::new([("A", vec![id(2)]), ("B", vec![id(3)])]);
        table.refilter(&now_held.changed_from(&held), &now_held);
        assert_eq!(shown(&table), [id(0), id(1)]);
        // A new session from outside shows up at once; an update that stops matching leaves.
        table.apply(0, written(9, 1, 50), &now_held);
        table.set_filter("views\":1", &now_held);
        assert_eq!(shown(&table), [id(0), id(9)]);
        table.apply(0, written(9, 2, 50), &now_held);
        assert_eq!(shown(&table), [id(0)]);
        table.set_filter("", &now_held);
        assert_eq!(table.shown_len(), 5);
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
