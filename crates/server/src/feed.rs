//! The store's change feed: what changed in the store, announced as changes (never as copies of
//! the store), coalesced per session until the reader takes them.
//!
//! The store publishes a change after every write, delete and sweep; the reader (the lab's
//! window) takes everything pending at once, at its own pace. Between two takes a session has at
//! most one pending change — the latest state wins — so a writer that outruns the reader queues
//! nothing: the feed holds at most one entry per session it has seen change, and a reader that
//! falls very far behind is told to start over from a listing instead.
//!
//! A listing (at start, after a store switch, and periodically for stores other processes
//! write) is published through the same feed, so its rows and concurrent writes reach the reader
//! in one order: a write that happens while a listing is under way always wins over the listing.

use parking_lot::{Mutex, MutexGuard};
use std::{
    collections::HashMap,
    hash::BuildHasherDefault,
    mem,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::sync::Notify;

use super::session::{DeleteReason, FoldHasher, SessionId, SessionRow};

/// The most changes the feed holds for a reader that does not take them; past this, they are
/// dropped and the reader is told to start over from a listing (memory stays bounded).
pub const MAX_PENDING: usize = 1 << 20;

/// Something to call when changes become available.
pub type FeedWaker = Arc<dyn Fn() + Send + Sync>;

/// One change to a session.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionChange {
    /// The session was stored: its state now. `created_at` is `None` when the writer did not
    /// know it (a save): the reader keeps the one it has.
    Written(SessionRow),
    /// The session left the store.
    Removed {
        /// Which session.
        id: SessionId,
        /// Why.
        reason: DeleteReason,
    },
}

impl SessionChange {
    /// The session it is about.
    pub fn id(&self) -> SessionId {
        match self {
            Self::Written(row) => row.id,
            Self::Removed { id, .. } => *id,
        }
    }

    /// `self` followed by `later`, as one change: the later state wins, and a creation time
    /// only the earlier change knew is kept.
    fn then(self, later: Self) -> Self {
        match (self, later) {
            (Self::Written(earlier), Self::Written(mut row)) => {
                if row.created_at.is_none() {
                    row.created_at = earlier.created_at;
                }
                Self::Written(row)
            }
            (_, later) => later,
        }
    }
}

type IdMap<V> = HashMap<SessionId, V, BuildHasherDefault<FoldHasher>>;

/// What a reader takes from the feed.
#[derive(Debug, Default)]
pub struct FeedBatch {
    /// The reader's view is stale: drop it before applying the changes (the store was
    /// switched, or the reader fell too far behind); a listing follows.
    pub reset: bool,
    /// The latest change of every session that changed since the last take.
    changes: IdMap<SessionChange>,
}

impl FeedBatch {
    /// How many sessions changed.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Nothing changed (and no reset).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && !self.reset
    }

    /// The changes, in no order, to be consumed a few at a time.
    pub fn into_changes(self) -> std::collections::hash_map::IntoValues<SessionId, SessionChange> {
        self.changes.into_values()
    }

    /// The changes, in no order.
    pub fn into_vec(self) -> Vec<SessionChange> {
        self.changes.into_values().collect()
    }
}

#[derive(Default)]
struct Pending {
    changes: IdMap<SessionChange>,
    reset: bool,
    /// While a listing is under way: the sessions written since it began (their listed rows
    /// are older than what the feed already has).
    written_during_listing: Option<IdMap<()>>,
    /// For a store listed by difference: the sessions written since the lister last asked, so
    /// its next difference also covers sessions it never saw listed (one that was created and
    /// expired between two listings must still leave the reader's view).
    written_since_asked: Option<IdMap<()>>,
}

/// The feed of one store's changes. Cheap to publish to when nobody listens.
#[derive(Default)]
pub struct ChangeFeed {
    pending: Mutex<Pending>,
    /// Someone reads the feed; until then publishing does nothing.
    listening: AtomicBool,
    waker: Mutex<Option<FeedWaker>>,
    /// A listing is wanted.
    listing_wanted: Notify,
    /// The reader's view was dropped (at start, after a store switch, or because it fell
    /// behind): the next listing must publish every session, not only differences.
    full_listing: AtomicBool,
    /// A request's store call failed, and none has succeeded since (a locked file can fail
    /// every write while listings still read): what it said.
    failing: AtomicBool,
    failure: Mutex<Option<String>>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("listening", &self.is_listening())
            .finish_non_exhaustive()
    }
}

impl ChangeFeed {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A blocking mutex: held only to merge one change or to swap the pending map out.
        self.pending.lock()
    }

    /// Starts publishing; `waker` is called whenever changes become available after a take.
    pub fn listen(&self, waker: FeedWaker) {
        *self.waker.lock() = Some(waker);
        self.listening.store(true, Ordering::Release);
        self.want_full_listing();
    }

    /// Whether anyone reads the feed.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Records a change. Cost: one lock and one map entry, whatever the store's size.
    pub fn publish(&self, change: SessionChange) {
        if !self.is_listening() {
            return;
        }
        let woke = {
            let mut pending = self.lock();
            if let Some(written) = &mut pending.written_during_listing {
                written.insert(change.id(), ());
            }
            if let (Some(written), SessionChange::Written(row)) =
                (&mut pending.written_since_asked, &change)
            {
                written.insert(row.id, ());
            }
            Self::merge(&mut pending, change)
        };
        if woke {
            self.wake();
        }
    }

    /// Records the changes `make` builds, only when someone listens (so a server nobody watches
    /// does not even build them).
    pub fn publish_with(&self, make: impl FnOnce() -> SessionChange) {
        if self.is_listening() {
            self.publish(make());
        }
    }

    /// Merges one change into the pending ones; whether the reader should be woken.
    fn merge(pending: &mut Pending, change: SessionChange) -> bool {
        let was_empty = pending.changes.is_empty() && !pending.reset;
        let id = change.id();
        match pending.changes.remove(&id) {
            Some(earlier) => {
                pending.changes.insert(id, earlier.then(change));
            }
            None => {
                if pending.changes.len() >= MAX_PENDING {
                    // The reader fell too far behind: drop what it has not taken, tell it to
                    // start over, and list the store for it (see `wake`).
                    pending.changes = IdMap::default();
                    pending.reset = true;
                    return true;
                }
                pending.changes.insert(id, change);
            }
        }
        was_empty
    }

    fn wake(&self) {
        let waker = self.waker.lock().clone();
        if let Some(wake) = waker {
            wake();
        }
        if self.lock().reset {
            self.want_full_listing();
        }
    }

    /// Takes every pending change. Cost: one lock and a swap, then one step per change.
    pub fn take(&self) -> FeedBatch {
        let (changes, reset) = {
            let mut pending = self.lock();
            (
                mem::take(&mut pending.changes),
                mem::replace(&mut pending.reset, false),
            )
        };
        FeedBatch { reset, changes }
    }

    /// Whether changes are waiting to be taken.
    pub fn has_pending(&self) -> bool {
        let pending = self.lock();
        pending.reset || !pending.changes.is_empty()
    }

    /// The reader's view no longer matches the store (it was switched): the next take says so,
    /// and a listing is wanted.
    pub fn reset(&self) {
        {
            let mut pending = self.lock();
            pending.changes = IdMap::default();
            pending.reset = true;
        }
        self.wake();
    }

    /// A request's store call failed with `message`: the store is down for requests even if
    /// it can still be listed; the lister is asked to look now.
    pub fn note_failure(&self, message: String) {
        *self.failure.lock() = Some(message);
        self.failing.store(true, Ordering::Release);
        self.listing_wanted.notify_one();
    }

    /// A request's store call succeeded: a failure noted before is over (one atomic load when
    /// nothing failed, so the hot path stays as it was).
    pub fn note_success(&self) {
        if self.failing.load(Ordering::Acquire) && self.failing.swap(false, Ordering::AcqRel) {
            *self.failure.lock() = None;
            self.listing_wanted.notify_one();
        }
    }

    /// What the last failed store call of a request said, if none has succeeded since.
    pub fn failure(&self) -> Option<String> {
        if self.failing.load(Ordering::Acquire) {
            self.failure.lock().clone()
        } else {
            None
        }
    }

    /// Asks whoever lists the store for the feed for a listing of every session.
    pub fn want_full_listing(&self) {
        self.full_listing.store(true, Ordering::Release);
        self.listing_wanted.notify_one();
    }

    /// Marks that the next listing must publish every session, without asking for it now.
    pub fn mark_full_listing_wanted(&self) {
        self.full_listing.store(true, Ordering::Release);
    }

    /// Whether the next listing must publish every session; clears the wish.
    pub fn take_full_listing_wanted(&self) -> bool {
        self.full_listing.swap(false, Ordering::AcqRel)
    }

    /// Waits until a listing is wanted.
    pub async fn listing_wanted(&self) {
        self.listing_wanted.notified().await;
    }

    /// Marks the start of a listing: writes from now on win over its rows.
    pub fn begin_listing(&self) {
        self.lock().written_during_listing = Some(IdMap::default());
    }

    /// The sessions written since the last call (the first call starts the tracking): what a
    /// lister that publishes differences must count as known to the reader.
    pub fn take_written(&self) -> Vec<SessionId> {
        let mut pending = self.lock();
        match pending.written_since_asked.replace(IdMap::default()) {
            Some(written) => written.into_keys().collect(),
            None => Vec::new(),
        }
    }

    /// Marks the end of a listing that failed: nothing of it is published.
    pub fn abandon_listing(&self) {
        self.lock().written_during_listing = None;
    }

    /// Publishes what a listing found (rows, and sessions it no longer has), except for the
    /// sessions written since [`Self::begin_listing`] and those with a newer pending change.
    pub fn publish_listing(&self, found: impl IntoIterator<Item = SessionChange>) {
        if !self.is_listening() {
            return;
        }
        let mut woke = false;
        {
            let mut pending = self.lock();
            let written = pending.written_during_listing.take().unwrap_or_default();
            for change in found {
                let id = change.id();
                if written.contains_key(&id) || pending.changes.contains_key(&id) {
                    continue;
                }
                woke |= Self::merge(&mut pending, change);
            }
        }
        if woke {
            self.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i128, views: u64, created: bool) -> SessionChange {
        let at = time::OffsetDateTime::now_utc();
        SessionChange::Written(SessionRow {
            id: SessionId(id),
            data: super::super::session::DataText::from_json(
                format!(r#"{{"views":{views}}}"#).as_bytes(),
            ),
            expires_at: at,
            created_at: created.then_some(at),
            updated_at: Some(at),
            key: None,
        })
    }

    fn listening() -> (Arc<ChangeFeed>, Arc<std::sync::atomic::AtomicUsize>) {
        let feed = Arc::new(ChangeFeed::default());
        let wakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = wakes.clone();
        feed.listen(Arc::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        (feed, wakes)
    }

    /// A thousand writes to one session are one change; the reader is woken once.
    #[test]
    fn changes_coalesce_per_session() {
        let (feed, wakes) = listening();
        feed.publish(row(1, 1, true));
        for views in 2..=1000 {
            feed.publish(row(1, views, false));
        }
        assert_eq!(wakes.load(Ordering::Relaxed), 1);
        let changes = feed.take().into_vec();
        assert_eq!(changes.len(), 1);
        let SessionChange::Written(row) = &changes[0] else {
            panic!("a write")
        };
        assert_eq!(row.data.views(), Some(1000), "the latest state wins");
        assert!(row.created_at.is_some(), "the creation time is kept");
        assert!(feed.take().is_empty());
    }

    /// Nothing is kept when nobody listens.
    #[test]
    fn silent_without_a_reader() {
        let feed = ChangeFeed::default();
        feed.publish(row(1, 1, true));
        assert!(!feed.has_pending());
    }

    /// A write during a listing wins over the listing's older row of the same session, even
    /// when the reader took the write before the listing was published.
    #[test]
    fn writes_win_over_a_concurrent_listing() {
        let (feed, _) = listening();
        feed.begin_listing();
        feed.publish(row(1, 5, false));
        assert_eq!(feed.take().len(), 1);
        feed.publish_listing([row(1, 4, true), row(2, 1, true)]);
        let changes = feed.take().into_vec();
        assert_eq!(changes.len(), 1, "only the unwritten session is published");
        assert_eq!(changes[0].id(), SessionId(2));
    }

    /// A lister that publishes differences learns which sessions were written between its
    /// listings, once each.
    #[test]
    fn written_sessions_are_told_to_the_lister() {
        let (feed, _) = listening();
        feed.publish(row(9, 1, true));
        assert!(
            feed.take_written().is_empty(),
            "nothing is tracked before the first ask"
        );
        feed.publish(row(1, 1, true));
        feed.publish(row(2, 1, true));
        feed.publish(row(2, 2, false));
        let mut written = feed.take_written();
        written.sort();
        assert_eq!(written, [SessionId(1), SessionId(2)]);
        assert!(feed.take_written().is_empty());
    }

    /// A reader that falls too far behind is told to start over instead of queueing forever.
    #[test]
    fn overflow_resets_instead_of_growing() {
        let (feed, _) = listening();
        for id in 0..=MAX_PENDING as i128 {
            feed.publish(SessionChange::Removed {
                id: SessionId(id),
                reason: DeleteReason::Deleted,
            });
        }
        let batch = feed.take();
        assert!(batch.reset);
        assert!(batch.len() < 2);
    }
}
