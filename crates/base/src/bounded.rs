//! A queue that keeps the newest items within a count and a byte budget: the event log, the
//! timeline and the server's remembered requests use it, so nothing between the server and the
//! window grows without bound and the rule is written once.

use std::{collections::VecDeque, ops::Deref, sync::Arc};

/// What an item costs a byte budget: its own size and what it owns on the heap, roughly.
pub trait Weigh {
    /// The bytes it holds.
    fn weight(&self) -> usize;
}

impl<T: Weigh + ?Sized> Weigh for Arc<T> {
    fn weight(&self) -> usize {
        (**self).weight()
    }
}

/// The newest items, at most `ITEMS` of them and at most `BYTES` bytes by their
/// [`Weigh::weight`]; pushing past either budget drops the oldest. Read it as a `VecDeque`
/// (oldest first); only [`Bounded::push`] and [`Bounded::clear`] change it.
#[derive(Clone, Debug)]
pub struct Bounded<T, const ITEMS: usize, const BYTES: usize> {
    items: VecDeque<T>,
    bytes: usize,
}

impl<T, const ITEMS: usize, const BYTES: usize> Default for Bounded<T, ITEMS, BYTES> {
    fn default() -> Self {
        Self {
            items: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<T: Weigh, const ITEMS: usize, const BYTES: usize> Bounded<T, ITEMS, BYTES> {
    /// Adds `item` as the newest and drops the oldest until both budgets hold again (an item
    /// heavier than the whole byte budget is dropped too); returns how many were dropped.
    pub fn push(&mut self, item: T) -> usize {
        self.bytes += item.weight();
        self.items.push_back(item);
        let mut dropped = 0;
        while self.items.len() > ITEMS || self.bytes > BYTES {
            let Some(old) = self.items.pop_front() else {
                break;
            };
            self.bytes -= old.weight();
            dropped += 1;
        }
        dropped
    }
}

impl<T, const ITEMS: usize, const BYTES: usize> Bounded<T, ITEMS, BYTES> {
    /// The bytes the items hold now (never more than `BYTES`).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops every item.
    pub fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
    }
}

impl<T, const ITEMS: usize, const BYTES: usize> Deref for Bounded<T, ITEMS, BYTES> {
    type Target = VecDeque<T>;

    fn deref(&self) -> &VecDeque<T> {
        &self.items
    }
}

impl<'a, T, const ITEMS: usize, const BYTES: usize> IntoIterator for &'a Bounded<T, ITEMS, BYTES> {
    type Item = &'a T;
    type IntoIter = std::collections::vec_deque::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weigh for String {
        fn weight(&self) -> usize {
            self.len()
        }
    }

    /// Past the count, the oldest go first and the newest stay, in order.
    #[test]
    fn the_count_budget_drops_the_oldest() {
        let mut queue = Bounded::<String, 3, 1000>::default();
        let dropped: usize = ["a", "b", "c", "d", "e"]
            .into_iter()
            .map(|s| queue.push(s.to_owned()))
            .sum();
        assert_eq!(dropped, 2);
        assert_eq!(
            queue.iter().map(String::as_str).collect::<Vec<_>>(),
            ["c", "d", "e"]
        );
        assert_eq!(queue.bytes(), 3);
    }

    /// Past the bytes, as many of the oldest go as it takes, and the sum stays exact.
    #[test]
    fn the_byte_budget_drops_as_many_as_it_takes() {
        let mut queue = Bounded::<String, 100, 10>::default();
        queue.push("aaaa".into());
        queue.push("bbbb".into());
        assert_eq!(queue.push("cccccccc".into()), 2);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.bytes(), 8);
        // Heavier than the whole budget: nothing is kept, and the count is back to zero.
        assert_eq!(queue.push("x".repeat(11)), 2);
        assert!(queue.is_empty());
        assert_eq!(queue.bytes(), 0);
        queue.push("ok".into());
        queue.clear();
        assert_eq!((queue.len(), queue.bytes()), (0, 0));
    }
}
