//! The rows themselves: compact, in chunks that never move, found by id through a sharded
//! index of slot numbers.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use super::SortColumn;
use crate::server::{DataText, FoldHasher, SessionId};

/// Rows live in chunks of this many, allocated once each: the rows' memory grows a chunk at a
/// time (never doubling, never moving), so a million sessions neither waste half a table nor
/// stall a frame to rehash it.
pub(super) const CHUNK: usize = 16384;

/// One row as the table keeps it: compact (times as Unix milliseconds, the data's text inline
/// when short), 56 bytes.
#[derive(Clone, Debug)]
pub(super) struct Row {
    pub(super) text: compact_str::CompactString,
    /// The whole data's length (longer than `text` when it was cut).
    pub(super) full_len: u32,
    /// Which instances' stores reported it (bit n for instance n).
    pub(super) on: u8,
    pub(super) expires: i64,
    /// `i64::MIN` when unknown.
    pub(super) created: i64,
    pub(super) updated: i64,
}

/// A session id as the table keys it: two halves, 8-byte aligned (an `i128` would align every
/// entry to 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Key(pub(super) u64, pub(super) u64);

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
pub(super) struct Slot {
    pub(super) key: Key,
    pub(super) row: Row,
}

/// How many parts the index from id to slot is split into: growing one part rehashes a
/// sixty-fourth of the ids, so no change stalls a frame while a million sessions arrive.
pub(super) const KEY_SHARDS: usize = 64;

/// Slot numbers by the id's two halves folded into one (16-byte entries instead of 24).
pub(super) type SlotIndex = HashMap<u64, u32, BuildHasherDefault<FoldHasher>>;

/// The rows: densely in chunks, found by id through a small index of slot numbers.
#[derive(Clone, Debug)]
pub(super) struct Rows {
    pub(super) chunks: Vec<Vec<Slot>>,
    pub(super) by_key: Vec<SlotIndex>,
    /// Ids whose fold another id already has (about one in 2^64 pairs: practically never,
    /// but then correctly).
    pub(super) overflow: HashMap<Key, u32, BuildHasherDefault<FoldHasher>>,
    pub(super) len: usize,
    pub(super) free: Vec<u32>,
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
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn fold(key: Key) -> u64 {
        key.0 ^ key.1
    }

    pub(super) fn index(&self, key: Key) -> &SlotIndex {
        &self.by_key[(key.0 >> 58) as usize % KEY_SHARDS]
    }

    pub(super) fn index_mut(&mut self, key: Key) -> &mut SlotIndex {
        &mut self.by_key[(key.0 >> 58) as usize % KEY_SHARDS]
    }

    pub(super) fn slot(&self, index: u32) -> &Slot {
        &self.chunks[index as usize / CHUNK][index as usize % CHUNK]
    }

    pub(super) fn slot_mut(&mut self, index: u32) -> &mut Slot {
        &mut self.chunks[index as usize / CHUNK][index as usize % CHUNK]
    }

    /// The slot holding `id`, if any.
    pub(super) fn find(&self, id: SessionId) -> Option<u32> {
        let key = Key::from(id);
        match self.index(key).get(&Self::fold(key)) {
            Some(&index) if self.slot(index).key == key => Some(index),
            _ if self.overflow.is_empty() => None,
            _ => self.overflow.get(&key).copied(),
        }
    }

    pub(super) fn get(&self, id: SessionId) -> Option<&Row> {
        let index = self.find(id)?;
        Some(&self.slot(index).row)
    }

    pub(super) fn get_mut(&mut self, id: SessionId) -> Option<&mut Row> {
        let index = self.find(id)?;
        Some(&mut self.slot_mut(index).row)
    }

    pub(super) fn contains(&self, id: SessionId) -> bool {
        self.find(id).is_some()
    }

    /// Adds a row the table does not have yet.
    pub(super) fn insert(&mut self, id: SessionId, row: Row) {
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

    pub(super) fn remove(&mut self, id: SessionId) -> Option<Row> {
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

    pub(super) fn iter(&self) -> impl Iterator<Item = (SessionId, &Row)> {
        self.chunks
            .iter()
            .flatten()
            .filter(|slot| slot.row.on != 0)
            .map(|slot| (SessionId::from(slot.key), &slot.row))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (SessionId, &mut Row)> {
        self.chunks
            .iter_mut()
            .flatten()
            .filter(|slot| slot.row.on != 0)
            .map(|slot| (SessionId::from(slot.key), &mut slot.row))
    }
}

/// A row's place in an index: the sort column's value, then the id's two halves (24 bytes,
/// where an `i128` would align the key to 32), so keys are unique.
pub(super) type OrderKey = (i64, u64, u64);

impl Row {
    pub(super) fn data(&self) -> DataText {
        DataText::from_parts(self.text.clone(), self.full_len)
    }

    pub(super) fn set_data(&mut self, data: DataText) {
        (self.text, self.full_len) = data.into_parts();
    }

    pub(super) fn key(&self, column: SortColumn, id: SessionId) -> OrderKey {
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
pub(super) fn id_of((_, high, low): OrderKey) -> SessionId {
    SessionId(((u128::from(high) << 64) | u128::from(low)) as i128)
}
