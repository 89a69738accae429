//! The server's connection places, and who gives one up when they are all taken.
//!
//! A place is held from accept to close. With every place taken, a new connection does not wait
//! behind the ones that hold theirs: the connection that has waited longest for a request head
//! (a new one that has not sent one, or a keep-alive one idle between requests) is closed to
//! make room, as nginx reuses idle keep-alive connections when it runs out. A connection in the
//! middle of a request is never the one closed. So a few hundred stalled sockets cannot keep
//! honest clients out: each new arrival pushes out the stalest of them.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::Context,
};

use futures::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::{
    sync::{Notify, OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

/// The places, and every connection holding one.
pub(crate) struct Places {
    semaphore: Arc<Semaphore>,
    held: Mutex<HashMap<u64, Arc<PlaceState>>>,
    next_id: AtomicU64,
    shed_count: AtomicU64,
    /// Newcomers waiting for a place with every connection mid-request: when one starts
    /// waiting for a head again, it is told, so it can make room.
    blocked: AtomicUsize,
    now_waiting: Notify,
    /// Connections told to close for another that have not closed yet: while one has not,
    /// no other is shed (its place is on the way).
    closing: AtomicUsize,
    /// Times are kept as milliseconds since this (plus one: zero means mid-request).
    epoch: Instant,
}

/// The signal that closes one connection to make room for another.
#[derive(Default)]
pub(crate) struct Shed {
    fired: AtomicBool,
    waker: AtomicWaker,
    notify: Notify,
}

impl Shed {
    fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        self.waker.wake();
        self.notify.notify_waiters();
    }

    /// Whether it fired; if not, `cx` is woken when it does.
    pub(crate) fn poll_fired(&self, cx: &Context<'_>) -> bool {
        self.waker.register(cx.waker());
        self.fired.load(Ordering::Acquire)
    }

    /// Completes when it fires.
    pub(crate) async fn fired(&self) {
        loop {
            let notified = self.notify.notified();
            if self.fired.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// What the places know of one connection: since when it waits for a request head (two
/// atomics per request, no lock).
#[derive(Default)]
struct PlaceState {
    /// Milliseconds since the epoch, plus one, when it began waiting; 0 while mid-request.
    waiting_since: AtomicU64,
    /// Requests being served on it (more than one only over h2).
    active: AtomicUsize,
    shed: Arc<Shed>,
}

/// One connection's place, held until it closes.
pub(crate) struct Place {
    id: u64,
    places: Arc<Places>,
    state: Arc<PlaceState>,
    _permit: OwnedSemaphorePermit,
}

/// A request being served on a place; when the last one ends, the place waits again.
pub(crate) struct Busy(Arc<Place>);

impl Places {
    /// `count` places.
    pub(crate) fn new(count: usize) -> Arc<Self> {
        Arc::new(Self {
            semaphore: Arc::new(Semaphore::new(count)),
            held: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            shed_count: AtomicU64::new(0),
            blocked: AtomicUsize::new(0),
            now_waiting: Notify::new(),
            closing: AtomicUsize::new(0),
            epoch: Instant::now(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// A place for a connection just accepted: a free one at once; with none free, the
    /// connection waiting longest for a request head is closed and its place taken (with
    /// every connection mid-request, the first that finishes its request is).
    pub(crate) async fn take(self: &Arc<Self>) -> Arc<Place> {
        let permit = match self.semaphore.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let _blocked = Blocked::new(&self.blocked);
                loop {
                    let now_waiting = self.now_waiting.notified();
                    if self.closing.load(Ordering::Acquire) == 0 {
                        self.shed_stalest();
                    }
                    tokio::select! {
                        permit = self.semaphore.clone().acquire_owned() => match permit {
                            Ok(permit) => break permit,
                            // The semaphore is never closed.
                            Err(_) => std::future::pending().await,
                        },
                        () = now_waiting => {}
                    }
                }
            }
        };
        let state = Arc::new(PlaceState {
            waiting_since: AtomicU64::new(self.now()),
            ..PlaceState::default()
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.held.lock().insert(id, state.clone());
        Arc::new(Place {
            id,
            places: self.clone(),
            state,
            _permit: permit,
        })
    }

    /// Closes the connection that has waited longest for a request head, if one waits (and
    /// was not closed already).
    fn shed_stalest(&self) {
        let stalest = self
            .held
            .lock()
            .values()
            .filter(|state| !state.shed.fired.load(Ordering::Acquire))
            .filter_map(|state| {
                let since = state.waiting_since.load(Ordering::Acquire);
                (since != 0).then_some((since, state.clone()))
            })
            .min_by_key(|(since, _)| *since);
        if let Some((since, state)) = stalest {
            self.shed_count.fetch_add(1, Ordering::Relaxed);
            self.closing.fetch_add(1, Ordering::AcqRel);
            tracing::debug!(
                waited_ms = self.now().saturating_sub(since),
                "every connection place is taken: closed the one waiting longest for a request"
            );
            state.shed.fire();
        }
    }

    /// How many connections were closed to make room, since the start.
    #[cfg(test)]
    pub(crate) fn shed_count(&self) -> u64 {
        self.shed_count.load(Ordering::Relaxed)
    }

    /// Places free now.
    #[cfg(test)]
    pub(crate) fn free(&self) -> usize {
        self.semaphore.available_permits()
    }
}

impl Place {
    /// A request is being served: the place no longer waits for a head until it ends.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        if self.state.active.fetch_add(1, Ordering::AcqRel) == 0 {
            self.state.waiting_since.store(0, Ordering::Release);
        }
        Busy(self.clone())
    }

    /// Since when the connection has waited for a request head (rounded up to the
    /// millisecond); `None` while it is mid-request.
    pub(crate) fn waiting_since(&self) -> Option<Instant> {
        match self.state.waiting_since.load(Ordering::Acquire) {
            0 => None,
            millis => Some(self.places.epoch + std::time::Duration::from_millis(millis)),
        }
    }

    /// The signal that this connection is to close for another.
    pub(crate) fn shed(&self) -> &Arc<Shed> {
        &self.state.shed
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let place = &self.0;
        if place.state.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            place
                .state
                .waiting_since
                .store(place.places.now(), Ordering::Release);
            if place.places.blocked.load(Ordering::Acquire) > 0 {
                place.places.now_waiting.notify_waiters();
            }
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.places.held.lock().remove(&self.id);
        if self.state.shed.fired.load(Ordering::Acquire) {
            self.places.closing.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Counts a newcomer waiting for a place, for as long as it waits (even if its wait is
/// dropped).
struct Blocked<'a>(&'a AtomicUsize);

impl<'a> Blocked<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// With every place taken, the connection waiting longest for a head gives its place up,
    /// never one mid-request; with all mid-request, a new one waits for the first to finish.
    #[tokio::test(start_paused = true)]
    async fn the_stalest_waiter_makes_room() {
        let places = Places::new(3);
        let first = places.take().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = places.take().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let third = places.take().await;
        assert_eq!(places.free(), 0);
        // The first is mid-request: the second, the stalest waiter, is the one shed.
        let busy = first.busy();
        let taking = tokio::spawn({
            let places = places.clone();
            async move { places.take().await }
        });
        tokio::task::yield_now().await;
        assert!(second.shed().fired.load(Ordering::Acquire));
        assert!(!first.shed().fired.load(Ordering::Acquire));
        assert!(!third.shed().fired.load(Ordering::Acquire));
        drop(second); // the shed connection closes
        let fourth = taking.await.unwrap();
        assert_eq!(places.shed_count(), 1);
        // Every place mid-request: nobody is shed; the newcomer waits for one to finish.
        let busy_third = third.busy();
        let busy_fourth = fourth.busy();
        let waiting = tokio::spawn({
            let places = places.clone();
            async move { places.take().await }
        });
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!waiting.is_finished());
        assert_eq!(places.shed_count(), 1);
        // Their requests end: they wait for heads again, and the newcomer makes room at once.
        drop((busy, busy_third, busy_fourth));
        tokio::task::yield_now().await;
        assert_eq!(places.shed_count(), 2);
        drop((first, third, fourth));
        waiting.await.unwrap();
    }
}
