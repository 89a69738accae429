//! `RankedKeys`: sorted keys that can also be found by rank — the `i`-th key — in
//! logarithmic time, for the sessions table's indexes.
//!
//! Keys live in nodes of at most [`NODE`] keys, in order, with a Fenwick tree over the nodes'
//! lengths for ranks. Written here rather than taken from a crate because of how the table
//! grows: new sessions sort last (by creation, by last update), and a B-tree that halves full
//! nodes leaves every node it passes half empty — twice the memory for a million keys. This one
//! starts a new node when a key goes past the end of a full last node, so keys that arrive in
//! order fill every node.

use std::ops::Bound;

/// The most keys a node holds.
pub const NODE: usize = 512;

/// Sorted, distinct keys with lookup by rank.
#[derive(Clone, Debug)]
pub struct RankedKeys<K> {
    nodes: Vec<Vec<K>>,
    /// Fenwick tree (1-based) over the nodes' lengths.
    fenwick: Vec<usize>,
    len: usize,
}

impl<K: Ord + Copy> Default for RankedKeys<K> {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            fenwick: vec![0],
            len: 0,
        }
    }
}

impl<K: Ord + Copy> RankedKeys<K> {
    /// From keys already sorted and distinct: full nodes.
    pub fn from_sorted(keys: Vec<K>) -> Self {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let len = keys.len();
        let nodes: Vec<Vec<K>> = keys
            .chunks(NODE)
            .map(|chunk| {
                let mut node = Vec::with_capacity(NODE);
                node.extend_from_slice(chunk);
                node
            })
            .collect();
        let mut ranked = Self {
            nodes,
            fenwick: Vec::new(),
            len,
        };
        ranked.rebuild_fenwick();
        ranked
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The node a key belongs in: the first whose last key is not below it (or the last).
    fn node_for(&self, key: &K) -> usize {
        self.nodes
            .partition_point(|node| node.last().is_some_and(|last| last < key))
            .min(self.nodes.len().saturating_sub(1))
    }

    /// Adds `key`; returns whether it was not there already.
    pub fn insert(&mut self, key: K) -> bool {
        if self.nodes.is_empty() {
            let mut node = Vec::with_capacity(NODE);
            node.push(key);
            self.nodes.push(node);
            self.len = 1;
            self.rebuild_fenwick();
            return true;
        }
        let n = self.node_for(&key);
        let Err(at) = self.nodes[n].binary_search(&key) else {
            return false;
        };
        self.len += 1;
        if self.nodes[n].len() < NODE {
            self.nodes[n].insert(at, key);
            self.fenwick_add(n, 1);
            return true;
        }
        if self.nodes.get(n + 1).is_some_and(|next| next.len() < NODE) {
            // The next node has room: the full one passes its last key on (keys arriving
            // nearly in order keep every node full instead of halving them).
            let moved = if at == NODE {
                key
            } else {
                let last = self.nodes[n].pop().expect("a full node");
                self.nodes[n].insert(at, key);
                last
            };
            self.nodes[n + 1].insert(0, moved);
            self.fenwick_add(n + 1, 1);
            return true;
        }
        if n + 1 == self.nodes.len() && at >= NODE / 2 {
            // Into the back half of the full last node (keys arriving nearly in order): the
            // keys after it start a new last node, and the full one stays (nearly) full.
            let mut tail = Vec::with_capacity(NODE);
            tail.extend(self.nodes[n].drain(at..));
            if tail.is_empty() {
                tail.push(key);
            } else {
                self.nodes[n].push(key);
            }
            self.nodes.push(tail);
        } else {
            let mut right = Vec::with_capacity(NODE);
            right.extend(self.nodes[n].drain(NODE / 2..));
            if at <= NODE / 2 {
                self.nodes[n].insert(at, key);
            } else {
                right.insert(at - NODE / 2, key);
            }
            self.nodes.insert(n + 1, right);
        }
        self.rebuild_fenwick();
        true
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&mut self, key: &K) -> bool {
        if self.nodes.is_empty() {
            return false;
        }
        let n = self.node_for(key);
        let Ok(at) = self.nodes[n].binary_search(key) else {
            return false;
        };
        self.nodes[n].remove(at);
        self.len -= 1;
        if self.nodes[n].is_empty() {
            self.nodes.remove(n);
            self.rebuild_fenwick();
        } else {
            self.fenwick_sub(n, 1);
        }
        true
    }

    /// The key of rank `index` (the smallest is 0).
    pub fn get_index(&self, index: usize) -> Option<&K> {
        if index >= self.len {
            return None;
        }
        // Binary lifting over the Fenwick tree: the last node whose prefix ends at or before
        // `index`.
        let mut node = 0;
        let mut left = index;
        let mut step = self.fenwick.len().next_power_of_two();
        while step > 0 {
            let next = node + step;
            if next < self.fenwick.len() && self.fenwick[next] <= left {
                node = next;
                left -= self.fenwick[next];
            }
            step /= 2;
        }
        self.nodes.get(node)?.get(left)
    }

    /// Every key, in order.
    pub fn iter(&self) -> impl Iterator<Item = &K> {
        self.nodes.iter().flatten()
    }

    /// The keys after `bound`, in order.
    pub fn iter_from(&self, bound: Bound<K>) -> impl Iterator<Item = &K> {
        let (n, at) = match bound {
            _ if self.nodes.is_empty() => (0, 0),
            Bound::Unbounded => (0, 0),
            Bound::Included(key) => {
                let n = self.node_for(&key);
                (n, self.nodes[n].partition_point(|k| *k < key))
            }
            Bound::Excluded(key) => {
                let n = self.node_for(&key);
                (n, self.nodes[n].partition_point(|k| *k <= key))
            }
        };
        self.nodes
            .iter()
            .skip(n)
            .enumerate()
            .flat_map(move |(i, node)| node[if i == 0 { at } else { 0 }..].iter())
    }

    fn rebuild_fenwick(&mut self) {
        let count = self.nodes.len();
        self.fenwick = vec![0; count + 1];
        for (n, node) in self.nodes.iter().enumerate() {
            self.fenwick[n + 1] += node.len();
            let parent = (n + 1) + ((n + 1) & (n + 1).wrapping_neg());
            if parent <= count {
                self.fenwick[parent] += self.fenwick[n + 1];
            }
        }
    }

    fn fenwick_add(&mut self, node: usize, amount: usize) {
        let mut i = node + 1;
        while i < self.fenwick.len() {
            self.fenwick[i] += amount;
            i += i & i.wrapping_neg();
        }
    }

    fn fenwick_sub(&mut self, node: usize, amount: usize) {
        let mut i = node + 1;
        while i < self.fenwick.len() {
            self.fenwick[i] -= amount;
            i += i & i.wrapping_neg();
        }
    }

    /// Bytes its nodes hold (for memory checks).
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.nodes.iter().map(|n| n.capacity()).sum::<usize>() * std::mem::size_of::<K>()
    }
}

impl<K: Ord + Copy> FromIterator<K> for RankedKeys<K> {
    fn from_iter<I: IntoIterator<Item = K>>(keys: I) -> Self {
        let mut keys: Vec<K> = keys.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        Self::from_sorted(keys)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A simple deterministic sequence of pseudo-random numbers.
    fn numbers(seed: u64) -> impl Iterator<Item = u64> {
        let mut state = seed;
        std::iter::repeat_with(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
    }

    /// Random inserts and removals agree with a `BTreeSet`, key for key and rank for rank.
    #[test]
    fn agrees_with_a_btree_set() {
        let mut ranked = RankedKeys::default();
        let mut reference = BTreeSet::new();
        for (n, x) in numbers(7).take(30_000).enumerate() {
            let key = x % 5_000;
            if n % 3 == 2 {
                assert_eq!(ranked.remove(&key), reference.remove(&key));
            } else {
                assert_eq!(ranked.insert(key), reference.insert(key));
            }
        }
        assert_eq!(ranked.len(), reference.len());
        let all: Vec<u64> = reference.iter().copied().collect();
        assert_eq!(ranked.iter().copied().collect::<Vec<_>>(), all);
        for (rank, key) in all.iter().enumerate() {
            assert_eq!(ranked.get_index(rank), Some(key));
        }
        assert_eq!(ranked.get_index(all.len()), None);
        let middle = all[all.len() / 2];
        assert_eq!(
            ranked
                .iter_from(Bound::Excluded(middle))
                .copied()
                .collect::<Vec<_>>(),
            reference
                .range((Bound::Excluded(middle), Bound::Unbounded))
                .copied()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            ranked.iter_from(Bound::Included(middle)).next(),
            Some(&middle)
        );
    }

    /// Keys that arrive in order fill every node: no node is left half empty.
    #[test]
    fn keys_in_order_fill_their_nodes() {
        let mut ranked = RankedKeys::default();
        for key in 0..100_000u64 {
            ranked.insert(key);
        }
        let ideal = 100_000usize.div_ceil(NODE) * NODE * std::mem::size_of::<u64>();
        assert_eq!(ranked.heap_bytes(), ideal);
        assert_eq!(ranked.get_index(54_321), Some(&54_321));
    }

    /// Keys that arrive nearly in order (many per millisecond, in any order within it, as new
    /// sessions do) fill their nodes too.
    #[test]
    fn keys_nearly_in_order_fill_their_nodes() {
        let mut ranked = RankedKeys::default();
        let mut reference = BTreeSet::new();
        for (n, noise) in numbers(3).take(100_000).enumerate() {
            let key = (n as u64 / 30) << 32 | (noise & 0xffff_ffff);
            ranked.insert(key);
            reference.insert(key);
        }
        let ideal = reference.len() * std::mem::size_of::<u64>();
        assert!(
            ranked.heap_bytes() < ideal * 21 / 20,
            "{} bytes for {ideal} bytes of keys",
            ranked.heap_bytes()
        );
        assert!(ranked.iter().eq(reference.iter()));
    }
}
